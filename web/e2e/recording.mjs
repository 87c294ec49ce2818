// End-to-end recording of a call through the desktop's UI: the real switchboard server, one
// Debian Chromium per agent whose fake microphone plays its own tone (Alice 440 Hz, Bob 880 Hz;
// audio-helpers.mjs). Alice calls Bob from the dialpad, Bob accepts and presses Record; both
// desktops show the indicator; after a stated length of recorded audio Bob pauses, resumes, then
// stops. The recording is then fetched over the REST API (its metadata and its WAV) and the WAV
// parsed here: 2 channels, 16 kHz, 16-bit; channel 0 (the caller, Alice) holds 440 Hz and not
// 880 Hz, channel 1 (the answering agent, Bob) 880 Hz and not 440 Hz (Goertzel); its duration is
// the recorded time, the paused time left out. Then Alice, the caller, records the same call
// from her desktop (Bob sees it), with the same channels.
// Prints "N passed, N failed"; screenshots and measurements (recording.json) go to
// test-results/e2e/ at the repository root.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  TONE,
  agentLauncher,
  assertNothingForeignNorBroken,
  callButton,
  completeAll,
  gone,
  hearsTone,
  measured,
  noAudioLeft,
  pickFromCombobox,
  task,
  untilHeard,
  visible,
} from './audio-helpers.mjs';
import { harness } from './harness.mjs';
import { BIN, CHROMIUM, OUT, freshResults, startServer } from './server.mjs';

freshResults('recording');

/** How long each of the two recorded stretches lasts, and the pause between them (ms). */
const RECORD_MS = 2500;
const PAUSE_MS = 2000;
/** The caller's own, shorter recording (ms). */
const SHORT_RECORD_MS = 1500;
/** Slack (s) between the wall-clock timings taken here and what the server recorded. */
const TIMING_SLACK_S = 0.8;
/** A tone is present this far (dB) above the other agent's tone in the same channel. */
const CHANNEL_MARGIN_DB = 20;


const { launchAgent, foreign, closeAll } = agentLauncher({ executablePath: CHROMIUM });

const { results, axeResults, scenario, screenshot, axe, finish } = harness('recording');


const canvas = (agent) => agent.page.getByTestId('call-canvas');
/** The recording indicator on the agent's call, in `state` (`recording` or `paused`). */
const indicator = (agent, state) => canvas(agent).locator(`[data-testid="recording-indicator"][data-recording-state="${state}"]`);
const button = (agent, name) => canvas(agent).getByRole('button', { name, exact: true });

// ---- the WAV ----------------------------------------------------------------------------------

/** A RIFF/WAVE file's format and its samples, one Float64Array per channel (−1…1). */
function parseWav(buf) {
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  let fmt = null;
  let data = null;
  for (let at = 12; at + 8 <= buf.length; ) {
    const id = buf.toString('ascii', at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'fmt ') {
      fmt = {
        format: buf.readUInt16LE(body),
        channels: buf.readUInt16LE(body + 2),
        rate: buf.readUInt32LE(body + 4),
        byteRate: buf.readUInt32LE(body + 8),
        blockAlign: buf.readUInt16LE(body + 12),
        bits: buf.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      data = buf.subarray(body, Math.min(body + size, buf.length));
    }
    at = body + size + (size & 1);
  }
  if (!fmt || !data) throw new Error(`missing chunk: fmt ${!!fmt}, data ${!!data}`);
  const frames = Math.floor(data.length / fmt.blockAlign);
  const channels = Array.from({ length: fmt.channels }, () => new Float64Array(frames));
  if (fmt.bits === 16) {
    for (let i = 0; i < frames; i++) for (let c = 0; c < fmt.channels; c++) channels[c][i] = data.readInt16LE(i * fmt.blockAlign + 2 * c) / 32768;
  }
  return { ...fmt, frames, seconds: frames / fmt.rate, channels, dataBytes: data.length };
}

/** Goertzel: the power of `hz` in `x[from, to)` (per sample), and its level in dB. */
function goertzel(x, rate, hz, from = 0, to = x.length) {
  const k = (2 * Math.PI * hz) / rate;
  const coeff = 2 * Math.cos(k);
  let s1 = 0;
  let s2 = 0;
  for (let i = from; i < to; i++) {
    const s = x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  const n = Math.max(to - from, 1);
  const power = (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n);
  return 10 * Math.log10(power + 1e-20);
}

const rms = (x) => Math.sqrt(x.reduce((a, v) => a + v * v, 0) / Math.max(x.length, 1));

/**
 * Each channel's level at each tone over the whole file, and in 100 ms windows: the share of
 * windows where the channel's own tone leads by CHANNEL_MARGIN_DB (a silence recorded for the
 * pause would show as windows where it does not).
 */
function analyse(wav, want) {
  const win = Math.round(wav.rate / 10);
  return want.map(({ channel, hz, not }) => {
    const x = wav.channels[channel];
    const whole = { [hz]: goertzel(x, wav.rate, hz), [not]: goertzel(x, wav.rate, not) };
    let good = 0;
    let windows = 0;
    let longestBad = 0;
    let bad = 0;
    for (let from = 0; from + win <= x.length; from += win) {
      windows++;
      const ok = goertzel(x, wav.rate, hz, from, from + win) > goertzel(x, wav.rate, not, from, from + win) + CHANNEL_MARGIN_DB && rms(x.subarray(from, from + win)) > 0.01;
      if (ok) {
        good++;
        bad = 0;
      } else longestBad = Math.max(longestBad, ++bad);
    }
    return { channel, hz, not, db: whole, rms: rms(x), windows, share: good / Math.max(windows, 1), longestGapMs: longestBad * 100 };
  });
}

// ---- the test ---------------------------------------------------------------------------------

async function main() {
  const server = await startServer(BIN);
  const wavDir = mkdtempSync(join(tmpdir(), 'switchboard-recording-'));
  console.log(`server at ${server.url}, audio relay at udp ${server.relay}`);
  const report = { timeline: {}, rest: null, wav: null, analysis: null };
  try {
    const demo = await (await fetch(`${server.url}/demo/agents`)).json();
    const fullName = (friendly) => demo.agents.find((a) => a.friendly_name === friendly)?.full_name ?? friendly;
    const recordings = `/2010-04-01/Accounts/${server.accountSid}/Recordings`;

    let alice, bob;
    await scenario('Alice and Bob sign in, each in its own Chromium with its own tone', async () => {
      const who = (friendly) => ({ who: friendly, fullName: fullName(friendly), tone: TONE[friendly], wavDir });
      [alice, bob] = await Promise.all([launchAgent(server.url, who('alice')), launchAgent(server.url, who('bob'))]);
    });

    let sid = null;
    const t = report.timeline;
    await scenario('Alice calls Bob; Bob records, pauses, resumes and stops; both desktops show it', async () => {
      const a = alice.page;
      await pickFromCombobox(a, 'Select an agent', 'bro', /Bob Brown/);
      await (await callButton(a)).click();
      const incoming = bob.page.getByRole('group', { name: 'Alice Anders is calling' });
      await visible(incoming);
      await incoming.getByRole('button', { name: 'Accept' }).click();
      await visible(task(a, 'Bob Brown').getByText('Live', { exact: true }));
      await visible(task(bob.page, 'Alice Anders').getByText('Live', { exact: true }));
      await Promise.all([untilHeard(alice, 'Bob’s 880 Hz', hearsTone(alice, bob)), untilHeard(bob, 'Alice’s 440 Hz', hearsTone(bob, alice))]);
      if ((await canvas(bob).locator('[data-testid="recording-indicator"]').count()) !== 0) throw new Error('a recording is shown before Record was pressed');

      // Record. The action is answered once the recorder runs; the state follows.
      t.start = Date.now();
      await button(bob, 'Record').click();
      await Promise.all([visible(indicator(bob, 'recording')), visible(indicator(alice, 'recording'))]);
      t.shownBoth = Date.now();
      for (const x of [alice, bob]) {
        const text = await indicator(x, 'recording').textContent();
        if (text !== 'Recording') throw new Error(`${x.who}'s indicator says ${JSON.stringify(text)}`);
      }
      sid = await indicator(bob, 'recording').getAttribute('data-recording-sid');
      const aliceSid = await indicator(alice, 'recording').getAttribute('data-recording-sid');
      if (!/^RE[0-9a-f]{32}$/.test(sid ?? '') || aliceSid !== sid) throw new Error(`recording SIDs: Bob ${sid}, Alice ${aliceSid}`);
      console.log(`     ${sid}: shown on both desktops ${t.shownBoth - t.start} ms after Record`);
      // Record is replaced by Pause, which has the focus (keyboard users are not dropped).
      if ((await button(bob, 'Record').count()) !== 0) throw new Error('Record is still offered while recording');
      const focused = await bob.page.evaluate(() => document.activeElement?.textContent);
      if (focused !== 'Pause recording') throw new Error(`after Record the focus is on ${JSON.stringify(focused)}`);
      const running = await server.rest('GET', `${recordings}/${sid}.json`);
      if (running.status !== 'in-progress') throw new Error(`while recording the REST status is ${running.status}`);
      await axe(bob, 'recording');
      await axe(alice, 'the other agent, recorded');
      await screenshot(bob, 'recording');
      await screenshot(alice, 'recorded');
      // Audio is flowing both ways while it records; then the rest of the stated length.
      await Promise.all([untilHeard(alice, 'Bob while recording', hearsTone(alice, bob)), untilHeard(bob, 'Alice while recording', hearsTone(bob, alice))]);
      await bob.page.waitForTimeout(Math.max(0, t.start + RECORD_MS - Date.now()));

      // Pause (from the keyboard: the focused Pause button), then hold the pause.
      t.pause = Date.now();
      await bob.page.keyboard.press('Enter');
      await Promise.all([visible(indicator(bob, 'paused')), visible(indicator(alice, 'paused'))]);
      t.pausedBoth = Date.now();
      for (const x of [alice, bob]) {
        const text = await indicator(x, 'paused').textContent();
        if (text !== 'Recording paused') throw new Error(`${x.who}'s paused indicator says ${JSON.stringify(text)}`);
      }
      const paused = await server.rest('GET', `${recordings}/${sid}.json`);
      if (paused.status !== 'paused') throw new Error(`while paused the REST status is ${paused.status}`);
      await screenshot(alice, 'paused');
      await bob.page.waitForTimeout(Math.max(0, t.pause + PAUSE_MS - Date.now()));

      // Resume, record again for the stated length, then stop.
      t.resume = Date.now();
      await button(bob, 'Resume recording').click();
      await Promise.all([visible(indicator(bob, 'recording')), visible(indicator(alice, 'recording'))]);
      await bob.page.waitForTimeout(Math.max(0, t.resume + RECORD_MS - Date.now()));
      t.stop = Date.now();
      await button(bob, 'Stop recording').click();
      await Promise.all([gone(canvas(bob).locator('[data-testid="recording-indicator"]')), gone(canvas(alice).locator('[data-testid="recording-indicator"]'))]);
      t.goneBoth = Date.now();
      await visible(button(bob, 'Record'));
      console.log(`     recorded ${(t.pause - t.start) / 1000} s, paused ${(t.resume - t.pause) / 1000} s, recorded ${(t.stop - t.resume) / 1000} s more`);
    });

    await scenario('the recording over REST: completed, 2 channels, Alice on the left at 440 Hz, Bob on the right at 880 Hz, the pause left out', async () => {
      if (!sid) throw new Error('no recording SID from the desktop');
      const meta = await server.rest('GET', `${recordings}/${sid}.json`);
      report.rest = meta;
      if (meta.status !== 'completed') throw new Error(`status ${meta.status}`);
      if (Number(meta.channels) !== 2) throw new Error(`channels ${meta.channels}`);
      if (!meta.conference_sid?.startsWith('CF')) throw new Error(`conference_sid ${meta.conference_sid}`);
      const listed = await server.rest('GET', `${recordings}.json`);
      if (!listed.recordings.some((r) => r.sid === sid)) throw new Error(`${sid} is not listed at Recordings.json`);

      const res = await fetch(`${server.url}${recordings}/${sid}.wav`, { headers: { Authorization: server.authorization } });
      if (!res.ok) throw new Error(`GET ${sid}.wav: ${res.status}`);
      const type = res.headers.get('content-type');
      if (!/audio\/(x-)?wav/.test(type ?? '')) throw new Error(`content-type ${type}`);
      const bytes = Buffer.from(await res.arrayBuffer());
      // The same file is in the data directory (beside the SQLite database by default).
      const onDisk = join(server.dir, 'recordings', `${sid}.wav`);
      if (existsSync(onDisk)) {
        if (!readFileSync(onDisk).equals(bytes)) throw new Error(`${onDisk} differs from what the API served`);
      } else {
        console.log(`     (not at ${onDisk}: ${readdirSync(server.dir).join(', ')})`);
      }
      const wav = parseWav(bytes);
      report.wav = { format: wav.format, channels: wav.channels.length, rate: wav.rate, bits: wav.bits, frames: wav.frames, seconds: wav.seconds, bytes: bytes.length };
      console.log(`     ${sid}.wav: ${JSON.stringify(report.wav)}; REST duration ${meta.duration}`);
      if (wav.format !== 1 || wav.channels.length !== 2 || wav.rate !== 16_000 || wav.bits !== 16) throw new Error(`format ${JSON.stringify(report.wav)}`);

      // Durations: positive; about the recorded wall time; less than start→stop by the pause.
      const wall = (t.stop - t.start) / 1000;
      const pausedWall = (t.resume - t.pause) / 1000;
      const recordedWall = wall - pausedWall;
      report.durations = { wall, pausedWall, recordedWall, wav: wav.seconds, rest: Number(meta.duration) };
      console.log(`     wall ${wall.toFixed(2)} s start→stop, paused ${pausedWall.toFixed(2)} s: recorded ${recordedWall.toFixed(2)} s by the clock, ${wav.seconds.toFixed(2)} s in the WAV`);
      if (!(wav.seconds > 0)) throw new Error('the WAV is empty');
      if (wav.seconds > wall - pausedWall + TIMING_SLACK_S) throw new Error(`the WAV lasts ${wav.seconds} s: more than start→stop less the pause (${recordedWall.toFixed(2)} s), so the pause was not skipped`);
      if (wav.seconds < recordedWall - TIMING_SLACK_S) throw new Error(`the WAV lasts ${wav.seconds} s, well short of the ${recordedWall.toFixed(2)} s recorded`);
      const restSeconds = Number(meta.duration);
      // Whole seconds, as Twilio gives them.
      if (!(restSeconds > 0) || ![Math.floor(wav.seconds), Math.round(wav.seconds)].includes(restSeconds)) throw new Error(`REST duration ${meta.duration} for a ${wav.seconds} s WAV`);

      // Who is on which channel: Goertzel at each agent's tone.
      const analysis = analyse(wav, [
        { channel: 0, hz: TONE.alice, not: TONE.bob },
        { channel: 1, hz: TONE.bob, not: TONE.alice },
      ]);
      report.analysis = analysis;
      for (const c of analysis) {
        console.log(`     channel ${c.channel}: ${c.hz} Hz ${c.db[c.hz].toFixed(1)} dB, ${c.not} Hz ${c.db[c.not].toFixed(1)} dB, rms ${c.rms.toFixed(3)}; own tone leads in ${(c.share * 100).toFixed(0)}% of ${c.windows} windows, longest gap ${c.longestGapMs} ms`);
        if (!(c.db[c.hz] > c.db[c.not] + CHANNEL_MARGIN_DB)) throw new Error(`channel ${c.channel}: ${c.hz} Hz is not ${CHANNEL_MARGIN_DB} dB above ${c.not} Hz (${JSON.stringify(c.db)})`);
        if (c.rms < 0.01) throw new Error(`channel ${c.channel} is nearly silent (rms ${c.rms})`);
        // Sound throughout: no stretch of silence where the pause was (it is skipped, not silenced).
        if (c.share < 0.85 || c.longestGapMs > 500) throw new Error(`channel ${c.channel}: its tone leads in only ${(c.share * 100).toFixed(0)}% of the file, longest gap ${c.longestGapMs} ms`);
      }
    });

    await scenario('the caller records too: Alice presses Record, Bob sees it, Alice stops; Alice is still on the left', async () => {
      const started = Date.now();
      await button(alice, 'Record').click();
      await Promise.all([visible(indicator(alice, 'recording')), visible(indicator(bob, 'recording'))]);
      const second = await indicator(alice, 'recording').getAttribute('data-recording-sid');
      if (!second || second === sid) throw new Error(`the second recording's SID is ${second}`);
      await alice.page.waitForTimeout(Math.max(0, started + SHORT_RECORD_MS - Date.now()));
      await button(alice, 'Stop recording').click();
      await Promise.all([gone(canvas(alice).locator('[data-testid="recording-indicator"]')), gone(canvas(bob).locator('[data-testid="recording-indicator"]'))]);
      const meta = await server.rest('GET', `${recordings}/${second}.json`);
      if (meta.status !== 'completed' || Number(meta.channels) !== 2) throw new Error(`status ${meta.status}, channels ${meta.channels}`);
      const res = await fetch(`${server.url}${recordings}/${second}.wav`, { headers: { Authorization: server.authorization } });
      const wav = parseWav(Buffer.from(await res.arrayBuffer()));
      const analysis = analyse(wav, [
        { channel: 0, hz: TONE.alice, not: TONE.bob },
        { channel: 1, hz: TONE.bob, not: TONE.alice },
      ]);
      report.second = { sid: second, seconds: wav.seconds, analysis };
      for (const c of analysis) {
        console.log(`     ${second} channel ${c.channel}: ${c.hz} Hz ${c.db[c.hz].toFixed(1)} dB, ${c.not} Hz ${c.db[c.not].toFixed(1)} dB (${wav.seconds.toFixed(2)} s)`);
        if (!(c.db[c.hz] > c.db[c.not] + CHANNEL_MARGIN_DB)) throw new Error(`channel ${c.channel}: ${c.hz} Hz is not ${CHANNEL_MARGIN_DB} dB above ${c.not} Hz (${JSON.stringify(c.db)})`);
      }
    });

    await scenario('hang up: no audio left, tasks completed', async () => {
      await canvas(bob).getByRole('button', { name: 'Hang up' }).click();
      await Promise.all([noAudioLeft(alice), noAudioLeft(bob)]);
      for (const x of [alice, bob]) await completeAll(x.page);
    });

    await scenario('the desktops loaded nothing from outside their origin, with no page errors', async () => {
      assertNothingForeignNorBroken(foreign, [alice, bob]);
    });
  } finally {
    writeFileSync(join(OUT, 'recording.json'), JSON.stringify({ results, report, measured, axe: axeResults }, null, 2));
    await closeAll();
    server.stop();
    rmSync(wavDir, { recursive: true, force: true });
  }
}

await finish(main);
