//! Transfers and three-way calls, in TaskRouter's model: moving a call makes a new task (marked
//! [`TaskOrigin::Transfer`]) that carries the conference and the original task. Its agent joins
//! the same conference; the parties being moved wait on hold meanwhile.
//!
//! - **Cold**: the transferring agent leaves as soon as the target answers.
//! - **Warm**: the two agents talk while the others wait; then complete (the first agent leaves)
//!   or cancel (the target leaves).
//! - **Add**: nobody waits; the target joins the call (a three-way call).
//!
//! A transfer that does not happen (declined, not answered, nobody available, canceled, the
//! caller left) takes the waiting parties off hold and tells the transferring agent why. While
//! two or more agents share a conference none of them ends it by leaving
//! ([`Calls::settle_end_on_exit`]): hold, transfers and three-way calls never end a call by
//! accident.
//!
//! [`Transfers`] keeps the transfers; the links between tasks and calls it makes (the target's
//! leg, the conference it joined) are [`Calls`]'.

use serde_json::{json, Map, Value};
use switchboard_routing::{
    ChannelRef, Command, Event, EventType, NewTask, ReservationAction, ReservationStatus,
    RoutingTarget, TaskStatus,
};
use switchboard_sid::{
    Call, Conference, Reservation, Sid, Task, TaskQueue, Worker, Workspace as WorkspaceKind,
};
use switchboard_voice::{Callee, DialRequest, JoinSpec, ParticipantUpdate};

use std::collections::{BTreeMap, BTreeSet};

use crate::calls::{end_task, Calls};
use crate::cx::Cx;
use crate::entry::{Entry, TaskOrigin};
use crate::error::CenterError;
use crate::protocol::{TransferMode, TransferOutcome, TransferState, TransferView};
use crate::sessions::Agent;
use crate::supervise::Supervision;
use crate::workers;

/// Where a transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferTarget {
    /// One agent.
    Agent(Sid<Worker>),
    /// A queue: whoever in it is available.
    Queue(Sid<TaskQueue>),
}

/// A transfer in progress, by its new task.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// The workspace.
    pub workspace: Sid<WorkspaceKind>,
    /// The task the call is moved from.
    pub from_task: Sid<Task>,
    /// The agent moving it.
    pub from_worker: Sid<Worker>,
    /// The call's conference.
    pub conference: Sid<Conference>,
    /// Cold, warm or add.
    pub mode: TransferMode,
    /// Where to.
    pub target: TransferTarget,
    /// The target's name, for the transferring agent's desktop.
    pub target_name: String,
    /// Whether the target answered (warm: consulting).
    pub answered: bool,
    /// The parties put on hold for it, to take off hold when it ends.
    pub held: Vec<Sid<Call>>,
}

/// The transfers in progress, and what the agents are told about them.
#[derive(Debug, Default)]
pub struct Transfers {
    /// By their new task.
    transfers: BTreeMap<Sid<Task>, Transfer>,
    /// The transfer in progress of a task, by the task it moves.
    transfer_of: BTreeMap<Sid<Task>, Sid<Task>>,
    /// How the last transfer of a task failed, until the next one starts.
    failed_transfers: BTreeMap<Sid<Task>, TransferView>,
    /// Who transferred a task's call to its agent.
    transferred_from: BTreeMap<Sid<Task>, String>,
    /// Agents whose desktops a transfer changed (read by the center).
    touched: BTreeSet<Agent>,
}

impl Transfers {
    /// The transfer a task was made for.
    pub fn transfer(&self, task: Sid<Task>) -> Option<&Transfer> {
        self.transfers.get(&task)
    }

    /// Agents whose desktops changed since the last call.
    pub fn take_touched(&mut self) -> BTreeSet<Agent> {
        std::mem::take(&mut self.touched)
    }

    /// Starts a transfer of `task`'s call (the agent's own, assigned task).
    #[allow(clippy::too_many_arguments)]
    pub fn start_transfer(
        &mut self,
        calls: &Calls,
        supervision: &Supervision,
        cx: &mut Cx<'_>,
        (ws, worker): Agent,
        task: Sid<Task>,
        target: TransferTarget,
        mode: TransferMode,
    ) -> Result<Sid<Task>, CenterError> {
        if self.transfer_of.contains_key(&task) {
            return Err(CenterError::invalid(
                "task_sid",
                "already has a transfer in progress: complete or cancel it first",
            ));
        }
        let leg = calls
            .agent_leg(task)
            .ok_or_else(|| CenterError::invalid("task_sid", "has no call to transfer"))?;
        let conf = calls
            .conference_of_task(cx.voice, task)
            .filter(|c| c.participants.contains(&leg))
            .ok_or_else(|| CenterError::invalid("task_sid", "is not on a live call"))?;
        let conference = conf.sid;
        let participants = conf.participants.clone();
        let state = cx.model.workspace_or_404(ws)?;
        let original = state
            .engine
            .task(task)
            .ok_or_else(|| CenterError::not_found(format!("Task {task}")))?;
        if original.status != TaskStatus::Assigned {
            return Err(CenterError::invalid(
                "task_sid",
                format!(
                    "is {}: only a call being talked on can be transferred",
                    original.status.as_str()
                ),
            ));
        }
        let (routing_target, target_name, target_type) = match target {
            TransferTarget::Agent(w) => {
                if w == worker {
                    return Err(CenterError::invalid(
                        "worker_sid",
                        "is yourself: transfer to another agent",
                    ));
                }
                if participants.iter().any(|c| {
                    calls
                        .task_of_leg(*c)
                        .and_then(|(ws2, t)| calls.task_worker(cx.model, ws2, t))
                        == Some(w)
                }) {
                    return Err(CenterError::invalid(
                        "worker_sid",
                        format!("{w} is already on this call"),
                    ));
                }
                let name = workers::worker_name(cx.model, ws, w).ok_or_else(|| {
                    CenterError::invalid("worker_sid", format!("{w} does not exist"))
                })?;
                (RoutingTarget::Worker(w), name, "worker")
            }
            TransferTarget::Queue(q) => {
                let name = state
                    .engine
                    .queue(q)
                    .map(|q| q.friendly_name.to_string())
                    .ok_or_else(|| {
                        CenterError::invalid("queue_sid", format!("{q} does not exist"))
                    })?;
                (RoutingTarget::Queue(q), name, "queue")
            }
        };
        let mut attributes: Map<String, Value> = original
            .attributes
            .value()
            .as_object()
            .cloned()
            .unwrap_or_default();
        attributes.insert("transferTargetType".into(), json!(target_type));
        attributes.insert("transferMode".into(), json!(mode));
        attributes.insert("transferringWorkerSid".into(), json!(worker.to_string()));
        attributes.insert("originalTaskSid".into(), json!(task.to_string()));
        attributes.insert(
            "conference".into(),
            json!({ "sid": conference.to_string(), "participants": { "worker": leg.to_string() } }),
        );
        let workflow_sid = original.workflow_sid;
        let queue_sid = original.queue_sid;
        let new_task: Sid<Task> = cx.ids.sid();
        cx.execute(Entry::Engine {
            workspace: ws,
            command: Command::CreateTask(NewTask {
                sid: new_task,
                attributes: Some(Value::Object(attributes).to_string()),
                workflow_sid,
                priority: None,
                timeout: None,
                task_channel: Some(ChannelRef::UniqueName("voice".into())),
                virtual_start_time: None,
                routing_target: Some(routing_target),
                ignore_capacity: match target {
                    TransferTarget::Agent(_) => Some(false),
                    TransferTarget::Queue(_) => None,
                },
                task_queue_sid: match target {
                    TransferTarget::Agent(_) => queue_sid,
                    TransferTarget::Queue(q) => Some(q),
                },
            }),
            origin: Some(TaskOrigin::Transfer),
        })?;
        // The parties being moved wait on hold (not for a three-way call).
        let mut held = Vec::new();
        if mode != TransferMode::Add {
            let now = cx.ms();
            for call in participants.iter().copied().filter(|c| *c != leg) {
                let is_party = calls.task_of_leg(call).is_none()
                    && supervision.supervisor_of_leg(call).is_none();
                let on_hold = cx
                    .voice
                    .participation(conference, call)
                    .is_some_and(|p| p.hold);
                if is_party && !on_hold {
                    cx.voice.update_participant(
                        now,
                        conference,
                        call,
                        ParticipantUpdate::hold(true),
                    )?;
                    held.push(call);
                }
            }
        }
        self.failed_transfers.remove(&task);
        self.transfer_of.insert(task, new_task);
        self.transfers.insert(
            new_task,
            Transfer {
                workspace: ws,
                from_task: task,
                from_worker: worker,
                conference,
                mode,
                target,
                target_name,
                answered: false,
                held,
            },
        );
        self.touched.insert((ws, worker));
        // Nobody can take it now: say so at once rather than keep the caller waiting.
        let reserved = cx
            .model
            .workspace(ws)
            .and_then(|w| w.engine.task(new_task))
            .is_some_and(|t| !t.reservations.is_empty());
        if !reserved {
            let why = match target {
                TransferTarget::Queue(_) => TransferOutcome::NobodyAvailable,
                TransferTarget::Agent(w) => {
                    let state = cx.model.workspace(ws);
                    match state.and_then(|s| s.engine.worker(w).map(|x| (s, x))) {
                        Some((s, x)) if s.engine.worker_available(x) => TransferOutcome::Busy,
                        _ => TransferOutcome::Unavailable,
                    }
                }
            };
            self.fail_transfer(cx, new_task, why);
        }
        Ok(new_task)
    }

    /// The target accepted the transfer task's reservation: its agent joins the call, and the
    /// transfer goes on as its mode says.
    #[allow(clippy::too_many_arguments)]
    pub fn accept_transfer(
        &mut self,
        calls: &mut Calls,
        cx: &mut Cx<'_>,
        ws: Sid<WorkspaceKind>,
        reservation: Sid<Reservation>,
        task: Sid<Task>,
        worker: Sid<Worker>,
    ) -> Result<(), CenterError> {
        let t = self
            .transfers
            .get(&task)
            .cloned()
            .ok_or_else(|| CenterError::invalid("reservation_sid", "is not a transfer's"))?;
        let name = cx
            .voice
            .conference(t.conference)
            .filter(|c| c.status != switchboard_voice::ConferenceStatus::Completed)
            .map(|c| c.friendly_name.clone())
            .ok_or_else(|| {
                CenterError::invalid("reservation_sid", "is for a call that has ended")
            })?;
        let identity = workers::identity(cx.model, ws, worker).ok_or_else(|| {
            CenterError::invalid(
                "reservation_sid",
                "cannot be accepted: you have no client: contact_uri, so no call reaches you",
            )
        })?;
        let from = cx
            .voice
            .call(calls.agent_leg(t.from_task).unwrap_or(Sid::from_u128(0)))
            .map(|c| c.from.clone())
            .unwrap_or_default();
        let leg = cx.voice.dial(
            cx.ms(),
            DialRequest {
                from,
                to: format!("client:{identity}"),
                callee: Callee::Agent {
                    identity,
                    auto_answer: true,
                },
                join: JoinSpec {
                    conference: name,
                    start_on_enter: true,
                    end_on_exit: true,
                    label: Some("worker".into()),
                    ..JoinSpec::default()
                },
                ring_timeout: 60,
            },
        )?;
        calls.link_joined_leg(ws, task, leg, t.conference);
        let from_name = workers::worker_name(cx.model, ws, t.from_worker).unwrap_or_default();
        self.transferred_from.insert(task, from_name);
        cx.execute(Entry::engine(
            ws,
            Command::UpdateReservation {
                sid: reservation,
                action: ReservationAction::Accept,
            },
        ))?;
        self.touched.insert((ws, t.from_worker));
        match t.mode {
            TransferMode::Cold => self.hand_over(calls, cx, task),
            TransferMode::Warm => {
                if let Some(x) = self.transfers.get_mut(&task) {
                    x.answered = true;
                }
                // The agents talk as soon as both are in: neither ends the call by leaving.
                calls.lower_end_on_exit(cx, t.conference);
            }
            TransferMode::Add => self.finish_transfer(cx, task),
        }
        Ok(())
    }

    /// Warm transfer: the transferring agent leaves; the others stay with the new agent.
    pub fn complete_transfer(
        &mut self,
        calls: &mut Calls,
        cx: &mut Cx<'_>,
        from_task: Sid<Task>,
    ) -> Result<(), CenterError> {
        let task = self
            .transfer_of
            .get(&from_task)
            .copied()
            .ok_or_else(|| CenterError::invalid("task_sid", "has no transfer in progress"))?;
        let answered = self.transfers.get(&task).is_some_and(|t| t.answered);
        if !answered {
            return Err(CenterError::invalid(
                "task_sid",
                "has a transfer whose target has not answered yet: wait, or cancel it",
            ));
        }
        self.hand_over(calls, cx, task);
        Ok(())
    }

    /// Calls a transfer off: a ringing target stops ringing, a consulting one leaves.
    pub fn cancel_transfer(
        &mut self,
        calls: &mut Calls,
        cx: &mut Cx<'_>,
        from_task: Sid<Task>,
    ) -> Result<(), CenterError> {
        let task = self
            .transfer_of
            .get(&from_task)
            .copied()
            .ok_or_else(|| CenterError::invalid("task_sid", "has no transfer in progress"))?;
        if let Some(leg) = calls.agent_leg(task) {
            if let Some(conf) = self.transfers.get(&task).map(|t| t.conference) {
                calls.leave(cx, conf, leg, "the transfer was canceled");
            }
        }
        self.fail_transfer(cx, task, TransferOutcome::Canceled);
        Ok(())
    }

    /// The transferring agent leaves; the waiting parties come off hold.
    fn hand_over(&mut self, calls: &mut Calls, cx: &mut Cx<'_>, task: Sid<Task>) {
        let Some(t) = self.transfers.get(&task).cloned() else {
            return;
        };
        if let Some(leg) = calls.agent_leg(t.from_task) {
            calls.leave(cx, t.conference, leg, "the agent transferred the call");
        }
        self.finish_transfer(cx, task);
    }

    /// A transfer that happened: forget it, and take the waiting parties off hold.
    fn finish_transfer(&mut self, cx: &mut Cx<'_>, task: Sid<Task>) {
        let Some(t) = self.transfers.remove(&task) else {
            return;
        };
        self.transfer_of.remove(&t.from_task);
        self.unhold(cx, &t);
        self.touched.insert((t.workspace, t.from_worker));
    }

    /// A transfer that did not happen: the waiting parties come back to the transferring agent,
    /// who is told why; the transfer's task ends.
    fn fail_transfer(&mut self, cx: &mut Cx<'_>, task: Sid<Task>, why: TransferOutcome) {
        let Some(t) = self.transfers.remove(&task) else {
            return;
        };
        self.transfer_of.remove(&t.from_task);
        self.unhold(cx, &t);
        end_task(cx, t.workspace, task, "the transfer did not happen");
        self.failed_transfers.insert(
            t.from_task,
            TransferView {
                mode: t.mode,
                target: t.target_name.clone(),
                state: TransferState::Failed,
                outcome: Some(why),
            },
        );
        self.touched.insert((t.workspace, t.from_worker));
    }

    fn unhold(&mut self, cx: &mut Cx<'_>, t: &Transfer) {
        let now = cx.ms();
        for call in &t.held {
            let held = cx
                .voice
                .participation(t.conference, *call)
                .is_some_and(|p| p.hold);
            if held {
                // Refused only if the party left meanwhile.
                let _ = cx.voice.update_participant(
                    now,
                    t.conference,
                    *call,
                    ParticipantUpdate::hold(false),
                );
            }
        }
    }

    /// What a routing event means for the transfers: a transfer's task declined, not answered
    /// or canceled fails it; a finished task forgets what was kept for it.
    pub fn on_routing_event(&mut self, cx: &mut Cx<'_>, ws: Sid<WorkspaceKind>, e: &Event) {
        let Some(task) = e.task.as_ref().map(|t| t.sid) else {
            return;
        };
        if self.transfers.contains_key(&task) {
            self.on_transfer_event(cx, ws, e, task);
        }
        if matches!(
            e.event_type,
            EventType::TaskCompleted | EventType::TaskCanceled | EventType::TaskDeleted
        ) {
            self.forget_task(task);
        }
    }

    /// Drops what was kept for a finished task.
    fn forget_task(&mut self, task: Sid<Task>) {
        self.failed_transfers.remove(&task);
        self.transferred_from.remove(&task);
        if let Some(t) = self.transfer_of.remove(&task) {
            self.transfers.remove(&t);
        }
        if let Some(t) = self.transfers.remove(&task) {
            self.transfer_of.remove(&t.from_task);
            self.touched.insert((t.workspace, t.from_worker));
        }
    }

    fn on_transfer_event(
        &mut self,
        cx: &mut Cx<'_>,
        ws: Sid<WorkspaceKind>,
        e: &Event,
        task: Sid<Task>,
    ) {
        let Some(t) = self.transfers.get(&task) else {
            return;
        };
        if t.answered {
            return;
        }
        let target = t.target;
        let why = match e.event_type {
            EventType::ReservationRejected => TransferOutcome::Declined,
            EventType::ReservationTimeout => TransferOutcome::NoAnswer,
            EventType::ReservationCanceled => TransferOutcome::Unavailable,
            EventType::TaskCanceled | EventType::TaskDeleted => TransferOutcome::Canceled,
            _ => return,
        };
        // A queue offers the call to its next agent; it fails only when nobody is left.
        let offered_again = matches!(target, TransferTarget::Queue(_))
            && cx
                .model
                .workspace(ws)
                .and_then(|w| w.engine.task(task).map(|t| (w, t)))
                .is_some_and(|(w, t)| {
                    t.reservations.iter().any(|r| {
                        w.engine
                            .reservation(*r)
                            .is_some_and(|r| r.status == ReservationStatus::Pending)
                    })
                });
        if !offered_again {
            let why = match (target, why) {
                (TransferTarget::Queue(_), TransferOutcome::Unavailable) => {
                    TransferOutcome::NobodyAvailable
                }
                (_, w) => w,
            };
            self.fail_transfer(cx, task, why);
        }
    }

    /// What a voice output means for the transfers: a conference that ended fails every
    /// transfer of its call.
    pub fn on_voice_output(&mut self, cx: &mut Cx<'_>, o: &switchboard_voice::Output) {
        if let switchboard_voice::Output::ConferenceEvent {
            conference,
            event: "conference-end",
            ..
        } = o
        {
            self.conference_ended(cx, *conference);
        }
    }

    /// The call's conference ended: every transfer on it fails.
    fn conference_ended(&mut self, cx: &mut Cx<'_>, conference: Sid<Conference>) {
        let gone: Vec<Sid<Task>> = self
            .transfers
            .iter()
            .filter(|(_, t)| t.conference == conference)
            .map(|(task, _)| *task)
            .collect();
        for task in gone {
            self.fail_transfer(cx, task, TransferOutcome::CallerLeft);
        }
    }

    /// How the transferring agent sees the transfer of `task`, if there is or was one.
    pub fn transfer_view(&self, from_task: Sid<Task>) -> Option<TransferView> {
        if let Some(t) = self
            .transfer_of
            .get(&from_task)
            .and_then(|t| self.transfers.get(t))
        {
            return Some(TransferView {
                mode: t.mode,
                target: t.target_name.clone(),
                state: if t.answered {
                    TransferState::Consulting
                } else {
                    TransferState::Ringing
                },
                outcome: None,
            });
        }
        self.failed_transfers.get(&from_task).cloned()
    }

    /// Who transferred a task's call to its agent.
    pub fn transferred_from(&self, task: Sid<Task>) -> Option<&str> {
        self.transferred_from.get(&task).map(String::as_str)
    }
}
