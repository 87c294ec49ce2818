//! Forwarding through the real server: `switchboard demo` (its own temporary database, a free
//! port, the audio relay on another free UDP port of 127.0.0.1, pinned with `taskset`), 2N
//! extra Available workers in the demo workspace, a desktop WebSocket per agent. Call `i` is
//! agent `2i` calling agent `2i + 1` the way the dialpad does (`start_outbound_call` to the
//! Internal Call application with the callee's worker SID), the callee accepting, and then both
//! desktops sending `media_offer` with their str0m peer's offer and applying the answer. The
//! relay forwards each party's frames to the other (it never decodes them). With
//! `--transport tcp` the server offers only its TCP listener (`--media-transports tcp`) and each
//! peer connects to it (ICE-TCP).
//!
//! Measured per size: the server process's CPU over the window (`/proc/<pid>/stat`), and at the
//! receivers loss, delay and jitter (see `peer`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

use super::args::Args;
use super::measure::{ramp, Load};
use super::report::Row;
use switchboard_bench::client::{bounded, sid, Api};
use switchboard_bench::peer::{Fleet, Payload, Peer};
use switchboard_bench::server::{Server, ACCOUNT, TOKEN};

/// How long one action or state change may take during setup.
const WAIT: Duration = Duration::from_secs(30);

/// One agent's desktop socket: actions answered by id, the latest pushed state.
struct Desk {
    out: mpsc::UnboundedSender<Message>,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>,
    state: watch::Receiver<Value>,
    next_id: AtomicU64,
}

impl Desk {
    async fn connect(url: &str) -> anyhow::Result<Desk> {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .context("opening a desktop socket")?;
        let (mut sink, mut stream) = socket.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
        });
        let pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>> = Arc::default();
        let (state_tx, state) = watch::channel(Value::Null);
        let waiting = pending.clone();
        tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                let Message::Text(t) = m else { continue };
                let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                    continue;
                };
                match v["type"].as_str() {
                    Some("state") => {
                        state_tx.send_replace(v);
                    }
                    Some("result") => {
                        let reply = v["id"]
                            .as_u64()
                            .and_then(|id| waiting.lock().ok()?.remove(&id));
                        if let Some(reply) = reply {
                            let _ = reply.send(v);
                        }
                    }
                    _ => {}
                }
            }
        });
        Ok(Desk {
            out,
            pending,
            state,
            next_id: AtomicU64::new(1),
        })
    }

    /// Sends an action; its `data`, or an error with the server's refusal.
    async fn act(&self, mut msg: Value) -> anyhow::Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        msg["id"] = json!(id);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, tx);
        }
        self.out
            .send(Message::Text(msg.to_string().into()))
            .map_err(|_| anyhow::anyhow!("the desktop socket closed"))?;
        let v = tokio::time::timeout(WAIT, rx)
            .await
            .with_context(|| format!("no answer to {}", msg["type"]))?
            .context("the desktop socket closed")?;
        if v["ok"] != json!(true) {
            bail!("{} refused: {}", msg["type"], v["error"]);
        }
        Ok(v["data"].clone())
    }

    /// Waits until the pushed state passes `check`; what `check` found.
    async fn wait<T>(&self, what: &str, check: impl Fn(&Value) -> Option<T>) -> anyhow::Result<T> {
        let mut state = self.state.clone();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(t) = check(&state.borrow_and_update()) {
                return Ok(t);
            }
            match tokio::time::timeout_at(deadline, state.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => bail!("the desktop socket closed waiting for {what}"),
                Err(_) => bail!(
                    "timed out waiting for {what}; last state: {}",
                    *state.borrow()
                ),
            }
        }
    }
}

fn tasks(state: &Value) -> impl Iterator<Item = &Value> {
    state["tasks"].as_array().into_iter().flatten()
}

/// The benchmark's agents in the demo workspace.
struct Setup {
    workers: Vec<String>,
    tokens: Vec<String>,
}

/// `app:AP…?worker_sid=…&from=…&conversation_id=…`, as the dialpad builds it.
fn app_address(app: &str, params: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let mut s = format!("app:{app}");
    for (i, (k, v)) in params.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(&enc(k));
        s.push('=');
        s.push_str(&enc(v));
    }
    s
}

/// Creates `agents` Available workers and a desktop token for each.
async fn workers(api: &Api, ws: &str, agents: usize, limit: usize) -> anyhow::Result<Setup> {
    let ws_url = format!("/v1/Workspaces/{ws}");
    let available = api
        .get(&format!("{ws_url}/Activities?FriendlyName=Available"))
        .await?["activities"][0]["sid"]
        .as_str()
        .context("no Available activity")?
        .to_owned();
    let mut jobs = Vec::new();
    for i in 0..agents {
        let (api, ws, ws_url, available) = (
            api.clone(),
            ws.to_owned(),
            ws_url.clone(),
            available.clone(),
        );
        jobs.push(async move {
            let name = format!("bench{i}");
            let attrs =
                json!({"full_name": format!("Bench {i}"), "contact_uri": format!("client:{name}")});
            let worker = sid(&api
                .post(
                    &format!("{ws_url}/Workers"),
                    &[
                        ("FriendlyName", &name),
                        ("Attributes", &attrs.to_string()),
                        ("ActivitySid", &available),
                    ],
                )
                .await?)?;
            let token = api.access_token(&ws, &worker).await?;
            anyhow::Ok((worker, token))
        });
    }
    let made = bounded(limit, jobs).await?;
    let (workers, tokens) = made.into_iter().unzip();
    Ok(Setup { workers, tokens })
}

/// Sets up call `i`: both desktops connected, the call placed and accepted, both peers
/// offered, answered and running.
async fn call(
    setup: Arc<Setup>,
    fleet: Arc<Fleet>,
    ws_base: String,
    tcp: Option<SocketAddr>,
    i: usize,
) -> anyhow::Result<(Desk, Desk)> {
    let (a, b) = (2 * i, 2 * i + 1);
    let url = |k: usize| format!("{ws_base}/v1/Desktop?token={}", setup.tokens[k]);
    let caller = Desk::connect(&url(a)).await?;
    let callee = Desk::connect(&url(b)).await?;
    let (app, queue) = caller
        .wait("the first state", |s| {
            Some((
                s["internal_call"]["application_sid"].as_str()?.to_owned(),
                s["internal_call"]["outbound_queue_sid"]
                    .as_str()?
                    .to_owned(),
            ))
        })
        .await?;
    callee
        .wait("the first state", |s| {
            s["worker"]["available"].as_bool().filter(|a| *a)
        })
        .await?;
    let conversation = format!("bench-{i}");
    let destination = app_address(
        &app,
        &[
            ("worker_sid", &setup.workers[b]),
            ("from", &format!("Bench {a}")),
            ("conversation_id", &conversation),
        ],
    );
    let callee_name = format!("Bench {b}");
    let placed = caller
        .act(json!({
            "type": "start_outbound_call",
            "destination": destination,
            "queue_sid": queue,
            "task_attributes": {"name": callee_name, "internal_outbound_to": callee_name,
                                "conversations": {"conversation_id": conversation}},
        }))
        .await?;
    let caller_task = placed["task_sid"]
        .as_str()
        .context("no task_sid")?
        .to_owned();
    let reservation = callee
        .wait("the call ringing", |s| {
            tasks(s)
                .find(|t| t["reservation_status"] == "pending")
                .and_then(|t| t["reservation_sid"].as_str().map(str::to_owned))
        })
        .await?;
    callee
        .act(json!({"type": "accept", "reservation_sid": reservation}))
        .await?;
    let connected = |task: Option<String>| {
        move |s: &Value| {
            tasks(s)
                .any(|t| {
                    task.as_ref().is_none_or(|x| t["task_sid"] == json!(x))
                        && t["call"]["state"] == "connected"
                })
                .then_some(())
        }
    };
    callee.wait("the call connected", connected(None)).await?;
    caller
        .wait("the call connected", connected(Some(caller_task)))
        .await?;
    for (desk, index) in [(&caller, a), (&callee, b)] {
        let (mut peer, offer) = match tcp {
            Some(relay) => Peer::offer_over_tcp(relay, index as u32, Payload::Stamped)?,
            None => Peer::offer(index as u32, Payload::Stamped)?,
        };
        let answer = desk
            .act(json!({"type": "media_offer", "sdp": offer}))
            .await?;
        peer.accept_answer(answer["sdp"].as_str().context("no answer SDP")?)?;
        peer.spawn(&fleet);
    }
    Ok((caller, callee))
}

/// Runs every size through the server.
pub async fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let max = args.calls.iter().copied().max().unwrap_or(0);
    let over_tcp = args.transport == "tcp";
    let mut extra = vec![
        "--media-listen".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--max-connections".to_owned(),
        (2 * max + 256).to_string(),
    ];
    if over_tcp {
        extra.extend(["--media-transports".to_owned(), "tcp".to_owned()]);
    }
    let cpus = (!args.server_cpus.is_empty()).then_some(args.server_cpus.as_str());
    let (server, banner) = Server::start_with(
        &args.bin,
        "demo",
        &extra,
        &[
            ("TWILIO_ACCOUNT_SID", ACCOUNT),
            ("TWILIO_AUTH_TOKEN", TOKEN),
        ],
        cpus,
    )
    .await?;
    let ws = banner
        .iter()
        .find_map(|l| {
            let at = l.find("(WS")?;
            l.get(at + 1..at + 35).map(str::to_owned)
        })
        .with_context(|| format!("no demo workspace in the banner: {banner:?}"))?;
    let relay = banner
        .iter()
        .find(|l| l.contains("Audio relay"))
        .with_context(|| format!("no audio relay in the banner: {banner:?}"))?;
    eprintln!("switchboard: {} ({ws}); {}", server.base, relay.trim());
    let tcp = if over_tcp {
        Some(tcp_listener(relay).with_context(|| format!("no TCP listener in {relay:?}"))?)
    } else {
        None
    };
    let api = Api::new(&server.base)?;
    let t = Instant::now();
    let setup = Arc::new(workers(&api, &ws, 2 * max, args.setup_concurrency).await?);
    eprintln!(
        "switchboard: {} workers and tokens in {:.1} s",
        2 * max,
        t.elapsed().as_secs_f64()
    );
    let fleet = Arc::new(Fleet::start(args.client_threads)?);
    let ws_base = server.base.replace("http://", "ws://");

    // The idle server, for reference.
    let idle = {
        let c0 = server.cpu_seconds().unwrap_or(f64::NAN);
        tokio::time::sleep(Duration::from_secs(2)).await;
        (server.cpu_seconds().unwrap_or(f64::NAN) - c0) / 2.0 * 100.0
    };
    eprintln!("switchboard: idle server CPU {idle:.1}% of a core");

    let mut desks = Vec::new();
    let rows = ramp(
        args,
        &fleet,
        if over_tcp {
            "switchboard (ICE-TCP)"
        } else {
            "switchboard"
        },
        Load::Calls,
        &args.calls,
        false,
        async |range: Range<usize>| {
            let jobs = range.map(|i| {
                let (setup, fleet, ws_base) = (setup.clone(), fleet.clone(), ws_base.clone());
                async move {
                    call(setup, fleet, ws_base, tcp, i)
                        .await
                        .with_context(|| format!("call {i}"))
                }
            });
            desks.extend(bounded(args.setup_concurrency, jobs.collect()).await?);
            Ok(())
        },
        || server.cpu_seconds(),
    )
    .await?;
    drop(desks);
    drop(fleet);
    drop(server);
    Ok(rows)
}

/// The relay's TCP listener from the banner's line about it (`… tcp 127.0.0.1:3001 …`).
fn tcp_listener(line: &str) -> Option<SocketAddr> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == "tcp")?;
    words.next()?.trim_end_matches(',').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::tcp_listener;

    #[test]
    fn the_tcp_listener_is_read_off_either_banner() {
        let both = "  Audio relay: udp 127.0.0.1:4001 (browsers send to 127.0.0.1:4001), tcp 127.0.0.1:4001";
        let only = "  Audio relay: tcp 127.0.0.1:4002 only (--media-transports tcp)";
        assert_eq!(tcp_listener(both), "127.0.0.1:4001".parse().ok());
        assert_eq!(tcp_listener(only), "127.0.0.1:4002".parse().ok());
        assert_eq!(tcp_listener("  Audio relay: off (--no-media)"), None);
    }
}
