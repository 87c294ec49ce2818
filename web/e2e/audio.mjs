// End-to-end audio: the real switchboard server relays the calls' sound between agents, each in
// its own Debian Chromium process whose fake microphone plays its own tone (a WAV this test
// writes: Alice 440 Hz, Bob 880 Hz, Carol 660 Hz). Everything is driven through the desktop's UI;
// what each agent hears is measured in its page, on the call's remote stream: an AnalyserNode FFT
// (the dominant frequency) and the inbound-rtp totalAudioEnergy (its rise per second of audio).
// The desktop runs in its audio test mode (?audio-test=1: raw microphone, window.__switchboardAudio).
// Prints "N passed, N failed"; screenshots and the measurements (audio.json) go to
// test-results/e2e/ at the repository root. Transfers, three-way calls and supervisors: transfer.mjs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  TONE,
  agentLauncher,
  assertNothingForeignNorBroken,
  audioStatus,
  callButton,
  completeAll,
  hearsHoldMusic,
  hearsNothing,
  hearsTone,
  measured,
  noAudioLeft,
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

freshResults('audio');

// ---- agents ---------------------------------------------------------------------------------

const { launchAgent, foreign, closeAll } = agentLauncher({ executablePath: CHROMIUM });

const { results, scenario, screenshot, finish } = harness('audio');

// ---- scenarios ------------------------------------------------------------------------------


async function main() {
  // The relay says per connection whether it seals and opens the audio itself (its SRTP
  // shortcut) or leaves it to str0m.
  const server = await startServer(BIN, { rustLog: 'warn,switchboard_media::engine=info' });
  const wavDir = mkdtempSync(join(tmpdir(), 'switchboard-audio-'));
  console.log(`server at ${server.url}, audio relay at udp ${server.relay}`);
  try {
    const demo = await (await fetch(`${server.url}/demo/agents`)).json();
    const agentNamed = (friendly) => demo.agents.find((a) => a.friendly_name === friendly);
    const ws = server.workspace ?? demo.workspace_sid;
    const activities = (await server.rest('GET', `/v1/Workspaces/${ws}/Activities`)).activities;
    const offline = activities.find((a) => a.friendly_name === 'Offline').sid;

    // Alice's desktop socket passes through the test: its media offers and the audio states
    // the server gives it are seen, and it can be dropped like a network blip.
    const aliceAudio = [];
    const aliceSocket = socketTap({
      server: (msg) => {
        if (msg.type !== 'state') return;
        const last = aliceAudio[aliceAudio.length - 1];
        if (JSON.stringify(last?.audio) !== JSON.stringify(msg.audio)) aliceAudio.push({ at: Date.now(), audio: msg.audio });
      },
    });

    let alice, bob, carol, dmitri;
    await scenario('four agents sign in, each in its own Chromium (three with a tone, one without a microphone)', async () => {
      const who = (friendly) => ({ who: friendly, fullName: agentNamed(friendly).full_name ?? friendly, wavDir });
      [alice, bob, carol, dmitri] = await Promise.all([
        launchAgent(server.url, { ...who('alice'), tone: TONE.alice, onSocket: aliceSocket.onSocket }),
        launchAgent(server.url, { ...who('bob'), tone: TONE.bob }),
        launchAgent(server.url, { ...who('carol'), tone: TONE.carol }),
        launchAgent(server.url, { ...who('dmitri'), tone: null }),
      ]);
      await visible(alice.page.getByRole('heading', { name: 'Audio' }));
      await screenshot(alice, 'signed-in');
    });

    await scenario('without a microphone no call is placed, and the agent is told what to do', async () => {
      const d = dmitri.page;
      await pickFromCombobox(d, 'Select an agent', 'ali', /Alice Anders/);
      await (await callButton(d)).click();
      await visible(d.getByTestId('microphone-problem').getByText(/No microphone found\. Connect a microphone or headset/));
      await screenshot(dmitri, 'no-microphone');
      if (!(await d.getByText(/No tasks/).isVisible())) throw new Error('a call was placed without a microphone');
      const state = await d.evaluate(() => window.__switchboardAudio.peerState());
      if (state !== null) throw new Error(`an audio connection was opened: ${state}`);
    });

    await scenario('Alice calls Bob: Alice hears the hold music while Bob rings', async () => {
      const a = alice.page;
      await pickFromCombobox(a, 'Select an agent', 'bro', /Bob Brown/);
      await (await callButton(a)).click();
      await visible(task(a, 'Bob Brown').getByText(/Ringing…|Dialing…/));
      await visible(bob.page.getByRole('group', { name: 'Alice Anders is calling' }));
      await untilHeard(alice, 'hold music while Bob rings', hearsHoldMusic);
      await visible(audioStatus(a, 'connected'));
      await screenshot(alice, 'ringing-hears-hold-music');
    });

    await scenario('Bob accepts: Alice hears 880 Hz (Bob), Bob hears 440 Hz (Alice), neither hears itself', async () => {
      await bob.page.getByRole('group', { name: 'Alice Anders is calling' }).getByRole('button', { name: 'Accept' }).click();
      await visible(task(alice.page, 'Bob Brown').getByText('Live', { exact: true }));
      await visible(task(bob.page, 'Alice Anders').getByText('Live', { exact: true }));
      await Promise.all([untilHeard(alice, 'Bob’s 880 Hz', hearsTone(alice, bob)), untilHeard(bob, 'Alice’s 440 Hz', hearsTone(bob, alice))]);
      await visible(audioStatus(alice.page, 'connected'));
      await visible(audioStatus(bob.page, 'connected'));
      await visible(bob.page.getByTestId('microphone-level'));
      await screenshot(alice, 'connected');
      await screenshot(bob, 'connected');
    });

    await scenario('with UDP and TCP both offered, each connection runs over UDP to the relay’s socket', async () => {
      if (!server.relayTcp) throw new Error('the relay offers no TCP listener by default');
      for (const agent of [alice, bob]) {
        const pair = await agent.page.evaluate(() => window.__switchboardAudio.selectedCandidatePair());
        const r = pair?.remote;
        if (pair?.state !== 'succeeded' || pair.local?.protocol !== 'udp' || r?.protocol !== 'udp' || `${r.address}:${r.port}` !== server.relay) {
          throw new Error(`${agent.who}: the selected pair is not UDP to ${server.relay}: ${JSON.stringify(pair)}`);
        }
      }
    });

    await scenario('the relay seals and opens both desktops’ audio itself (AES-GCM SRTP), not through str0m', async () => {
      // eslint-disable-next-line no-control-regex
      const log = server.log().replace(/\x1b\[[0-9;]*m/g, '');
      const on = [...log.matchAll(/shortcut on id=(\S+) profile=(\S+)/g)].map((m) => `${m[1]} ${m[2]}`);
      if (on.length < 2 || /shortcut declined/.test(log)) {
        throw new Error(`expected the shortcut on for Alice's and Bob's connections: ${JSON.stringify(on)}\n${log.split('\n').filter((l) => /shortcut/.test(l)).join('\n')}`);
      }
      if (!on.every((l) => /AEAD_AES_(128|256)_GCM/.test(l))) throw new Error(`not an AES-GCM profile: ${on.join(', ')}`);
      console.log(`     shortcut: ${on.join(', ')}`);
    });

    await scenario('Bob mutes: his microphone is off at once, Alice hears nothing from him; after unmute she hears him again', async () => {
      const b = bob.page;
      await b.getByRole('button', { name: 'Mute', exact: true }).click();
      // Local at once: the sender's track is disabled before the server's state could come back.
      await b
        .waitForFunction(() => window.__switchboardAudio.microphoneEnabled() === false, null, { timeout: 300, polling: 10 })
        .catch(() => {
          throw new Error('Bob’s microphone track was not disabled within 300 ms of Mute');
        });
      await visible(b.getByRole('button', { name: 'Unmute', exact: true }));
      await untilHeard(alice, 'silence while Bob is muted', hearsNothing);
      await untilHeard(bob, 'Alice still, while muted', hearsTone(bob, alice));
      await screenshot(bob, 'muted');
      await b.getByRole('button', { name: 'Unmute', exact: true }).click();
      await visible(b.getByRole('button', { name: 'Mute', exact: true }));
      await untilHeard(alice, 'Bob again after unmute', hearsTone(alice, bob));
    });

    await scenario('Alice holds Bob: Bob hears the hold music, Alice hears nothing of him; resume brings both back', async () => {
      const a = alice.page;
      await a.getByRole('button', { name: 'Hold', exact: true }).click();
      await visible(a.getByRole('button', { name: 'Resume', exact: true }));
      await Promise.all([untilHeard(bob, 'hold music while held', hearsHoldMusic), untilHeard(alice, 'nothing while holding', hearsNothing)]);
      await screenshot(bob, 'held-hears-hold-music');
      await a.getByRole('button', { name: 'Resume', exact: true }).click();
      await visible(a.getByRole('button', { name: 'Hold', exact: true }));
      await Promise.all([untilHeard(alice, 'Bob after resume', hearsTone(alice, bob)), untilHeard(bob, 'Alice after resume', hearsTone(bob, alice))]);
    });

    await scenario('Alice’s desktop socket drops mid-call: it reconnects, ICE-restarts the same connection, and the call is heard again', async () => {
      const before = await reconnectsWithIceRestart(alice, bob, aliceSocket);
      if (aliceSocket.offers.slice(before).some((o) => !o.restart)) throw new Error('a fresh media_offer followed the restart');
      // The server's view agrees: a restart over a path that never broke stays connected.
      const serverAudio = () => aliceAudio[aliceAudio.length - 1]?.audio;
      await until("the server's audio for Alice after the ICE restart", serverAudio, (a) => a?.state === 'connected');
    });

    await scenario('Alice hangs up: nobody hears anything, both connections close and the microphones are released', async () => {
      await alice.page.getByRole('button', { name: 'Hang up' }).click();
      await Promise.all([noAudioLeft(alice), noAudioLeft(bob)]);
      await screenshot(alice, 'hung-up');
      await completeAll(alice.page);
      await completeAll(bob.page);
    });

    await scenario('Alice calls the Support queue and Carol accepts: Alice hears 660 Hz, Carol hears 440 Hz', async () => {
      // Only Carol is available in Support.
      for (const f of ['bob', 'eva', 'zoe']) {
        await server.rest('POST', `/v1/Workspaces/${ws}/Workers/${agentNamed(f).sid}`, new URLSearchParams({ ActivitySid: offline }));
      }
      const a = alice.page;
      await a.getByRole('tab', { name: 'Call Queue' }).click();
      await pickFromCombobox(a, 'Select a queue', 'sup', 'Support');
      await (await callButton(a)).click();
      const incoming = carol.page.getByRole('group', { name: 'Alice Anders is calling' });
      await visible(incoming);
      await untilHeard(alice, 'hold music while the queue rings Carol', hearsHoldMusic);
      await incoming.getByRole('button', { name: 'Accept' }).click();
      await visible(task(a, 'Support').getByText('Live', { exact: true }));
      await Promise.all([untilHeard(alice, 'Carol’s 660 Hz', hearsTone(alice, carol)), untilHeard(carol, 'Alice’s 440 Hz', hearsTone(carol, alice))]);
      await screenshot(carol, 'queue-call-connected');
      await carol.page.getByRole('button', { name: 'Hang up' }).click();
      await Promise.all([noAudioLeft(alice), noAudioLeft(carol)]);
      await completeAll(a);
      await completeAll(carol.page);
    });

    await scenario('the desktops loaded nothing from outside their origin, with no page errors', async () => {
      assertNothingForeignNorBroken(foreign, [alice, bob, carol, dmitri]);
    });
  } finally {
    writeFileSync(join(OUT, 'audio.json'), JSON.stringify({ results, measured }, null, 2));
    await closeAll();
    server.stop();
    rmSync(wavDir, { recursive: true, force: true });
  }
}

await finish(main);
