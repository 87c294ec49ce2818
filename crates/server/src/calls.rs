//! Where calls meet routing: TaskRouter's conference instruction, Flex's StartOutboundCall, the
//! internal-call rules (who is told what when a call does not connect), and the webhook fetcher
//! that runs TwiML applications.
//!
//! Everything here runs on the core thread. Routing events and voice outputs come in through
//! [`Core::on_routing_event`] and [`Core::on_voice_output`]; what they cause goes back out as
//! ordinary routing commands (logged, durable) and voice calls (not durable).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use switchboard_routing::{
    ChannelRef, Command, Event, EventType, NewTask, ReservationAction, RoutingTarget, TaskRecord,
    TaskStatus, TaskStatusChange, TaskUpdate,
};
use switchboard_sid::{
    Application, Call, Reservation, Sid, Task, TaskQueue, Worker, Workspace as WorkspaceKind,
};
use switchboard_twiml::Method;
use switchboard_voice::{Address, CallStatus, Callee, DialRequest, End, JoinSpec, Output};

use crate::api::ApiError;
use crate::core::{Core, CoreHandle, Entry};

/// How many TwiML webhook requests may be in flight at once.
pub const FETCHES_IN_FLIGHT: usize = 64;

/// The URL path of the built-in internal-call enqueue function.
pub const ENQUEUE_PATH: &str = "/features/internal-call/common/enqueue";

/// A TwiML application (`AP…`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApplicationRecord {
    /// `AP…`.
    pub sid: Sid<Application>,
    /// Its name.
    pub friendly_name: String,
    /// Requested when a call reaches it.
    pub voice_url: Option<String>,
    /// `GET` or `POST`.
    pub voice_method: String,
    /// Requested when `voice_url` fails.
    pub voice_fallback_url: Option<String>,
    /// `GET` or `POST`.
    pub voice_fallback_method: String,
    /// Call status callback.
    pub status_callback: Option<String>,
    /// `GET` or `POST`.
    pub status_callback_method: String,
    /// Created at (ms).
    pub date_created: i64,
    /// Last changed at (ms).
    pub date_updated: i64,
}

/// A webhook for the fetcher to request.
#[derive(Debug, Clone)]
pub struct FetchJob {
    /// The voice layer's request id.
    pub id: u64,
    /// Where.
    pub url: String,
    /// How.
    pub method: Method,
    /// Form parameters.
    pub params: Vec<(String, String)>,
}

/// How an outbound call placed for a task stands, from its caller's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// The far party is being reached.
    Dialing,
    /// The far party is ringing (its task is waiting for an agent).
    Ringing,
    /// Both parties are talking.
    Connected,
    /// Over; `reason` says why.
    Ended,
}

/// Links between calls and tasks, and how calls ended.
#[derive(Debug, Default)]
pub struct CallLinks {
    /// The far leg dialed for an outbound task (`outbound_to`), by call.
    pub far_leg_of: BTreeMap<Sid<Call>, (Sid<WorkspaceKind>, Sid<Task>)>,
    /// The agent's own leg for a task, by task.
    pub agent_leg: BTreeMap<Sid<Task>, Sid<Call>>,
    /// Why an outbound task's call ended, when it did not simply hang up.
    pub outcome: BTreeMap<Sid<Task>, String>,
    /// Conference instructions waiting for the agent to answer, by the agent's call.
    pub awaiting_answer: BTreeMap<Sid<Call>, (Sid<WorkspaceKind>, Sid<Reservation>)>,
    /// Far legs that reached a conference with someone (an answered call).
    pub connected_far: std::collections::BTreeSet<Sid<Call>>,
}

/// Options of a conference instruction (TaskRouter's `Instruction=conference`).
#[derive(Debug, Clone, Default)]
pub struct ConferenceOptions {
    /// Caller ID of the worker's leg.
    pub from: Option<String>,
    /// Where to reach the worker (default: its `contact_uri`).
    pub to: Option<String>,
    /// Seconds to ring the worker.
    pub timeout: Option<u64>,
    /// The agent already said yes (desktop accept): connect without ringing.
    pub auto_answer: bool,
}

/// The string at `key` of a JSON object, if there is one.
pub(crate) fn text<'a>(attrs: &'a Value, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(Value::as_str)
}

/// An internal call's callee task names its target agent (and no queue).
fn is_agent_call(attrs: &Value) -> bool {
    text(attrs, "worker_sid").is_some() && attrs.get("callToQueue").is_none_or(Value::is_null)
}

/// The flags of the outbound flow's configuration.
fn outbound_flow(config: &Value) -> Option<&Map<String, Value>> {
    config
        .get("outbound_call_flows")
        .and_then(|f| f.get("default"))
        .and_then(Value::as_object)
}

impl Core {
    /// Finds the workspace holding a task.
    pub fn workspace_of_task(&self, task: Sid<Task>) -> Option<Sid<WorkspaceKind>> {
        self.workspaces
            .iter()
            .find(|(_, w)| w.engine.task(task).is_some())
            .map(|(s, _)| *s)
    }

    fn engine_cmd(&mut self, ws: Sid<WorkspaceKind>, command: Command) -> Result<(), ApiError> {
        self.execute(Entry::Engine {
            workspace: ws,
            command,
        })
    }

    fn task_record(&self, ws: Sid<WorkspaceKind>, task: Sid<Task>) -> Option<&TaskRecord> {
        self.workspaces.get(&ws)?.engine.task(task)
    }

    /// Cancels a task if it can still be canceled; moves it to wrapping if it was assigned.
    fn end_task(&mut self, ws: Sid<WorkspaceKind>, task: Sid<Task>, reason: &str) {
        let Some(status) = self.task_record(ws, task).map(|t| t.status) else {
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
        if let Err(e) = self.engine_cmd(ws, Command::UpdateTask { sid: task, update }) {
            tracing::warn!(%task, error = %e.message, "could not end the task of a call");
        }
    }

    // -------------------------------------------------------------------------------------
    // StartOutboundCall

    /// Flex's `StartOutboundCall`, for the worker's desktop: creates the worker's outbound task
    /// through `outbound_call_flows.default`, routed straight to the worker; its reservation is
    /// accepted at once with the conference instruction, which dials `destination`.
    pub fn start_outbound_call(
        &mut self,
        ws: Sid<WorkspaceKind>,
        worker: Sid<Worker>,
        destination: &str,
        queue_sid: Option<&str>,
        caller_id: Option<&str>,
        task_attributes: Map<String, Value>,
    ) -> Result<Sid<Task>, ApiError> {
        let destination = destination.trim();
        if destination.is_empty() {
            return Err(ApiError::missing("destination"));
        }
        let state = self.workspace(ws)?;
        let w = state
            .engine
            .worker(worker)
            .ok_or_else(|| ApiError::not_found(format!("Worker {worker}")))?;
        let offline = self
            .configuration
            .get("taskrouter_offline_activity_sid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if offline.as_deref() == Some(w.activity_sid.to_string().as_str())
            || !state.engine.worker_available(w)
        {
            return Err(ApiError::invalid(
                "activity",
                "does not allow calls: set yourself to an available activity first",
            ));
        }
        let busy = state.engine.tasks().any(|t| {
            matches!(t.routing_target, Some(RoutingTarget::Worker(x)) if x == worker)
                && matches!(t.status, TaskStatus::Pending | TaskStatus::Reserved)
                && text(t.attributes.value(), "direction") == Some("outbound")
        });
        if busy {
            return Err(ApiError::invalid(
                "destination",
                "cannot be called now: another outbound call is already being placed",
            ));
        }
        let flow = outbound_flow(&self.configuration).cloned().ok_or_else(|| {
            ApiError::invalid(
                "outbound_call_flows",
                "is not configured: set outbound_call_flows.default in the Flex Configuration",
            )
        })?;
        if flow.get("enabled") == Some(&Value::Bool(false)) {
            return Err(ApiError::invalid(
                "outbound_call_flows",
                "default is disabled",
            ));
        }
        let workflow = flow
            .get("workflow_sid")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                ApiError::invalid("outbound_call_flows", "default.workflow_sid is missing")
            })?;
        let queue: Sid<TaskQueue> = queue_sid
            .or_else(|| flow.get("queue_sid").and_then(Value::as_str))
            .ok_or_else(|| {
                ApiError::invalid(
                    "queueSid",
                    "is missing and outbound_call_flows.default.queue_sid is not set",
                )
            })?
            .parse()
            .map_err(|_| ApiError::invalid("queueSid", "is not a TaskQueue SID"))?;
        let from = caller_id
            .map(str::to_owned)
            .or_else(|| {
                flow.get("caller_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .ok_or_else(|| {
                ApiError::invalid(
                    "callerId",
                    "is missing and outbound_call_flows.default.caller_id is not set",
                )
            })?;
        // A destination that cannot be dialed is refused now, not after a task was made.
        if let Address::App { sid, .. } =
            Address::parse(destination).map_err(|e| ApiError::invalid("destination", e))?
        {
            if !self.applications.contains_key(&sid) {
                return Err(ApiError::invalid(
                    "destination",
                    format!("names application {sid}, which does not exist"),
                ));
            }
        }
        let mut attributes = task_attributes;
        attributes.insert("direction".into(), json!("outbound"));
        attributes.insert("outbound_to".into(), json!(destination));
        attributes.insert("to".into(), json!(destination));
        attributes.insert("from".into(), json!(from));
        let task: Sid<Task> = crate::ids::new_sid();
        self.engine_cmd(
            ws,
            Command::CreateTask(NewTask {
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
        )?;
        Ok(task)
    }

    // -------------------------------------------------------------------------------------
    // The conference instruction

    /// TaskRouter's conference instruction on a pending reservation of a voice task: dial the
    /// worker into a conference named after the task, then bring the other party in (the
    /// enqueued call, or `outbound_to` for an outbound task). The reservation is accepted when
    /// the worker is connected.
    pub fn conference_instruction(
        &mut self,
        ws: Sid<WorkspaceKind>,
        reservation: Sid<Reservation>,
        opts: ConferenceOptions,
    ) -> Result<(), ApiError> {
        let state = self.workspace(ws)?;
        let r = state
            .engine
            .reservation(reservation)
            .ok_or_else(|| ApiError::not_found(format!("Reservation {reservation}")))?;
        if r.status != switchboard_routing::ReservationStatus::Pending {
            return Err(ApiError::invalid(
                "Instruction",
                format!(
                    "conference needs a pending reservation; this one is {} (40136)",
                    r.status.as_str()
                ),
            ));
        }
        let task = state
            .engine
            .task(r.task_sid)
            .ok_or_else(|| ApiError::not_found(format!("Task {}", r.task_sid)))?;
        let worker = state
            .engine
            .worker(r.worker_sid)
            .ok_or_else(|| ApiError::not_found(format!("Worker {}", r.worker_sid)))?;
        let attrs = task.attributes.value().clone();
        let call_sid: Option<Sid<Call>> = text(&attrs, "call_sid").and_then(|s| s.parse().ok());
        let outbound_to = text(&attrs, "outbound_to").map(str::to_owned);
        if call_sid.is_none() && outbound_to.is_none() {
            return Err(ApiError::invalid(
                "Instruction",
                "conference needs a task with call_sid or outbound_to (40140/40142)",
            ));
        }
        let contact = opts
            .to
            .clone()
            .or_else(|| text(worker.attributes.value(), "contact_uri").map(str::to_owned))
            .ok_or_else(|| {
                ApiError::invalid("To", "is missing and the worker has no contact_uri (40137)")
            })?;
        let identity = match Address::parse(&contact) {
            Ok(Address::Client(id)) => id,
            _ => {
                return Err(ApiError::invalid("To", format!("{contact:?} cannot be reached: only client: identities are, without a telephone trunk")))
            }
        };
        // The AcceptTask fix of the internal-call feature: a task whose `to` is an application SID
        // cannot lend it as caller ID; use the configured caller ID, else the worker's own URI.
        let task_to = text(&attrs, "to").unwrap_or_default();
        let from = opts.from.clone().unwrap_or_else(|| {
            if task_to.starts_with("AP") && task_to.len() == 34 {
                outbound_flow(&self.configuration)
                    .and_then(|f| f.get("caller_id"))
                    .and_then(Value::as_str)
                    .map_or_else(|| contact.clone(), str::to_owned)
            } else if let Some(f) = text(&attrs, "from").filter(|_| outbound_to.is_some()) {
                f.to_owned()
            } else {
                task_to.to_owned()
            }
        });
        let task_sid = task.sid;
        let now = self.now().0;
        let agent_call = self.voice.dial(
            now,
            DialRequest {
                from,
                to: contact.clone(),
                callee: Callee::Agent {
                    identity,
                    auto_answer: opts.auto_answer,
                },
                join: JoinSpec {
                    conference: task_sid.to_string(),
                    start_on_enter: true,
                    end_on_exit: true,
                    muted: false,
                    label: Some("worker".into()),
                },
                ring_timeout: opts.timeout.unwrap_or(60),
            },
        );
        self.calls.agent_leg.insert(task_sid, agent_call);
        if opts.auto_answer {
            self.complete_conference_instruction(ws, reservation, agent_call)
        } else {
            self.calls
                .awaiting_answer
                .insert(agent_call, (ws, reservation));
            Ok(())
        }
    }

    /// The worker is on the conference: accept the reservation and bring the other party in.
    fn complete_conference_instruction(
        &mut self,
        ws: Sid<WorkspaceKind>,
        reservation: Sid<Reservation>,
        agent_call: Sid<Call>,
    ) -> Result<(), ApiError> {
        let Some(task) = self
            .workspace(ws)?
            .engine
            .reservation(reservation)
            .map(|r| r.task_sid)
        else {
            return Err(ApiError::not_found(format!("Reservation {reservation}")));
        };
        let attrs = self
            .task_record(ws, task)
            .map(|t| t.attributes.value().clone())
            .unwrap_or(Value::Null);
        let now = self.now().0;
        let customer = JoinSpec {
            conference: task.to_string(),
            start_on_enter: true,
            end_on_exit: true,
            muted: false,
            label: Some("customer".into()),
        };
        if let Some(call) = text(&attrs, "call_sid").and_then(|s| s.parse::<Sid<Call>>().ok()) {
            if let Err(e) = self.voice.move_to_conference(now, call, customer) {
                // The caller hung up meanwhile (TaskRouter's 40144): undo the worker's leg.
                let _ = self.voice.hangup(now, agent_call, "the caller is gone");
                return Err(ApiError::invalid(
                    "Instruction",
                    format!("conference failed: {e} (40144)"),
                ));
            }
        } else if let Some(to) = text(&attrs, "outbound_to").map(str::to_owned) {
            let from = text(&attrs, "from").unwrap_or_default().to_owned();
            let callee = self.callee_for(&to)?;
            let far = self.voice.dial(
                now,
                DialRequest {
                    from,
                    to: to.clone(),
                    callee,
                    join: customer,
                    ring_timeout: 60,
                },
            );
            self.calls.far_leg_of.insert(far, (ws, task));
        }
        self.engine_cmd(
            ws,
            Command::UpdateReservation {
                sid: reservation,
                action: ReservationAction::Accept,
            },
        )
    }

    /// What dialing `to` reaches.
    fn callee_for(&self, to: &str) -> Result<Callee, ApiError> {
        match Address::parse(to).map_err(|e| ApiError::invalid("To", e))? {
            Address::Client(identity) => Ok(Callee::Agent {
                identity,
                auto_answer: false,
            }),
            Address::App { sid, params } => {
                let app = self.applications.get(&sid).ok_or_else(|| {
                    ApiError::invalid(
                        "To",
                        format!("names application {sid}, which does not exist"),
                    )
                })?;
                let url = app
                    .voice_url
                    .clone()
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| {
                        ApiError::invalid("To", format!("application {sid} has no voice URL"))
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

    // -------------------------------------------------------------------------------------
    // Reactions

    /// What the call logic does about a routing event.
    pub fn on_routing_event(&mut self, ws: Sid<WorkspaceKind>, e: &Event) {
        let Some(t) = &e.task else { return };
        let task = t.sid;
        let attrs = t.attributes.value();
        match e.event_type {
            EventType::ReservationCreated => {
                let (Some(r), Some(w)) = (e.reservation_sid, &e.worker) else {
                    return;
                };
                // Flex accepts the reservation of the caller's own outbound task at once.
                let own_outbound = self.task_record(ws, task).is_some_and(
                    |t| matches!(t.routing_target, Some(RoutingTarget::Worker(x)) if x == w.sid),
                ) && text(attrs, "direction") == Some("outbound")
                    && text(attrs, "outbound_to").is_some();
                if own_outbound {
                    let opts = ConferenceOptions {
                        auto_answer: true,
                        ..Default::default()
                    };
                    if let Err(err) = self.conference_instruction(ws, r, opts) {
                        tracing::warn!(%task, error = %err.message, "the outbound call could not be placed");
                        self.calls
                            .outcome
                            .insert(task, format!("failed: {}", err.message));
                        self.end_task(ws, task, "the call could not be placed");
                    }
                }
            }
            EventType::ReservationRejected
            | EventType::ReservationTimeout
            | EventType::ReservationCanceled
                // An internal call to one agent ends when that agent declines, does not answer or
                // becomes unavailable (its desktop dropped, it went offline); a call to a queue goes
                // on to the next agent. A reservation canceled because its task was canceled finds
                // the task gone and does nothing.
                if is_agent_call(attrs) && self.task_record(ws, task).is_some() =>
            {
                let why = match e.event_type {
                    EventType::ReservationRejected => "declined",
                    EventType::ReservationTimeout => "no-answer",
                    _ => "unavailable",
                };
                self.end_internal_call(ws, task, why, "Rejected internal call");
            }
            EventType::TaskCanceled => {
                let now = self.now().0;
                self.voice.task_ended(now, task);
                self.forget_task(task);
            }
            EventType::TaskCompleted | EventType::TaskDeleted => self.forget_task(task),
            _ => {}
        }
    }

    /// Drops what links a finished task to its calls.
    fn forget_task(&mut self, task: Sid<Task>) {
        let far: Vec<Sid<Call>> = self
            .calls
            .far_leg_of
            .iter()
            .filter(|(_, (_, t))| *t == task)
            .map(|(c, _)| *c)
            .collect();
        for c in far {
            self.calls.far_leg_of.remove(&c);
            self.calls.connected_far.remove(&c);
        }
        self.calls.outcome.remove(&task);
        self.calls.agent_leg.remove(&task);
    }

    /// Ends the callee task of an internal call and hangs up its call, telling the caller why.
    fn end_internal_call(
        &mut self,
        ws: Sid<WorkspaceKind>,
        task: Sid<Task>,
        why: &str,
        reason: &str,
    ) {
        let call: Option<Sid<Call>> = self
            .task_record(ws, task)
            .and_then(|t| text(t.attributes.value(), "call_sid"))
            .and_then(|s| s.parse().ok());
        if let Some(call) = call {
            if let Some((_, caller_task)) = self.calls.far_leg_of.get(&call).copied() {
                self.calls
                    .outcome
                    .entry(caller_task)
                    .or_insert_with(|| why.to_owned());
            }
        }
        self.end_task(ws, task, reason);
        if let Some(call) = call {
            let now = self.now().0;
            let _ = self.voice.hangup(now, call, why);
        }
    }

    /// What the core does about a voice output.
    pub fn on_voice_output(&mut self, o: Output) {
        match o {
            Output::Fetch {
                id,
                url,
                method,
                params,
                ..
            } => match &self.fetches {
                Some(tx) => {
                    let _ = tx.send(FetchJob {
                        id,
                        url,
                        method,
                        params,
                    });
                }
                None => {
                    let now = self.now().0;
                    self.voice.fetched(
                        now,
                        id,
                        Err(switchboard_voice::FetchFailure {
                            code: 11200,
                            message: "webhooks are disabled".into(),
                        }),
                    );
                }
            },
            Output::CreateTask {
                call,
                task,
                workflow_sid,
                attributes,
                priority,
                timeout,
            } => {
                self.create_call_task(call, task, &workflow_sid, attributes, priority, timeout);
            }
            Output::CancelTask { task, reason } => {
                if let Some(ws) = self.workspace_of_task(task) {
                    self.end_task(ws, task, &reason);
                }
            }
            Output::ConferenceEvent {
                call: Some(call),
                event: "participant-join",
                ..
            } => {
                // The far leg of an outbound call joined a second conference: someone answered.
                let joined_twice = self.voice.call(call).is_some_and(|c| {
                    matches!(
                        (&c.caller, &c.callee),
                        (End::Conference(_), End::Conference(_))
                    )
                });
                if joined_twice && self.calls.far_leg_of.contains_key(&call) {
                    self.calls.connected_far.insert(call);
                }
            }
            Output::AgentConnected { call, .. } => {
                if let Some((ws, r)) = self.calls.awaiting_answer.remove(&call) {
                    if let Err(e) = self.complete_conference_instruction(ws, r, call) {
                        tracing::warn!(error = %e.message, "conference instruction failed after the agent answered");
                    }
                }
            }
            Output::CallStatus { call, status } if status.is_final() => {
                if let Some((ws, r)) = self.calls.awaiting_answer.remove(&call) {
                    // The worker did not pick up: the reservation is rejected.
                    let _ = self.engine_cmd(
                        ws,
                        Command::UpdateReservation {
                            sid: r,
                            action: ReservationAction::Reject {
                                worker_activity_sid: None,
                            },
                        },
                    );
                }
                self.far_leg_ended(call);
            }
            Output::ConferenceEvent {
                conference,
                event: "conference-end",
                ..
            } => {
                let name = self
                    .voice
                    .conference(conference)
                    .map(|c| c.friendly_name.clone());
                if let Some(task) = name.and_then(|n| n.parse::<Sid<Task>>().ok()) {
                    if let Some(ws) = self.workspace_of_task(task) {
                        self.end_task(ws, task, "the call ended");
                    }
                    self.calls.agent_leg.remove(&task);
                }
            }
            _ => {}
        }
    }

    /// The far leg of an outbound task ended: remember why, for the caller's desktop.
    fn far_leg_ended(&mut self, call: Sid<Call>) {
        let Some((_, caller_task)) = self.calls.far_leg_of.get(&call).copied() else {
            return;
        };
        let Some(c) = self.voice.call(call) else {
            return;
        };
        let why = match (c.status, &c.end_reason) {
            (CallStatus::Failed, Some(r)) => format!("failed: {}", r.message),
            (CallStatus::Busy, _) => "busy".to_owned(),
            (CallStatus::NoAnswer, _) => "no-answer".to_owned(),
            _ => "completed".to_owned(),
        };
        // A call that never reached anyone was not answered.
        let never_connected = !self.calls.outcome.contains_key(&caller_task)
            && c.start_time.is_some()
            && why == "completed"
            && !self.far_ever_connected(call);
        let why = if never_connected {
            "no-answer".to_owned()
        } else {
            why
        };
        self.calls.outcome.entry(caller_task).or_insert(why);
    }

    fn far_ever_connected(&self, call: Sid<Call>) -> bool {
        self.calls.connected_far.contains(&call)
    }

    /// `<Enqueue workflowSid>` asked for a task.
    fn create_call_task(
        &mut self,
        call: Sid<Call>,
        task: Sid<Task>,
        workflow_sid: &str,
        attributes: Map<String, Value>,
        priority: Option<u32>,
        timeout: Option<u64>,
    ) {
        let now = self.now().0;
        let Ok(workflow) = workflow_sid.parse() else {
            self.voice.task_refused(
                now,
                call,
                &format!("{workflow_sid:?} is not a workflow SID"),
            );
            return;
        };
        let Some(ws) = self
            .workspaces
            .iter()
            .find(|(_, w)| w.engine.workflow(workflow).is_some())
            .map(|(s, _)| *s)
        else {
            self.voice.task_refused(
                now,
                call,
                &format!("workflow {workflow_sid} does not exist"),
            );
            return;
        };
        let attrs = Value::Object(attributes);
        let result = self.engine_cmd(
            ws,
            Command::CreateTask(NewTask {
                sid: task,
                attributes: Some(attrs.to_string()),
                workflow_sid: Some(workflow),
                priority,
                timeout,
                task_channel: Some(ChannelRef::UniqueName("voice".into())),
                virtual_start_time: None,
                routing_target: None,
                ignore_capacity: None,
                task_queue_sid: None,
            }),
        );
        if let Err(e) = result {
            let now = self.now().0;
            self.voice.task_refused(now, call, &e.message);
            return;
        }
        // An internal call to one agent who cannot take it now ends at once, saying why,
        // instead of waiting on hold until the task expires.
        if is_agent_call(&attrs) {
            let state = self.workspaces.get(&ws);
            let offered =
                state.is_some_and(|s| s.engine.reservations().any(|r| r.task_sid == task));
            if !offered && self.task_record(ws, task).is_some() {
                let why = match text(&attrs, "worker_sid")
                    .and_then(|w| w.parse::<Sid<Worker>>().ok())
                    .and_then(|w| state?.engine.worker(w))
                {
                    Some(w) if state.is_some_and(|s| s.engine.worker_available(w)) => "busy",
                    _ => "unavailable",
                };
                self.end_internal_call(ws, task, why, &format!("Internal call: callee {why}"));
            }
        }
    }

    /// At start, after replay: calls did not survive, so their tasks end too.
    pub fn end_orphaned_call_tasks(&mut self) {
        let orphans: Vec<(Sid<WorkspaceKind>, Sid<Task>)> = self
            .workspaces
            .iter()
            .flat_map(|(ws, w)| {
                w.engine
                    .tasks()
                    .filter(|t| {
                        let a = t.attributes.value();
                        matches!(
                            t.status,
                            TaskStatus::Pending | TaskStatus::Reserved | TaskStatus::Assigned
                        ) && (text(a, "call_sid").is_some() || text(a, "outbound_to").is_some())
                    })
                    .map(move |t| (*ws, t.sid))
            })
            .collect();
        for (ws, task) in orphans {
            tracing::info!(%task, "ending the task of a call that did not survive the restart");
            self.end_task(ws, task, "the call ended when the server restarted");
        }
    }

    /// How an outbound task's call stands, and why it ended.
    pub fn outbound_state(
        &self,
        ws: Sid<WorkspaceKind>,
        task: Sid<Task>,
    ) -> Option<(CallState, Option<String>)> {
        let t = self.task_record(ws, task)?;
        text(t.attributes.value(), "outbound_to")?;
        if matches!(
            t.status,
            TaskStatus::Wrapping | TaskStatus::Completed | TaskStatus::Canceled
        ) {
            let reason = self
                .calls
                .outcome
                .get(&task)
                .cloned()
                .unwrap_or_else(|| "completed".into());
            return Some((CallState::Ended, Some(reason)));
        }
        let far = self
            .calls
            .far_leg_of
            .iter()
            .find(|(_, (_, t))| *t == task)
            .map(|(c, _)| *c);
        let state = match far.and_then(|c| self.voice.call(c)) {
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
        };
        Some((state, self.calls.outcome.get(&task).cloned()))
    }
}

/// Requests webhooks for the voice layer, signed like Twilio's, and hands the answers back to the
/// core. Failures become Twilio's error codes: 11205 for a connection failure or timeout, 11200
/// for an HTTP error status.
pub async fn fetcher(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<FetchJob>,
    core: CoreHandle,
    auth_token: String,
    timeout: Duration,
) {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; TwiML applications will fail");
            return;
        }
    };
    // At most FETCHES_IN_FLIGHT webhook requests at once; the others wait their turn.
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(FETCHES_IN_FLIGHT));
    while let Some(job) = rx.recv().await {
        let client = client.clone();
        let core = core.clone();
        let token = auth_token.clone();
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let result = fetch_one(&client, &token, &job).await;
            let _ = core
                .run(move |c| {
                    let now = c.now().0;
                    c.voice.fetched(now, job.id, result);
                })
                .await;
        });
    }
}

async fn fetch_one(
    client: &reqwest::Client,
    auth_token: &str,
    job: &FetchJob,
) -> Result<switchboard_voice::FetchResponse, switchboard_voice::FetchFailure> {
    let request = match job.method {
        Method::Post => {
            let signature = crate::signature::compute(auth_token, &job.url, &job.params);
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&job.params)
                .finish();
            client
                .post(&job.url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("X-Twilio-Signature", signature)
                .body(body)
        }
        Method::Get => {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&job.params)
                .finish();
            let sep = if job.url.contains('?') { '&' } else { '?' };
            let url = format!("{}{sep}{query}", job.url);
            let signature = crate::signature::compute(auth_token, &url, &[]);
            client.get(url).header("X-Twilio-Signature", signature)
        }
    };
    let response = request
        .header("User-Agent", "TwilioProxy/1.1")
        .header("Accept", "text/xml, application/xml")
        .send()
        .await
        .map_err(|e| switchboard_voice::FetchFailure {
            code: 11205,
            message: if e.is_timeout() {
                format!(
                    "HTTP connection failure: {} did not answer in time",
                    job.url
                )
            } else {
                format!("HTTP connection failure: {}: {e}", job.url)
            },
        })?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    // Read at most what a TwiML document may be (and one byte more, to tell it was too long):
    // a voice URL must not make us buffer whatever it sends.
    let limit = switchboard_twiml::MAX_DOCUMENT_BYTES + 1;
    let mut bytes: Vec<u8> = Vec::new();
    let mut response = response;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit.saturating_sub(bytes.len());
                bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if bytes.len() >= limit {
                    return Err(switchboard_voice::FetchFailure {
                        code: 11200,
                        message: format!(
                            "HTTP retrieval failure: {} answered more than {} bytes, the most a TwiML document may have",
                            job.url,
                            switchboard_twiml::MAX_DOCUMENT_BYTES
                        ),
                    });
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Err(switchboard_voice::FetchFailure {
                    code: 11200,
                    message: format!("HTTP retrieval failure: {}: {e}", job.url),
                })
            }
        }
    }
    let body = String::from_utf8_lossy(&bytes).into_owned();
    Ok(switchboard_voice::FetchResponse {
        status,
        content_type,
        body,
    })
}
