//! Janus (the Debian package, 1.1.2) on the same loads, in the same run: `/usr/bin/janus` with
//! a configuration of its own in a temporary folder (only the HTTP transport on 127.0.0.1 and
//! the `videocall` and `audiobridge` plugins, loaded from folders of symlinks; no event
//! handlers or loggers; ICE-lite; `ice_enforce_list = "lo"`; logging to a file in that folder),
//! pinned with `taskset` like our server.
//!
//! - Forwarding: `janus.plugin.videocall`. Both agents `register`; the caller sends `call` with
//!   its str0m offer; the callee gets `incomingcall` with Janus's offer and answers with
//!   `accept` and its str0m answer; the caller gets `accepted` with Janus's answer. Janus relays
//!   the RTP between the two PeerConnections without decoding, like our relay.
//! - Mixing: `janus.plugin.audiobridge`, rooms created at 48 kHz, each participant `join`s with
//!   its offer and gets the answer; AudioBridge decodes everyone and sends each an N−1 mix.
//!
//! Everything goes over Janus's HTTP API: one session, a handle per peer, and one long poll
//! (`GET /janus/<session>?maxev=…`) that hands events to the handles they are for. Our
//! candidates are in the SDP, followed by an end-of-candidates trickle. Measured: the Janus
//! process's CPU over the window (`/proc/<pid>/stat`) and the same receiver figures as ours.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::args::Args;
use super::measure::{ramp, whole_rooms, Load};
use super::report::Row;
use super::tones::tones;
use switchboard_bench::client::bounded;
use switchboard_bench::peer::{Fleet, Payload, Peer};
use switchboard_bench::server::proc_cpu_seconds;

/// How long one request or event may take during setup.
const WAIT: Duration = Duration::from_secs(30);
const LIBS: &str = "/usr/lib/x86_64-linux-gnu/janus";

/// The address Janus gathers on. Janus never gathers loopback candidates (it skips loopback
/// interfaces, and with nothing enforced libnice falls back to every other interface), so it
/// is told to use this host's first global IPv4 address, and the peers bind to it too: the
/// traffic is still local to the machine (the kernel carries it over `lo`).
fn local_ip(args: &Args) -> anyhow::Result<IpAddr> {
    if let Some(ip) = &args.janus_ip {
        return ip.parse().with_context(|| format!("--janus-ip {ip}"));
    }
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global", "up"])
        .output()
        .context("running ip to find a local address for Janus (or give --janus-ip)")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace().skip_while(|w| *w != "inet");
            w.nth(1)?.split('/').next()?.parse().ok()
        })
        .context("no global IPv4 address for Janus to gather on (give --janus-ip)")
}

/// Janus's SDP as str0m takes it: Janus repeats `a=mid` in an m-section (str0m refuses
/// duplicates), and lists IPv6 candidates the peers cannot use.
fn tidy(sdp: &str) -> String {
    let mut out = String::with_capacity(sdp.len());
    let mut mid_seen = false;
    for line in sdp.split("\r\n").filter(|l| !l.is_empty()) {
        if line.starts_with("m=") {
            mid_seen = false;
        }
        if line.starts_with("a=mid:") {
            if mid_seen {
                continue;
            }
            mid_seen = true;
        }
        if line.starts_with("a=candidate:")
            && line.split(' ').nth(4).is_some_and(|a| a.contains(':'))
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// A running Janus, stopped (SIGTERM, then kill) and its folder removed when dropped.
struct Janus {
    child: Child,
    dir: PathBuf,
    base: String,
    http: reqwest::Client,
}

impl Janus {
    async fn start(args: &Args, local_ip: IpAddr) -> anyhow::Result<Janus> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!(
            "switchboard-bench-janus-{}-{port}",
            std::process::id()
        ));
        let cfg = dir.join("cfg");
        for sub in ["cfg", "plugins", "transports", "events", "loggers"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let link = |from: &str, to: &str| -> anyhow::Result<()> {
            let target = format!("{LIBS}/{from}");
            anyhow::ensure!(
                std::path::Path::new(&target).exists(),
                "{target} is missing"
            );
            std::os::unix::fs::symlink(&target, dir.join(to))?;
            Ok(())
        };
        link(
            "plugins/libjanus_videocall.so",
            "plugins/libjanus_videocall.so",
        )?;
        link(
            "plugins/libjanus_audiobridge.so",
            "plugins/libjanus_audiobridge.so",
        )?;
        link("transports/libjanus_http.so", "transports/libjanus_http.so")?;
        let d = dir.display();
        let enforce = local_ip;
        std::fs::write(
            cfg.join("janus.jcfg"),
            format!(
                r#"general: {{
  configs_folder = "{d}/cfg"
  plugins_folder = "{d}/plugins"
  transports_folder = "{d}/transports"
  events_folder = "{d}/events"
  loggers_folder = "{d}/loggers"
  debug_level = 3
  log_to_file = "{d}/janus.log"
  session_timeout = 120
}}
media: {{
  ipv6 = false
}}
nat: {{
  ice_lite = true
  ice_enforce_list = "{enforce}"
}}
"#
            ),
        )?;
        std::fs::write(
            cfg.join("janus.transport.http.jcfg"),
            format!(
                "general: {{\n  json = \"plain\"\n  base_path = \"/janus\"\n  http = true\n  port = {port}\n  ip = \"127.0.0.1\"\n  https = false\n}}\nadmin: {{\n  admin_http = false\n}}\n"
            ),
        )?;
        std::fs::write(cfg.join("janus.plugin.videocall.jcfg"), "general: {\n}\n")?;
        std::fs::write(cfg.join("janus.plugin.audiobridge.jcfg"), "general: {\n}\n")?;
        let mut cmd = if args.server_cpus.is_empty() {
            Command::new(&args.janus_bin)
        } else {
            let mut t = Command::new("taskset");
            t.arg("-c").arg(&args.server_cpus).arg(&args.janus_bin);
            t
        };
        cmd.arg("-F")
            .arg(&cfg)
            .arg("-C")
            .arg(cfg.join("janus.jcfg"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", args.janus_bin))?;
        let janus = Janus {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}/janus"),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = janus.http.get(format!("{}/info", janus.base)).send().await {
                if r.status().is_success() {
                    return Ok(janus);
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "Janus did not answer within 20 s (log: {}/janus.log)",
                    janus.dir.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn cpu_seconds(&self) -> Option<f64> {
        proc_cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }
}

impl Drop for Janus {
    fn drop(&mut self) {
        switchboard_bench::server::stop(&mut self.child);
        if std::env::var_os("BENCH_KEEP_JANUS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("janus: kept {}", self.dir.display());
        }
    }
}

type Routes = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Value>>>>;

/// One Janus session and the long poll that routes its events.
struct Session {
    http: reqwest::Client,
    url: String,
    routes: Routes,
    transaction: AtomicU64,
    poller: tokio::task::JoinHandle<()>,
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<Value> {
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let v: Value = serde_json::from_str(&r.text().await?).context("Janus answered no JSON")?;
    if v["janus"] == "error" {
        bail!("Janus refused {}: {}", body["janus"], v["error"]);
    }
    Ok(v)
}

impl Session {
    async fn create(janus: &Janus) -> anyhow::Result<Session> {
        let v = post(
            &janus.http,
            &janus.base,
            &json!({"janus": "create", "transaction": "c"}),
        )
        .await?;
        let id = v["data"]["id"].as_u64().context("no session id")?;
        let url = format!("{}/{id}", janus.base);
        let routes: Routes = Arc::default();
        let (http, poll_url, r) = (
            janus.http.clone(),
            format!("{url}?maxev=50"),
            routes.clone(),
        );
        let poller = tokio::spawn(async move {
            loop {
                let Ok(resp) = http.get(&poll_url).send().await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let Ok(text) = resp.text().await else {
                    continue;
                };
                let Ok(v) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let events = match v {
                    Value::Array(a) => a,
                    one => vec![one],
                };
                for e in events {
                    let Some(sender) = e["sender"].as_u64() else {
                        continue;
                    };
                    if let Some(tx) = r.lock().ok().and_then(|m| m.get(&sender).cloned()) {
                        let _ = tx.send(e);
                    }
                }
            }
        });
        Ok(Session {
            http: janus.http.clone(),
            url,
            routes,
            transaction: AtomicU64::new(1),
            poller,
        })
    }

    fn transaction(&self) -> String {
        format!("t{}", self.transaction.fetch_add(1, Ordering::Relaxed))
    }

    async fn attach(self: &Arc<Session>, plugin: &str) -> anyhow::Result<Handle> {
        let v = post(
            &self.http,
            &self.url,
            &json!({"janus": "attach", "plugin": plugin, "transaction": self.transaction()}),
        )
        .await?;
        let id = v["data"]["id"].as_u64().context("no handle id")?;
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut m) = self.routes.lock() {
            m.insert(id, tx);
        }
        Ok(Handle {
            session: self.clone(),
            url: format!("{}/{id}", self.url),
            events: rx,
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// One plugin handle: messages to it, its events.
struct Handle {
    session: Arc<Session>,
    url: String,
    events: mpsc::UnboundedReceiver<Value>,
}

impl Handle {
    /// Sends a plugin message (with a JSEP); the synchronous plugin answer, if there is one.
    async fn message(&self, body: Value, jsep: Option<Value>) -> anyhow::Result<Option<Value>> {
        let mut msg =
            json!({"janus": "message", "body": body, "transaction": self.session.transaction()});
        if let Some(j) = jsep {
            msg["jsep"] = j;
        }
        let v = post(&self.session.http, &self.url, &msg).await?;
        Ok((v["janus"] == "success").then(|| v["plugindata"]["data"].clone()))
    }

    /// Our candidates were all in the SDP.
    async fn end_of_candidates(&self) -> anyhow::Result<()> {
        post(
            &self.session.http,
            &self.url,
            &json!({"janus": "trickle", "candidate": {"completed": true}, "transaction": self.session.transaction()}),
        )
        .await?;
        Ok(())
    }

    /// Waits for a plugin event that `check` picks (others, like `webrtcup`, are skipped).
    async fn event<T>(
        &mut self,
        what: &str,
        check: impl Fn(&Value) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let e = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .with_context(|| format!("timed out waiting for {what}"))?
                .with_context(|| format!("no more events waiting for {what}"))?;
            if e["janus"] == "event" {
                let data = &e["plugindata"]["data"];
                if data["error"].is_string() {
                    bail!("{what}: {}", data["error"]);
                }
            }
            if let Some(t) = check(&e) {
                return Ok(t);
            }
        }
    }
}

fn videocall_event(e: &Value, name: &str) -> bool {
    e["janus"] == "event" && e["plugindata"]["data"]["result"]["event"] == name
}

fn jsep_sdp(e: &Value) -> Option<String> {
    e["jsep"]["sdp"].as_str().map(tidy)
}

/// Sets up call `i` through the videocall plugin; its handles (kept for the run).
async fn call(
    session: Arc<Session>,
    fleet: Arc<Fleet>,
    ip: IpAddr,
    i: usize,
) -> anyhow::Result<(Handle, Handle)> {
    let (a, b) = (2 * i, 2 * i + 1);
    let mut caller = session.attach("janus.plugin.videocall").await?;
    let mut callee = session.attach("janus.plugin.videocall").await?;
    for (h, k) in [(&mut caller, a), (&mut callee, b)] {
        h.message(
            json!({"request": "register", "username": format!("agent{k}")}),
            None,
        )
        .await?;
        h.event("registered", |e| {
            videocall_event(e, "registered").then_some(())
        })
        .await?;
    }
    let (mut peer_a, offer) = Peer::offer_at(ip, a as u32, Payload::Stamped)?;
    caller
        .message(
            json!({"request": "call", "username": format!("agent{b}")}),
            Some(json!({"type": "offer", "sdp": offer})),
        )
        .await?;
    caller.end_of_candidates().await?;
    let janus_offer = callee
        .event("incomingcall", |e| {
            videocall_event(e, "incomingcall")
                .then(|| jsep_sdp(e))
                .flatten()
        })
        .await?;
    let (peer_b, answer) = Peer::answer(ip, b as u32, Payload::Stamped, &janus_offer)?;
    callee
        .message(
            json!({"request": "accept"}),
            Some(json!({"type": "answer", "sdp": answer})),
        )
        .await?;
    callee.end_of_candidates().await?;
    let janus_answer = caller
        .event("accepted", |e| {
            videocall_event(e, "accepted")
                .then(|| jsep_sdp(e))
                .flatten()
        })
        .await?;
    peer_a.accept_answer(&janus_answer)?;
    peer_a.spawn(&fleet);
    peer_b.spawn(&fleet);
    Ok((caller, callee))
}

/// Forwarding: the calls of every size through videocall.
pub async fn forward(args: &Args) -> anyhow::Result<Vec<Row>> {
    let ip = local_ip(args)?;
    let janus = Janus::start(args, ip).await?;
    eprintln!("janus: {} (pid {})", janus.base, janus.child.id());
    let session = Arc::new(Session::create(&janus).await?);
    let fleet = Arc::new(Fleet::start(args.client_threads)?);
    let mut handles = Vec::new();
    let rows = ramp(
        args,
        &fleet,
        "janus",
        Load::Calls,
        &args.calls,
        false,
        async |range: Range<usize>| {
            let jobs = range.map(|i| {
                let (session, fleet) = (session.clone(), fleet.clone());
                async move {
                    call(session, fleet, ip, i)
                        .await
                        .with_context(|| format!("Janus call {i}"))
                }
            });
            handles.extend(bounded(args.setup_concurrency, jobs.collect()).await?);
            Ok(())
        },
        || janus.cpu_seconds(),
    )
    .await?;
    drop(handles);
    drop(fleet);
    drop(session);
    drop(janus);
    Ok(rows)
}

/// Mixing: rooms of `--room` participants through AudioBridge.
pub async fn mix(args: &Args) -> anyhow::Result<Vec<Row>> {
    let tones = tones()?;
    let ip = local_ip(args)?;
    let janus = Janus::start(args, ip).await?;
    eprintln!("janus: {} (pid {})", janus.base, janus.child.id());
    let session = Arc::new(Session::create(&janus).await?);
    let admin = session.attach("janus.plugin.audiobridge").await?;
    let fleet = Fleet::start(args.client_threads)?;
    let mut handles = Vec::new();
    let rows = ramp(
        args,
        &fleet,
        "janus",
        Load::Participants,
        &whole_rooms(&args.participants, args.room),
        false,
        async |range: Range<usize>| {
            for i in range {
                let room = 1_000 + (i / args.room) as u64;
                if i % args.room == 0 {
                    let r = admin
                        .message(
                            json!({"request": "create", "room": room, "sampling_rate": 48_000,
                                   "permanent": false, "audiolevel_ext": false}),
                            None,
                        )
                        .await?;
                    if let Some(r) = r {
                        if r["audiobridge"] != "created" {
                            bail!("creating room {room}: {r}");
                        }
                    }
                }
                let mut h = session.attach("janus.plugin.audiobridge").await?;
                let (mut peer, offer) =
                    Peer::offer_at(ip, i as u32, Payload::Opus(tones[i % tones.len()].clone()))?;
                h.message(
                    json!({"request": "join", "room": room, "display": format!("p{i}"), "muted": false}),
                    Some(json!({"type": "offer", "sdp": offer})),
                )
                .await?;
                h.end_of_candidates().await?;
                let answer = h
                    .event("the join's answer", |e| {
                        (e["janus"] == "event").then(|| jsep_sdp(e)).flatten()
                    })
                    .await?;
                peer.accept_answer(&answer)?;
                peer.spawn(&fleet);
                handles.push(h);
            }
            Ok(())
        },
        || janus.cpu_seconds(),
    )
    .await?;
    drop(handles);
    drop(fleet);
    drop(admin);
    drop(session);
    drop(janus);
    Ok(rows)
}
