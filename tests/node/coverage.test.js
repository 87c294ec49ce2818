// Voice REST coverage with Twilio's official Node library: the 30 in-scope operations of Twilio's
// 2010-04-01 Voice API (Applications 5, Calls 5, Conferences 3, Participants 5, Recordings 12),
// each called once on a live call between demo agents' desktops, in the same order as
// tests/python/test_voice_coverage.py walks them with the Python library.
//
//   cargo build -p switchboard && (cd tests/node && npm ci && SWITCHBOARD_BIN=../../target/debug/switchboard npm test)
//
// An operation "works" when the library's call returns without an error (and what it returns is
// what was asked for). Every failure is reported by name with the status, code and message the
// server gave; the tally is printed, and all 30 must work.
//
// The server is started here (demo workspace, fresh database in a temporary folder). Bob and
// Alice are signed in on the desktop WebSocket (docs/desktop-protocol.md) to answer the calls
// that ring them; a small local HTTP server answers the call's Url with
// <Dial><Conference record="record-from-start">, built with the library's VoiceResponse.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");
const twilio = require("twilio");
const WebSocket = require("ws");

const BIN = process.env.SWITCHBOARD_BIN || path.join(__dirname, "..", "..", "target", "debug", "switchboard");
const ROOM = "node-coverage-room";

const NON_RECORDING = [
  "applications.create", "applications.list", "applications.fetch", "applications.update",
  "applications.delete",
  "calls.create", "calls.list", "calls.fetch", "calls.update", "calls.delete",
  "conferences.list", "conferences.fetch", "conferences.update",
  "participants.create", "participants.list", "participants.fetch", "participants.update",
  "participants.delete",
];
const RECORDING = [
  "call_recordings.create", "call_recordings.list", "call_recordings.fetch",
  "call_recordings.update", "call_recordings.delete",
  "conference_recordings.list", "conference_recordings.fetch", "conference_recordings.update",
  "conference_recordings.delete",
  "recordings.list", "recordings.fetch", "recordings.delete",
];
const ALL = [...NON_RECORDING, ...RECORDING];
assert.equal(ALL.length, 30);
assert.equal(new Set(ALL).size, 30);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Calls `fn` until it gives something truthy; throws after `ms` milliseconds. */
async function poll(fn, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last && (!Array.isArray(last) || last.length)) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000}s waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(50);
  }
}

class Tally {
  constructor() {
    this.results = new Map(); // name -> null when it worked, else why not
  }

  /** Runs `fn`; records whether it worked. Returns its result, or null when it failed. */
  async run(name, fn) {
    assert.ok(ALL.includes(name), name);
    try {
      const out = await fn();
      this.results.set(name, null);
      return out;
    } catch (e) {
      this.results.set(name, e instanceof twilio.RestException
        ? `HTTP ${e.status}, code ${e.code}: ${e.message}`
        : `${e.name}: ${e.message}`);
      return null;
    }
  }

  skip(name, why) {
    if (!this.results.has(name)) this.results.set(name, `not reached: ${why}`);
  }

  why(name) {
    return this.results.has(name) ? this.results.get(name) : "not run";
  }

  failed(names) {
    return Object.fromEntries(names.filter((n) => this.why(n) !== null).map((n) => [n, this.why(n)]));
  }

  report() {
    const worked = ALL.filter((n) => this.why(n) === null).length;
    const lines = [`Voice REST coverage (Node): ${worked}/${ALL.length}`];
    for (const n of ALL) {
      const why = this.why(n);
      lines.push(`  ${why === null ? "ok  " : "FAIL"} ${n}${why === null ? "" : `: ${why}`}`);
    }
    return { worked, text: lines.join("\n") };
  }
}

/** One agent's desktop WebSocket: keeps the latest state, sends actions and waits for their results. */
class Desktop {
  static async open(base, name) {
    const agents = (await (await fetch(`${base}/demo/agents`)).json()).agents;
    const sid = agents.find((a) => a.friendly_name === name).sid;
    const res = await fetch(`${base}/demo/sign-in`, { method: "POST", body: new URLSearchParams({ WorkerSid: sid }) });
    const { token } = await res.json();
    const d = new Desktop(sid, new WebSocket(`${base.replace("http://", "ws://")}/v1/Desktop?token=${token}`));
    await d.wait(() => true, `${name}'s first state`);
    return d;
  }

  constructor(sid, ws) {
    this.sid = sid;
    this.ws = ws;
    this.state = null;
    this.nextId = 0;
    this.pending = new Map(); // id -> {resolve, reject}
    this.waiters = new Set(); // () => void, called on every new state
    this.closed = null;
    ws.on("message", (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.type === "state") {
        this.state = msg;
        for (const w of [...this.waiters]) w();
      } else if (msg.type === "result" && this.pending.has(msg.id)) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.data || {});
        else p.reject(new Error(`desktop action ${msg.id} refused: ${JSON.stringify(msg.error)}`));
      }
    });
    const gone = (why) => {
      this.closed = why;
      for (const p of this.pending.values()) p.reject(new Error(`desktop socket ${why}`));
      this.pending.clear();
      for (const w of [...this.waiters]) w();
    };
    ws.on("error", (e) => gone(`error: ${e.message}`));
    ws.on("close", () => gone("closed"));
  }

  /** Resolves once the latest state satisfies `check` (10 s at most). */
  wait(check, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(look);
        reject(new Error(`timed out after 10s waiting for ${what}`));
      }, 10000);
      const look = () => {
        if (this.state !== null && check(this.state)) {
          clearTimeout(timer);
          this.waiters.delete(look);
          resolve(this.state);
        } else if (this.closed) {
          clearTimeout(timer);
          this.waiters.delete(look);
          reject(new Error(`desktop socket ${this.closed} while waiting for ${what}`));
        }
      };
      this.waiters.add(look);
      look();
    });
  }

  act(action) {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no result for desktop action ${action.type} in 10s`));
      }, 10000);
      const done = (f) => (v) => {
        clearTimeout(timer);
        f(v);
      };
      this.pending.set(id, { resolve: done(resolve), reject: done(reject) });
      this.ws.send(JSON.stringify({ ...action, id }));
    });
  }

  close() {
    this.ws.close();
  }
}

const ringing = (desktop, sid) =>
  desktop.wait((s) => (s.incoming_calls || []).some((c) => c.call_sid === sid), `${sid} ringing`);

/** A local TwiML application: POST /room answers <Dial><Conference record="record-from-start">;
 * any other path an empty document. */
function startHooks() {
  const httpd = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      let body = "<Response/>";
      if (req.url.startsWith("/room")) {
        const r = new twilio.twiml.VoiceResponse();
        r.dial().conference({ record: "record-from-start" }, ROOM);
        body = r.toString();
      }
      res.writeHead(200, { "Content-Type": "text/xml", "Content-Length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  return new Promise((resolve) => httpd.listen(0, "127.0.0.1", () => resolve(httpd)));
}

let server;
let hooks;
const desktops = [];
const tally = new Tally();

async function startServer(accountSid, authToken) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "switchboard-node-coverage-"));
  server = spawn(BIN, ["demo", "--fresh", "--listen", "127.0.0.1:0", "--database", `sqlite://${path.join(dir, "s.db")}`], {
    env: { ...process.env, TWILIO_ACCOUNT_SID: accountSid, TWILIO_AUTH_TOKEN: authToken, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    cwd: dir,
  });
  const base = await new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`no listening address in the log:\n${seen}`)), 30000);
    const look = (chunk) => {
      seen += chunk.toString();
      const m = seen.match(/Switchboard (?:is listening|demo is running) at (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    server.stdout.on("data", look);
    server.stderr.on("data", look);
    server.on("exit", (code) => reject(new Error(`server exited with ${code}:\n${seen}`)));
  });
  await poll(async () => {
    try {
      return (await fetch(`${base}/healthz`)).status === 200;
    } catch {
      return false;
    }
  }, 30000, "/healthz");
  return base;
}

async function walk(t, client, hooksBase, alice, bob) {
  // Applications.
  const app = await t.run("applications.create", () =>
    client.applications.create({ friendlyName: "Coverage", voiceUrl: hooksBase + "/room" }));
  if (app) {
    await t.run("applications.list", async () => {
      const listed = await client.applications.list({ friendlyName: "Coverage" });
      assert.ok(listed.some((a) => a.sid === app.sid), "the application is listed");
    });
    await t.run("applications.fetch", () => client.applications(app.sid).fetch());
    await t.run("applications.update", async () => {
      const updated = await client.applications(app.sid).update({ voiceMethod: "POST" });
      assert.equal(updated.voiceMethod, "POST");
    });
  }

  // A call to Bob through the application; he answers and joins the conference.
  const call = await t.run("calls.create", () => client.calls.create({
    to: "client:bob", from: "client:coverage", ...(app ? { applicationSid: app.sid } : { url: hooksBase + "/room" }),
  }));
  if (!call) return;
  await ringing(bob, call.sid);
  await bob.act({ type: "answer_call", call_sid: call.sid });
  await t.run("calls.list", async () => {
    const listed = await client.calls.list({ to: "client:bob" });
    assert.ok(listed.some((c) => c.sid === call.sid), "the call is listed");
  });
  await t.run("calls.fetch", () => client.calls(call.sid).fetch());
  const confs = await t.run("conferences.list", () =>
    poll(() => client.conferences.list({ friendlyName: ROOM, status: "in-progress" }), 10000, "the conference"));
  if (!confs) return;
  const conf = confs[0];
  await t.run("conferences.fetch", () => client.conferences(conf.sid).fetch());

  // Alice joins as a participant.
  const p = await t.run("participants.create", () =>
    client.conferences(conf.sid).participants.create({ from: "client:coverage", to: "client:alice", label: "alice" }));
  if (p) {
    await ringing(alice, p.callSid);
    await alice.act({ type: "answer_call", call_sid: p.callSid });
    await t.run("participants.list", async () => {
      const listed = await client.conferences(conf.sid).participants.list();
      assert.ok(listed.some((x) => x.callSid === p.callSid), "Alice is listed");
    });
    await t.run("participants.fetch", () => client.conferences(conf.sid).participants(p.callSid).fetch());
    await t.run("participants.update", async () => {
      const updated = await client.conferences(conf.sid).participants(p.callSid).update({ muted: true });
      assert.equal(updated.muted, true);
    });
  }

  // Recordings of Bob's call: started, listed, fetched, paused and stopped, then the account's view.
  const rec = await t.run("call_recordings.create", () => client.calls(call.sid).recordings.create());
  if (rec) {
    await t.run("call_recordings.list", async () => {
      const listed = await client.calls(call.sid).recordings.list();
      assert.ok(listed.some((r) => r.sid === rec.sid), "the call recording is listed");
    });
    await t.run("call_recordings.fetch", () => client.calls(call.sid).recordings(rec.sid).fetch());
    await t.run("call_recordings.update", async () => {
      assert.equal((await client.calls(call.sid).recordings(rec.sid).update({ status: "paused" })).status, "paused");
      await client.calls(call.sid).recordings(rec.sid).update({ status: "stopped" });
    });
    await t.run("recordings.list", async () => {
      const listed = await client.recordings.list();
      assert.ok(listed.some((r) => r.sid === rec.sid), "the recording is in the account's list");
    });
    await t.run("recordings.fetch", () => client.recordings(rec.sid).fetch());
    let rec2 = null;
    try {
      rec2 = await client.calls(call.sid).recordings.create();
      await client.calls(call.sid).recordings(rec2.sid).update({ status: "stopped" });
    } catch {
      // counted below as call_recordings.delete not reached
    }
    if (rec2) {
      await t.run("call_recordings.delete", async () => {
        assert.equal(await client.calls(call.sid).recordings(rec2.sid).remove(), true);
      });
    } else {
      t.skip("call_recordings.delete", "a second recording of the call could not be made");
    }
    await t.run("recordings.delete", async () => {
      assert.equal(await client.recordings(rec.sid).remove(), true);
    });
  } else {
    for (const n of ["call_recordings.list", "call_recordings.fetch", "call_recordings.update",
      "call_recordings.delete", "recordings.fetch", "recordings.delete"]) {
      t.skip(n, "no call recording was made");
    }
    await t.run("recordings.list", () => client.recordings.list());
  }

  // Recordings of the conference (its TwiML asks for record-from-start). The recording starts
  // once the conference is in progress with media to record: wait for it (bounded).
  const crecs = await t.run("conference_recordings.list", () =>
    poll(() => client.conferences(conf.sid).recordings.list(), 10000, "a conference recording"));
  if (crecs) {
    const cr = crecs[0];
    await t.run("conference_recordings.fetch", () => client.conferences(conf.sid).recordings(cr.sid).fetch());
    await t.run("conference_recordings.update", () =>
      client.conferences(conf.sid).recordings(cr.sid).update({ status: "stopped" }));
    await t.run("conference_recordings.delete", async () => {
      assert.equal(await client.conferences(conf.sid).recordings(cr.sid).remove(), true);
    });
  } else {
    for (const n of ["conference_recordings.fetch", "conference_recordings.update", "conference_recordings.delete"]) {
      t.skip(n, "the conference has no recording");
    }
  }

  // Endings: kick Alice, end the conference, hang Bob up, delete his call's record.
  if (p) {
    await t.run("participants.delete", async () => {
      assert.equal(await client.conferences(conf.sid).participants(p.callSid).remove(), true);
    });
  }
  await t.run("conferences.update", () => client.conferences(conf.sid).update({ status: "completed" }));
  await t.run("calls.update", () => client.calls(call.sid).update({ status: "completed" }));
  await t.run("calls.delete", async () => {
    assert.equal(await client.calls(call.sid).remove(), true);
  });
  if (app) {
    await t.run("applications.delete", async () => {
      assert.equal(await client.applications(app.sid).remove(), true);
    });
  }
}

before(async () => {
  const accountSid = "AC" + crypto.randomBytes(16).toString("hex");
  const authToken = crypto.randomBytes(16).toString("hex");
  const base = await startServer(accountSid, authToken);
  // The library is pointed at the server by a RequestClient that swaps Twilio's host for it.
  class ToSwitchboard extends twilio.RequestClient {
    request(opts) {
      const u = new URL(opts.uri);
      return super.request({ ...opts, uri: base + u.pathname + u.search, timeout: opts.timeout || 30000 });
    }
  }
  const client = twilio(accountSid, authToken, { httpClient: new ToSwitchboard() });
  hooks = await startHooks();
  const hooksBase = `http://127.0.0.1:${hooks.address().port}`;
  const alice = await Desktop.open(base, "alice");
  desktops.push(alice);
  const bob = await Desktop.open(base, "bob");
  desktops.push(bob);
  try {
    await walk(tally, client, hooksBase, alice, bob);
  } finally {
    console.log("\n" + tally.report().text);
  }
}, { timeout: 60000 });

after(() => {
  for (const d of desktops) d.close();
  if (hooks) hooks.close();
  if (server) server.kill("SIGTERM");
});

test("every Call, Conference, Participant and Application operation works", () => {
  assert.deepEqual(tally.failed(NON_RECORDING), {}, tally.report().text);
});

test("every Recording operation works (account, call and conference recordings)", () => {
  assert.deepEqual(tally.failed(RECORDING), {}, tally.report().text);
});

test("all 30 in-scope Voice REST operations work", () => {
  const { worked, text } = tally.report();
  assert.equal(worked, ALL.length, text);
});
