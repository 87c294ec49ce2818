// End-to-end TURN: the calls' audio goes through a real coturn (Debian's turnserver, started by
// this test on 127.0.0.1 with a static user) because the desktops may use relay candidates only.
// Twice: the desktops reach coturn over UDP, then over TCP (what a network that blocks UDP
// leaves). Each time the server is started with --ice-servers naming that coturn (with the
// username and credential), and each agent runs in its own Debian Chromium whose fake microphone
// plays its tone (Alice 440 Hz, Bob 880 Hz), in the audio test mode with
// ?ice-transport-policy=relay. An internal call is placed and accepted through the desktop's UI;
// then each side must hear the other's tone (the FFT of audio.mjs), each connection's selected ICE
// candidate pair must have a local candidate of type relay (coturn's 127.0.0.1 allocation, reached
// over that transport) and the server's relay as the remote one, and coturn's log must show the
// allocations and permissions of the user. After hang-up nobody hears anything. Prints
// "N passed, N failed"; screenshots, the measurements and the candidate pairs (turn.json) and
// coturn's log (turn-turnserver.log) go to test-results/e2e/.
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  hearsTone,
  measured,
  pickFromCombobox,
  task,
  until,
  untilHeard,
  visible,
} from './audio-helpers.mjs';
import { startCoturn } from './coturn.mjs';
import { harness } from './harness.mjs';
import { BIN, CHROMIUM, OUT, freshResults, startServer } from './server.mjs';

freshResults('turn');

const { results, scenario, screenshot, finish } = harness('turn', { shotLabel: (agent) => `${agent.transport}-${agent.who}` });


const pairs = {};
let coturn = null;
// Whatever happens, no turnserver outlives the test.
process.on('exit', () => coturn?.child.kill('SIGKILL'));

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-turn-'));
  try {
    coturn = await startCoturn({ dir, user: 'u', password: 'p', realm: 'switchboard.test' });
    console.log(`coturn at udp and tcp 127.0.0.1:${coturn.port}`);
    for (const transport of ['udp', 'tcp']) await callThrough(transport, dir);
  } finally {
    writeFileSync(join(OUT, 'turn.json'), JSON.stringify({ results, measured, pairs }, null, 2));
    if (coturn) {
      await coturn.stop();
      if (existsSync(coturn.logFile)) copyFileSync(coturn.logFile, join(OUT, 'turn-turnserver.log'));
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** coturn's log lines matching `re`, and the sessions they name. */
const lines = (text, re) => text.split('\n').filter((l) => re.test(l));
const sessions = (text, re) => new Set(lines(text, re).map((l) => /session (\d+)/.exec(l)?.[1]));
const ALLOCATED = /realm <switchboard\.test> user <u>: incoming packet ALLOCATE processed, success/;
const PERMITTED = /realm <switchboard\.test> user <u>: incoming packet CREATE_PERMISSION processed, success/;
const CHANNEL = /realm <switchboard\.test> user <u>: incoming packet CHANNEL_BIND processed, success/;

/** A server and two Chromiums whose desktops reach coturn over `transport` only; one call. */
async function callThrough(transport, dir) {
  const { launchAgent, foreign, closeAll } = agentLauncher({ executablePath: CHROMIUM, query: 'audio-test=1&ice-transport-policy=relay' });
  const step = (name, fn) => scenario(`[TURN over ${transport}] ${name}`, fn);
  const logFrom = coturn.log().length;
  const newLog = () => coturn.log().slice(logFrom);
  let server = null;
  try {
    const iceServers = [{ urls: [`turn:127.0.0.1:${coturn.port}?transport=${transport}`], username: coturn.user, credential: coturn.password }];
    server = await startServer(BIN, { extraArgs: ['--ice-servers', JSON.stringify(iceServers)] });
    console.log(`TURN over ${transport}: server at ${server.url}, audio relay at udp ${server.relay}`);

    const demo = await (await fetch(`${server.url}/demo/agents`)).json();
    const agentNamed = (friendly) => demo.agents.find((a) => a.friendly_name === friendly);

    // The desktop sockets pass through the test: the ICE servers the server's state gives them.
    const iceSeen = { alice: null, bob: null };
    const watchSocket = (who) => (route) => {
      const toServer = route.connectToServer();
      route.onMessage((m) => toServer.send(m));
      toServer.onMessage((m) => {
        try {
          const msg = JSON.parse(String(m));
          if (msg.type === 'state' && msg.media) iceSeen[who] = msg.media.ice_servers ?? null;
        } catch {
          // not ours to read
        }
        route.send(m);
      });
      route.onClose(() => toServer.close());
      toServer.onClose(() => route.close());
    };

    let alice, bob;
    await step('Alice and Bob sign in, each in its own Chromium (relay candidates only); their state names the TURN server', async () => {
      const who = (friendly) => ({ who: friendly, fullName: agentNamed(friendly).full_name ?? friendly, wavDir: dir, onSocket: watchSocket(friendly) });
      [alice, bob] = await Promise.all([launchAgent(server.url, { ...who('alice'), tone: TONE.alice }), launchAgent(server.url, { ...who('bob'), tone: TONE.bob })]);
      alice.transport = bob.transport = transport;
      for (const w of ['alice', 'bob']) {
        const got = iceSeen[w];
        const want = iceServers[0];
        const s = got?.find((x) => JSON.stringify(x.urls) === JSON.stringify(want.urls));
        if (!s || s.username !== want.username || s.credential !== want.credential) {
          throw new Error(`${w}'s desktop state has media.ice_servers ${JSON.stringify(got)}, not ${JSON.stringify(iceServers)}`);
        }
      }
    });

    await step('Alice calls Bob: her connection is relay-only, and she hears the hold music while Bob rings', async () => {
      const a = alice.page;
      await pickFromCombobox(a, 'Select an agent', 'bro', /Bob Brown/);
      await (await callButton(a)).click();
      await visible(task(a, 'Bob Brown').getByText(/Ringing…|Dialing…/));
      await visible(bob.page.getByRole('group', { name: 'Alice Anders is calling' }));
      const policy = await a.evaluate(() => window.__switchboardAudio.iceTransportPolicy());
      if (policy !== 'relay') throw new Error(`Alice's connection's iceTransportPolicy is ${policy}, not relay`);
      await untilHeard(alice, `hold music while Bob rings (TURN over ${transport})`, hearsHoldMusic);
      await visible(audioStatus(a, 'connected'));
    });

    await step('Bob accepts: Alice hears 880 Hz (Bob), Bob hears 440 Hz (Alice)', async () => {
      await bob.page.getByRole('group', { name: 'Alice Anders is calling' }).getByRole('button', { name: 'Accept' }).click();
      await visible(task(alice.page, 'Bob Brown').getByText('Live', { exact: true }));
      await visible(task(bob.page, 'Alice Anders').getByText('Live', { exact: true }));
      const policy = await bob.page.evaluate(() => window.__switchboardAudio.iceTransportPolicy());
      if (policy !== 'relay') throw new Error(`Bob's connection's iceTransportPolicy is ${policy}, not relay`);
      await Promise.all([
        untilHeard(alice, `Bob’s 880 Hz (TURN over ${transport})`, hearsTone(alice, bob)),
        untilHeard(bob, `Alice’s 440 Hz (TURN over ${transport})`, hearsTone(bob, alice)),
      ]);
      await visible(audioStatus(alice.page, 'connected'));
      await visible(audioStatus(bob.page, 'connected'));
      await screenshot(alice, 'connected');
      await screenshot(bob, 'connected');
    });

    await step(`each connection’s selected candidate pair is a coturn relay candidate (127.0.0.1, reached over ${transport}) to the server’s relay`, async () => {
      for (const agent of [alice, bob]) {
        const pair = await until(
          `${agent.who}: a selected candidate pair that succeeded`,
          () => agent.page.evaluate(() => window.__switchboardAudio.selectedCandidatePair()),
          (p) => p?.state === 'succeeded' && p.local !== null && p.remote !== null,
        );
        pairs[`${transport}/${agent.who}`] = pair;
        const l = pair.local;
        const r = pair.remote;
        console.log(
          `     ${agent.who}: local ${l.candidateType} ${l.protocol} ${l.address}:${l.port} (to coturn over ${l.relayProtocol}, ${l.url}) → remote ${r.candidateType} ${r.address}:${r.port}`,
        );
        if (l.candidateType !== 'relay') throw new Error(`${agent.who}: the local candidate is ${l.candidateType}, not relay: ${JSON.stringify(pair)}`);
        if (l.relayProtocol !== transport) throw new Error(`${agent.who}: the relay candidate reaches coturn over ${l.relayProtocol}, not ${transport}`);
        if (l.address !== '127.0.0.1') throw new Error(`${agent.who}: the relay candidate is ${l.address}, not coturn's relay address 127.0.0.1`);
        if (l.url && !l.url.includes(`:${coturn.port}`)) throw new Error(`${agent.who}: the relay candidate came from ${l.url}, not our coturn`);
        if (`${r.address}:${r.port}` !== server.relay) throw new Error(`${agent.who}: the remote candidate is ${r.address}:${r.port}, not the server's relay ${server.relay}`);
      }
      if (pairs[`${transport}/alice`].local.port === pairs[`${transport}/bob`].local.port) throw new Error('Alice and Bob share one relay allocation');
    });

    await step('coturn’s log shows allocations of user u, and permissions for the server’s relay', async () => {
      const relayIp = server.relay.split(':')[0];
      const peer = new RegExp(`session \\d+: peer ${relayIp.replaceAll('.', '\\.')} lifetime updated`);
      const ok = (text) => sessions(text, ALLOCATED).size >= 2 && sessions(text, PERMITTED).size >= 2 && lines(text, peer).length >= 2;
      // coturn writes its log as it goes: polled, bounded.
      await until('allocations and permissions of user u in coturn’s log', newLog, ok, 5000).catch(() => {
        throw new Error(`coturn's log lacks two allocations and permissions of user u for ${relayIp}; its tail:\n${newLog().split('\n').slice(-20).join('\n')}`);
      });
      const text = newLog();
      console.log(
        `     coturn: ${sessions(text, ALLOCATED).size} allocations of user u, ${lines(text, PERMITTED).length} permissions, ${lines(text, CHANNEL).length} channel binds`,
      );
    });

    await step('Alice hangs up: nobody hears anything, both connections close and the microphones are released', async () => {
      await hangsUp(alice, bob);
    });

    await step('the desktops loaded nothing from outside their origin, with no page errors', async () => {
      assertNothingForeignNorBroken(foreign, [alice, bob]);
    });
  } finally {
    await closeAll();
    server?.stop();
  }
}

await finish(main, "screenshots, measurements and coturn's log");
