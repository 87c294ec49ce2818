//! [`Center`]: the one state machine that joins routing, voice, the call rules and desktop
//! sessions. See the crate documentation for how to drive it.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use switchboard_routing::{Command, Timestamp, WorkerUpdate};
use switchboard_sid::{Account, Sid, SidKind};
use switchboard_voice::{Output as VoiceOutput, Voice};

use crate::actions;
use crate::calls::Calls;
use crate::cx::Cx;
use crate::dirty::Dirty;
use crate::entry::{Entry, LOG_FORMAT};
use crate::error::CenterError;
use crate::ids::SidGen;
use crate::io::{Input, MediaInput, Output, Reply, SessionId};
use crate::media::{Media, MediaEvent};
use crate::model::Model;
use crate::protocol::{CloseReason, DesktopState, MediaSettings, ServerMessage};
use crate::sessions::{Agent, Due, Sessions, MAX_SESSIONS_PER_AGENT};
use crate::snapshot::Snapshot;
use crate::supervise::Supervision;
use crate::transfer::Transfers;
use crate::view::{self, Sources};
use crate::workers;

/// How long an ended call or conference stays visible through the Voice API.
pub const CALL_RETENTION_MS: i64 = 15 * 60 * 1000;
/// How often ended calls are looked for.
const PRUNE_EVERY_MS: i64 = 60 * 1000;
/// A bound on one input's chain of consequences (reservation → conference → enqueue → task →
/// ...); real chains are a few steps long.
const MAX_SETTLE_ROUNDS: usize = 10_000;

/// What a center is made for.
#[derive(Debug, Clone)]
pub struct CenterConfig {
    /// The account.
    pub account: Sid<Account>,
    /// Seeds every SID the center makes (calls, conferences, tasks, sessions' SIDs): a fixed
    /// seed makes a run exactly repeatable.
    pub seed: u128,
    /// The media relay, as desktops are told about it.
    pub media: MediaSettings,
}

/// Switchboard's state and rules, with no I/O, no clock and no threads.
/// The hearing graph (who hears whom, for the relay) is worked out at most this often, in
/// milliseconds, while the calls keep changing: it walks every live call, so working it out
/// after every change would cost the core thread time that grows with the square of the calls.
/// A change of who hears whom (an answer, a hold, a mute) reaches the relay at most this late.
pub const MEDIA_GRAPH_EVERY_MS: i64 = 20;

#[derive(Debug)]
pub struct Center {
    model: Model,
    voice: Voice,
    calls: Calls,
    transfers: Transfers,
    supervision: Supervision,
    sessions: Sessions,
    media: Media,
    /// The calls changed since the hearing graph was last worked out.
    media_changed: bool,
    /// When the hearing graph was last worked out (see [`MEDIA_GRAPH_EVERY_MS`]).
    media_graph_at: Timestamp,
    /// How often at most it is worked out, in milliseconds.
    media_graph_every: i64,
    ids: SidGen,
    dirty: Dirty,
    effects: Vec<Output>,
    outputs: VecDeque<Output>,
    now: Timestamp,
    next_prune: Timestamp,
    live: bool,
}

impl Center {
    /// An empty center, ready to replay a log ([`Center::replay`]) and then [`Center::start`].
    pub fn new(config: CenterConfig) -> Center {
        let mut ids = SidGen::new(config.seed);
        let voice = Voice::new(config.account.to_string(), ids.next_u128());
        Center {
            model: Model::new(config.account),
            voice,
            calls: Calls::default(),
            transfers: Transfers::default(),
            supervision: Supervision::default(),
            sessions: Sessions::default(),
            media: Media::new(config.media),
            media_changed: false,
            media_graph_at: Timestamp(i64::MIN),
            media_graph_every: MEDIA_GRAPH_EVERY_MS,
            ids,
            dirty: Dirty::default(),
            effects: Vec::new(),
            outputs: VecDeque::new(),
            now: Timestamp(i64::MIN),
            next_prune: Timestamp(i64::MIN),
            live: false,
        }
    }

    /// A center rebuilt from a [`Snapshot`] of the log's first entries instead of replaying
    /// them: replay the entries after it ([`Center::replay`]), then [`Center::start`]. Refused if
    /// the snapshot is for another account, newer than this program, or does not hold together.
    pub fn restore(config: CenterConfig, snapshot: Snapshot) -> Result<Center, CenterError> {
        let now = snapshot.now;
        let model = Model::restore(config.account, snapshot)?;
        let mut center = Center::new(config);
        center.model = model;
        center.now = now;
        Ok(center)
    }

    // -----------------------------------------------------------------------------------------
    // Driving

    /// Applies one entry of the log at the time it was first applied. Only before
    /// [`Center::start`]; nothing comes out.
    pub fn replay(&mut self, at: Timestamp, entry: &Entry) -> Result<(), CenterError> {
        if self.live {
            return Err(CenterError::internal(
                "the log is replayed only before start",
            ));
        }
        self.now = self.now.max(at);
        self.model.apply(at, entry)
    }

    /// Ends replay: marks the log format, ends the tasks of calls that did not survive the
    /// restart, and fires what fell due while the server was down.
    pub fn start(&mut self, now: Timestamp) {
        if self.live {
            return;
        }
        self.live = true;
        self.model.go_live();
        let now = self.advance(now);
        self.next_prune = Timestamp(now.0.saturating_add(PRUNE_EVERY_MS));
        if self.model.format() < LOG_FORMAT {
            // Cannot be refused.
            let _ = self.model.execute(
                now,
                Entry::Format {
                    version: LOG_FORMAT,
                },
            );
        }
        let mut cx = Cx {
            now,
            model: &mut self.model,
            voice: &mut self.voice,
            ids: &mut self.ids,
        };
        self.calls.end_orphans(&mut cx);
        self.fire(now);
        self.finish();
    }

    /// Carries out one input at `now` (a time earlier than one already seen counts as that
    /// one). Whatever it changed is then in [`Center::poll_output`], even when it was refused
    /// part-way (changes applied before the refusal stay applied).
    pub fn handle(&mut self, now: Timestamp, input: Input) -> Result<Reply, CenterError> {
        let now = self.advance(now);
        if !self.live {
            return Err(CenterError::unavailable("the log is still being read"));
        }
        let result = self.dispatch(now, input);
        self.settle(now);
        self.finish();
        result
    }

    /// Lets time pass: fires every deadline up to `now`.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let now = self.advance(now);
        if !self.live {
            return;
        }
        self.fire(now);
        self.finish();
    }

    /// The next time [`Center::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let routing = self.model.next_deadline().map(|(t, _)| t);
        let voice = self.voice.poll_timeout().map(Timestamp);
        let prune = self.voice.calls().next().map(|_| self.next_prune);
        let graph = self.media_changed.then(|| self.media_graph_due());
        [routing, voice, self.sessions.next_deadline(), prune, graph]
            .into_iter()
            .flatten()
            .min()
    }

    /// When the hearing graph may be worked out again.
    fn media_graph_due(&self) -> Timestamp {
        Timestamp(self.media_graph_at.0.saturating_add(self.media_graph_every))
    }

    /// Works the hearing graph out at most every `ms` milliseconds while the calls keep
    /// changing ([`MEDIA_GRAPH_EVERY_MS`] unless set; 0: after every change).
    pub fn set_media_graph_every(&mut self, ms: i64) {
        self.media_graph_every = ms.max(0);
    }

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    // -----------------------------------------------------------------------------------------
    // Reading

    /// The durable state.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Calls and conferences.
    pub fn voice(&self) -> &Voice {
        &self.voice
    }

    /// The links between tasks and calls.
    pub fn calls(&self) -> &Calls {
        &self.calls
    }

    /// Connected desktops.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The agents' audio connections.
    pub fn media(&self) -> &Media {
        &self.media
    }

    /// Continues the transient numbering of `old`, the center this one replaces inside a
    /// running server (rebuilt from the store): desktop sessions, audio peers and the voice
    /// layer's ids and webhook requests are numbered after the old ones, so a late message
    /// for something of the old center (a socket closing, the relay's report, a webhook's
    /// answer) never reaches something of this one.
    pub fn continue_numbering_after(&mut self, old: &Center) {
        self.sessions.continue_numbering_after(&old.sessions);
        self.media.number_after(old.media.last_peer());
        self.voice.continue_numbering_after(&old.voice);
    }

    /// The latest time the center has seen.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// A new SID from the center's generator (for resources the API creates).
    pub fn new_sid<K: SidKind>(&mut self) -> Sid<K> {
        self.ids.sid()
    }

    /// What recording a desktop's `recording` action is about: the conference of the agent's
    /// own task, and the recording running on its conversation, if one is.
    pub fn recording_context(
        &self,
        session: SessionId,
        task: Sid<switchboard_sid::Task>,
    ) -> Result<
        (
            Sid<switchboard_sid::Conference>,
            Option<Sid<switchboard_sid::Recording>>,
        ),
        CenterError,
    > {
        let (ws, worker) = self
            .sessions
            .get(session)
            .map(|s| s.agent)
            .ok_or_else(|| CenterError::not_found("desktop session"))?;
        let e = &self.model.workspace_or_404(ws)?.engine;
        let mine = e.task(task).is_some_and(|t| {
            t.reservations
                .iter()
                .filter_map(|r| e.reservation(*r))
                .any(|r| r.worker_sid == worker && r.status.is_live())
        });
        if !mine {
            return Err(CenterError::not_found(format!("Task {task}")));
        }
        let conference = self
            .calls
            .conference_of_task(&self.voice, task)
            .ok_or_else(|| CenterError::invalid("task_sid", "is not on a live call"))?
            .sid;
        let running = self
            .calls
            .recording_of(&self.voice, conference)
            .map(|r| r.sid);
        Ok((conference, running))
    }

    /// What a session's agent sees now, worked out afresh.
    pub fn desktop_state(&self, session: SessionId) -> Option<DesktopState> {
        let (ws, worker) = self.sessions.get(session)?.agent;
        view::desktop_state(self.sources(), ws, worker)
    }

    /// What the views read.
    fn sources(&self) -> Sources<'_> {
        Sources {
            model: &self.model,
            calls: &self.calls,
            transfers: &self.transfers,
            supervision: &self.supervision,
            voice: &self.voice,
            media: &self.media,
        }
    }

    /// Sessions whose last pushed state differs from what they would be shown now. Always
    /// empty after an input was handled: tests check it after every step.
    pub fn stale_sessions(&self) -> Vec<SessionId> {
        self.sessions
            .ids()
            .filter(|id| {
                let fresh = self.desktop_state(*id);
                let sent = self.sessions.get(*id).and_then(|s| s.last.as_deref());
                fresh.as_ref() != sent
            })
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Internals

    fn advance(&mut self, now: Timestamp) -> Timestamp {
        self.now = self.now.max(now);
        self.now
    }

    fn dispatch(&mut self, now: Timestamp, input: Input) -> Result<Reply, CenterError> {
        let mut cx = Cx {
            now,
            model: &mut self.model,
            voice: &mut self.voice,
            ids: &mut self.ids,
        };
        match input {
            Input::Changes(entries) => {
                for entry in entries {
                    cx.execute(entry)?;
                }
                Ok(Reply::Done)
            }
            Input::ConferenceInstruction {
                workspace,
                reservation,
                options,
            } => {
                // A transfer's reservation: its agent joins the call's own conference.
                let transfer = cx
                    .model
                    .workspace(workspace)
                    .and_then(|w| w.engine.reservation(reservation))
                    .filter(|r| self.transfers.transfer(r.task_sid).is_some())
                    .map(|r| (r.task_sid, r.worker_sid));
                match transfer {
                    Some((task, worker)) => self.transfers.accept_transfer(
                        &mut self.calls,
                        &mut cx,
                        workspace,
                        reservation,
                        task,
                        worker,
                    )?,
                    None => self.calls.conference_instruction(
                        &mut cx,
                        workspace,
                        reservation,
                        options,
                    )?,
                }
                Ok(Reply::Done)
            }
            Input::Voice(request) => crate::voice_api::handle(&mut cx, request),
            Input::Fetched { id, result } => {
                cx.voice.fetched(now.0, id, result);
                Ok(Reply::Done)
            }
            Input::Connect {
                workspace,
                worker,
                expires_at,
            } => {
                let exists = cx
                    .model
                    .workspace(workspace)
                    .is_some_and(|w| w.engine.worker(worker).is_some());
                if !exists {
                    return Err(CenterError::not_found(format!("Worker {worker}")));
                }
                let agent = (workspace, worker);
                let open = self.sessions.count(agent);
                if open >= MAX_SESSIONS_PER_AGENT {
                    return Err(CenterError::invalid(
                        "token",
                        format!("already has {open} desktop sessions open; the limit is {MAX_SESSIONS_PER_AGENT}"),
                    ));
                }
                let id = self.sessions.open(agent, expires_at);
                self.dirty.workers.insert(agent);
                Ok(Reply::Session(id))
            }
            Input::Disconnect { session } => {
                self.sessions.close(session, now, true);
                Ok(Reply::Done)
            }
            Input::RenewToken {
                session,
                worker,
                expires_at,
            } => {
                let s = self
                    .sessions
                    .get(session)
                    .ok_or_else(|| CenterError::not_found("desktop session"))?;
                if s.agent.1 != worker {
                    return Err(CenterError::invalid(
                        "token",
                        format!("is for worker {worker}, not this session's {}", s.agent.1),
                    ));
                }
                self.sessions.renew(session, expires_at);
                Ok(Reply::Done)
            }
            Input::Media(m) => self.media_input(now, m),
            Input::Recordings(live) => {
                self.calls
                    .set_recordings(&self.model, &self.voice, live, &mut self.dirty);
                Ok(Reply::Done)
            }
            Input::Desktop { session, action } => {
                let agent = self
                    .sessions
                    .get(session)
                    .map(|s| s.agent)
                    .ok_or_else(|| CenterError::not_found("desktop session"))?;
                actions::act(
                    &mut self.calls,
                    &mut self.transfers,
                    &mut self.supervision,
                    &mut cx,
                    agent,
                    action,
                )
                .map(Reply::Desktop)
            }
        }
    }

    /// Fires every deadline up to `now`, then lets their consequences settle.
    fn fire(&mut self, now: Timestamp) {
        let due: Vec<_> = self
            .model
            .workspaces()
            .filter(|(_, w)| w.engine.poll_timeout().is_some_and(|t| t <= now))
            .map(|(s, _)| s)
            .collect();
        for ws in due {
            self.model.fire_workspace(ws, now);
        }
        if self.voice.poll_timeout().is_some_and(|t| t <= now.0) {
            self.voice.handle_timeout(now.0);
        }
        for due in self.sessions.take_due(now) {
            match due {
                Due::Warn(session, expires_at) => self.effects.push(Output::Send {
                    session,
                    message: ServerMessage::TokenExpiring {
                        expires_at: expires_at.0,
                    },
                }),
                Due::Expire(session) => {
                    self.sessions.close(session, now, true);
                    self.effects.push(Output::Close {
                        session,
                        reason: CloseReason::TokenExpired,
                    });
                }
                Due::Grace(agent) => {
                    self.make_offline(now, agent);
                    self.drop_media(agent);
                }
            }
        }
        if now >= self.next_prune {
            self.next_prune = Timestamp(now.0.saturating_add(PRUNE_EVERY_MS));
            self.voice.prune(now.0 - CALL_RETENTION_MS);
        }
        self.settle(now);
    }

    fn media_input(&mut self, now: Timestamp, input: MediaInput) -> Result<Reply, CenterError> {
        let agent_of = |sessions: &Sessions, session| {
            sessions
                .get(session)
                .map(|s| s.agent)
                .ok_or_else(|| CenterError::not_found("desktop session"))
        };
        self.media_changed = true;
        match input {
            MediaInput::Offer { session, restart } => {
                let agent = agent_of(&self.sessions, session)?;
                if !self.media.settings().enabled {
                    return Err(CenterError::invalid(
                        "media_offer",
                        "cannot be taken: this server relays no audio",
                    ));
                }
                let identity = workers::identity(&self.model, agent.0, agent.1).ok_or_else(|| {
                    CenterError::invalid(
                        "media_offer",
                        "cannot be taken: the agent has no client: contact_uri, so no call reaches it",
                    )
                })?;
                let attachment = self.media.attach(agent, identity, restart);
                if let Some(old) = attachment.replaced {
                    self.effects.push(Output::MediaRemove(old));
                }
                self.dirty.workers.insert(agent);
                let _ = now;
                Ok(Reply::Media(attachment))
            }
            MediaInput::Refused { peer, why } => {
                if let Some(agent) = self.media.event(peer, MediaEvent::Gone(why)) {
                    self.dirty.workers.insert(agent);
                }
                Ok(Reply::Done)
            }
            MediaInput::Event { peer, event } => {
                if let Some(agent) = self.media.event(peer, event) {
                    self.dirty.workers.insert(agent);
                }
                Ok(Reply::Done)
            }
            MediaInput::Close { session } => {
                let agent = agent_of(&self.sessions, session)?;
                self.drop_media(agent);
                Ok(Reply::Done)
            }
        }
    }

    /// Forgets an agent's audio connection and frees it in the relay.
    fn drop_media(&mut self, agent: Agent) {
        if let Some(peer) = self.media.detach(agent) {
            self.effects.push(Output::MediaRemove(peer));
            self.media_changed = true;
            self.dirty.workers.insert(agent);
        }
    }

    /// An agent whose browsers did not come back is moved to the offline activity.
    fn make_offline(&mut self, now: Timestamp, (ws, worker): Agent) {
        let Some(offline) = self.model.offline_activity(ws) else {
            return;
        };
        let current = self
            .model
            .workspace(ws)
            .and_then(|w| w.engine.worker(worker))
            .map(|w| w.activity_sid);
        if current.is_none() || current == Some(offline) {
            return;
        }
        // Refused only if the worker changed meanwhile; then there is nothing to do.
        let _ = self.model.execute(
            now,
            Entry::engine(
                ws,
                Command::UpdateWorker {
                    sid: worker,
                    update: WorkerUpdate {
                        activity_sid: Some(offline),
                        ..Default::default()
                    },
                },
            ),
        );
    }

    /// Lets routing events and voice outputs act on each other until nothing is left.
    fn settle(&mut self, now: Timestamp) {
        for _ in 0..MAX_SETTLE_ROUNDS {
            let outputs: Vec<VoiceOutput> = self.voice.take_outputs();
            let reactions = std::mem::take(&mut self.model.staged().reactions);
            if outputs.is_empty() && reactions.is_empty() {
                return;
            }
            self.media_changed |= !outputs.is_empty();
            for o in &outputs {
                self.calls
                    .mark(&self.model, &self.voice, o, &mut self.dirty);
                self.supervision.mark(o, &mut self.dirty);
            }
            let mut cx = Cx {
                now,
                model: &mut self.model,
                voice: &mut self.voice,
                ids: &mut self.ids,
            };
            for o in outputs {
                match o {
                    VoiceOutput::Fetch {
                        id,
                        url,
                        method,
                        params,
                        ..
                    } => self.effects.push(Output::Fetch {
                        id,
                        url,
                        method,
                        params,
                    }),
                    other => {
                        self.calls.on_voice_output(&mut cx, &other);
                        self.transfers.on_voice_output(&mut cx, &other);
                        self.supervision.on_voice_output(&other);
                    }
                }
            }
            for (ws, e) in reactions {
                self.calls.on_routing_event(&mut cx, ws, &e);
                self.transfers.on_routing_event(&mut cx, ws, &e);
            }
        }
    }

    /// Hands out what the input caused: the commit first, then everything else in order, then
    /// the new states of the desktops it changed.
    fn finish(&mut self) {
        let staged = std::mem::take(self.model.staged());
        let mut dirty = std::mem::take(&mut self.dirty);
        merge(&mut dirty, staged.dirty);
        dirty.workers.extend(self.transfers.take_touched());
        dirty.workers.extend(self.supervision.take_touched());
        if !staged.commit.is_empty() {
            self.outputs.push_back(Output::Persist(staged.commit));
        }
        if staged.keys_changed {
            self.outputs.push_back(Output::ApiKeysChanged);
        }
        for (ws, worker) in staged.gone {
            let agents: Vec<Agent> = match worker {
                Some(w) => vec![(ws, w)],
                None => self.sessions.agents_in(ws).collect(),
            };
            let reason = if worker.is_some() {
                CloseReason::WorkerDeleted
            } else {
                CloseReason::WorkspaceDeleted
            };
            for agent in agents {
                let ids: Vec<SessionId> = self.sessions.of(agent).collect();
                for session in ids {
                    self.sessions.close(session, self.now, false);
                    self.effects.push(Output::Close { session, reason });
                }
                self.drop_media(agent);
            }
        }
        // The hearing graph is a walk over every live call: worked out at once after a quiet
        // spell, but at most every MEDIA_GRAPH_EVERY_MS while calls keep changing (the changes in
        // between wait for the deadline, so the last one is never lost).
        if self.media_changed && self.now >= self.media_graph_due() {
            self.media_changed = false;
            self.media_graph_at = self.now;
            if let Some(graph) = self.media.graph_if_changed(&self.voice) {
                self.effects.push(Output::MediaGraph(graph));
            }
        }
        self.outputs.extend(self.effects.drain(..));
        for (url, event) in staged.webhooks {
            self.outputs.push_back(Output::Webhook {
                url,
                event: Box::new(event),
            });
        }
        self.push(dirty);
    }

    /// Renders the desktops `dirty` names, and pushes those whose state changed.
    fn push(&mut self, dirty: Dirty) {
        if dirty.is_empty() {
            return;
        }
        let agents: BTreeSet<Agent> = if dirty.all {
            self.sessions.agents().collect()
        } else {
            let mut set: BTreeSet<Agent> = dirty
                .workers
                .iter()
                .copied()
                .filter(|a| self.sessions.count(*a) > 0)
                .collect();
            for ws in &dirty.workspaces {
                set.extend(self.sessions.agents_in(*ws));
            }
            for identity in &dirty.identities {
                set.extend(self.sessions.by_identity(identity));
            }
            if dirty.supervisors {
                // Kept on render, so a call's change does not look at every connected agent.
                set.extend(self.sessions.supervisors());
            }
            set
        };
        for agent in agents {
            let (ws, worker) = agent;
            let Some(state) = view::desktop_state(self.sources(), ws, worker) else {
                continue; // gone: its sessions were closed in `finish`
            };
            self.sessions
                .set_identity(agent, workers::identity(&self.model, ws, worker));
            self.sessions
                .set_supervisor(agent, state.supervisor.is_some());
            let state = Arc::new(state);
            let ids: Vec<SessionId> = self.sessions.of(agent).collect();
            for session in ids {
                let Some(s) = self.sessions.get_mut(session) else {
                    continue;
                };
                if s.last.as_deref() != Some(&*state) {
                    s.last = Some(state.clone());
                    self.outputs.push_back(Output::Push {
                        session,
                        state: state.clone(),
                    });
                }
            }
        }
    }
}

fn merge(into: &mut Dirty, from: Dirty) {
    into.all |= from.all;
    into.workspaces.extend(from.workspaces);
    into.workers.extend(from.workers);
    into.identities.extend(from.identities);
    into.supervisors |= from.supervisors;
}
