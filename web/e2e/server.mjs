// The real switchboard server for end-to-end tests: `switchboard demo --fresh` on a free port of
// 127.0.0.1 with a temporary database (its audio relay on another free UDP port), ready once
// /demo/agents answers, and its REST API with the account's credentials.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export async function startServer(bin, { extraArgs = [] } = {}) {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run cargo build -p switchboard first`);
  const accountSid = 'AC' + randomBytes(16).toString('hex');
  const authToken = randomBytes(16).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-e2e-'));
  const child = spawn(bin, ['demo', '--fresh', '--listen', '127.0.0.1:0', '--database', `sqlite://${dir}/d.db`, ...extraArgs], {
    env: { ...process.env, TWILIO_ACCOUNT_SID: accountSid, TWILIO_AUTH_TOKEN: authToken, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
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
  return { child, url, workspace, relay, dir, rest, stop, log: () => log };
}
