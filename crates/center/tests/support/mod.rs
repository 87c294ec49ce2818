//! A simulated world around one center: simulated time, a seeded demo workspace, desktops that
//! keep what was pushed to them, the built-in enqueue function answering its fetches, and a
//! timeline of everything observable (routing events, call outcomes) with short names instead
//! of SIDs, for snapshot tests.
//!
//! After every input and every timeout the harness checks the push invariant: every session's
//! last pushed state is exactly what it would be shown now.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{json, Map, Value};
use switchboard_center::demo::{self, DemoSids};
use switchboard_center::functions::{internal_call_enqueue, internal_call_workflow, ENQUEUE_PATH};
use switchboard_center::protocol::{
    Action, ActionData, CallState, CloseReason, DesktopState, ServerMessage, TaskView,
};
use switchboard_center::{
    Center, CenterConfig, CenterError, Entry, Input, Output, Reply, SessionId,
};
use switchboard_routing::Timestamp;
use switchboard_sid::{Account, Sid};
use switchboard_voice::{FetchFailure, FetchResponse};

/// Where the simulated server's built-in functions live.
pub const BASE: &str = "http://switchboard.test";
/// When every simulation starts (ms since the epoch).
pub const T0: i64 = 1_700_000_000_000;
/// How long a simulated queue call waits (the enqueue function's `<Task timeout>`).
pub const QUEUE_CALL_TIMEOUT_SECS: u64 = 120;

/// How an external voice URL answers.
pub type Webhook = Box<dyn FnMut(&str, &[(String, String)]) -> Result<FetchResponse, FetchFailure>>;

/// A fetch waiting for its answer: id, URL, parameters.
pub type PendingFetch = (u64, String, Vec<(String, String)>);

/// A world with one center.
pub struct Sim {
    pub center: Center,
    pub now: i64,
    pub demo: DemoSids,
    /// Every log entry written, with its time.
    pub log: Vec<(Timestamp, Entry)>,
    /// What happened, in order, with short names.
    pub timeline: Vec<String>,
    /// The latest state pushed to each session.
    pub states: BTreeMap<SessionId, Arc<DesktopState>>,
    /// How many states each session was pushed.
    pub pushes: BTreeMap<SessionId, usize>,
    /// The last media graph the center gave the relay.
    pub graph: switchboard_center::media::MediaGraph,
    /// Peers the center told the relay to free.
    pub removed: Vec<switchboard_center::media::MediaPeer>,
    /// Messages sent to sessions (not states).
    pub messages: Vec<(SessionId, ServerMessage)>,
    /// Sessions the center closed.
    pub closed: Vec<(SessionId, CloseReason)>,
    /// Webhooks that would be posted.
    pub webhooks: usize,
    /// Fetches of URLs other than the built-in function, not answered yet.
    pub pending_fetches: VecDeque<PendingFetch>,
    /// Answers external voice URLs at once, when set.
    pub external: Option<Webhook>,
    names: BTreeMap<String, String>,
    counters: BTreeMap<&'static str, usize>,
}

impl Sim {
    /// The demo workspace, as a fresh server seeds it, with every agent signed in.
    pub fn demo() -> Sim {
        let account: Sid<Account> = "AC0123456789abcdef0123456789abcdef".parse().unwrap();
        let mut center = Center::new(CenterConfig {
            account,
            seed: 42,
            media: switchboard_center::protocol::MediaSettings {
                enabled: true,
                ice_servers: Vec::new(),
            },
        });
        center.start(Timestamp(T0));
        // Every step of a test happens at once on its clock: the hearing graph after each one.
        // (`media::the_hearing_graph_is_worked_out_at_most_every_20_ms` keeps the default.)
        center.set_media_graph_every(0);
        let mut ids = switchboard_center::ids::SidGen::new(7);
        let (entries, demo) = demo::entries(&mut ids, BASE, Timestamp(T0)).unwrap();
        let mut sim = Sim {
            center,
            now: T0,
            demo,
            log: Vec::new(),
            timeline: Vec::new(),
            states: BTreeMap::new(),
            pushes: BTreeMap::new(),
            graph: Default::default(),
            removed: Vec::new(),
            messages: Vec::new(),
            closed: Vec::new(),
            webhooks: 0,
            pending_fetches: VecDeque::new(),
            external: None,
            names: BTreeMap::new(),
            counters: BTreeMap::new(),
        };
        sim.handle(Input::Changes(entries)).unwrap();
        for (i, (name, _, _)) in demo::AGENTS.iter().enumerate() {
            sim.names
                .insert(sim.demo.workers[i].to_string(), (*name).to_owned());
        }
        for (i, name) in ["Offline", "Available", "Unavailable", "Break"]
            .iter()
            .enumerate()
        {
            sim.names
                .insert(sim.demo.activities[i].to_string(), (*name).to_owned());
        }
        sim.timeline.clear();
        sim
    }

    /// A worker's SID by name.
    pub fn worker(&self, name: &str) -> Sid<switchboard_sid::Worker> {
        let i = demo::AGENTS
            .iter()
            .position(|(n, _, _)| *n == name)
            .unwrap();
        self.demo.workers[i]
    }

    /// A short, stable name for a SID (`T1`, `R2`, `CA3`, or an agent's name).
    pub fn name(&mut self, sid: &str) -> String {
        if let Some(n) = self.names.get(sid) {
            return n.clone();
        }
        let prefix: &'static str = match &sid[..2.min(sid.len())] {
            "WT" => "T",
            "WR" => "R",
            "CA" => "CA",
            "CF" => "CF",
            _ => "X",
        };
        let n = self.counters.entry(prefix).or_default();
        *n += 1;
        let name = format!("{prefix}{n}");
        self.names.insert(sid.to_owned(), name.clone());
        name
    }

    /// Carries out an input now and everything it causes.
    pub fn handle(&mut self, input: Input) -> Result<Reply, CenterError> {
        let r = self.center.handle(Timestamp(self.now), input);
        self.drain();
        r
    }

    /// Lets `ms` pass, firing every deadline on the way at its own time.
    pub fn advance(&mut self, ms: i64) {
        let target = self.now + ms;
        while let Some(t) = self.center.poll_timeout() {
            if t.0 > target {
                break;
            }
            self.now = self.now.max(t.0);
            self.center.handle_timeout(Timestamp(self.now));
            self.drain();
        }
        self.now = target;
    }

    fn drain(&mut self) {
        loop {
            self.center.voice().check_live_indexes().unwrap();
            let mut builtin = Vec::new();
            while let Some(o) = self.center.poll_output() {
                match o {
                    Output::Persist(commit) => {
                        for e in &commit.events {
                            let line = self.event_line(&e.event);
                            self.timeline.push(line);
                        }
                        self.log.extend(commit.log);
                    }
                    Output::Fetch {
                        id, url, params, ..
                    } => {
                        if url == format!("{BASE}{ENQUEUE_PATH}") {
                            builtin.push((id, params));
                        } else {
                            self.pending_fetches.push_back((id, url, params));
                        }
                    }
                    Output::Webhook { .. } => self.webhooks += 1,
                    Output::Push { session, state } => {
                        *self.pushes.entry(session).or_default() += 1;
                        self.states.insert(session, state);
                    }
                    Output::Send { session, message } => self.messages.push((session, message)),
                    Output::Close { session, reason } => {
                        self.closed.push((session, reason));
                        self.states.remove(&session);
                    }
                    Output::ApiKeysChanged => {}
                    Output::MediaGraph(g) => self.graph = g,
                    Output::MediaRemove(p) => self.removed.push(p),
                }
            }
            let stale = self.center.stale_sessions();
            assert!(
                stale.is_empty(),
                "sessions {stale:?} were not pushed their new state"
            );
            // The built-in function answers at once; external URLs when the test says so.
            if builtin.is_empty() {
                if let Some(mut hook) = self.external.take() {
                    let pending: Vec<_> = self.pending_fetches.drain(..).collect();
                    let answered = !pending.is_empty();
                    for (id, url, params) in pending {
                        let result = hook(&url, &params);
                        self.center
                            .handle(Timestamp(self.now), Input::Fetched { id, result })
                            .unwrap();
                    }
                    self.external = Some(hook);
                    if answered {
                        continue;
                    }
                }
                return;
            }
            let workflow = internal_call_workflow(self.center.model());
            for (id, params) in builtin {
                let doc = internal_call_enqueue(&params, workflow, QUEUE_CALL_TIMEOUT_SECS);
                let body = switchboard_twiml::render(&doc);
                let result = Ok(FetchResponse {
                    status: 200,
                    content_type: Some("text/xml".into()),
                    body,
                });
                self.center
                    .handle(Timestamp(self.now), Input::Fetched { id, result })
                    .unwrap();
            }
        }
    }

    fn event_line(&mut self, e: &switchboard_routing::Event) -> String {
        let mut line = format!("{:06} {}", self.now - T0, e.event_type.as_str());
        if let Some(t) = &e.task {
            let n = self.name(&t.sid.to_string());
            line.push_str(&format!(" {n}"));
        }
        if let Some(r) = e.reservation_sid {
            let n = self.name(&r.to_string());
            line.push_str(&format!(" {n}"));
        }
        if let Some(w) = &e.worker {
            let n = self.name(&w.sid.to_string());
            line.push_str(&format!(" {n}"));
        }
        if let Some(a) = &e.activity {
            let n = self.name(&a.sid.to_string());
            line.push_str(&format!(" -> {n}"));
        }
        line
    }

    /// Connects a desktop for an agent, with a token good for a day.
    pub fn connect(&mut self, name: &str) -> SessionId {
        self.connect_until(name, self.now + 86_400_000)
    }

    /// Connects a desktop whose token expires at `expires_at`.
    pub fn connect_until(&mut self, name: &str, expires_at: i64) -> SessionId {
        let worker = self.worker(name);
        match self
            .handle(Input::Connect {
                workspace: self.demo.workspace,
                worker,
                expires_at: Timestamp(expires_at),
            })
            .unwrap()
        {
            Reply::Session(s) => s,
            other => panic!("{other:?}"),
        }
    }

    /// Signs an agent in the way the demo does (Offline agents become Available), then connects.
    pub fn sign_in(&mut self, name: &str) -> SessionId {
        let worker = self.worker(name);
        if let Some(e) = demo::sign_in(self.center.model(), self.demo.workspace, worker) {
            self.handle(Input::Changes(vec![e])).unwrap();
        }
        self.connect(name)
    }

    /// A desktop action.
    pub fn act(&mut self, session: SessionId, action: Action) -> Result<ActionData, CenterError> {
        match self.handle(Input::Desktop { session, action })? {
            Reply::Desktop(d) => Ok(d),
            other => panic!("{other:?}"),
        }
    }

    /// The desktop accepts `task`'s offer (its reservation); panics when the center refuses.
    pub fn accept(&mut self, session: SessionId, task: &TaskView) {
        self.act(
            session,
            Action::Accept {
                reservation_sid: task.reservation_sid,
            },
        )
        .expect("the offer is accepted");
    }

    /// The desktop puts the call of `task_sid` on hold (`true`) or resumes it; panics when the
    /// center refuses.
    pub fn hold(&mut self, session: SessionId, task_sid: Sid<switchboard_sid::Task>, hold: bool) {
        self.act(session, Action::Hold { task_sid, hold })
            .expect("the hold is applied");
    }

    /// The desktop's latest state.
    pub fn state(&self, session: SessionId) -> &DesktopState {
        self.states.get(&session).expect("a state was pushed")
    }

    /// The desktop's task whose attributes' `name` is `caller`.
    pub fn task_named(&self, session: SessionId, caller: &str) -> Option<TaskView> {
        self.state(session)
            .tasks
            .iter()
            .find(|t| t.attributes["name"] == caller)
            .cloned()
    }

    /// The desktop's only task.
    pub fn only_task(&self, session: SessionId) -> TaskView {
        let tasks = &self.state(session).tasks;
        assert_eq!(tasks.len(), 1, "{tasks:#?}");
        tasks[0].clone()
    }

    /// How a desktop sees a task's call.
    pub fn call_state(
        &self,
        session: SessionId,
        task: Sid<switchboard_sid::Task>,
    ) -> Option<CallState> {
        self.state(session)
            .tasks
            .iter()
            .find(|t| t.task_sid == task)
            .and_then(|t| t.call.as_ref())
            .map(|c| c.state)
    }

    /// Flex's dialpad: call an agent through the Internal Call application.
    pub fn call_agent(
        &mut self,
        caller: SessionId,
        callee: &str,
    ) -> Result<Sid<switchboard_sid::Task>, CenterError> {
        let worker = self.worker(callee);
        let me = self
            .state(caller)
            .worker
            .full_name
            .clone()
            .unwrap_or_default();
        let who = demo::AGENTS
            .iter()
            .find(|(n, _, _)| *n == callee)
            .unwrap()
            .1;
        self.start_call(
            caller,
            &format!("worker_sid={worker}&from={}", enc(&me)),
            who,
            &me,
        )
    }

    /// Flex's dialpad: call a queue.
    pub fn call_queue(
        &mut self,
        caller: SessionId,
        queue: &str,
    ) -> Result<Sid<switchboard_sid::Task>, CenterError> {
        let me = self
            .state(caller)
            .worker
            .full_name
            .clone()
            .unwrap_or_default();
        self.start_call(
            caller,
            &format!("callToQueue={}&from={}", enc(queue), enc(&me)),
            queue,
            &me,
        )
    }

    fn start_call(
        &mut self,
        caller: SessionId,
        query: &str,
        to: &str,
        me: &str,
    ) -> Result<Sid<switchboard_sid::Task>, CenterError> {
        let app = self.demo.application;
        let mut attrs = Map::new();
        attrs.insert("name".into(), json!(to));
        attrs.insert("internal_outbound_to".into(), json!(to));
        attrs.insert(
            "conversations".into(),
            json!({"conversation_id": format!("conv-{me}-{to}")}),
        );
        let data = self.act(
            caller,
            Action::StartOutboundCall {
                destination: format!(
                    "app:{app}?{query}&conversation_id={}",
                    enc(&format!("conv-{me}-{to}"))
                ),
                queue_sid: Some(self.demo.queues[3]),
                caller_id: None,
                task_attributes: Some(attrs),
            },
        )?;
        match data {
            ActionData::Task { task_sid } => Ok(task_sid),
            other => panic!("{other:?}"),
        }
    }

    /// A one-line summary of what a desktop shows, with short names.
    pub fn summary(&mut self, session: SessionId) -> String {
        let Some(s) = self.states.get(&session).cloned() else {
            return "(closed)".into();
        };
        let mut out = format!("{} [{}]", s.worker.friendly_name, s.worker.activity_name);
        for t in &s.tasks {
            let task = self.name(&t.task_sid.to_string());
            out.push_str(&format!(
                " {task}:{:?}/{:?}",
                t.reservation_status, t.task_status
            ));
            if let Some(c) = &t.call {
                out.push_str(&format!(" {:?} {:?}", c.direction, c.state));
                if let Some(o) = &c.outcome {
                    out.push_str(&format!(
                        " {}",
                        serde_json::to_value(o).unwrap()["code"].as_str().unwrap()
                    ));
                }
                if c.muted {
                    out.push_str(" muted");
                }
                if c.held {
                    out.push_str(" held");
                }
            }
        }
        for r in &s.incoming_calls {
            out.push_str(&format!(" ringing-from:{}", r.from));
        }
        out
    }

    /// The timeline since the last call, as text.
    pub fn take_timeline(&mut self) -> String {
        let t = std::mem::take(&mut self.timeline);
        t.join("\n")
    }

    /// A task's status as the engine has it (`None` once it finished).
    pub fn task_status(&self, task: Sid<switchboard_sid::Task>) -> Option<&'static str> {
        self.center
            .model()
            .workspace(self.demo.workspace)?
            .engine
            .task(task)
            .map(|t| t.status.as_str())
    }

    /// A task's attributes.
    pub fn task_attributes(&self, task: Sid<switchboard_sid::Task>) -> Value {
        self.center
            .model()
            .workspace(self.demo.workspace)
            .and_then(|w| w.engine.task(task))
            .map(|t| t.attributes.value().clone())
            .unwrap_or(Value::Null)
    }
}

/// Percent-encodes as the dialpad's `encodeURIComponent` does (a space is `%20`, never `+`).
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl Sim {
    /// Moves an agent to an activity by name, as an administrator would.
    pub fn set_activity(&mut self, name: &str, activity: &str) {
        let i = ["Offline", "Available", "Unavailable", "Break"]
            .iter()
            .position(|a| *a == activity)
            .unwrap();
        let worker = self.worker(name);
        let ws = self.demo.workspace;
        self.handle(Input::Changes(vec![Entry::engine(
            ws,
            switchboard_routing::Command::UpdateWorker {
                sid: worker,
                update: switchboard_routing::WorkerUpdate {
                    activity_sid: Some(self.demo.activities[i]),
                    ..Default::default()
                },
            },
        )]))
        .unwrap();
    }

    /// An agent's activity name.
    pub fn activity_of(&self, name: &str) -> String {
        let e = &self
            .center
            .model()
            .workspace(self.demo.workspace)
            .unwrap()
            .engine;
        let w = e.worker(self.worker(name)).unwrap();
        e.activity_name(w.activity_sid).to_string()
    }

    /// Applies routing commands to the demo workspace.
    pub fn commands(
        &mut self,
        commands: Vec<switchboard_routing::Command>,
    ) -> Result<Reply, CenterError> {
        let ws = self.demo.workspace;
        self.handle(Input::Changes(
            commands.into_iter().map(|c| Entry::engine(ws, c)).collect(),
        ))
    }

    /// Both desktops' summaries, one per line.
    pub fn summaries(&mut self, sessions: &[SessionId]) -> String {
        sessions
            .iter()
            .map(|s| self.summary(*s))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Sim {
    /// Puts another center in this world (one rebuilt after a restart), forgets what desktops
    /// were shown (their sessions did not survive), starts it now and takes what it says.
    pub fn restart(&mut self, center: Center) {
        self.center = center;
        self.states.clear();
        self.pushes.clear();
        self.graph = Default::default();
        self.pending_fetches.clear();
        self.center.start(Timestamp(self.now));
        self.drain();
    }
}
