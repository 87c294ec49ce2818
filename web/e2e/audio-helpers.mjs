// What the audio end-to-end tests (audio.mjs, turn.mjs, icetcp.mjs, transfer.mjs, recording.mjs) share: agents in their own Debian
// Chromium with a fake microphone playing a tone, what an agent hears (an FFT of the call's remote
// stream and the inbound-rtp energy, measured in the page through window.__switchboardAudio, the
// desktop's audio test mode), and the desktop UI steps of a call.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { blockForeign } from './server.mjs';

export const WAIT = 15_000;
/** How long a condition on what an agent hears may take to hold. */
export const HEAR_WAIT = 12_000;

/** Each agent's tone: bins far apart, and clear of the hold music's notes (and their octaves). */
export const TONE = { alice: 440, bob: 880, carol: 660, zoe: 1250 };
/** crates/media's hold music: an arpeggio of these notes, half a second each. */
export const HOLD_NOTES = [261.63, 329.63, 392, 523.25];
/** Frequencies within this of each other are the same tone (the FFT's bins are ~5.9 Hz). */
const HZ_TOLERANCE = 10;
/** totalAudioEnergy rise per second of received audio: above is sound, below is silence. */
export const SOUND_RATE = 0.01;
const SILENCE_RATE = 0.0005;
/** A tone is "heard" this far (dB) above the others, and one's own tone is this far below. */
export const MARGIN_DB = 25;
/** In a mix, each tone heard is within this (dB) of the loudest. */
const MIX_DB = 12;

const BASE_SWITCHES = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync', '--disable-quic', '--disable-background-networking', '--disable-component-update'];
const MEDIA_SWITCHES = (wav) => [
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  `--use-file-for-fake-audio-capture=${wav}`,
  '--autoplay-policy=no-user-gesture-required',
  '--allow-loopback-in-peer-connection',
];

/** A 48 kHz 16-bit mono WAV of a sine (a whole number of cycles, so Chromium's loop is seamless). */
export function writeTone(path, hz, seconds = 2, amplitude = 0.5) {
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

/**
 * Launches agents, one Chromium process each (the fake microphone is per process), and keeps
 * what they loaded from other hosts (`foreign`) and the browsers (`launched`, to close).
 * `query`: the desktop's URL query (its audio test mode).
 */
export function agentLauncher({ executablePath, query = 'audio-test=1' }) {
  const foreign = [];
  const launched = [];
  /**
   * `tone` null: no fake devices at all, so the browser has no microphone. `onSocket(route)`:
   * the desktop socket passes through the test (to watch its messages and drop it).
   */
  async function launchAgent(base, { who, fullName, tone, wavDir, onSocket }) {
    let args = BASE_SWITCHES;
    if (tone !== null) {
      const wav = join(wavDir, `${who}-${tone}.wav`);
      writeTone(wav, tone);
      args = [...BASE_SWITCHES, ...MEDIA_SWITCHES(wav)];
    }
    const browser = await chromium.launch({ executablePath, headless: true, args });
    launched.push(browser);
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    await blockForeign(context, base, foreign);
    const page = await context.newPage();
    if (onSocket) await page.routeWebSocket(/\/v1\/Desktop/, onSocket);
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${base}/?${query}`);
    await page.getByRole('button', { name: new RegExp(`Sign in as ${fullName}`) }).click();
    await page.getByText(`Signed in as ${fullName}`).waitFor({ timeout: WAIT });
    await page.getByRole('heading', { name: 'Dialpad' }).waitFor({ timeout: WAIT });
    return { who, fullName, tone, browser, page, errors };
  }
  const closeAll = () => Promise.all(launched.map((b) => b.close().catch(() => {})));
  return { launchAgent, foreign, launched, closeAll };
}

// ---- what an agent hears ----------------------------------------------------------------------

/**
 * Listens to the call's remote stream for `ms`: the averaged spectrum's dominant frequency
 * (100–2000 Hz) and its level, the level at each agent's tone, and the inbound-rtp deltas.
 */
export async function listen(agent, ms = 700) {
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

/** What the tests saw, for their JSON report. */
export const measured = [];

/** Listens until `ok(m)` holds (or throws after `timeout`, with the last measurement). */
export async function untilHeard(agent, what, ok, timeout = HEAR_WAIT) {
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
export function hearsTone(agent, other) {
  return (m) =>
    m.peer === 'connected' &&
    near(m.dominantHz, other.tone) &&
    m.energyPerSecond > SOUND_RATE &&
    m.at[agent.tone] < m.peakDb - MARGIN_DB;
}

/**
 * The agent hears every one of `others` (a mix: each tone near the loudest), and neither its own
 * tone nor any of `not`'s.
 */
export function hearsTones(agent, others, not = []) {
  return (m) =>
    m.peer === 'connected' &&
    m.energyPerSecond > SOUND_RATE &&
    others.some((o) => near(m.dominantHz, o.tone)) &&
    others.every((o) => m.at[o.tone] > m.peakDb - MIX_DB) &&
    [agent, ...not].every((x) => m.at[x.tone] < m.peakDb - MARGIN_DB);
}

/** Hold music, and none of the agents' tones. */
export function hearsHoldMusic(m) {
  return (
    m.peer === 'connected' &&
    isHoldNote(m.dominantHz) &&
    m.energyPerSecond > SOUND_RATE * 0.1 &&
    Object.values(TONE).every((hz) => m.at[hz] < m.peakDb - MARGIN_DB)
  );
}

/** Nothing arrives that makes a sound. */
export const hearsNothing = (m) => m.energyPerSecond < SILENCE_RATE && m.peakDb < -70;

// ---- UI helpers -----------------------------------------------------------------------------

export const visible = (locator, timeout = WAIT) => locator.first().waitFor({ state: 'visible', timeout });
export const gone = (locator, timeout = WAIT) => locator.first().waitFor({ state: 'hidden', timeout });

export async function pickFromCombobox(page, label, text, option) {
  const input = page.getByLabel(label, { exact: true }).and(page.locator('input'));
  await input.click();
  await input.pressSequentially(text, { delay: 30 });
  const opt = page.getByRole('option', { name: option });
  await visible(opt);
  await opt.first().click();
}

export const callButton = (page) => page.getByRole('tabpanel').getByRole('button', { name: 'Call', exact: true });
export const task = (page, name) => page.locator('li').filter({ has: page.getByRole('heading', { name, exact: true }) });
export const audioStatus = (page, state) => page.locator(`[data-testid="call-audio-status"][data-audio-state="${state}"]`);

export async function completeAll(page) {
  const empty = page.getByText(/No tasks/);
  const btn = page.getByRole('button', { name: 'Complete', exact: true });
  for (const t0 = Date.now(); Date.now() - t0 < WAIT; ) {
    if (await empty.isVisible()) return;
    if ((await btn.count()) > 0) await btn.first().click().catch(() => {});
    await page.waitForTimeout(100);
  }
  await visible(empty);
}

/** After hang-up: no connection, the microphone released, nothing heard, no audio status. */
export async function noAudioLeft(agent) {
  await untilHeard(agent, 'nothing after hang-up', (m) => m.peer === null && m.micEnabled === null && hearsNothing(m));
  await gone(agent.page.locator('[data-testid="call-audio-status"]'));
}

// ---- waiting, and the desktop socket -----------------------------------------------------------

/** Polls `get()` until `ok(value)` holds; throws after `timeout` with the last value. */
export async function until(what, get, ok, timeout = WAIT) {
  const t0 = Date.now();
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() - t0 > timeout) throw new Error(`${what} did not happen in ${timeout} ms; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A desktop socket that passes through the test (give `tap.onSocket` to launchAgent as
 * `onSocket`): `client(msg)` sees each JSON message the desktop sends, `server(msg)` each one
 * the server sends; `tap.offers` lists the desktop's media offers; `tap.drop()` closes both
 * sides like a network blip.
 */
export function socketTap({ client = () => {}, server = () => {} } = {}) {
  const parse = (m) => {
    try {
      return JSON.parse(String(m));
    } catch {
      return null; // not JSON: the server says so
    }
  };
  const tap = { current: null, offers: [] };
  tap.onSocket = (route) => {
    const toServer = route.connectToServer();
    route.onMessage((m) => {
      const msg = parse(m);
      if (msg?.type === 'media_offer') tap.offers.push({ restart: msg.restart, at: Date.now() });
      if (msg) client(msg);
      toServer.send(m);
    });
    toServer.onMessage((m) => {
      const msg = parse(m);
      if (msg) server(msg);
      route.send(m);
    });
    route.onClose(() => toServer.close());
    toServer.onClose(() => route.close());
    tap.current = { route, toServer };
  };
  tap.drop = () => {
    tap.current?.route.close();
    tap.current?.toServer.close();
  };
  return tap;
}

/**
 * Drops `agent`'s desktop socket (tapped by `tap`) mid-call with `other`: the desktop shows it
 * reconnecting, reconnects, offers an ICE restart of the same connection (not a new one), and
 * both hear each other again. `label` names the path in what is printed. Returns the index of
 * the first offer after the drop.
 */
export async function reconnectsWithIceRestart(agent, other, tap, label = '') {
  const a = agent.page;
  const before = tap.offers.length;
  // The remote MediaStream object is the connection's: a new connection would bring a new one.
  await a.evaluate(() => (window.__streamBefore = window.__switchboardAudio.remoteStream()));
  tap.drop();
  await visible(a.getByText('Connection lost. Reconnecting…'), 5000);
  await gone(a.getByText('Connection lost. Reconnecting…'));
  await until('a media_offer after the reconnect', () => tap.offers.length, (n) => n > before);
  const offer = tap.offers[before];
  if (offer.restart !== true) throw new Error(`the offer after the reconnect was not an ICE restart: ${JSON.stringify(offer)}`);
  await Promise.all([
    untilHeard(agent, `${other.who} after the reconnect${label}`, hearsTone(agent, other)),
    untilHeard(other, `${agent.who} after the reconnect${label}`, hearsTone(other, agent)),
  ]);
  const same = await a.evaluate(() => window.__streamBefore !== null && window.__switchboardAudio.remoteStream() === window.__streamBefore);
  if (!same) throw new Error('the reconnect made a new connection instead of restarting the old one');
  await visible(audioStatus(a, 'connected'));
  return before;
}

/** The desktops made no request outside their origin (`foreign`, from agentLauncher) and no page error. */
export function assertNothingForeignNorBroken(foreign, agents) {
  if (foreign.length) throw new Error(`requests to other hosts: ${foreign.join(', ')}`);
  const errs = agents.flatMap((x) => x?.errors ?? []);
  if (errs.length) throw new Error(`page errors: ${errs.join('; ')}`);
}

/** `caller` hangs up on `callee`: nobody hears anything, and both complete their wrap-up. */
export async function hangsUp(caller, callee) {
  await caller.page.getByRole('button', { name: 'Hang up' }).click();
  await Promise.all([noAudioLeft(caller), noAudioLeft(callee)]);
  await completeAll(caller.page);
  await completeAll(callee.page);
}
