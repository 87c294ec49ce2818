// End-to-end audio: the real switchboard server relays the calls' sound between agents, each in
// its own Debian Chromium process whose fake microphone plays its own tone (a WAV this test
// writes: Alice 440 Hz, Bob 880 Hz, Carol 660 Hz). Everything is driven through the desktop's UI;
// what each agent hears is measured in its page, on the call's remote stream: an AnalyserNode FFT
// (the dominant frequency) and the inbound-rtp totalAudioEnergy (its rise per second of audio).
// The desktop runs in its audio test mode (?audio-test=1: raw microphone, window.__switchboardAudio).
// Prints "N passed, N failed"; screenshots and the measurements (audio.json) go to
// test-results/e2e/ at the repository root. Not covered: three-party conferences (the desktop has
// no UI for them yet).
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = resolve(WEB, '..');
const BIN = process.env.SWITCHBOARD_BIN ?? join(ROOT, 'target/debug/switchboard');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const OUT = join(ROOT, 'test-results/e2e');
const WAIT = 15_000;
/** How long a condition on what an agent hears may take to hold. */
const HEAR_WAIT = 12_000;

const TONE = { alice: 440, bob: 880, carol: 660 };
/** crates/media's hold music: an arpeggio of these notes, half a second each. */
const HOLD_NOTES = [261.63, 329.63, 392, 523.25];
/** Frequencies within this of each other are the same tone (the FFT's bins are ~5.9 Hz). */
const HZ_TOLERANCE = 10;
/** totalAudioEnergy rise per second of received audio: above is sound, below is silence. */
const SOUND_RATE = 0.01;
const SILENCE_RATE = 0.0005;
/** A tone is "heard" this far (dB) above the others, and one's own tone is this far below. */
const MARGIN_DB = 25;

const BASE_SWITCHES = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync', '--disable-quic', '--disable-background-networking', '--disable-component-update'];
const MEDIA_SWITCHES = (wav) => [
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${wav}`,
  '--autoplay-policy=no-user-gesture-required',
  '--allow-loopback-in-peer-connection',
];

mkdirSync(OUT, { recursive: true });
for (const f of readdirSync(OUT)) if (f.startsWith('audio-')) rmSync(join(OUT, f), { force: true });

/** A 48 kHz 16-bit mono WAV of a sine (a whole number of cycles, so Chromium's loop is seamless). */
function writeTone(path, hz, seconds = 2, amplitude = 0.5) {
  const rate = 48_000;
  const n = rate * seconds;
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + n * 2, 4);
  b.write('WAVE', 8);
  b.write('fmt ', 12);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * amplitude * 32767), 44 + 2 * i);
  writeFileSync(path, b);
}

// ---- agents ---------------------------------------------------------------------------------

const foreign = [];
const launched = [];

/**
 * One Chromium process per agent (the fake microphone is per process). `tone` null: no fake
 * devices at all, so the browser has no microphone. `onSocket(route)`: the desktop socket passes
 * through the test (to watch its messages and drop it).
 */
async function launchAgent(base, { who, fullName, tone, wavDir, onSocket }) {
  let args = BASE_SWITCHES;
  if (tone !== null) {
    const wav = join(wavDir, `${who}-${tone}.wav`);
    writeTone(wav, tone);
    args = [...BASE_SWITCHES, ...MEDIA_SWITCHES(wav)];
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
  launched.push(browser);
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
  const host = new URL(base).host;
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.host !== host && u.protocol !== 'data:' && u.protocol !== 'blob:') {
      foreign.push(u.href);
      return route.abort();
    }
    return route.continue();
  });
  const page = await context.newPage();
  if (onSocket) await page.routeWebSocket(/\/v1\/Desktop/, onSocket);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/?audio-test=1`);
  await page.getByRole('button', { name: new RegExp(`Sign in as ${fullName}`) }).click();
  await page.getByText(`Signed in as ${fullName}`).waitFor({ timeout: WAIT });
  await page.getByRole('heading', { name: 'Dialpad' }).waitFor({ timeout: WAIT });
  return { who, fullName, tone, browser, page, errors };
}

// ---- what an agent hears ----------------------------------------------------------------------

/**
 * Listens to the call's remote stream for `ms`: the averaged spectrum's dominant frequency
 * (100–2000 Hz) and its level, the level at each agent's tone, and the inbound-rtp deltas.
 */
async function listen(agent, ms = 700) {
  return agent.page.evaluate(
    async ({ ms, tones }) => {
      const hook = window.__switchboardAudio;
      if (!hook) throw new Error('window.__switchboardAudio is missing: is the desktop in its audio test mode?');
      const P = (window.__probe ??= { ctx: new AudioContext(), stream: null });
      const stream = hook.remoteStream();
      if (stream && P.stream !== stream) {
        P.source?.disconnect();
        P.stream = stream;
        P.source = P.ctx.createMediaStreamSource(stream);
        P.analyser = P.ctx.createAnalyser();
        P.analyser.fftSize = 8192;
        P.analyser.smoothingTimeConstant = 0;
        P.source.connect(P.analyser);
      }
      await P.ctx.resume();
      const s0 = await hook.inbound();
      const bins = P.analyser ? P.analyser.frequencyBinCount : 0;
      const sum = new Float64Array(bins);
      const buf = new Float32Array(bins);
      let frames = 0;
      for (const end = performance.now() + ms; performance.now() < end; ) {
        await new Promise((r) => setTimeout(r, 40));
        if (!P.analyser) continue;
        P.analyser.getFloatFrequencyData(buf);
        for (let i = 0; i < bins; i++) sum[i] += Number.isFinite(buf[i]) ? 10 ** (buf[i] / 10) : 0;
        frames++;
      }
      const s1 = await hook.inbound();
      const binHz = P.analyser ? P.ctx.sampleRate / P.analyser.fftSize : 1;
      const db = (p) => Math.max(-200, 10 * Math.log10(p / Math.max(frames, 1) + 1e-20));
      let best = 0;
      for (let i = Math.ceil(100 / binHz); i < Math.min(bins, 2000 / binHz); i++) if (sum[i] > sum[best]) best = i;
      const at = {};
      for (const hz of tones) {
        const i = Math.round(hz / binHz);
        at[hz] = bins ? Math.round(db(Math.max(sum[i - 1], sum[i], sum[i + 1])) * 10) / 10 : -200;
      }
      const seconds = s0 && s1 ? s1.totalSamplesDuration - s0.totalSamplesDuration : 0;
      const energy = s0 && s1 ? s1.totalAudioEnergy - s0.totalAudioEnergy : 0;
      return {
        peer: hook.peerState(),
        micEnabled: hook.microphoneEnabled(),
        remoteTrack: stream?.getAudioTracks()[0]?.readyState ?? null,
        dominantHz: bins ? Math.round(best * binHz * 10) / 10 : null,
        peakDb: bins ? Math.round(db(sum[best]) * 10) / 10 : -200,
        at,
        energyPerSecond: seconds > 0 ? energy / seconds : 0,
        packets: s0 && s1 ? s1.packetsReceived - s0.packetsReceived : 0,
      };
    },
    { ms, tones: [...new Set([...Object.values(TONE), ...HOLD_NOTES])] },
  );
}

const near = (a, b) => a !== null && Math.abs(a - b) <= HZ_TOLERANCE;
const isHoldNote = (hz) => HOLD_NOTES.some((n) => near(hz, n));

/** What the test saw, for audio.json and the report. */
const measured = [];

/** Listens until `ok(m)` holds (or throws after `timeout`, with the last measurement). */
async function untilHeard(agent, what, ok, timeout = HEAR_WAIT) {
  const t0 = Date.now();
  let m;
  for (;;) {
    m = await listen(agent);
    if (ok(m)) {
      measured.push({ who: agent.who, what, after_ms: Date.now() - t0, ...m });
      console.log(`     ${agent.who}: ${what} after ${Date.now() - t0} ms: ${describe(m)}`);
      return m;
    }
    if (Date.now() - t0 > timeout) throw new Error(`${agent.who}: ${what} did not happen in ${timeout} ms; last: ${JSON.stringify(m)}`);
  }
}

function describe(m) {
  const at = Object.entries(m.at)
    .filter(([hz]) => Object.values(TONE).includes(Number(hz)))
    .map(([hz, v]) => `${hz} Hz ${v} dB`)
    .join(', ');
  return `dominant ${m.dominantHz} Hz at ${m.peakDb} dB (${at}); energy ${m.energyPerSecond.toExponential(2)}/s, ${m.packets} packets`;
}

/** The agent hears `other`'s tone, and not its own. */
function hearsTone(agent, other) {
  return (m) =>
    m.peer === 'connected' &&
    near(m.dominantHz, other.tone) &&
    m.energyPerSecond > SOUND_RATE &&
    m.at[agent.tone] < m.peakDb - MARGIN_DB;
}

/** Hold music, and none of the agents' tones. */
function hearsHoldMusic(m) {
  return (
    m.peer === 'connected' &&
    isHoldNote(m.dominantHz) &&
    m.energyPerSecond > SOUND_RATE * 0.1 &&
    Object.values(TONE).every((hz) => m.at[hz] < m.peakDb - MARGIN_DB)
  );
}

/** Nothing arrives that makes a sound. */
const hearsNothing = (m) => m.energyPerSecond < SILENCE_RATE && m.peakDb < -70;

// ---- UI helpers -----------------------------------------------------------------------------

const visible = (locator, timeout = WAIT) => locator.first().waitFor({ state: 'visible', timeout });
const gone = (locator, timeout = WAIT) => locator.first().waitFor({ state: 'hidden', timeout });

async function pickFromCombobox(page, label, text, option) {
  const input = page.getByLabel(label, { exact: true }).and(page.locator('input'));
  await input.click();
  await input.pressSequentially(text, { delay: 30 });
  const opt = page.getByRole('option', { name: option });
  await visible(opt);
  await opt.first().click();
}

const callButton = (page) => page.getByRole('tabpanel').getByRole('button', { name: 'Call', exact: true });
const task = (page, name) => page.locator('li').filter({ has: page.getByRole('heading', { name, exact: true }) });
const audioStatus = (page, state) => page.locator(`[data-testid="call-audio-status"][data-audio-state="${state}"]`);

async function completeAll(page) {
  const empty = page.getByText(/No tasks/);
  const btn = page.getByRole('button', { name: 'Complete', exact: true });
  for (const t0 = Date.now(); Date.now() - t0 < WAIT; ) {
    if (await empty.isVisible()) return;
    if ((await btn.count()) > 0) await btn.first().click().catch(() => {});
    await page.waitForTimeout(100);
  }
  await visible(empty);
}

let shot = 0;
async function screenshot(agent, name) {
  shot += 1;
  await agent.page.screenshot({ path: join(OUT, `audio-${String(shot).padStart(2, '0')}-${agent.who}-${name}.png`), fullPage: true });
}

/** After hang-up: no connection, the microphone released, nothing heard, no audio status. */
async function noAudioLeft(agent) {
  await untilHeard(agent, 'nothing after hang-up', (m) => m.peer === null && m.micEnabled === null && hearsNothing(m));
  await gone(agent.page.locator('[data-testid="call-audio-status"]'));
}

// ---- scenarios ------------------------------------------------------------------------------

const results = [];
async function scenario(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - started });
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false, error: String(e) });
    console.log(`FAIL ${name}\n     ${String(e?.stack ?? e).split('\n').slice(0, 8).join('\n     ')}`);
  }
}

async function main() {
  const server = await startServer(BIN);
  const wavDir = mkdtempSync(join(tmpdir(), 'switchboard-audio-'));
  console.log(`server at ${server.url}, audio relay at udp ${server.relay}`);
  try {
    const demo = await (await fetch(`${server.url}/demo/agents`)).json();
    const agentNamed = (friendly) => demo.agents.find((a) => a.friendly_name === friendly);
    const ws = server.workspace ?? demo.workspace_sid;
    const activities = (await server.rest('GET', `/v1/Workspaces/${ws}/Activities`)).activities;
    const offline = activities.find((a) => a.friendly_name === 'Offline').sid;

    // Alice's desktop socket passes through the test: its media offers are seen, and it can be
    // dropped like a network blip.
    const aliceSocket = { current: null, offers: [], audio: [] };
    const onAliceSocket = (route) => {
      const toServer = route.connectToServer();
      route.onMessage((m) => {
        try {
          const msg = JSON.parse(String(m));
          if (msg.type === 'media_offer') aliceSocket.offers.push({ restart: msg.restart, at: Date.now() });
        } catch {
          // not JSON: the server says so
        }
        toServer.send(m);
      });
      toServer.onMessage((m) => {
        try {
          const msg = JSON.parse(String(m));
          if (msg.type === 'state') {
            const last = aliceSocket.audio[aliceSocket.audio.length - 1];
            if (JSON.stringify(last?.audio) !== JSON.stringify(msg.audio)) aliceSocket.audio.push({ at: Date.now(), audio: msg.audio });
          }
        } catch {
          // not ours to read
        }
        route.send(m);
      });
      route.onClose(() => toServer.close());
      toServer.onClose(() => route.close());
      aliceSocket.current = { route, toServer };
    };

    let alice, bob, carol, dmitri;
    await scenario('four agents sign in, each in its own Chromium (three with a tone, one without a microphone)', async () => {
      const who = (friendly) => ({ who: friendly, fullName: agentNamed(friendly).full_name ?? friendly, wavDir });
      [alice, bob, carol, dmitri] = await Promise.all([
        launchAgent(server.url, { ...who('alice'), tone: TONE.alice, onSocket: onAliceSocket }),
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

    await scenario('Bob mutes: his microphone is off at once, Alice hears nothing from him; after unmute she hears him again', async () => {
      const b = bob.page;
      await b.getByRole('button', { name: 'Mute', exact: true }).click();
      // Local at once: the sender's track is disabled before the server's state could come back.
      await b
        .waitForFunction(() => window.__switchboardAudio.microphoneEnabled() === false, null, { timeout: 300, polling: 10 })
        .catch(() => {
          throw new Error('Bob’s microphone track was not disabled within 300 ms of Mute');
        });
      await visible(b.getByRole('button', { name: 'Unmute' }));
      await untilHeard(alice, 'silence while Bob is muted', hearsNothing);
      await untilHeard(bob, 'Alice still, while muted', hearsTone(bob, alice));
      await screenshot(bob, 'muted');
      await b.getByRole('button', { name: 'Unmute' }).click();
      await visible(b.getByRole('button', { name: 'Mute', exact: true }));
      await untilHeard(alice, 'Bob again after unmute', hearsTone(alice, bob));
    });

    await scenario('Alice holds Bob: Bob hears the hold music, Alice hears nothing of him; resume brings both back', async () => {
      const a = alice.page;
      await a.getByRole('button', { name: 'Hold', exact: true }).click();
      await visible(a.getByRole('button', { name: 'Resume' }));
      await Promise.all([untilHeard(bob, 'hold music while held', hearsHoldMusic), untilHeard(alice, 'nothing while holding', hearsNothing)]);
      await screenshot(bob, 'held-hears-hold-music');
      await a.getByRole('button', { name: 'Resume' }).click();
      await visible(a.getByRole('button', { name: 'Hold', exact: true }));
      await Promise.all([untilHeard(alice, 'Bob after resume', hearsTone(alice, bob)), untilHeard(bob, 'Alice after resume', hearsTone(bob, alice))]);
    });

    await scenario('Alice’s desktop socket drops mid-call: it reconnects, ICE-restarts the same connection, and the call is heard again', async () => {
      const a = alice.page;
      const before = aliceSocket.offers.length;
      // The remote MediaStream object is the connection's: a new connection would bring a new one.
      await a.evaluate(() => (window.__streamBefore = window.__switchboardAudio.remoteStream()));
      aliceSocket.current.route.close();
      aliceSocket.current.toServer.close();
      await visible(a.getByText('Connection lost. Reconnecting…'), 5000);
      await gone(a.getByText('Connection lost. Reconnecting…'));
      for (const t0 = Date.now(); aliceSocket.offers.length === before; ) {
        if (Date.now() - t0 > WAIT) throw new Error('no media_offer after the reconnect');
        await a.waitForTimeout(50);
      }
      const offer = aliceSocket.offers[before];
      if (offer.restart !== true) throw new Error(`the offer after the reconnect was not an ICE restart: ${JSON.stringify(offer)}`);
      await Promise.all([untilHeard(alice, 'Bob after the reconnect', hearsTone(alice, bob)), untilHeard(bob, 'Alice after the reconnect', hearsTone(bob, alice))]);
      const same = await a.evaluate(() => window.__streamBefore !== null && window.__switchboardAudio.remoteStream() === window.__streamBefore);
      if (!same) throw new Error('the reconnect made a new connection instead of restarting the old one');
      if (aliceSocket.offers.slice(before).some((o) => !o.restart)) throw new Error('a fresh media_offer followed the restart');
      await visible(audioStatus(a, 'connected'));
      // Known server issue (reported): after an ICE restart over a path that never broke, the
      // relay does not report Connected again, so DesktopState.audio stays 'connecting'. The
      // desktop shows 'connected' from its own RTCPeerConnection; the test only notes it.
      const last = aliceSocket.audio[aliceSocket.audio.length - 1]?.audio;
      if (last?.state !== 'connected') console.log(`     note: the server's audio for Alice after the ICE restart: ${JSON.stringify(last)}`);
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
      if (foreign.length) throw new Error(`requests to other hosts: ${foreign.join(', ')}`);
      const errs = [alice, bob, carol, dmitri].flatMap((x) => x?.errors ?? []);
      if (errs.length) throw new Error(`page errors: ${errs.join('; ')}`);
    });
  } finally {
    writeFileSync(join(OUT, 'audio.json'), JSON.stringify({ results, measured }, null, 2));
    await Promise.all(launched.map((b) => b.close().catch(() => {})));
    server.stop();
    rmSync(wavDir, { recursive: true, force: true });
  }
}

const t0 = Date.now();
try {
  await main();
} catch (e) {
  results.push({ name: 'setup', ok: false, error: String(e) });
  console.log(`FAIL setup: ${e?.stack ?? e}`);
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
console.log(`\nscreenshots and measurements: ${OUT} (audio-*, audio.json) (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
