//! The simulated agent desktops: one task per desktop owns its WebSocket and plays the agent —
//! accepts what rings, completes what wraps, places the calls and hang-ups the load generator
//! hands it — and notes the moments the phases are measured between in the shared [`Book`].
//!
//! The phases (both desktops' views count, so each ends at the later of the two):
//! - click → ring: from sending `start_outbound_call` on the caller's socket to the callee's
//!   socket receiving a `state` with a pending reservation for that call;
//! - accept → connected: from sending `accept` to both states showing the call `connected`;
//! - hang-up → wrapped: from sending `hangup` to both reservations `wrapping`.
//!
//! A call is recognised on both sides by `attributes.conversations.conversation_id`, which the
//! caller sets and the enqueue function copies to the callee's task.
//!
//! With `--media` a desktop whose state shows its call connected opens its audio ([`audio`]):
//! `media_offer` with a str0m peer's offer, the answer applied, the peer started on the fleet;
//! when its task stops being a connected call (wrapping, gone) it stops the peer and sends
//! `media_close`, as the browser does when no call needs audio.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::audio::{self, AudioFigures};
use super::stats::{Errors, Samples};
use crate::peer::{Fleet, Peer, Probe};

/// A desktop's socket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the load generator asks a desktop to do.
#[derive(Debug)]
pub enum Cmd {
    /// Place an internal call (`start_outbound_call`).
    Call {
        /// The call's conversation id (its key in the [`Book`]).
        conv: String,
        /// `app:AP…?…`.
        destination: String,
        /// Who is called (the task's `name`).
        name: String,
    },
    /// Hang up this task's call.
    Hangup {
        /// The call's conversation id.
        conv: String,
        /// The agent's task in it.
        task_sid: String,
    },
}

/// One connected desktop, as the load generator sees it.
pub struct AgentHandle {
    /// The worker's SID.
    pub sid: String,
    /// The worker's full name (what a caller puts in `from`).
    pub full_name: String,
    /// Whether the worker is a member of the queue that queue calls go to (it is then never
    /// picked as a caller or a direct callee).
    pub queue_member: bool,
    /// In a call, or picked for one.
    pub busy: AtomicBool,
    /// Commands to its task.
    pub tx: mpsc::UnboundedSender<Cmd>,
}

/// One call in progress. Index 0 of the pairs is the caller's side, 1 the callee's.
#[derive(Debug)]
pub struct CallRecord {
    /// The caller's agent index.
    pub caller: usize,
    /// The callee's agent index: chosen for a call to an agent, known once it rings for a call
    /// to a queue.
    pub callee: Option<usize>,
    /// A call to a queue.
    pub to_queue: bool,
    /// Whether the caller hangs up (else the callee does).
    pub hangup_by_caller: bool,
    /// When the record was made.
    pub created: Instant,
    clicked: Option<Instant>,
    rang: Option<Instant>,
    accept_sent: Option<Instant>,
    connected: [Option<Instant>; 2],
    connect_sampled: bool,
    hangup_sent: Option<Instant>,
    wrapped: [Option<Instant>; 2],
    wrap_sampled: bool,
    tasks: [Option<String>; 2],
    done: [bool; 2],
    outcome: Option<String>,
    /// Each side's running peer (`--media`).
    audio: [Option<Arc<Probe>>; 2],
    /// Frames each side's peer received from the other, once it closed.
    heard: [Option<u64>; 2],
}

impl CallRecord {
    /// A call about to be placed.
    pub fn new(
        caller: usize,
        callee: Option<usize>,
        to_queue: bool,
        hangup_by_caller: bool,
    ) -> Self {
        CallRecord {
            caller,
            callee,
            to_queue,
            hangup_by_caller,
            created: Instant::now(),
            clicked: None,
            rang: None,
            accept_sent: None,
            connected: [None; 2],
            connect_sampled: false,
            hangup_sent: None,
            wrapped: [None; 2],
            wrap_sampled: false,
            tasks: [None, None],
            done: [false; 2],
            outcome: None,
            audio: [None, None],
            heard: [None; 2],
        }
    }

    /// Which phase it did not reach (for an unfinished or failed call).
    pub fn missing_phase(&self) -> &'static str {
        if self.clicked.is_none() {
            "never placed"
        } else if self.rang.is_none() {
            "never rang"
        } else if !self.connect_sampled {
            "never connected"
        } else if self.hangup_sent.is_none() {
            "never hung up"
        } else if !self.wrap_sampled {
            "never wrapped on both sides"
        } else {
            "never completed"
        }
    }

    /// "queue" or "agent": what the call was to.
    pub fn kind(&self) -> &'static str {
        if self.to_queue {
            "queue"
        } else {
            "agent"
        }
    }

    /// The caller's outcome code, once known.
    pub fn outcome(&self) -> Option<&str> {
        self.outcome.as_deref()
    }
    /// Connected on both sides and not hung up.
    pub fn is_talking(&self) -> bool {
        self.connect_sampled && self.hangup_sent.is_none()
    }

    /// Both sides' peers received a frame from the other since `since_ns` (the stamps' clock).
    pub fn has_audio(&self, since_ns: u64) -> bool {
        self.audio
            .iter()
            .all(|p| p.as_ref().is_some_and(|p| p.heard_since(since_ns)))
    }

    /// Stops the peers still running (a call the step gave up on).
    pub fn stop_audio(&self) {
        for p in self.audio.iter().flatten() {
            p.stop();
        }
    }
}

/// What one step measured on the desktops.
#[derive(Debug, Default)]
pub struct CallFigures {
    /// Click → ring.
    pub ring: Samples,
    /// Accept → connected.
    pub connect: Samples,
    /// Hang-up → both wrapped.
    pub wrap: Samples,
    /// Accept → the callee's own state connected (the side that sent `accept`).
    pub connect_callee: Samples,
    /// Accept → the caller's state connected.
    pub connect_caller: Samples,
    /// Calls placed (`start_outbound_call` sent).
    pub started: u64,
    /// Of which to the queue.
    pub started_to_queue: u64,
    /// Calls that went through every phase and whose tasks both completed.
    pub completed: u64,
    /// Of which to the queue.
    pub completed_to_queue: u64,
    /// Calls not placed because no idle agent was found.
    pub skipped: u64,
    /// Errors by kind.
    pub errors: Errors,
    /// When the step's load began (the timeline's zero).
    pub step_start: Option<Instant>,
    /// Click → ring by when the call was placed: (seconds into the step, milliseconds).
    pub ring_timeline: Vec<(f64, f64)>,
    /// The calls' audio (`--media`).
    pub audio: AudioFigures,
}

/// The calls in progress and the figures, behind one lock (taken briefly, never across an
/// await).
#[derive(Debug, Default)]
pub struct Book {
    /// Calls in progress by conversation id.
    pub calls: HashMap<String, CallRecord>,
    /// The current step's figures.
    pub figures: CallFigures,
}

/// What the desktops share.
pub struct Shared {
    /// The connected desktops, by index.
    pub agents: RwLock<Vec<Arc<AgentHandle>>>,
    /// Calls and figures.
    pub book: Mutex<Book>,
    /// How long a connected call lasts before it is hung up, in milliseconds (a fault run
    /// changes it between its phases).
    pub talk_ms: AtomicU64,
    /// The Internal Call application and the outbound queue, from the first state.
    pub internal_call: OnceLock<(String, Option<String>)>,
    /// Desktops whose socket ended.
    pub dropped: AtomicU64,
    /// Messages the desktops received.
    pub messages: AtomicU64,
    /// Desktops that signed in again after their socket ended (fault runs).
    pub reconnects: AtomicU64,
    /// The client threads of the calls' peers, with `--media`.
    pub media: Option<Arc<Fleet>>,
}

impl Shared {
    /// Nothing connected yet; calls carry audio on `media`'s peers if given.
    pub fn new(talk: Duration, media: Option<Arc<Fleet>>) -> Self {
        Shared {
            media,
            agents: RwLock::new(Vec::new()),
            book: Mutex::new(Book::default()),
            talk_ms: AtomicU64::new(u64::try_from(talk.as_millis()).unwrap_or(u64::MAX)),
            internal_call: OnceLock::new(),
            dropped: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
        }
    }

    /// The book, even if a desktop task panicked while holding it.
    pub fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The desktop `i`.
    pub fn agent(&self, i: usize) -> Option<Arc<AgentHandle>> {
        self.agents
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(i)
            .cloned()
    }

    /// Counts an error.
    pub fn error(&self, kind: impl Into<String>) {
        self.book().figures.errors.add(kind);
    }

    /// Marks the call's agents idle again.
    pub fn release(&self, rec: &CallRecord) {
        for i in std::iter::once(rec.caller).chain(rec.callee) {
            if let Some(a) = self.agent(i) {
                a.busy.store(false, Ordering::Release);
            }
        }
    }
}

/// Connects a desktop with `token`, waits for its first state, makes the agent available
/// (`set_activity` to the activity named Available) and waits until its state says so. Gives
/// the socket and the last state.
pub async fn sign_in(ws_base: &str, token: &str) -> anyhow::Result<(Socket, Value)> {
    let url = format!("{ws_base}/v1/Desktop?token={token}");
    let shown = format!("{ws_base}/v1/Desktop");
    // The connection is made here, not by the WebSocket library, to refuse a connection to
    // itself: while a restarted server is not listening yet, a desktop's connection to its port
    // can be given that very port as its own (TCP simultaneous open on loopback) and would keep
    // the server from binding it.
    let addr = ws_base.strip_prefix("ws://").unwrap_or(ws_base);
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting a desktop to {shown}"))?;
    if stream.local_addr()? == stream.peer_addr()? {
        bail!("the connection to {shown} met itself (nothing listens there)");
    }
    // TCP_NODELAY, as browsers do on WebSockets (else small frames wait for delayed ACKs).
    stream.set_nodelay(true)?;
    let (mut socket, _) = match tokio_tungstenite::client_async_with_config(
        url.as_str(),
        MaybeTlsStream::Plain(stream),
        None,
    )
    .await
    {
        Ok(s) => s,
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            let body = r
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            bail!("{shown} refused the desktop: {} {body}", r.status());
        }
        Err(e) => return Err(e).with_context(|| format!("connecting a desktop to {shown}")),
    };
    let mut state = next_state(&mut socket, |_| true).await?;
    if state["worker"]["available"] != json!(true) {
        let available = state["activities"]
            .as_array()
            .and_then(|a| {
                a.iter().find(|x| {
                    x["available"] == json!(true)
                        && x["friendly_name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case("available"))
                })
            })
            .and_then(|x| x["sid"].as_str())
            .context("the workspace has no available activity named Available")?
            .to_owned();
        let msg = json!({"type": "set_activity", "id": 1, "activity_sid": available});
        socket.send(Message::Text(msg.to_string().into())).await?;
        state = next_state(&mut socket, |s| s["worker"]["available"] == json!(true)).await?;
    }
    Ok((socket, state))
}

/// Reads until a `state` satisfying `check` (30 s at most); a refused action or a `closed` or
/// `error` message is an error.
async fn next_state(socket: &mut Socket, check: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let msg = tokio::time::timeout_at(deadline, socket.next())
            .await
            .context("no desktop state within 30 s")?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                match v["type"].as_str() {
                    Some("state") if check(&v) => return Ok(v),
                    Some("result") if v["ok"] == json!(false) => {
                        bail!("the server refused the desktop's action: {}", v["error"])
                    }
                    Some("closed") | Some("error") => bail!("the server ended the session: {v}"),
                    _ => {}
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e).context("the desktop socket failed"),
            None => bail!("the server closed the desktop socket"),
        }
    }
}

/// One of the desktop's own tasks.
struct Mine {
    conv: String,
    side: usize,
    accepting: bool,
    completing: bool,
}

/// One side's audio: the peer waiting for the server's answer, then its probe while it runs.
struct Audio {
    side: usize,
    /// Offered, not answered yet.
    offered: Option<Peer>,
    /// `None`: the peer could not be made.
    probe: Option<Arc<Probe>>,
    running: bool,
}

/// The desktop's own bookkeeping.
struct Desktop {
    idx: usize,
    shared: Arc<Shared>,
    next_id: u64,
    /// Actions sent and not answered: id → (type, conversation id).
    pending: HashMap<u64, (&'static str, String)>,
    mine: HashMap<String, Mine>,
    /// Tasks of calls no longer in the book that this desktop is completing.
    orphans_completing: HashSet<String>,
    /// Its audio by conversation id (`--media`; a desktop has one task per call).
    audio: HashMap<String, Audio>,
}

impl Desktop {
    fn action(&mut self, kind: &'static str, conv: &str, mut msg: Value) -> Message {
        self.next_id += 1;
        msg["type"] = json!(kind);
        msg["id"] = json!(self.next_id);
        self.pending.insert(self.next_id, (kind, conv.to_owned()));
        Message::Text(msg.to_string().into())
    }

    fn on_cmd(&mut self, cmd: Cmd) -> Option<Message> {
        let (app_queue, now) = (self.shared.internal_call.get().cloned(), Instant::now());
        match cmd {
            Cmd::Call {
                conv,
                destination,
                name,
            } => {
                let mut msg = json!({
                    "destination": destination,
                    "task_attributes": {
                        "name": name,
                        "internal_outbound_to": name,
                        "conversations": {"conversation_id": conv},
                    },
                });
                if let Some((_, Some(q))) = app_queue {
                    msg["queue_sid"] = json!(q);
                }
                let m = self.action("start_outbound_call", &conv, msg);
                let mut book = self.shared.book();
                book.figures.started += 1;
                let mut to_queue = false;
                if let Some(rec) = book.calls.get_mut(&conv) {
                    rec.clicked = Some(now);
                    to_queue = rec.to_queue;
                }
                book.figures.started_to_queue += u64::from(to_queue);
                Some(m)
            }
            Cmd::Hangup { conv, task_sid } => {
                let m = self.action("hangup", &conv, json!({"task_sid": task_sid}));
                if let Some(rec) = self.shared.book().calls.get_mut(&conv) {
                    rec.hangup_sent = Some(now);
                }
                Some(m)
            }
        }
    }

    fn on_text(&mut self, text: &str, now: Instant) -> Vec<Message> {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            self.shared.error("a message that is not JSON");
            return Vec::new();
        };
        match v["type"].as_str() {
            Some("state") => self.on_state(&v, now),
            Some("result") => {
                self.on_result(&v);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn on_result(&mut self, v: &Value) {
        let Some((kind, conv)) = v["id"].as_u64().and_then(|id| self.pending.remove(&id)) else {
            return;
        };
        if kind == "media_offer" {
            self.on_answer(&conv, v);
        }
        if v["ok"] == json!(true) {
            return;
        }
        let e = &v["error"];
        let message = e["message"].as_str().unwrap_or("");
        let mut book = self.shared.book();
        book.figures
            .errors
            .add(format!("{kind} refused: {} {message}", e["code"]));
        if kind == "start_outbound_call" {
            if let Some(rec) = book.calls.remove(&conv) {
                drop(book);
                self.shared.release(&rec);
            }
        }
    }

    /// The server's answer to this desktop's offer for `conv`: the peer starts, or the offer
    /// counts as refused. An answer for a call that ended meanwhile drops the peer.
    fn on_answer(&mut self, conv: &str, v: &Value) {
        let (Some(a), Some(fleet)) = (self.audio.get_mut(conv), self.shared.media.as_ref()) else {
            return;
        };
        let Some(mut peer) = a.offered.take() else {
            return;
        };
        let applied = if v["ok"] == json!(true) {
            match v["data"]["sdp"].as_str() {
                Some(sdp) => peer.accept_answer(sdp),
                None => Err(anyhow::anyhow!("the media_offer result has no sdp")),
            }
        } else {
            Err(anyhow::anyhow!("refused"))
        };
        let mut book = self.shared.book();
        match applied {
            Ok(()) => {
                peer.spawn(fleet);
                a.running = true;
                if let Some(rec) = book.calls.get_mut(conv) {
                    rec.audio[a.side] = a.probe.clone();
                }
            }
            Err(e) => {
                book.figures.audio.refused += 1;
                if v["ok"] == json!(true) {
                    book.figures
                        .errors
                        .add(format!("applying the media answer failed: {e:#}"));
                }
            }
        }
    }

    fn on_state(&mut self, v: &Value, now: Instant) -> Vec<Message> {
        let Some(tasks) = v["tasks"].as_array() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut hangups = Vec::new();
        let mut seen = HashSet::new();
        let mut finished = Vec::new();
        let shared = self.shared.clone();
        let mut book = shared.book();
        let Book { calls, figures } = &mut *book;
        for t in tasks {
            let (Some(task_sid), Some(conv)) = (
                t["task_sid"].as_str(),
                t["attributes"]["conversations"]["conversation_id"].as_str(),
            ) else {
                continue;
            };
            let Some(rec) = calls.get_mut(conv) else {
                // A call the load generator gave up on (a fault run drops what a crash cut
                // before it reached a desktop): what wraps is still completed.
                if t["reservation_status"] == json!("wrapping")
                    && self.orphans_completing.insert(task_sid.to_owned())
                {
                    out.push(("complete", conv.to_owned(), json!({"task_sid": task_sid})));
                }
                continue;
            };
            seen.insert(task_sid.to_owned());
            let side = usize::from(rec.caller != self.idx);
            if side == 1 && rec.callee.is_none() {
                rec.callee = Some(self.idx);
                if let Some(a) = shared.agent(self.idx) {
                    a.busy.store(true, Ordering::Release);
                }
            }
            rec.tasks[side].get_or_insert_with(|| task_sid.to_owned());
            let mine = self.mine.entry(task_sid.to_owned()).or_insert(Mine {
                conv: conv.to_owned(),
                side,
                accepting: false,
                completing: false,
            });
            let reservation = t["reservation_status"].as_str().unwrap_or("");
            let call = t["call"]["state"].as_str().unwrap_or("");
            if let Some(o) = t["call"]["outcome"]["code"].as_str() {
                rec.outcome.get_or_insert_with(|| o.to_owned());
            }
            if side == 1 && reservation == "pending" && !mine.accepting {
                mine.accepting = true;
                if rec.rang.is_none() {
                    rec.rang = Some(now);
                    if let Some(c) = rec.clicked {
                        figures.ring.push(now - c);
                        if let Some(t0) = figures.step_start {
                            figures.ring_timeline.push((
                                c.saturating_duration_since(t0).as_secs_f64(),
                                (now - c).as_secs_f64() * 1000.0,
                            ));
                        }
                    }
                }
                let rsid = t["reservation_sid"].as_str().unwrap_or("").to_owned();
                rec.accept_sent = Some(Instant::now());
                out.push(("accept", conv.to_owned(), json!({"reservation_sid": rsid})));
            }
            if self.shared.media.is_some() {
                if call == "connected" && !self.audio.contains_key(conv) {
                    let party = if side == 0 {
                        rec.callee
                    } else {
                        Some(rec.caller)
                    };
                    let made = party
                        .ok_or_else(|| anyhow::anyhow!("the call's other agent is not known"))
                        .and_then(|p| audio::offer(self.idx, p));
                    let (offered, probe) = match made {
                        Ok((peer, probe, sdp)) => {
                            figures.audio.offers += 1;
                            out.push(("media_offer", conv.to_owned(), json!({"sdp": sdp})));
                            (Some(peer), Some(probe))
                        }
                        Err(e) => {
                            figures.errors.add(format!("opening a peer failed: {e:#}"));
                            (None, None)
                        }
                    };
                    self.audio.insert(
                        conv.to_owned(),
                        Audio {
                            side,
                            offered,
                            probe,
                            running: false,
                        },
                    );
                } else if call != "connected" {
                    if let Some(a) = self.audio.remove(conv) {
                        close_audio(a, rec, &mut figures.audio);
                        out.push(("media_close", conv.to_owned(), json!({})));
                    }
                }
            }
            if call == "connected" && rec.connected[side].is_none() {
                rec.connected[side] = Some(now);
                if let ([Some(a), Some(b)], false) = (rec.connected, rec.connect_sampled) {
                    rec.connect_sampled = true;
                    if let Some(acc) = rec.accept_sent {
                        figures
                            .connect
                            .push(a.max(b).saturating_duration_since(acc));
                        figures
                            .connect_caller
                            .push(a.saturating_duration_since(acc));
                        figures
                            .connect_callee
                            .push(b.saturating_duration_since(acc));
                    }
                    let hanger = if rec.hangup_by_caller {
                        Some(rec.caller)
                    } else {
                        rec.callee
                    };
                    let task = rec.tasks[usize::from(!rec.hangup_by_caller)].clone();
                    if let (Some(h), Some(task)) = (hanger, task) {
                        hangups.push((h, conv.to_owned(), task));
                    }
                }
            }
            if reservation == "wrapping" {
                if rec.wrapped[side].is_none() {
                    rec.wrapped[side] = Some(now);
                    if let ([Some(a), Some(b)], false, Some(h)) =
                        (rec.wrapped, rec.wrap_sampled, rec.hangup_sent)
                    {
                        rec.wrap_sampled = true;
                        figures.wrap.push(a.max(b).saturating_duration_since(h));
                    }
                }
                if !mine.completing {
                    mine.completing = true;
                    out.push(("complete", conv.to_owned(), json!({"task_sid": task_sid})));
                }
            }
        }
        // Tasks that left the state: this side of the call is over.
        let gone: Vec<String> = self
            .mine
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for task in gone {
            let Some(m) = self.mine.remove(&task) else {
                continue;
            };
            let Some(rec) = calls.get_mut(&m.conv) else {
                continue;
            };
            if let Some(a) = self.audio.remove(&m.conv) {
                close_audio(a, rec, &mut figures.audio);
                out.push(("media_close", m.conv.clone(), json!({})));
            }
            rec.done[m.side] = true;
            if rec.done[0] && (rec.done[1] || rec.tasks[1].is_none()) {
                if let Some(rec) = calls.remove(&m.conv) {
                    if rec.wrap_sampled && rec.done[1] {
                        figures.completed += 1;
                        figures.completed_to_queue += u64::from(rec.to_queue);
                    } else {
                        figures.errors.add(format!(
                            "{} call {} (outcome {})",
                            rec.kind(),
                            rec.missing_phase(),
                            rec.outcome().unwrap_or("none")
                        ));
                    }
                    finished.push(rec);
                }
            }
        }
        drop(book);
        for rec in &finished {
            shared.release(rec);
        }
        for (h, conv, task_sid) in hangups {
            if let Some(a) = shared.agent(h) {
                let talk = Duration::from_millis(shared.talk_ms.load(Ordering::Relaxed));
                tokio::spawn(async move {
                    tokio::time::sleep(talk).await;
                    let _ = a.tx.send(Cmd::Hangup { conv, task_sid });
                });
            }
        }
        out.into_iter()
            .map(|(kind, conv, msg)| self.action(kind, &conv, msg))
            .collect()
    }
}

/// Stops one side's peer and adds what it received to the figures; once both sides of the call
/// have closed, whether the call had audio.
fn close_audio(a: Audio, rec: &mut CallRecord, figures: &mut AudioFigures) {
    let probe = a.probe.as_deref().filter(|_| a.running);
    if let Some(p) = a.probe.as_deref() {
        p.stop();
    }
    let frames = figures.close(probe);
    rec.audio[a.side] = None;
    rec.heard[a.side] = Some(frames);
    if let [Some(x), Some(y)] = rec.heard {
        figures.call_closed(x, y);
    }
}

/// How a desktop signs in again when its socket ends (a fault run restarts the server): the
/// WebSocket base URL and its access token, tried for up to `for_how_long`.
#[derive(Debug, Clone)]
pub struct Reconnect {
    /// `ws://127.0.0.1:PORT`.
    pub ws_base: String,
    /// The desktop's access token (the server keeps its signing key in its database).
    pub token: String,
    /// How long to keep trying.
    pub for_how_long: Duration,
}

/// Plays desktop `idx` on `socket` until the socket ends (and, with `reconnect`, cannot be
/// opened again) or `rx` closes.
pub async fn run(
    idx: usize,
    mut socket: Socket,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    shared: Arc<Shared>,
    reconnect: Option<Reconnect>,
) {
    let mut desk = Desktop {
        idx,
        shared: shared.clone(),
        next_id: 100,
        pending: HashMap::new(),
        mine: HashMap::new(),
        orphans_completing: HashSet::new(),
        audio: HashMap::new(),
    };
    loop {
        if !play(&mut desk, socket, &mut rx, &shared).await {
            break;
        }
        let Some(r) = &reconnect else { break };
        // The socket ended: sign in again until the server is back.
        let deadline = Instant::now() + r.for_how_long;
        let again = loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            match sign_in(&r.ws_base, &r.token).await {
                Ok(s) => break Some(s),
                Err(_) if Instant::now() < deadline => continue,
                Err(e) => {
                    shared.error(format!("a desktop did not sign in again: {e:#}"));
                    break None;
                }
            }
        };
        let Some((s, state)) = again else { break };
        shared.reconnects.fetch_add(1, Ordering::Relaxed);
        desk.pending.clear();
        // The first state after the restart (its tasks wrapping or gone) counts like any other.
        let out = desk.on_state(&state, Instant::now());
        socket = s;
        let mut failed = false;
        for m in out {
            if socket.send(m).await.is_err() {
                failed = true;
            }
        }
        if failed {
            shared.error("sending on a desktop socket failed after signing in again");
        }
    }
    shared.dropped.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(idx, "desktop ended");
}

/// Plays the desktop on one socket; `true` when the socket ended or failed (the server went
/// away), `false` when the load generator is done with the desktop.
async fn play(
    desk: &mut Desktop,
    socket: Socket,
    rx: &mut mpsc::UnboundedReceiver<Cmd>,
    shared: &Arc<Shared>,
) -> bool {
    let (mut sink, mut stream) = socket.split();
    loop {
        let out: Vec<Message> = tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => desk.on_cmd(cmd).into_iter().collect(),
                None => return false,
            },
            msg = stream.next() => {
                let now = Instant::now();
                match msg {
                    Some(Ok(Message::Text(t))) => {
                        shared.messages.fetch_add(1, Ordering::Relaxed);
                        desk.on_text(t.as_str(), now)
                    }
                    Some(Ok(Message::Close(_))) | None => {
                        shared.error("the server closed a desktop socket");
                        return true;
                    }
                    Some(Err(e)) => {
                        shared.error(format!("a desktop socket failed: {e}"));
                        return true;
                    }
                    Some(Ok(_)) => Vec::new(),
                }
            }
        };
        for m in out {
            if let Err(e) = sink.send(m).await {
                shared.error(format!("sending on a desktop socket failed: {e}"));
                return true;
            }
        }
    }
}
