// The real switchboard server for end-to-end tests: `switchboard demo --fresh` on a free port of
// 127.0.0.1 with a temporary database (its audio relay on another free UDP port, and TCP), ready once
// /demo/agents answers, and its REST API with the account's credentials (`rest`, and the
// `authorization` header for what is not JSON).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/** The repository's root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The server binary under test. */
export const BIN = process.env.SWITCHBOARD_BIN ?? join(ROOT, 'target/debug/switchboard');
/** Debian's Chromium (never a downloaded browser). */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** Where screenshots and measurements go. */
export const OUT = join(ROOT, 'test-results/e2e');

/** Creates OUT and removes what an earlier run of this test left there (names starting with `prefix`). */
export function freshResults(prefix) {
  mkdirSync(OUT, { recursive: true });
  for (const f of readdirSync(OUT)) if (f.startsWith(prefix)) rmSync(join(OUT, f), { force: true });
}

/** Aborts every request of `context` outside `base`'s origin, recording it in `foreign`. */
export async function blockForeign(context, base, foreign) {
  const host = new URL(base).host;
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.host !== host && u.protocol !== 'data:' && u.protocol !== 'blob:') {
      foreign.push(u.href);
      return route.abort();
    }
    return route.continue();
  });
}

export async function startServer(bin, { extraArgs = [], rustLog } = {}) {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run cargo build -p switchboard first`);
  const accountSid = 'AC' + randomBytes(16).toString('hex');
  const authToken = randomBytes(16).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-e2e-'));
  const child = spawn(bin, ['demo', '--fresh', '--listen', '127.0.0.1:0', '--database', `sqlite://${dir}/d.db`, ...extraArgs], {
    env: { ...process.env, TWILIO_ACCOUNT_SID: accountSid, TWILIO_AUTH_TOKEN: authToken, RUST_LOG: process.env.RUST_LOG ?? rustLog ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`the server did not start in 30 s:\n${log}`)), 30_000);
    const onData = (chunk) => {
      log += chunk;
      const m = /Switchboard demo is running at (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => (log += c));
    child.on('exit', (code) => fail(new Error(`the server exited (${code}):\n${log}`)));
  });
  child.stdout.on('data', () => {});
  const workspace = /\((WS[0-9a-f]{32})\)/.exec(log)?.[1];
  // Ready when it answers.
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/demo/agents`)).ok) break;
    } catch {
      // not yet
    }
    if (i > 100) throw new Error('the server does not answer');
    await new Promise((r) => setTimeout(r, 100));
  }
  const relay = /Audio relay: udp (\S+)/.exec(log)?.[1] ?? null;
  // The ICE-TCP listener (`, tcp ADDR` after the UDP socket, or `tcp ADDR only`).
  const relayTcp = /Audio relay: (?:.*, )?tcp (\d[\d.]*:\d+)/.exec(log)?.[1] ?? null;
  const authorization = 'Basic ' + Buffer.from(`${accountSid}:${authToken}`).toString('base64');
  /** A REST call with the account's credentials; JSON or form body; throws unless 2xx. */
  async function rest(method, path, body) {
    const headers = { Authorization: authorization, Accept: 'application/json' };
    let payload;
    if (body instanceof URLSearchParams) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      payload = body.toString();
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(url + path, { method, headers, body: payload });
    const json = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }
  function stop() {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  return { child, url, workspace, relay, relayTcp, dir, accountSid, rest, authorization, stop, log: () => log };
}
