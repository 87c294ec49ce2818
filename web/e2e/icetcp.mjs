// End-to-end ICE-TCP: desktops on a network that lets no UDP through reach the relay directly
// over TCP, without a TURN server. The server is started with --media-transports tcp, so its
// answers offer only the passive TCP candidate of its listener; each agent runs in its own
// Debian Chromium whose fake microphone plays its tone (Alice 440 Hz, Bob 880 Hz), in the audio
// test mode, with no ICE servers at all. An internal call is placed and accepted through the
// desktop's UI; each side must hear the other's tone (the FFT of audio.mjs), and each
// connection's selected candidate pair must be TCP on both ends, its remote candidate the
// relay's listener. Alice's desktop socket is dropped mid-call: she reconnects, ICE-restarts
// the same connection over TCP and both hear each other again. Mute then stops Alice's tone
// reaching Bob, and after hang-up nobody hears anything. Prints "N passed, N failed"; screenshots and the candidate pairs (icetcp.json) go
// to test-results/e2e/.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  TONE,
  agentLauncher,
  assertNothingForeignNorBroken,
  audioStatus,
  callButton,
  hangsUp,
  hearsHoldMusic,
  hearsNothing,
  hearsTone,
  measured,
  pickFromCombobox,
  reconnectsWithIceRestart,
  socketTap,
  task,
  until,
  untilHeard,
  visible,
} from './audio-helpers.mjs';
import { harness } from './harness.mjs';
import { BIN, CHROMIUM, OUT, freshResults, startServer } from './server.mjs';

freshResults('icetcp');

const { results, scenario, screenshot, finish } = harness('icetcp');

const pairs = {};

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-icetcp-'));
  const { launchAgent, foreign, closeAll } = agentLauncher({ executablePath: CHROMIUM });
  let server = null;
  try {
    server = await startServer(BIN, { extraArgs: ['--media-transports', 'tcp'] });
    if (!server.relayTcp) throw new Error(`the banner names no TCP listener:\n${server.log()}`);
    if (server.relay) throw new Error(`--media-transports tcp still offers udp ${server.relay}`);
    console.log(`server at ${server.url}, audio relay over tcp ${server.relayTcp} only`);

    const demo = await (await fetch(`${server.url}/demo/agents`)).json();
    const agentNamed = (friendly) => demo.agents.find((a) => a.friendly_name === friendly);
    let alice, bob;

    // Alice's desktop socket passes through the test, so it can be dropped like a network blip.
    const aliceSocket = socketTap();

    await scenario('Alice and Bob sign in, each in its own Chromium (no ICE servers)', async () => {
      const who = (friendly) => ({ who: friendly, fullName: agentNamed(friendly).full_name ?? friendly, wavDir: dir });
      [alice, bob] = await Promise.all([
        launchAgent(server.url, { ...who('alice'), tone: TONE.alice, onSocket: aliceSocket.onSocket }),
        launchAgent(server.url, { ...who('bob'), tone: TONE.bob }),
      ]);
    });

    await scenario('Alice calls Bob: she hears the hold music over TCP while Bob rings', async () => {
      const a = alice.page;
      await pickFromCombobox(a, 'Select an agent', 'bro', /Bob Brown/);
      await (await callButton(a)).click();
      await visible(task(a, 'Bob Brown').getByText(/Ringing…|Dialing…/));
      await visible(bob.page.getByRole('group', { name: 'Alice Anders is calling' }));
      await untilHeard(alice, 'hold music while Bob rings (ICE-TCP)', hearsHoldMusic);
      await visible(audioStatus(a, 'connected'));
    });

    await scenario('Bob accepts: Alice hears 880 Hz (Bob), Bob hears 440 Hz (Alice)', async () => {
      await bob.page.getByRole('group', { name: 'Alice Anders is calling' }).getByRole('button', { name: 'Accept' }).click();
      await visible(task(alice.page, 'Bob Brown').getByText('Live', { exact: true }));
      await visible(task(bob.page, 'Alice Anders').getByText('Live', { exact: true }));
      await Promise.all([
        untilHeard(alice, 'Bob’s 880 Hz (ICE-TCP)', hearsTone(alice, bob)),
        untilHeard(bob, 'Alice’s 440 Hz (ICE-TCP)', hearsTone(bob, alice)),
      ]);
      await visible(audioStatus(alice.page, 'connected'));
      await visible(audioStatus(bob.page, 'connected'));
      await screenshot(alice, 'connected');
      await screenshot(bob, 'connected');
    });

    await scenario('each connection’s selected candidate pair is TCP on both ends, to the relay’s listener', async () => {
      for (const agent of [alice, bob]) {
        const pair = await until(
          `${agent.who}: a selected candidate pair that succeeded`,
          () => agent.page.evaluate(() => window.__switchboardAudio.selectedCandidatePair()),
          (p) => p?.state === 'succeeded' && p.local !== null && p.remote !== null,
        );
        pairs[agent.who] = pair;
        const l = pair.local;
        const r = pair.remote;
        console.log(`     ${agent.who}: local ${l.candidateType} ${l.protocol} ${l.address}:${l.port} → remote ${r.candidateType} ${r.protocol} ${r.address}:${r.port}`);
        if (l.protocol !== 'tcp') throw new Error(`${agent.who}: the local candidate is ${l.protocol}, not tcp: ${JSON.stringify(pair)}`);
        if (l.candidateType === 'relay') throw new Error(`${agent.who}: the local candidate is a relay (no TURN server was given): ${JSON.stringify(pair)}`);
        if (r.protocol !== 'tcp' || r.candidateType !== 'host') throw new Error(`${agent.who}: the remote candidate is ${r.candidateType} ${r.protocol}, not the relay's tcp host one`);
        if (`${r.address}:${r.port}` !== server.relayTcp) throw new Error(`${agent.who}: the remote candidate is ${r.address}:${r.port}, not the relay's listener ${server.relayTcp}`);
      }
    });

    await scenario('Alice’s desktop socket drops mid-call: she reconnects, ICE-restarts over TCP, and both hear each other again', async () => {
      const a = alice.page;
      await reconnectsWithIceRestart(alice, bob, aliceSocket, ' (ICE-TCP)');
      const pair = await a.evaluate(() => window.__switchboardAudio.selectedCandidatePair());
      if (pair?.local?.protocol !== 'tcp' || `${pair?.remote?.address}:${pair?.remote?.port}` !== server.relayTcp) {
        throw new Error(`after the restart Alice's selected pair is not TCP to ${server.relayTcp}: ${JSON.stringify(pair)}`);
      }
    });

    await scenario('Alice mutes: Bob stops hearing her tone over TCP; unmuted, he hears it again', async () => {
      await alice.page.getByRole('button', { name: 'Mute', exact: true }).click();
      await untilHeard(bob, 'silence while Alice is muted (ICE-TCP)', hearsNothing);
      await alice.page.getByRole('button', { name: 'Unmute', exact: true }).click();
      await untilHeard(bob, 'Alice’s 440 Hz again (ICE-TCP)', hearsTone(bob, alice));
    });

    await scenario('Alice hangs up: nobody hears anything, both connections close and the microphones are released', async () => {
      await hangsUp(alice, bob);
    });

    await scenario('the desktops loaded nothing from outside their origin, with no page errors', async () => {
      assertNothingForeignNorBroken(foreign, [alice, bob]);
    });
  } finally {
    writeFileSync(join(OUT, 'icetcp.json'), JSON.stringify({ results, measured, pairs }, null, 2));
    await closeAll();
    server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await finish(main, 'screenshots, measurements and candidate pairs');
