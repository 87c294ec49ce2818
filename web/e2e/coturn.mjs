// A coturn TURN server of the test's own (Debian's `turnserver`, not the system service): command
// line options only (-n: no configuration file), on 127.0.0.1 with a free port, one static
// long-term-credential user, UDP and TCP listeners (no TLS/DTLS, no CLI), relaying from 127.0.0.1
// to loopback peers (coturn refuses them by default, and the switchboard relay is on 127.0.0.1).
// Ready once it answers a STUN Binding request; its log goes to a file in `dir`.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const TURNSERVER = process.env.TURNSERVER ?? '/usr/bin/turnserver';

/** A port free on 127.0.0.1 for both TCP and UDP (coturn listens on both). */
async function freePort() {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise((ok, fail) => {
      const srv = createServer();
      srv.once('error', fail);
      srv.listen(0, '127.0.0.1', () => {
        const p = srv.address().port;
        srv.close(() => ok(p));
      });
    });
    const udpFree = await new Promise((ok) => {
      const s = createSocket('udp4');
      s.once('error', () => ok(false));
      s.bind(port, '127.0.0.1', () => s.close(() => ok(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port on 127.0.0.1');
}

/** One STUN Binding request to 127.0.0.1:`port`; resolves true on a Binding success response. */
function stunBinding(port, timeoutMs) {
  return new Promise((ok) => {
    const s = createSocket('udp4');
    const id = randomBytes(12);
    const req = Buffer.alloc(20);
    req.writeUInt16BE(0x0001, 0); // Binding request
    req.writeUInt16BE(0, 2); // no attributes
    req.writeUInt32BE(0x2112a442, 4); // magic cookie
    id.copy(req, 8);
    const done = (v) => {
      clearTimeout(timer);
      s.close();
      ok(v);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on('error', () => done(false));
    s.on('message', (m) => {
      if (m.length >= 20 && m.readUInt16BE(0) === 0x0101 && m.subarray(8, 20).equals(id)) done(true);
    });
    s.send(req, port, '127.0.0.1');
  });
}

/**
 * Starts turnserver with `user`:`password` in `realm`; resolves once it answers STUN on its port.
 * `stop()` ends it (SIGTERM, then SIGKILL) and resolves when it has exited.
 */
export async function startCoturn({ dir, user = 'u', password = 'p', realm = 'switchboard.test', readyMs = 10_000 }) {
  if (!existsSync(TURNSERVER)) throw new Error(`${TURNSERVER} is missing: apt-get install -y coturn`);
  const port = await freePort();
  const logFile = join(dir, 'turnserver.log');
  writeFileSync(logFile, '');
  const args = [
    '-n', // no configuration file: these options only
    `--listening-ip=127.0.0.1`,
    `--listening-port=${port}`,
    `--relay-ip=127.0.0.1`,
    `--user=${user}:${password}`,
    '--lt-cred-mech',
    `--realm=${realm}`,
    '--allow-loopback-peers',
    '--no-tls',
    '--no-dtls',
    '--no-cli',
    '--no-rfc5780', // one IP address: no NAT behaviour discovery (and no alternate port)
    `--log-file=${logFile}`,
    '--simple-log', // exactly that file (no date appended to its name)
    '--no-stdout-log',
    '--verbose', // the sessions' ALLOCATE, CREATE_PERMISSION, CHANNEL_BIND lines (none without it)
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--userdb=${join(dir, 'turndb')}`, // not /var/lib/turn/turndb
  ];
  const child = spawn(TURNSERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  let exited = null;
  const exit = new Promise((ok) =>
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      ok(exited);
    }),
  );
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  async function stop() {
    if (exited) return exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    const r = await exit;
    clearTimeout(timer);
    return r;
  }
  // Ready when it answers a Binding request (bounded; each try waits up to 200 ms for the answer).
  for (const t0 = Date.now(); ; ) {
    if (exited) throw new Error(`turnserver exited (${JSON.stringify(exited)}) before it listened:\n${stderr}\n${log()}`);
    if (await stunBinding(port, 200)) break;
    if (Date.now() - t0 > readyMs) {
      await stop();
      throw new Error(`turnserver did not answer STUN on 127.0.0.1:${port} in ${readyMs} ms:\n${stderr}\n${log()}`);
    }
  }
  return { child, port, user, password, realm, logFile, log, stop };
}
