//! Agent desktops: one WebSocket session per signed-in browser. The core pushes each agent its
//! whole state whenever it changes (worker, activities, its reservations with their tasks and
//! calls), and carries out what the agent asks, but only on the agent's own reservations, tasks
//! and calls. Messages are described in docs/desktop-protocol.md.
//!
//! An agent whose last session drops is made unroutable after a short grace period (moved to the
//! offline activity), so calls are not offered to a browser that is gone.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use switchboard_routing::{
    Command, ReservationAction, ReservationStatus, TaskStatus, TaskStatusChange, TaskUpdate,
    Timestamp, WorkerUpdate,
};
use switchboard_sid::{Activity, Call, Reservation, Sid, Task, Worker, Workspace as WorkspaceKind};
use switchboard_voice::End;

use crate::api::ApiError;
use crate::calls::{text, ConferenceOptions};
use crate::core::{Core, Entry};

/// How long a dropped agent stays routable, waiting for its browser to come back.
pub const GRACE_MS: i64 = 3_000;
/// How many browsers one agent may have connected at once.
pub const MAX_SESSIONS_PER_AGENT: usize = 8;
/// The longest free text a desktop action may carry (a reason, a search).
pub const MAX_TEXT: usize = 1_024;

/// One connected browser.
#[derive(Debug)]
pub struct Session {
    /// The workspace.
    pub workspace: Sid<WorkspaceKind>,
    /// The agent.
    pub worker: Sid<Worker>,
    /// The latest state for the browser (a slow browser skips to the newest, never queues).
    tx: tokio::sync::watch::Sender<String>,
    last_sent: Option<String>,
}

/// The connected browsers, and agents waiting out their grace period.
#[derive(Debug, Default)]
pub struct Sessions {
    next_id: u64,
    sessions: BTreeMap<u64, Session>,
    grace: BTreeMap<(Sid<WorkspaceKind>, Sid<Worker>), Timestamp>,
}

impl Sessions {
    /// When the next dropped agent's grace period ends.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.grace.values().min().copied()
    }
}

fn sid_field<K: switchboard_sid::SidKind>(msg: &Value, key: &str) -> Result<Sid<K>, ApiError> {
    let raw = text(msg, key).ok_or_else(|| ApiError::missing(key))?;
    raw.parse().map_err(|e| ApiError::invalid(key, e))
}

impl Core {
    /// Registers a browser session; its states go to `tx`. Refused when the worker no longer
    /// exists (its token outlived it) or already has too many sessions.
    pub fn desktop_connect(
        &mut self,
        workspace: Sid<WorkspaceKind>,
        worker: Sid<Worker>,
        tx: tokio::sync::watch::Sender<String>,
    ) -> Result<u64, ApiError> {
        let exists = self
            .workspaces
            .get(&workspace)
            .is_some_and(|w| w.engine.worker(worker).is_some());
        if !exists {
            return Err(ApiError::not_found(format!("Worker {worker}")));
        }
        let open = self
            .desktops
            .sessions
            .values()
            .filter(|s| s.workspace == workspace && s.worker == worker)
            .count();
        if open >= MAX_SESSIONS_PER_AGENT {
            return Err(ApiError::invalid(
                "token",
                format!("already has {open} desktop sessions open; the limit is {MAX_SESSIONS_PER_AGENT}"),
            ));
        }
        self.desktops.next_id += 1;
        let id = self.desktops.next_id;
        self.desktops.grace.remove(&(workspace, worker));
        self.desktops.sessions.insert(
            id,
            Session {
                workspace,
                worker,
                tx,
                last_sent: None,
            },
        );
        self.push_desktops();
        Ok(id)
    }

    /// A browser session closed.
    pub fn desktop_disconnect(&mut self, id: u64) {
        let Some(s) = self.desktops.sessions.remove(&id) else {
            return;
        };
        let still_here = self
            .desktops
            .sessions
            .values()
            .any(|o| o.workspace == s.workspace && o.worker == s.worker);
        if !still_here {
            let deadline = Timestamp(self.now().0 + GRACE_MS);
            self.desktops
                .grace
                .insert((s.workspace, s.worker), deadline);
        }
    }

    /// Agents whose browsers did not come back are moved to the offline activity.
    pub(crate) fn desktop_deadlines(&mut self, now: Timestamp) {
        let due: Vec<(Sid<WorkspaceKind>, Sid<Worker>)> = self
            .desktops
            .grace
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(k, _)| *k)
            .collect();
        for (ws, worker) in due {
            self.desktops.grace.remove(&(ws, worker));
            let Some(offline) = self.offline_activity(ws) else {
                continue;
            };
            let current = self
                .workspaces
                .get(&ws)
                .and_then(|w| w.engine.worker(worker))
                .map(|w| w.activity_sid);
            if current.is_none() || current == Some(offline) {
                continue;
            }
            tracing::info!(%worker, "desktop connection lost: the agent is now offline");
            let result = self.execute(Entry::Engine {
                workspace: ws,
                command: Command::UpdateWorker {
                    sid: worker,
                    update: WorkerUpdate {
                        activity_sid: Some(offline),
                        ..Default::default()
                    },
                },
            });
            if let Err(e) = result {
                tracing::warn!(%worker, error = %e.message, "could not make a disconnected agent offline");
            }
        }
    }

    /// The workspace's offline activity: Flex's `taskrouter_offline_activity_sid` when it belongs
    /// to this workspace, else an unavailable activity named Offline, else the default activity
    /// when it is unavailable.
    pub fn offline_activity(&self, ws: Sid<WorkspaceKind>) -> Option<Sid<Activity>> {
        let engine = &self.workspaces.get(&ws)?.engine;
        let configured = self
            .configuration
            .get("taskrouter_offline_activity_sid")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .filter(|a| engine.activity(*a).is_some());
        configured
            .or_else(|| {
                engine
                    .activities()
                    .find(|a| !a.available && a.friendly_name.eq_ignore_ascii_case("Offline"))
                    .map(|a| a.sid)
            })
            .or_else(|| {
                engine
                    .default_activity()
                    .filter(|a| !a.available)
                    .map(|a| a.sid)
            })
    }

    /// Sends every session whose state changed its new state.
    pub(crate) fn push_desktops(&mut self) {
        let ids: Vec<u64> = self.desktops.sessions.keys().copied().collect();
        for id in ids {
            let Some((ws, worker)) = self
                .desktops
                .sessions
                .get(&id)
                .map(|s| (s.workspace, s.worker))
            else {
                continue;
            };
            // A session whose worker is gone is closed (dropping its sender ends it).
            let gone = self
                .workspaces
                .get(&ws)
                .is_none_or(|w| w.engine.worker(worker).is_none());
            if gone {
                self.desktops.sessions.remove(&id);
                continue;
            }
            let state = self.desktop_state(ws, worker).to_string();
            if let Some(s) = self.desktops.sessions.get_mut(&id) {
                if s.last_sent.as_deref() != Some(state.as_str()) {
                    s.tx.send_replace(state.clone());
                    s.last_sent = Some(state);
                }
            }
        }
    }

    /// Everything an agent's desktop shows.
    pub fn desktop_state(&self, ws: Sid<WorkspaceKind>, worker: Sid<Worker>) -> Value {
        let Some(state) = self.workspaces.get(&ws) else {
            return json!({"type": "state", "error": "workspace gone"});
        };
        let e = &state.engine;
        let Some(w) = e.worker(worker) else {
            return json!({"type": "state", "error": "worker gone"});
        };
        let attrs = w.attributes.value();
        let activities: Vec<Value> = e
            .activities()
            .map(|a| json!({"sid": a.sid.to_string(), "friendly_name": &*a.friendly_name, "available": a.available}))
            .collect();
        let mut reservations: Vec<&switchboard_routing::ReservationRecord> = e
            .reservations()
            .filter(|r| r.worker_sid == worker && r.status.is_live())
            .collect();
        reservations.sort_by_key(|r| (r.date_created, r.sid));
        let tasks: Vec<Value> = reservations
            .into_iter()
            .filter_map(|r| {
                let t = e.task(r.task_sid)?;
                let queue = t
                    .queue_sid
                    .and_then(|q| e.queue(q))
                    .map(|q| q.friendly_name.to_string());
                let channel = e.channel(t.channel_sid).map(|c| c.unique_name.to_string());
                Some(json!({
                    "reservation_sid": r.sid.to_string(),
                    "reservation_status": r.status.as_str(),
                    "task_sid": t.sid.to_string(),
                    "task_status": t.status.as_str(),
                    "channel": channel,
                    "queue": queue,
                    "attributes": t.attributes.value(),
                    "date_created": t.date_created.0,
                    "call": self.task_call_view(ws, t.sid, r.status),
                }))
            })
            .collect();
        let identity = text(attrs, "contact_uri")
            .and_then(|c| c.strip_prefix("client:"))
            .map(str::to_owned);
        let rings: Vec<Value> = self
            .voice
            .calls()
            .filter(|c| !c.status.is_final())
            .filter(|c| matches!(&c.callee, End::Agent { identity: id, answered: false } if Some(id) == identity.as_ref()))
            .map(|c| json!({"call_sid": c.sid.to_string(), "from": c.from, "status": c.status.as_str()}))
            .collect();
        json!({
            "type": "state",
            "worker": {
                "sid": w.sid.to_string(),
                "friendly_name": &*w.friendly_name,
                "full_name": text(attrs, "full_name"),
                "contact_uri": text(attrs, "contact_uri"),
                "activity_sid": w.activity_sid.to_string(),
                "activity_name": &*e.activity_name(w.activity_sid),
                "available": e.worker_available(w),
            },
            "workspace_sid": ws.to_string(),
            "internal_call": self.configuration.pointer("/ui_attributes/custom_data/features/internal_call"),
            "offline_activity_sid": self.offline_activity(ws).map(|a| a.to_string()),
            "activities": activities,
            "tasks": tasks,
            "incoming_calls": rings,
        })
    }

    /// The call of a task as its agent sees it.
    fn task_call_view(
        &self,
        ws: Sid<WorkspaceKind>,
        task: Sid<Task>,
        reservation: ReservationStatus,
    ) -> Value {
        let leg = self.calls.agent_leg.get(&task).copied();
        let participation = leg.and_then(|c| {
            let conf = self.voice.conference_named(&task.to_string())?;
            self.voice.participation(conf.sid, c).cloned()
        });
        let others_held = self
            .voice
            .conference_named(&task.to_string())
            .is_some_and(|conf| {
                conf.participants
                    .iter()
                    .filter(|c| Some(**c) != leg)
                    .any(|c| {
                        self.voice
                            .participation(conf.sid, *c)
                            .is_some_and(|p| p.hold)
                    })
            });
        let (state, reason) = match self.outbound_state(ws, task) {
            Some((s, r)) => (serde_json::to_value(s).unwrap_or(Value::Null), r),
            None => {
                let s = match reservation {
                    ReservationStatus::Pending => "ringing",
                    ReservationStatus::Accepted if participation.is_some() => "connected",
                    _ => "ended",
                };
                (json!(s), None)
            }
        };
        let is_call = self
            .workspaces
            .get(&ws)
            .and_then(|w| w.engine.task(task))
            .is_some_and(|t| {
                t.attributes.value().get("call_sid").is_some()
                    || t.attributes.value().get("outbound_to").is_some()
            });
        if !is_call {
            return Value::Null;
        }
        json!({
            "state": state,
            "reason": reason,
            "call_sid": leg.map(|c| c.to_string()),
            "muted": participation.as_ref().is_some_and(|p| p.muted),
            "held": others_held,
        })
    }

    /// Carries out a desktop message for `worker`. Returns the data of the reply.
    pub fn desktop_action(
        &mut self,
        ws: Sid<WorkspaceKind>,
        worker: Sid<Worker>,
        msg: &Value,
    ) -> Result<Value, ApiError> {
        let kind = text(msg, "type").ok_or_else(|| ApiError::missing("type"))?;
        for key in ["reason", "query", "prefix"] {
            if text(msg, key).is_some_and(|t| t.chars().count() > MAX_TEXT) {
                return Err(ApiError::invalid(
                    key,
                    format!("is longer than {MAX_TEXT} characters"),
                ));
            }
        }
        match kind {
            "set_activity" => {
                let activity: Sid<Activity> = sid_field(msg, "activity_sid")?;
                self.execute(Entry::Engine {
                    workspace: ws,
                    command: Command::UpdateWorker {
                        sid: worker,
                        update: WorkerUpdate {
                            activity_sid: Some(activity),
                            ..Default::default()
                        },
                    },
                })?;
                Ok(json!({}))
            }
            "start_outbound_call" => {
                let destination = text(msg, "destination").unwrap_or_default().to_owned();
                let attributes: Map<String, Value> = match msg.get("task_attributes") {
                    None | Some(Value::Null) => Map::new(),
                    Some(Value::Object(m)) => m.clone(),
                    Some(_) => {
                        return Err(ApiError::invalid("task_attributes", "must be an object"))
                    }
                };
                let task = self.start_outbound_call(
                    ws,
                    worker,
                    &destination,
                    text(msg, "queue_sid"),
                    text(msg, "caller_id"),
                    attributes,
                )?;
                Ok(json!({"task_sid": task.to_string()}))
            }
            "accept" | "reject" => {
                let reservation: Sid<Reservation> = sid_field(msg, "reservation_sid")?;
                let (task, status) = self.own_reservation(ws, worker, reservation)?;
                if status != ReservationStatus::Pending {
                    return Err(ApiError::invalid(
                        "reservation_sid",
                        format!("is {}, not pending", status.as_str()),
                    ));
                }
                if kind == "reject" {
                    self.execute(Entry::Engine {
                        workspace: ws,
                        command: Command::UpdateReservation {
                            sid: reservation,
                            action: ReservationAction::Reject {
                                worker_activity_sid: None,
                            },
                        },
                    })?;
                    return Ok(json!({}));
                }
                let is_call = self
                    .workspaces
                    .get(&ws)
                    .and_then(|w| w.engine.task(task))
                    .is_some_and(|t| t.attributes.value().get("call_sid").is_some());
                if is_call {
                    self.conference_instruction(
                        ws,
                        reservation,
                        ConferenceOptions {
                            auto_answer: true,
                            ..Default::default()
                        },
                    )?;
                } else {
                    self.execute(Entry::Engine {
                        workspace: ws,
                        command: Command::UpdateReservation {
                            sid: reservation,
                            action: ReservationAction::Accept,
                        },
                    })?;
                }
                Ok(json!({}))
            }
            "hangup" => {
                let task: Sid<Task> = sid_field(msg, "task_sid")?;
                self.own_task(ws, worker, task)?;
                let now = self.now().0;
                match self.calls.agent_leg.get(&task).copied() {
                    Some(call) => {
                        if self.calls.far_leg_of.values().any(|(_, t)| *t == task) {
                            // Hanging up before anyone answered is a cancel, not a finished call.
                            let connected = matches!(
                                self.outbound_state(ws, task),
                                Some((crate::calls::CallState::Connected, _))
                            );
                            let why = if connected { "completed" } else { "canceled" };
                            self.calls.outcome.entry(task).or_insert_with(|| why.into());
                        }
                        self.voice
                            .hangup(now, call, "the agent hung up")
                            .map_err(|e| ApiError::invalid("task_sid", e))?;
                    }
                    None => return Err(ApiError::invalid("task_sid", "has no call to hang up")),
                }
                Ok(json!({}))
            }
            "hold" | "mute" => {
                let task: Sid<Task> = sid_field(msg, "task_sid")?;
                let on = msg
                    .get(if kind == "hold" { "hold" } else { "muted" })
                    .and_then(Value::as_bool)
                    .ok_or_else(|| {
                        ApiError::missing(if kind == "hold" { "hold" } else { "muted" })
                    })?;
                self.own_task(ws, worker, task)?;
                let leg = self
                    .calls
                    .agent_leg
                    .get(&task)
                    .copied()
                    .ok_or_else(|| ApiError::invalid("task_sid", "has no call"))?;
                let conf = self
                    .voice
                    .conference_named(&task.to_string())
                    .map(|c| (c.sid, c.participants.clone()))
                    .ok_or_else(|| ApiError::invalid("task_sid", "has no conference"))?;
                let now = self.now().0;
                if kind == "mute" {
                    self.voice
                        .update_participant(now, conf.0, leg, None, Some(on))
                        .map_err(|e| ApiError::invalid("task_sid", e))?;
                } else {
                    // Hold puts the other party on hold, as Flex does.
                    for other in conf.1.into_iter().filter(|c| *c != leg) {
                        self.voice
                            .update_participant(now, conf.0, other, Some(on), None)
                            .map_err(|e| ApiError::invalid("task_sid", e))?;
                    }
                }
                Ok(json!({}))
            }
            "wrap" | "complete" => {
                let task: Sid<Task> = sid_field(msg, "task_sid")?;
                self.own_task(ws, worker, task)?;
                let change = if kind == "wrap" {
                    TaskStatusChange::Wrapping
                } else {
                    TaskStatusChange::Completed
                };
                self.execute(Entry::Engine {
                    workspace: ws,
                    command: Command::UpdateTask {
                        sid: task,
                        update: TaskUpdate {
                            assignment_status: Some(change),
                            reason: Some(
                                text(msg, "reason")
                                    .unwrap_or("completed by the agent")
                                    .to_owned(),
                            ),
                            ..Default::default()
                        },
                    },
                })?;
                Ok(json!({}))
            }
            "answer_call" | "decline_call" => {
                let call: Sid<Call> = sid_field(msg, "call_sid")?;
                self.own_ringing_call(ws, worker, call)?;
                let now = self.now().0;
                let r = if kind == "answer_call" {
                    self.voice.answer(now, call)
                } else {
                    self.voice.decline(now, call)
                };
                r.map_err(|e| ApiError::invalid("call_sid", e))?;
                Ok(json!({}))
            }
            "directory_agents" => Ok(
                json!({"agents": self.directory_agents(ws, worker, text(msg, "query").unwrap_or(""))}),
            ),
            "directory_queues" => {
                Ok(json!({"queues": self.directory_queues(ws, text(msg, "prefix").unwrap_or(""))}))
            }
            other => Err(ApiError::invalid(
                "type",
                format!("{other:?} is not a desktop action"),
            )),
        }
    }

    fn own_reservation(
        &self,
        ws: Sid<WorkspaceKind>,
        worker: Sid<Worker>,
        r: Sid<Reservation>,
    ) -> Result<(Sid<Task>, ReservationStatus), ApiError> {
        let res = self
            .workspace(ws)?
            .engine
            .reservation(r)
            .filter(|x| x.worker_sid == worker);
        res.map(|x| (x.task_sid, x.status))
            .ok_or_else(|| ApiError::not_found(format!("Reservation {r}")))
    }

    fn own_task(
        &self,
        ws: Sid<WorkspaceKind>,
        worker: Sid<Worker>,
        task: Sid<Task>,
    ) -> Result<TaskStatus, ApiError> {
        let e = &self.workspace(ws)?.engine;
        let t = e
            .task(task)
            .ok_or_else(|| ApiError::not_found(format!("Task {task}")))?;
        let mine = t
            .reservations
            .iter()
            .filter_map(|r| e.reservation(*r))
            .any(|r| r.worker_sid == worker && r.status.is_live());
        if mine {
            Ok(t.status)
        } else {
            Err(ApiError::not_found(format!("Task {task}")))
        }
    }

    fn own_ringing_call(
        &self,
        ws: Sid<WorkspaceKind>,
        worker: Sid<Worker>,
        call: Sid<Call>,
    ) -> Result<(), ApiError> {
        let contact = self
            .workspace(ws)?
            .engine
            .worker(worker)
            .and_then(|w| text(w.attributes.value(), "contact_uri").map(str::to_owned));
        let identity = contact.as_deref().and_then(|c| c.strip_prefix("client:"));
        let ok = self.voice.call(call).is_some_and(|c| matches!(&c.callee, End::Agent { identity: id, .. } if Some(id.as_str()) == identity));
        if ok {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("Call {call}")))
        }
    }

    /// Other agents who are not offline, whose full name or friendly name contains `query`
    /// (case-insensitive), with their activity.
    pub fn directory_agents(
        &self,
        ws: Sid<WorkspaceKind>,
        me: Sid<Worker>,
        query: &str,
    ) -> Vec<Value> {
        let Some(state) = self.workspaces.get(&ws) else {
            return Vec::new();
        };
        let e = &state.engine;
        let offline = self.offline_activity(ws);
        let q = query.trim().to_lowercase();
        let mut out: Vec<(String, Value)> = e
            .workers()
            .filter(|w| w.sid != me && Some(w.activity_sid) != offline)
            .filter_map(|w| {
                let full = text(w.attributes.value(), "full_name").map(str::to_owned);
                let matches = q.is_empty()
                    || w.friendly_name.to_lowercase().contains(&q)
                    || full.as_ref().is_some_and(|f| f.to_lowercase().contains(&q));
                matches.then(|| {
                    let label = full.clone().unwrap_or_else(|| w.friendly_name.to_string());
                    (
                        label.to_lowercase(),
                        json!({
                            "sid": w.sid.to_string(),
                            "friendly_name": &*w.friendly_name,
                            "full_name": full,
                            "activity_name": &*e.activity_name(w.activity_sid),
                            "available": e.worker_available(w),
                        }),
                    )
                })
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.into_iter().map(|(_, v)| v).take(50).collect()
    }

    /// Queues whose name starts with `prefix` (case-insensitive), sorted by name; the internal
    /// calls queue itself is left out.
    pub fn directory_queues(&self, ws: Sid<WorkspaceKind>, prefix: &str) -> Vec<Value> {
        let Some(state) = self.workspaces.get(&ws) else {
            return Vec::new();
        };
        let internal = self
            .configuration
            .pointer("/ui_attributes/custom_data/features/internal_call/outbound_queue_sid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let p = prefix.trim().to_lowercase();
        let mut out: Vec<(String, Value)> = state
            .engine
            .queues()
            .filter(|q| Some(q.sid.to_string()) != internal)
            .filter(|q| q.friendly_name.to_lowercase().starts_with(&p))
            .map(|q| {
                (
                    q.friendly_name.to_lowercase(),
                    json!({"sid": q.sid.to_string(), "friendly_name": &*q.friendly_name}),
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.into_iter().map(|(_, v)| v).collect()
    }
}
