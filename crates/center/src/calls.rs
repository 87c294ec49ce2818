//! Where calls meet routing: TaskRouter's conference instruction, Flex's StartOutboundCall, and
//! the internal-call rules (who is told what when a call does not connect).
//!
//! [`Calls`] holds the live links between tasks and calls. They are not durable: calls do not
//! survive a restart, and the tasks of calls are ended at start ([`Calls::end_orphans`]). Which
//! tasks are call tasks is durable, though: the call path marks the tasks it creates
//! ([`TaskOrigin`]), and only marked tasks get the call rules. An ordinary TaskRouter task with a
//! `worker_sid` or `call_sid` attribute is routed, rejected and re-queued exactly as TaskRouter
//! does.
//!
//! Everything a rule changes goes through [`Cx`]: routing changes become log entries, voice
//! changes happen in the voice engine (not durable).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use switchboard_routing::{
    ChannelRef, Command, Event, EventType, NewTask, ReservationAction, ReservationStatus,
    RoutingTarget, TaskStatus, TaskStatusChange, TaskUpdate,
};
use switchboard_sid::{
    Call, Conference, Reservation, Sid, Task, TaskQueue, Worker, Workflow,
    Workspace as WorkspaceKind,
};
use switchboard_twiml::Method;
use switchboard_voice::{
    Address, CallStatus, Callee, ConferenceRecord, ConferenceStatus, DialRequest, End, JoinSpec,
    Output as VoiceOutput, ParticipantUpdate, Side, Voice,
};

use crate::cx::Cx;
use crate::dirty::Dirty;
use crate::entry::{Entry, TaskOrigin};
use crate::error::{CenterError, ErrorKind};
use crate::io::ConferenceOptions;
use crate::model::Model;
use crate::protocol::{CallDirection, CallOutcome, CallState, CallView, RESERVED_TASK_ATTRIBUTES};

/// Whom an internal call is for, from the destination the caller dialed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InternalTarget {
    /// `worker_sid=WK…`: one agent.
    Agent(Sid<Worker>),
    /// `callToQueue=NAME`: a queue.
    Queue(String),
}

/// An agent's own outbound call (its task T1).
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The workspace.
    pub workspace: Sid<WorkspaceKind>,
    /// The calling agent.
    pub worker: Sid<Worker>,
    /// What was dialed.
    pub destination: String,
    /// For an internal call: whom.
    pub internal: Option<InternalTarget>,
    /// The far leg, once dialed.
    pub far_leg: Option<Sid<Call>>,
    /// The far leg reached a second conference: someone answered.
    pub far_connected: bool,
    /// How it ended, once known.
    pub outcome: Option<CallOutcome>,
}

/// A task created by `<Enqueue>` for a waiting call (T2 of an internal call).
#[derive(Debug, Clone)]
pub struct Enqueued {
    /// The workspace.
    pub workspace: Sid<WorkspaceKind>,
    /// The waiting call.
    pub call: Sid<Call>,
    /// For the far leg of an internal call: whom it is for.
    pub internal: Option<InternalTarget>,
}

/// The live links between tasks and calls.
#[derive(Debug, Default)]
pub struct Calls {
    outbound: BTreeMap<Sid<Task>, Outbound>,
    far_legs: BTreeMap<Sid<Call>, Sid<Task>>,
    enqueued: BTreeMap<Sid<Task>, Enqueued>,
    enqueued_calls: BTreeMap<Sid<Call>, Sid<Task>>,
    agent_legs: BTreeMap<Sid<Task>, Sid<Call>>,
    leg_tasks: BTreeMap<Sid<Call>, (Sid<WorkspaceKind>, Sid<Task>)>,
    awaiting_answer: BTreeMap<Sid<Call>, (Sid<WorkspaceKind>, Sid<Reservation>)>,
    rings: BTreeMap<String, BTreeSet<Sid<Call>>>,
    /// Tasks whose agent joined a conference named after another task (a transfer's).
    joined: BTreeMap<Sid<Task>, Sid<Conference>>,
    /// Agent legs whose end-on-exit was lowered while another agent shared the conference.
    lowered: BTreeSet<Sid<Call>>,
    /// Recordings running now (the server's recorder says which).
    pub(crate) recordings: Vec<crate::recording::LiveRecording>,
}

/// StartOutboundCall's parameters.
#[derive(Debug, Clone, Default)]
pub struct OutboundRequest {
    /// `app:AP…?…`, `client:NAME`, ...
    pub destination: String,
    /// The queue of the agent's own task.
    pub queue_sid: Option<Sid<TaskQueue>>,
    /// Caller ID.
    pub caller_id: Option<String>,
    /// Extra attributes for the agent's own task.
    pub task_attributes: Map<String, Value>,
}

fn text<'a>(attrs: &'a Value, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(Value::as_str)
}

fn outcome_reason(o: &CallOutcome) -> &'static str {
    match o {
        CallOutcome::Completed => "completed",
        CallOutcome::Canceled => "canceled",
        CallOutcome::Declined => "declined",
        CallOutcome::NoAnswer => "no-answer",
        CallOutcome::Busy => "busy",
        CallOutcome::Unavailable => "unavailable",
        CallOutcome::Failed { .. } => "failed",
    }
}

impl Calls {
    /// An agent's outbound call, by its task.
    pub fn outbound(&self, task: Sid<Task>) -> Option<&Outbound> {
        self.outbound.get(&task)
    }

    /// The task waiting for a call, by the task.
    pub fn enqueued(&self, task: Sid<Task>) -> Option<&Enqueued> {
        self.enqueued.get(&task)
    }

    /// The agent's own leg for a task.
    pub fn agent_leg(&self, task: Sid<Task>) -> Option<Sid<Call>> {
        self.agent_legs.get(&task).copied()
    }

    /// The live conference a task's agent is on: the one it joined, else the one named after it.
    pub fn conference_of_task<'v>(
        &self,
        voice: &'v Voice,
        task: Sid<Task>,
    ) -> Option<&'v ConferenceRecord> {
        match self.joined.get(&task) {
            Some(c) => voice
                .conference(*c)
                .filter(|c| c.status != ConferenceStatus::Completed),
            None => voice.conference_named(&task.to_string()),
        }
    }

    /// The task an agent leg belongs to.
    pub fn task_of_leg(&self, call: Sid<Call>) -> Option<(Sid<WorkspaceKind>, Sid<Task>)> {
        self.leg_tasks.get(&call).copied()
    }

    /// The far leg of an outbound task's call, with the task.
    pub fn outbound_of_far_leg(&self, call: Sid<Call>) -> Option<(Sid<Task>, &Outbound)> {
        let task = *self.far_legs.get(&call)?;
        Some((task, self.outbound.get(&task)?))
    }

    /// The callee's conference of internal call `task` (the calling agent's task), once the far
    /// leg reached it: where supervisors join the conversation, so the calling agent's desktop
    /// shows them too.
    pub fn callee_conference<'v>(
        &self,
        voice: &'v Voice,
        task: Sid<Task>,
    ) -> Option<&'v ConferenceRecord> {
        let o = self.outbound.get(&task)?;
        let far = o
            .far_leg
            .filter(|_| o.internal.is_some() && o.far_connected)?;
        let own = task.to_string();
        [Side::Caller, Side::Callee].into_iter().find_map(|side| {
            let End::Conference(p) = voice.live_end(far, side)? else {
                return None;
            };
            voice
                .conference(p.conference)
                .filter(|c| c.friendly_name != own && c.status != ConferenceStatus::Completed)
        })
    }

    /// Whether `leg`, in `conference`, carries the calling agent of an internal call: the far
    /// leg as it is in the callee's conference (in the caller's own it stands for the callee).
    pub fn carries_calling_agent(&self, conference: &ConferenceRecord, leg: Sid<Call>) -> bool {
        self.outbound_of_far_leg(leg).is_some_and(|(task, o)| {
            o.internal.is_some() && conference.friendly_name != task.to_string()
        })
    }

    /// Whether a supervisor can coach `leg` of `conference`: an agent's own leg (of a task), or
    /// the leg carrying an internal call's calling agent ([`Calls::carries_calling_agent`]: what
    /// it hears reaches that agent only).
    pub fn coachable(&self, conference: &ConferenceRecord, leg: Sid<Call>) -> bool {
        self.leg_tasks.contains_key(&leg) || self.carries_calling_agent(conference, leg)
    }

    /// The legs of `conference` a supervisor can coach ([`Calls::coachable`]), the agents' own
    /// first (the first of them is coached by default).
    pub fn coachable_legs_in(&self, conference: &ConferenceRecord) -> Vec<Sid<Call>> {
        let mut legs = self.agent_legs_in(&conference.participants);
        legs.extend(
            conference
                .participants
                .iter()
                .copied()
                .filter(|&leg| self.carries_calling_agent(conference, leg)),
        );
        legs
    }

    /// The agents' legs (of tasks) among `calls`.
    pub fn agent_legs_in(&self, calls: &[Sid<Call>]) -> Vec<Sid<Call>> {
        calls
            .iter()
            .copied()
            .filter(|c| self.leg_tasks.contains_key(c))
            .collect()
    }

    /// The recording of the conversation `conference` is part of, while one runs.
    pub fn recording_of(
        &self,
        voice: &Voice,
        conference: Sid<Conference>,
    ) -> Option<crate::protocol::RecordingView> {
        self.recordings
            .iter()
            .find(|r| r.target.touches(voice, conference))
            .map(|r| crate::protocol::RecordingView {
                sid: r.sid,
                paused: r.paused,
            })
    }

    /// The recordings running now; the desktops whose calls they touch (before or after) are
    /// marked for rendering.
    pub fn set_recordings(
        &mut self,
        model: &Model,
        voice: &Voice,
        recordings: Vec<crate::recording::LiveRecording>,
        dirty: &mut Dirty,
    ) {
        if recordings == self.recordings {
            return;
        }
        let changed: Vec<crate::recording::RecordingTarget> = self
            .recordings
            .iter()
            .chain(recordings.iter())
            .map(|r| r.target)
            .collect();
        self.recordings = recordings;
        for c in voice.live_conferences() {
            if changed.iter().any(|t| t.touches(voice, c.sid)) {
                self.mark(
                    model,
                    voice,
                    &VoiceOutput::ConferenceEvent {
                        conference: c.sid,
                        event: "recording",
                        call: None,
                    },
                    dirty,
                );
            }
        }
    }

    /// Links a task's agent leg that joined another task's conference (a transfer's target).
    pub fn link_joined_leg(
        &mut self,
        ws: Sid<WorkspaceKind>,
        task: Sid<Task>,
        leg: Sid<Call>,
        conference: Sid<Conference>,
    ) {
        self.agent_legs.insert(task, leg);
        self.leg_tasks.insert(leg, (ws, task));
        self.joined.insert(task, conference);
    }

    /// The worker handling a call task: the agent of an outbound task, else the worker of its
    /// live reservation.
    pub fn task_worker(
        &self,
        model: &Model,
        ws: Sid<WorkspaceKind>,
        task: Sid<Task>,
    ) -> Option<Sid<Worker>> {
        if let Some(o) = self.outbound(task) {
            return Some(o.worker);
        }
        let e = &model.workspace(ws)?.engine;
        e.task(task)?
            .reservations
            .iter()
            .filter_map(|r| e.reservation(*r))
            .find(|r| r.status.is_live())
            .map(|r| r.worker_sid)
    }

    /// The live calls of workspace `ws` a supervisor can join, as (conference, task), oldest
    /// first: conferences with the accepted agent of a task on them. The caller's own
    /// conference of an internal call is left out: the callee's holds the whole conversation.
    pub fn live_conferences(
        &self,
        model: &Model,
        voice: &Voice,
        ws: Sid<WorkspaceKind>,
    ) -> Vec<(Sid<Conference>, Sid<Task>)> {
        let Some(state) = model.workspace(ws) else {
            return Vec::new();
        };
        // Only the conferences not completed are visited, not every one kept for the Voice API.
        let mut out: Vec<(i64, Sid<Conference>, Sid<Task>)> = voice
            .live_conferences()
            .filter(|c| c.status == ConferenceStatus::InProgress)
            .filter_map(|c| {
                let legs = self.agent_legs_in(&c.participants);
                let (lws, first) = legs.iter().find_map(|l| self.task_of_leg(*l))?;
                if lws != ws {
                    return None;
                }
                // The conference's own task, else the first agent's.
                let task = c
                    .friendly_name
                    .parse()
                    .ok()
                    .filter(|t| state.engine.task(*t).is_some())
                    .unwrap_or(first);
                let bridged = state.origin(task) == Some(TaskOrigin::Outbound)
                    && self
                        .outbound(task)
                        .is_some_and(|o| o.internal.is_some() && o.far_connected);
                let accepted = state.engine.task(task).is_some_and(|t| {
                    t.reservations.iter().any(|r| {
                        state
                            .engine
                            .reservation(*r)
                            .is_some_and(|r| r.status == ReservationStatus::Accepted)
                    })
                });
                (!bridged && accepted).then_some((c.date_created, c.sid, task))
            })
            .collect();
        out.sort();
        out.into_iter().map(|(_, c, t)| (c, t)).collect()
    }

    /// Hangs up `leg` in `conference` without ending the call for the others: while another
    /// agent stays, the leaving one does not end the conference.
    pub fn leave(
        &mut self,
        cx: &mut Cx<'_>,
        conference: Sid<Conference>,
        leg: Sid<Call>,
        why: &str,
    ) {
        let others = cx.voice.conference(conference).is_some_and(|c| {
            self.agent_legs_in(&c.participants)
                .iter()
                .any(|l| *l != leg)
        });
        let ends = cx
            .voice
            .participation(conference, leg)
            .is_some_and(|p| p.end_on_exit);
        let now = cx.ms();
        if others && ends {
            let _ = cx.voice.update_participant(
                now,
                conference,
                leg,
                ParticipantUpdate {
                    end_on_exit: Some(false),
                    ..ParticipantUpdate::default()
                },
            );
        }
        let _ = cx.voice.hangup(now, leg, why);
    }

    /// While two or more agents share `conference`, none ends it by leaving; when one is left,
    /// it ends the call again by leaving, as before.
    pub fn settle_end_on_exit(&mut self, cx: &mut Cx<'_>, conference: Sid<Conference>) {
        let Some(c) = cx.voice.conference(conference) else {
            return;
        };
        if c.status == ConferenceStatus::Completed {
            return;
        }
        let agents = self.agent_legs_in(&c.participants);
        if agents.len() >= 2 {
            self.lower_end_on_exit(cx, conference);
        } else if let Some(leg) = agents.first().copied().filter(|l| self.lowered.contains(l)) {
            self.lowered.remove(&leg);
            let now = cx.ms();
            let _ = cx.voice.update_participant(
                now,
                conference,
                leg,
                ParticipantUpdate {
                    end_on_exit: Some(true),
                    ..ParticipantUpdate::default()
                },
            );
        }
    }

    /// Every agent in `conference` stops ending it by leaving.
    pub(crate) fn lower_end_on_exit(&mut self, cx: &mut Cx<'_>, conference: Sid<Conference>) {
        let Some(c) = cx.voice.conference(conference) else {
            return;
        };
        let now = cx.ms();
        for leg in self.agent_legs_in(&c.participants.clone()) {
            let ends = cx
                .voice
                .participation(conference, leg)
                .is_some_and(|p| p.end_on_exit);
            if ends {
                self.lowered.insert(leg);
                let _ = cx.voice.update_participant(
                    now,
                    conference,
                    leg,
                    ParticipantUpdate {
                        end_on_exit: Some(false),
                        ..ParticipantUpdate::default()
                    },
                );
            }
        }
    }

    /// Calls ringing an agent's browser directly.
    pub fn rings(&self, identity: &str) -> impl Iterator<Item = Sid<Call>> + '_ {
        self.rings.get(identity).into_iter().flatten().copied()
    }

    // -----------------------------------------------------------------------------------------
    // StartOutboundCall

    /// Flex's `StartOutboundCall` for a worker: creates the worker's outbound task through
    /// `outbound_call_flows.default`, routed straight to the worker; its reservation is accepted
    /// at once with the conference instruction, which dials `destination`.
    pub fn start_outbound_call(
        &mut self,
        cx: &mut Cx<'_>,
        ws: Sid<WorkspaceKind>,
        worker: Sid<Worker>,
        req: OutboundRequest,
    ) -> Result<Sid<Task>, CenterError> {
        let destination = req.destination.trim().to_owned();
        if destination.is_empty() {
            return Err(CenterError::missing("destination"));
        }
        if let Some(key) = RESERVED_TASK_ATTRIBUTES
            .iter()
            .find(|k| req.task_attributes.contains_key(**k))
        {
            return Err(CenterError::invalid(
                "task_attributes",
                format!(
                    "cannot set {key:?}: the server sets it (reserved: {})",
                    RESERVED_TASK_ATTRIBUTES.join(", ")
                ),
            ));
        }
        let state = cx.model.workspace_or_404(ws)?;
        let w = state
            .engine
            .worker(worker)
            .ok_or_else(|| CenterError::not_found(format!("Worker {worker}")))?;
        let settings = cx.model.flex().settings();
        if settings.offline_activity == Some(w.activity_sid) || !state.engine.worker_available(w) {
            return Err(CenterError::invalid(
                "activity",
                "does not allow calls: set yourself to an available activity first",
            ));
        }
        let busy = self.outbound.iter().any(|(t, o)| {
            o.workspace == ws
                && o.worker == worker
                && state
                    .engine
                    .task(*t)
                    .is_some_and(|t| matches!(t.status, TaskStatus::Pending | TaskStatus::Reserved))
        });
        if busy {
            return Err(CenterError::invalid(
                "destination",
                "cannot be called now: another outbound call is already being placed",
            ));
        }
        let flow = settings.outbound.clone().ok_or_else(|| {
            CenterError::invalid(
                "outbound_call_flows",
                "is not configured: set outbound_call_flows.default in the Flex Configuration",
            )
        })?;
        if !flow.enabled {
            return Err(CenterError::invalid(
                "outbound_call_flows",
                "default is disabled",
            ));
        }
        let workflow: Sid<Workflow> = flow.workflow_sid.ok_or_else(|| {
            CenterError::invalid("outbound_call_flows", "default.workflow_sid is missing")
        })?;
        let queue = req.queue_sid.or(flow.queue_sid).ok_or_else(|| {
            CenterError::invalid(
                "queueSid",
                "is missing and outbound_call_flows.default.queue_sid is not set",
            )
        })?;
        let from = req.caller_id.clone().or(flow.caller_id).ok_or_else(|| {
            CenterError::invalid(
                "callerId",
                "is missing and outbound_call_flows.default.caller_id is not set",
            )
        })?;
        // A destination that cannot be dialed is refused now, not after a task was made.
        let address =
            Address::parse(&destination).map_err(|e| CenterError::invalid("destination", e))?;
        let mut internal = None;
        if let Address::App { sid, params } = &address {
            if !cx.model.applications().contains_key(sid) {
                return Err(CenterError::invalid(
                    "destination",
                    format!("names application {sid}, which does not exist"),
                ));
            }
            let param = |name: &str| {
                params
                    .iter()
                    .rev()
                    .find(|(k, v)| k == name && !v.is_empty())
                    .map(|(_, v)| v.clone())
            };
            internal = match (param("worker_sid"), param("callToQueue")) {
                (Some(w), None) => Some(InternalTarget::Agent(w.parse().map_err(|_| {
                    CenterError::invalid(
                        "destination",
                        format!("has worker_sid={w:?}, which is not a worker SID"),
                    )
                })?)),
                (_, Some(q)) => Some(InternalTarget::Queue(q)),
                (None, None) => None,
            };
        }
        let mut attributes = req.task_attributes;
        attributes.insert("direction".into(), json!("outbound"));
        attributes.insert("outbound_to".into(), json!(destination));
        attributes.insert("to".into(), json!(destination));
        attributes.insert("from".into(), json!(from));
        let task: Sid<Task> = cx.ids.sid();
        cx.execute(Entry::Engine {
            workspace: ws,
            command: Command::CreateTask(NewTask {
                sid: task,
                attributes: Some(Value::Object(attributes).to_string()),
                workflow_sid: Some(workflow),
                priority: None,
                timeout: None,
                task_channel: Some(ChannelRef::UniqueName("voice".into())),
                virtual_start_time: None,
                routing_target: Some(RoutingTarget::Worker(worker)),
                ignore_capacity: None,
                task_queue_sid: Some(queue),
            }),
            origin: Some(TaskOrigin::Outbound),
        })?;
        self.outbound.insert(
            task,
            Outbound {
                workspace: ws,
                worker,
                destination,
                internal,
                far_leg: None,
                far_connected: false,
                outcome: None,
            },
        );
        Ok(task)
    }

    // -----------------------------------------------------------------------------------------
    // The conference instruction

    /// TaskRouter's conference instruction on a pending reservation of a call task: dial the
    /// worker into a conference named after the task, then bring the other party in (the
    /// waiting call, or the outbound task's destination). The reservation is accepted when the
    /// worker is connected.
    pub fn conference_instruction(
        &mut self,
        cx: &mut Cx<'_>,
        ws: Sid<WorkspaceKind>,
        reservation: Sid<Reservation>,
        opts: ConferenceOptions,
    ) -> Result<(), CenterError> {
        let state = cx.model.workspace_or_404(ws)?;
        let r = state
            .engine
            .reservation(reservation)
            .ok_or_else(|| CenterError::not_found(format!("Reservation {reservation}")))?;
        if r.status != ReservationStatus::Pending {
            return Err(CenterError::coded(
                ErrorKind::Invalid,
                40136,
                format!(
                    "Instruction conference needs a pending reservation; this one is {}",
                    r.status.as_str()
                ),
            ));
        }
        let task = state
            .engine
            .task(r.task_sid)
            .ok_or_else(|| CenterError::not_found(format!("Task {}", r.task_sid)))?;
        let worker = state
            .engine
            .worker(r.worker_sid)
            .ok_or_else(|| CenterError::not_found(format!("Worker {}", r.worker_sid)))?;
        let outbound = self.outbound.contains_key(&task.sid);
        if !outbound && !self.enqueued.contains_key(&task.sid) {
            return Err(CenterError::coded(
                ErrorKind::Invalid,
                40140,
                "Instruction conference needs the task of a call: this task was not created for a call",
            ));
        }
        let attrs = task.attributes.value();
        let contact = opts
            .to
            .clone()
            .or_else(|| text(worker.attributes.value(), "contact_uri").map(str::to_owned))
            .ok_or_else(|| {
                CenterError::coded(
                    ErrorKind::Invalid,
                    40137,
                    "To is missing and the worker has no contact_uri",
                )
            })?;
        let identity = match Address::parse(&contact) {
            Ok(Address::Client(id)) => id,
            _ => {
                return Err(CenterError::invalid(
                    "To",
                    format!("{contact:?} cannot be reached: only client: identities are, without a telephone trunk"),
                ))
            }
        };
        // The AcceptTask fix of the internal-call feature: a task whose `to` is an application
        // SID cannot lend it as caller ID; use the configured caller ID, else the worker's URI.
        let task_to = text(attrs, "to").unwrap_or_default();
        let from = opts.from.clone().unwrap_or_else(|| {
            if task_to.starts_with("AP") && task_to.len() == 34 {
                cx.model
                    .flex()
                    .settings()
                    .outbound
                    .as_ref()
                    .and_then(|f| f.caller_id.clone())
                    .unwrap_or_else(|| contact.clone())
            } else if let Some(f) = text(attrs, "from").filter(|_| outbound) {
                f.to_owned()
            } else {
                task_to.to_owned()
            }
        });
        let task_sid = task.sid;
        let agent_call = cx.voice.dial(
            cx.ms(),
            DialRequest {
                from,
                to: contact,
                callee: Callee::Agent {
                    identity,
                    auto_answer: opts.auto_answer,
                },
                join: JoinSpec {
                    conference: task_sid.to_string(),
                    start_on_enter: true,
                    end_on_exit: true,
                    label: Some("worker".into()),
                    ..JoinSpec::default()
                },
                ring_timeout: opts.timeout.unwrap_or(60),
            },
        )?;
        self.agent_legs.insert(task_sid, agent_call);
        self.leg_tasks.insert(agent_call, (ws, task_sid));
        if opts.auto_answer {
            self.complete_conference(cx, ws, reservation, agent_call)
        } else {
            self.awaiting_answer.insert(agent_call, (ws, reservation));
            Ok(())
        }
    }

    /// The worker is on the conference: bring the other party in and accept the reservation.
    fn complete_conference(
        &mut self,
        cx: &mut Cx<'_>,
        ws: Sid<WorkspaceKind>,
        reservation: Sid<Reservation>,
        agent_call: Sid<Call>,
    ) -> Result<(), CenterError> {
        let task = cx
            .model
            .workspace_or_404(ws)?
            .engine
            .reservation(reservation)
            .map(|r| r.task_sid)
            .ok_or_else(|| CenterError::not_found(format!("Reservation {reservation}")))?;
        let customer = JoinSpec {
            conference: task.to_string(),
            start_on_enter: true,
            end_on_exit: true,
            label: Some("customer".into()),
            ..JoinSpec::default()
        };
        if let Some(e) = self.enqueued.get(&task) {
            let call = e.call;
            if let Err(e) = cx.voice.move_to_conference(cx.ms(), call, customer) {
                // The caller hung up meanwhile (TaskRouter's 40144): undo the worker's leg.
                let _ = cx.voice.hangup(cx.ms(), agent_call, "the caller is gone");
                return Err(CenterError::coded(
                    ErrorKind::Invalid,
                    40144,
                    format!("Instruction conference failed: {e}"),
                ));
            }
        } else if let Some(o) = self.outbound.get(&task) {
            let to = o.destination.clone();
            let from = cx
                .model
                .workspace(ws)
                .and_then(|w| w.engine.task(task))
                .and_then(|t| text(t.attributes.value(), "from").map(str::to_owned))
                .unwrap_or_default();
            let callee = callee_for(cx.model, &to)?;
            let far = cx.voice.dial(
                cx.ms(),
                DialRequest {
                    from,
                    to,
                    callee,
                    join: customer,
                    ring_timeout: 60,
                },
            )?;
            self.far_legs.insert(far, task);
            if let Some(o) = self.outbound.get_mut(&task) {
                o.far_leg = Some(far);
            }
        }
        cx.execute(Entry::engine(
            ws,
            Command::UpdateReservation {
                sid: reservation,
                action: ReservationAction::Accept,
            },
        ))
    }

    // -----------------------------------------------------------------------------------------
    // Reactions

    /// What the call rules do about a routing event.
    pub fn on_routing_event(&mut self, cx: &mut Cx<'_>, ws: Sid<WorkspaceKind>, e: &Event) {
        let Some(t) = &e.task else { return };
        let task = t.sid;
        match e.event_type {
            EventType::ReservationCreated => {
                let (Some(r), Some(w)) = (e.reservation_sid, &e.worker) else {
                    return;
                };
                // Flex accepts the reservation of the caller's own outbound task at once.
                let own = self
                    .outbound
                    .get(&task)
                    .is_some_and(|o| o.worker == w.sid && o.far_leg.is_none());
                if own {
                    let opts = ConferenceOptions {
                        auto_answer: true,
                        ..Default::default()
                    };
                    if let Err(err) = self.conference_instruction(cx, ws, r, opts) {
                        if let Some(o) = self.outbound.get_mut(&task) {
                            o.outcome.get_or_insert(CallOutcome::Failed {
                                error_code: Some(err.code).filter(|c| *c != 20001),
                                message: err.message,
                            });
                        }
                        end_task(cx, ws, task, "the call could not be placed");
                    }
                }
            }
            // An internal call to one agent ends when that agent declines, does not answer or
            // becomes unavailable; a call to a queue goes on to the next agent, as does every
            // task the internal-call path did not create. A reservation canceled because its
            // task was canceled finds the task gone and does nothing.
            EventType::ReservationRejected
            | EventType::ReservationTimeout
            | EventType::ReservationCanceled => {
                let to_agent = self
                    .enqueued
                    .get(&task)
                    .is_some_and(|q| matches!(q.internal, Some(InternalTarget::Agent(_))));
                let live = cx
                    .model
                    .workspace(ws)
                    .is_some_and(|w| w.engine.task(task).is_some());
                if to_agent && live {
                    let why = match e.event_type {
                        EventType::ReservationRejected => CallOutcome::Declined,
                        EventType::ReservationTimeout => CallOutcome::NoAnswer,
                        _ => CallOutcome::Unavailable,
                    };
                    self.end_internal_call(cx, ws, task, why, "Rejected internal call");
                }
            }
            EventType::TaskCanceled => {
                cx.voice.task_ended(cx.ms(), task);
                self.forget_task(task);
            }
            EventType::TaskCompleted | EventType::TaskDeleted => self.forget_task(task),
            _ => {}
        }
    }

    /// What the call rules do about a voice output (fetches are the center's).
    pub fn on_voice_output(&mut self, cx: &mut Cx<'_>, o: &VoiceOutput) {
        match o {
            VoiceOutput::CreateTask {
                call,
                task,
                workflow_sid,
                attributes,
                priority,
                timeout,
            } => self.create_call_task(
                cx,
                *call,
                *task,
                workflow_sid,
                attributes.clone(),
                *priority,
                *timeout,
            ),
            VoiceOutput::CancelTask { task, reason } => {
                if let Some(ws) = cx.model.workspace_of_task(*task) {
                    end_task(cx, ws, *task, reason);
                }
            }
            VoiceOutput::ConferenceEvent {
                conference,
                event: "participant-leave",
                ..
            } => self.settle_end_on_exit(cx, *conference),
            VoiceOutput::ConferenceEvent {
                conference,
                call: Some(call),
                event: "participant-join",
            } => {
                self.settle_end_on_exit(cx, *conference);
                // The far leg of an outbound call joined a second conference: someone answered.
                let joined_twice = cx.voice.call(*call).is_some_and(|c| {
                    matches!(
                        (&c.caller, &c.callee),
                        (End::Conference(_), End::Conference(_))
                    )
                });
                if joined_twice {
                    if let Some(o) = self
                        .far_legs
                        .get(call)
                        .and_then(|t| self.outbound.get_mut(t))
                    {
                        o.far_connected = true;
                    }
                }
            }
            VoiceOutput::Ring { call, identity, .. } => {
                self.rings
                    .entry(identity.clone())
                    .or_default()
                    .insert(*call);
            }
            VoiceOutput::StopRinging { call, identity } => self.stop_ring(identity, *call),
            VoiceOutput::AgentConnected { call, identity } => {
                self.stop_ring(identity, *call);
                if let Some((ws, r)) = self.awaiting_answer.remove(call) {
                    if let Err(e) = self.complete_conference(cx, ws, r, *call) {
                        // The other party is gone: the worker's leg was hung up, the
                        // reservation stays pending and times out or is answered again.
                        let _ = e;
                    }
                }
            }
            VoiceOutput::CallStatus { call, status } if status.is_final() => {
                if let Some((ws, r)) = self.awaiting_answer.remove(call) {
                    // The worker did not pick up: the reservation is rejected.
                    let _ = cx.execute(Entry::engine(
                        ws,
                        Command::UpdateReservation {
                            sid: r,
                            action: ReservationAction::Reject {
                                worker_activity_sid: None,
                            },
                        },
                    ));
                }
                self.far_leg_ended(cx.voice, *call);
                self.agent_leg_ended(*call);
                self.lowered.remove(call);
                // An agent who left a call that goes on (a transfer, a three-way call) wraps up.
                if let Some((ws, task)) = self.leg_tasks.get(call).copied() {
                    let assigned = cx
                        .model
                        .workspace(ws)
                        .and_then(|w| w.engine.task(task))
                        .is_some_and(|t| t.status == TaskStatus::Assigned);
                    if assigned {
                        end_task(cx, ws, task, "the agent left the call");
                    }
                }
                let identities: Vec<String> = self
                    .rings
                    .iter()
                    .filter(|(_, calls)| calls.contains(call))
                    .map(|(i, _)| i.clone())
                    .collect();
                for i in identities {
                    self.stop_ring(&i, *call);
                }
            }
            VoiceOutput::ConferenceEvent {
                conference,
                event: "conference-end",
                ..
            } => {
                let name = cx
                    .voice
                    .conference(*conference)
                    .map(|c| c.friendly_name.clone());
                let mut tasks: Vec<Sid<Task>> = self
                    .joined
                    .iter()
                    .filter(|(_, c)| **c == *conference)
                    .map(|(t, _)| *t)
                    .collect();
                tasks.extend(name.and_then(|n| n.parse::<Sid<Task>>().ok()));
                for task in tasks {
                    if let Some(ws) = cx.model.workspace_of_task(task) {
                        end_task(cx, ws, task, "the call ended");
                    }
                    if let Some(leg) = self.agent_legs.remove(&task) {
                        self.leg_tasks.remove(&leg);
                    }
                    self.joined.remove(&task);
                }
            }
            _ => {}
        }
    }

    fn stop_ring(&mut self, identity: &str, call: Sid<Call>) {
        if let Some(calls) = self.rings.get_mut(identity) {
            calls.remove(&call);
            if calls.is_empty() {
                self.rings.remove(identity);
            }
        }
    }

    /// The far leg of an outbound task ended: remember why, for the caller's desktop.
    fn far_leg_ended(&mut self, voice: &Voice, call: Sid<Call>) {
        let Some(o) = self
            .far_legs
            .get(&call)
            .and_then(|t| self.outbound.get_mut(t))
        else {
            return;
        };
        let Some(c) = voice.call(call) else { return };
        let why = match (c.status, &c.end_reason) {
            (CallStatus::Failed, Some(r)) => CallOutcome::Failed {
                error_code: r.code,
                message: r.message.clone(),
            },
            (CallStatus::Busy, _) => CallOutcome::Busy,
            (CallStatus::NoAnswer, _) => CallOutcome::NoAnswer,
            // A call that was answered by its application but never reached anyone was not
            // answered either.
            _ if !o.far_connected && c.start_time.is_some() => CallOutcome::NoAnswer,
            _ => CallOutcome::Completed,
        };
        o.outcome.get_or_insert(why);
    }

    /// The caller's own leg ended (it hung up, from the desktop or the Voice API): before anyone
    /// answered that is a cancel, after it a completed call. One rule for every path.
    fn agent_leg_ended(&mut self, call: Sid<Call>) {
        let Some((_, task)) = self.leg_tasks.get(&call) else {
            return;
        };
        if let Some(o) = self.outbound.get_mut(task) {
            o.outcome.get_or_insert(if o.far_connected {
                CallOutcome::Completed
            } else {
                CallOutcome::Canceled
            });
        }
    }

    /// `<Enqueue workflowSid>` asked for a task.
    #[allow(clippy::too_many_arguments)]
    fn create_call_task(
        &mut self,
        cx: &mut Cx<'_>,
        call: Sid<Call>,
        task: Sid<Task>,
        workflow_sid: &str,
        attributes: Map<String, Value>,
        priority: Option<u32>,
        timeout: Option<u64>,
    ) {
        let Ok(workflow) = workflow_sid.parse::<Sid<Workflow>>() else {
            let now = cx.ms();
            cx.voice.task_refused(
                now,
                call,
                &format!("{workflow_sid:?} is not a workflow SID"),
            );
            return;
        };
        let Some(ws) = cx.model.workspace_of_workflow(workflow) else {
            let now = cx.ms();
            cx.voice.task_refused(
                now,
                call,
                &format!("workflow {workflow_sid} does not exist"),
            );
            return;
        };
        let internal = self
            .far_legs
            .get(&call)
            .and_then(|t| self.outbound.get(t))
            .and_then(|o| o.internal.clone());
        let result = cx.execute(Entry::Engine {
            workspace: ws,
            command: Command::CreateTask(NewTask {
                sid: task,
                attributes: Some(Value::Object(attributes).to_string()),
                workflow_sid: Some(workflow),
                priority,
                timeout,
                task_channel: Some(ChannelRef::UniqueName("voice".into())),
                virtual_start_time: None,
                routing_target: None,
                ignore_capacity: None,
                task_queue_sid: None,
            }),
            origin: Some(TaskOrigin::Enqueued),
        });
        if let Err(e) = result {
            let now = cx.ms();
            cx.voice.task_refused(now, call, &e.message);
            return;
        }
        self.enqueued.insert(
            task,
            Enqueued {
                workspace: ws,
                call,
                internal: internal.clone(),
            },
        );
        self.enqueued_calls.insert(call, task);
        // An internal call to one agent who cannot take it now ends at once, saying why,
        // instead of waiting on hold until the task expires.
        if let Some(InternalTarget::Agent(callee)) = internal {
            let Some(state) = cx.model.workspace(ws) else {
                return;
            };
            let Some(t) = state.engine.task(task) else {
                return;
            };
            if t.reservations.is_empty() {
                let why = match state.engine.worker(callee) {
                    Some(w) if state.engine.worker_available(w) => CallOutcome::Busy,
                    _ => CallOutcome::Unavailable,
                };
                let reason = format!("Internal call: callee {}", outcome_reason(&why));
                self.end_internal_call(cx, ws, task, why, &reason);
            }
        }
    }

    /// Ends the callee task of an internal call and hangs up its call, telling the caller why.
    fn end_internal_call(
        &mut self,
        cx: &mut Cx<'_>,
        ws: Sid<WorkspaceKind>,
        task: Sid<Task>,
        why: CallOutcome,
        reason: &str,
    ) {
        let call = self.enqueued.get(&task).map(|e| e.call);
        if let Some(o) = call
            .and_then(|c| self.far_legs.get(&c))
            .and_then(|t| self.outbound.get_mut(t))
        {
            o.outcome.get_or_insert(why.clone());
        }
        end_task(cx, ws, task, reason);
        if let Some(call) = call {
            let now = cx.ms();
            let _ = cx.voice.hangup(now, call, outcome_reason(&why));
        }
    }

    /// Drops what links a finished task to its calls.
    fn forget_task(&mut self, task: Sid<Task>) {
        if let Some(o) = self.outbound.remove(&task) {
            if let Some(far) = o.far_leg {
                self.far_legs.remove(&far);
            }
        }
        if let Some(e) = self.enqueued.remove(&task) {
            self.enqueued_calls.remove(&e.call);
        }
        if let Some(leg) = self.agent_legs.remove(&task) {
            self.leg_tasks.remove(&leg);
        }
        self.joined.remove(&task);
    }

    /// At start, after replay: calls did not survive, so the tasks of calls end too.
    pub fn end_orphans(&mut self, cx: &mut Cx<'_>) {
        let orphans: Vec<(Sid<WorkspaceKind>, Sid<Task>)> = cx
            .model
            .workspaces()
            .flat_map(|(ws, w)| w.call_tasks().map(move |(t, _)| (ws, t)))
            .collect();
        for (ws, task) in orphans {
            end_task(cx, ws, task, "the call ended when the server restarted");
        }
    }

    // -----------------------------------------------------------------------------------------
    // Views

    /// The call of a task as its agent sees it; `None` for a task that is not a call's.
    pub fn call_view(
        &self,
        model: &Model,
        voice: &Voice,
        ws: Sid<WorkspaceKind>,
        task: Sid<Task>,
        reservation: ReservationStatus,
    ) -> Option<CallView> {
        let state = model.workspace(ws)?;
        let origin = state.origin(task)?;
        let t = state.engine.task(task)?;
        let leg = self.agent_legs.get(&task).copied();
        let conf = self.conference_of_task(voice, task);
        let muted = match (conf, leg) {
            (Some(c), Some(l)) => voice.participation(c.sid, l).is_some_and(|p| p.muted),
            _ => false,
        };
        let in_conference = match (conf, leg) {
            (Some(c), Some(l)) => voice.participation(c.sid, l).is_some(),
            _ => false,
        };
        let held = conf.is_some_and(|c| {
            c.participants
                .iter()
                .filter(|p| Some(**p) != leg)
                .any(|p| voice.participation(c.sid, *p).is_some_and(|x| x.hold))
        });
        let (direction, state, outcome) = match (origin, self.outbound.get(&task)) {
            (TaskOrigin::Outbound, Some(o)) => {
                let ended = matches!(
                    t.status,
                    TaskStatus::Wrapping | TaskStatus::Completed | TaskStatus::Canceled
                );
                let state = if ended {
                    CallState::Ended
                } else {
                    match o.far_leg.and_then(|c| voice.call(c)) {
                        None => CallState::Dialing,
                        Some(c) if c.status.is_final() => CallState::Ended,
                        Some(c) => match &c.callee {
                            End::Queued { .. } => CallState::Ringing,
                            End::Conference(_) | End::Bridge(_) => CallState::Connected,
                            End::Agent { answered: true, .. } => CallState::Connected,
                            End::Agent {
                                answered: false, ..
                            } => CallState::Ringing,
                            _ => CallState::Dialing,
                        },
                    }
                };
                let outcome = match state {
                    CallState::Ended => Some(o.outcome.clone().unwrap_or(CallOutcome::Completed)),
                    _ => o.outcome.clone(),
                };
                (CallDirection::Outbound, state, outcome)
            }
            (TaskOrigin::Outbound, None) => (CallDirection::Outbound, CallState::Ended, None),
            _ => {
                let state = match reservation {
                    ReservationStatus::Pending => CallState::Ringing,
                    ReservationStatus::Accepted if in_conference => CallState::Connected,
                    _ => CallState::Ended,
                };
                (CallDirection::Inbound, state, None)
            }
        };
        // Who else is on the call and how a transfer stands are the view's to add.
        Some(CallView {
            direction,
            state,
            outcome,
            call_sid: leg,
            muted,
            held,
            participants: Vec::new(),
            transfer: None,
            transferred_from: None,
            recording: conf.and_then(|c| self.recording_of(voice, c.sid)),
        })
    }

    /// Marks the desktops a voice output may have changed.
    pub fn mark(&self, model: &Model, voice: &Voice, o: &VoiceOutput, dirty: &mut Dirty) {
        let mut calls: Vec<Sid<Call>> = Vec::new();
        let mut tasks: Vec<Sid<Task>> = Vec::new();
        match o {
            VoiceOutput::Ring { call, identity, .. }
            | VoiceOutput::StopRinging { call, identity }
            | VoiceOutput::AgentConnected { call, identity }
            | VoiceOutput::AgentDisconnected { call, identity } => {
                dirty.identities.insert(identity.clone());
                calls.push(*call);
            }
            VoiceOutput::CallStatus { call, .. } | VoiceOutput::CreateTask { call, .. } => {
                calls.push(*call);
            }
            VoiceOutput::CancelTask { task, .. } => tasks.push(*task),
            VoiceOutput::ConferenceEvent {
                conference, call, ..
            } => {
                calls.extend(*call);
                dirty.supervisors = true;
                tasks.extend(
                    self.joined
                        .iter()
                        .filter(|(_, c)| **c == *conference)
                        .map(|(t, _)| *t),
                );
                if let Some(c) = voice.conference(*conference) {
                    calls.extend(c.participants.iter().copied());
                    tasks.extend(c.friendly_name.parse::<Sid<Task>>().ok());
                }
            }
            VoiceOutput::Fetch { .. } => {}
        }
        for call in calls {
            if let Some((_, t)) = self.leg_tasks.get(&call) {
                tasks.push(*t);
            }
            if let Some(t) = self.far_legs.get(&call) {
                tasks.push(*t);
            }
            if let Some(t) = self.enqueued_calls.get(&call) {
                tasks.push(*t);
            }
            if let Some(c) = voice.call(call) {
                for end in [&c.caller, &c.callee] {
                    if let End::Agent { identity, .. } = end {
                        dirty.identities.insert(identity.clone());
                    }
                }
            }
        }
        for task in tasks {
            let ws = self
                .outbound
                .get(&task)
                .map(|o| o.workspace)
                .or_else(|| self.enqueued.get(&task).map(|e| e.workspace))
                .or_else(|| model.workspace_of_task(task));
            let Some(ws) = ws else { continue };
            if let Some(o) = self.outbound.get(&task) {
                dirty.workers.insert((ws, o.worker));
            }
            let Some(state) = model.workspace(ws) else {
                continue;
            };
            if let Some(t) = state.engine.task(task) {
                for r in t
                    .reservations
                    .iter()
                    .filter_map(|r| state.engine.reservation(*r))
                {
                    dirty.workers.insert((ws, r.worker_sid));
                }
            }
        }
    }
}

/// Cancels a task if it can still be canceled; moves it to wrapping if it was assigned.
pub fn end_task(cx: &mut Cx<'_>, ws: Sid<WorkspaceKind>, task: Sid<Task>, reason: &str) {
    let Some(status) = cx
        .model
        .workspace(ws)
        .and_then(|w| w.engine.task(task))
        .map(|t| t.status)
    else {
        return;
    };
    let update = match status {
        TaskStatus::Pending | TaskStatus::Reserved => TaskUpdate {
            assignment_status: Some(TaskStatusChange::Canceled),
            reason: Some(reason.to_owned()),
            ..Default::default()
        },
        TaskStatus::Assigned => TaskUpdate {
            assignment_status: Some(TaskStatusChange::Wrapping),
            ..Default::default()
        },
        _ => return,
    };
    // Refused only if the task changed meanwhile; there is nothing else to do then.
    let _ = cx.execute(Entry::engine(ws, Command::UpdateTask { sid: task, update }));
}

/// What dialing `to` reaches.
pub fn callee_for(model: &Model, to: &str) -> Result<Callee, CenterError> {
    match Address::parse(to).map_err(|e| CenterError::invalid("To", e))? {
        Address::Client(identity) => Ok(Callee::Agent {
            identity,
            auto_answer: false,
        }),
        Address::App { sid, params } => {
            let app = model.applications().get(&sid).ok_or_else(|| {
                CenterError::invalid(
                    "To",
                    format!("names application {sid}, which does not exist"),
                )
            })?;
            let url = app
                .voice_url
                .clone()
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    CenterError::invalid("To", format!("application {sid} has no voice URL"))
                })?;
            Ok(Callee::App {
                sid,
                voice_url: url,
                method: if app.voice_method.eq_ignore_ascii_case("GET") {
                    Method::Get
                } else {
                    Method::Post
                },
                params,
            })
        }
        Address::Number(n) | Address::Sip(n) => Ok(Callee::External(n)),
    }
}
