// A few Voice REST operations through Twilio's official Node library against a real Switchboard:
// applications, a call created to a desktop identity (ringing, then canceled and deleted), and
// Twilio's error codes for a number and a missing Url.
//
//   cargo build -p switchboard && (cd tests/node && npm ci && SWITCHBOARD_BIN=../../target/debug/switchboard npm test)
//
// The server is started here (demo workspace, fresh database in a temporary folder); the library
// is pointed at it with a RequestClient that swaps Twilio's host for the server's.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const twilio = require("twilio");

const BIN = process.env.SWITCHBOARD_BIN || path.join(__dirname, "..", "..", "target", "debug", "switchboard");
const accountSid = "AC" + crypto.randomBytes(16).toString("hex");
const authToken = crypto.randomBytes(16).toString("hex");
let server;
let base;
let client;

class ToSwitchboard extends twilio.RequestClient {
  request(opts) {
    const u = new URL(opts.uri);
    return super.request({ ...opts, uri: base + u.pathname + u.search });
  }
}

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "switchboard-node-"));
  server = spawn(BIN, ["demo", "--fresh", "--listen", "127.0.0.1:0", "--database", `sqlite://${path.join(dir, "s.db")}`], {
    env: { ...process.env, TWILIO_ACCOUNT_SID: accountSid, TWILIO_AUTH_TOKEN: authToken, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  base = await new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`no listening address in the log:\n${seen}`)), 30000);
    const look = (chunk) => {
      seen += chunk.toString();
      const m = seen.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    };
    server.stdout.on("data", look);
    server.stderr.on("data", look);
    server.on("exit", (code) => reject(new Error(`server exited with ${code}:\n${seen}`)));
  });
  client = twilio(accountSid, authToken, { httpClient: new ToSwitchboard() });
});

after(() => {
  if (server) server.kill("SIGTERM");
});

test("applications: create, fetch, list, delete", async () => {
  const app = await client.applications.create({ friendlyName: "node", voiceUrl: "https://example.com/voice" });
  assert.match(app.sid, /^AP[0-9a-f]{32}$/);
  assert.equal((await client.applications(app.sid).fetch()).voiceUrl, "https://example.com/voice");
  const listed = await client.applications.list({ friendlyName: "node" });
  assert.deepEqual(listed.map((a) => a.sid), [app.sid]);
  assert.equal(await client.applications(app.sid).remove(), true);
});

test("calls: create to a desktop, cancel, delete the record", async () => {
  const call = await client.calls.create({ to: "client:bob", from: "client:node", twiml: "<Response><Hangup/></Response>" });
  assert.equal(call.status, "ringing");
  assert.equal(call.direction, "outbound-api");
  const canceled = await client.calls(call.sid).update({ status: "canceled" });
  assert.equal(canceled.status, "canceled");
  assert.equal(await client.calls(call.sid).remove(), true);
  await assert.rejects(client.calls(call.sid).fetch(), (e) => e.status === 404 && e.code === 20404);
});

test("calls: Twilio's codes for a number and for missing instructions", async () => {
  await assert.rejects(
    client.calls.create({ to: "+15005550006", from: "client:node", url: "https://example.com/t" }),
    (e) => e.status === 400 && e.code === 21214 && /trunk/.test(e.message),
  );
  await assert.rejects(
    client.calls.create({ to: "client:bob", from: "client:node" }),
    (e) => e.status === 400 && e.code === 21205,
  );
});
