//! Desktop actions: what an agent may do from its desktop, always on its own reservations,
//! tasks and calls only.

use switchboard_routing::{
    Command, ReservationAction, ReservationStatus, TaskStatusChange, TaskUpdate, WorkerUpdate,
};
use switchboard_sid::{Call, Reservation, Sid, Task};
use switchboard_voice::{End, ParticipantUpdate};

use crate::calls::{Calls, OutboundRequest};
use crate::cx::Cx;
use crate::entry::Entry;
use crate::error::CenterError;
use crate::io::ConferenceOptions;
use crate::protocol::{Action, ActionData, MAX_TEXT};
use crate::sessions::Agent;
use crate::supervise::Supervision;
use crate::transfer::{TransferTarget, Transfers};
use crate::view;
use crate::workers;

fn check_text(name: &str, text: Option<&str>) -> Result<(), CenterError> {
    match text {
        Some(t) if t.chars().count() > MAX_TEXT => Err(CenterError::invalid(
            name,
            format!("is longer than {MAX_TEXT} characters"),
        )),
        _ => Ok(()),
    }
}

/// Carries out an action for `agent`.
pub fn act(
    calls: &mut Calls,
    transfers: &mut Transfers,
    supervision: &mut Supervision,
    cx: &mut Cx<'_>,
    agent: Agent,
    action: Action,
) -> Result<ActionData, CenterError> {
    let (ws, worker) = agent;
    let done = Ok(ActionData::Done {});
    let wrap = matches!(action, Action::Wrap { .. });
    match action {
        Action::SetActivity { activity_sid } => {
            cx.execute(Entry::engine(
                ws,
                Command::UpdateWorker {
                    sid: worker,
                    update: WorkerUpdate {
                        activity_sid: Some(activity_sid),
                        ..Default::default()
                    },
                },
            ))?;
            done
        }
        Action::StartOutboundCall {
            destination,
            queue_sid,
            caller_id,
            task_attributes,
        } => {
            check_text("caller_id", caller_id.as_deref())?;
            let task_sid = calls.start_outbound_call(
                cx,
                ws,
                worker,
                OutboundRequest {
                    destination,
                    queue_sid,
                    caller_id,
                    task_attributes: task_attributes.unwrap_or_default(),
                },
            )?;
            Ok(ActionData::Task { task_sid })
        }
        Action::Accept { reservation_sid } | Action::Reject { reservation_sid } => {
            let reject = matches!(action, Action::Reject { .. });
            let (task, status) = own_reservation(cx, agent, reservation_sid)?;
            if status != ReservationStatus::Pending {
                return Err(CenterError::invalid(
                    "reservation_sid",
                    format!("is {}, not pending", status.as_str()),
                ));
            }
            if reject {
                cx.execute(Entry::engine(
                    ws,
                    Command::UpdateReservation {
                        sid: reservation_sid,
                        action: ReservationAction::Reject {
                            worker_activity_sid: None,
                        },
                    },
                ))?;
            } else if transfers.transfer(task).is_some() {
                transfers.accept_transfer(calls, cx, ws, reservation_sid, task, worker)?;
            } else if calls.enqueued(task).is_some() {
                calls.conference_instruction(
                    cx,
                    ws,
                    reservation_sid,
                    ConferenceOptions {
                        auto_answer: true,
                        ..Default::default()
                    },
                )?;
            } else {
                cx.execute(Entry::engine(
                    ws,
                    Command::UpdateReservation {
                        sid: reservation_sid,
                        action: ReservationAction::Accept,
                    },
                ))?;
            }
            done
        }
        Action::Hangup { task_sid } => {
            own_task(cx, agent, task_sid)?;
            let call = calls
                .agent_leg(task_sid)
                .ok_or_else(|| CenterError::invalid("task_sid", "has no call to hang up"))?;
            match calls.conference_of_task(cx.voice, task_sid).map(|c| c.sid) {
                Some(conference) => calls.leave(cx, conference, call, "the agent hung up"),
                None => {
                    let now = cx.ms();
                    cx.voice.hangup(now, call, "the agent hung up")?;
                }
            }
            done
        }
        Action::Transfer {
            task_sid,
            worker_sid,
            queue_sid,
            mode,
        } => {
            own_task(cx, agent, task_sid)?;
            let target = match (worker_sid, queue_sid) {
                (Some(w), None) => TransferTarget::Agent(w),
                (None, Some(q)) => TransferTarget::Queue(q),
                (None, None) => return Err(CenterError::missing("worker_sid")),
                (Some(_), Some(_)) => {
                    return Err(CenterError::invalid(
                        "queue_sid",
                        "cannot be given with worker_sid: transfer to an agent or a queue",
                    ))
                }
            };
            let task_sid =
                transfers.start_transfer(calls, supervision, cx, agent, task_sid, target, mode)?;
            Ok(ActionData::Task { task_sid })
        }
        Action::CompleteTransfer { task_sid } => {
            own_task(cx, agent, task_sid)?;
            transfers.complete_transfer(calls, cx, task_sid)?;
            done
        }
        Action::CancelTransfer { task_sid } => {
            own_task(cx, agent, task_sid)?;
            transfers.cancel_transfer(calls, cx, task_sid)?;
            done
        }
        Action::UpdateParticipant {
            task_sid,
            call_sid,
            hold,
            muted,
        } => {
            own_task(cx, agent, task_sid)?;
            let (conference, leg, participants) = conference_of(calls, cx, task_sid)?;
            if call_sid == leg || !participants.contains(&call_sid) {
                return Err(CenterError::invalid(
                    "call_sid",
                    format!("{call_sid} is not another party of this call"),
                ));
            }
            not_a_supervisor(supervision, call_sid)?;
            if hold.is_none() && muted.is_none() {
                return Err(CenterError::missing("hold"));
            }
            let now = cx.ms();
            cx.voice.update_participant(
                now,
                conference,
                call_sid,
                ParticipantUpdate {
                    hold,
                    muted,
                    ..ParticipantUpdate::default()
                },
            )?;
            done
        }
        Action::RemoveParticipant { task_sid, call_sid } => {
            own_task(cx, agent, task_sid)?;
            let (conference, leg, participants) = conference_of(calls, cx, task_sid)?;
            if call_sid == leg || !participants.contains(&call_sid) {
                return Err(CenterError::invalid(
                    "call_sid",
                    format!("{call_sid} is not another party of this call"),
                ));
            }
            not_a_supervisor(supervision, call_sid)?;
            calls.leave(cx, conference, call_sid, "removed by an agent");
            done
        }
        Action::Supervise {
            conference_sid,
            mode,
            call_sid,
        } => {
            supervision.supervise(calls, cx, agent, conference_sid, mode, call_sid)?;
            done
        }
        Action::StopSupervising {} => {
            supervision.stop_supervising(cx, agent)?;
            done
        }
        Action::Hold { task_sid, hold } => {
            own_task(cx, agent, task_sid)?;
            let (conference, leg, participants) = conference_of(calls, cx, task_sid)?;
            // Hold puts the other party on hold, as Flex does; every participant is checked
            // before any is changed, so the action is all or nothing.
            let others: Vec<Sid<Call>> = participants.into_iter().filter(|c| *c != leg).collect();
            if others.is_empty() {
                return Err(CenterError::invalid(
                    "task_sid",
                    "has nobody else on the call to hold",
                ));
            }
            let now = cx.ms();
            for other in others {
                cx.voice.update_participant(
                    now,
                    conference,
                    other,
                    ParticipantUpdate::hold(hold),
                )?;
            }
            done
        }
        Action::Mute { task_sid, muted } => {
            own_task(cx, agent, task_sid)?;
            let (conference, leg, _) = conference_of(calls, cx, task_sid)?;
            let now = cx.ms();
            cx.voice
                .update_participant(now, conference, leg, ParticipantUpdate::muted(muted))?;
            done
        }
        Action::Wrap { task_sid, reason } | Action::Complete { task_sid, reason } => {
            check_text("reason", reason.as_deref())?;
            let change = if wrap {
                TaskStatusChange::Wrapping
            } else {
                TaskStatusChange::Completed
            };
            own_task(cx, agent, task_sid)?;
            cx.execute(Entry::engine(
                ws,
                Command::UpdateTask {
                    sid: task_sid,
                    update: TaskUpdate {
                        assignment_status: Some(change),
                        reason: Some(reason.unwrap_or_else(|| "completed by the agent".into())),
                        ..Default::default()
                    },
                },
            ))?;
            done
        }
        Action::AnswerCall { call_sid } | Action::DeclineCall { call_sid } => {
            let identity = workers::identity(cx.model, ws, worker);
            let mine = cx.voice.call(call_sid).is_some_and(|c| {
                matches!(&c.callee, End::Agent { identity: id, .. } if Some(id) == identity.as_ref())
            });
            if !mine {
                return Err(CenterError::not_found(format!("Call {call_sid}")));
            }
            let now = cx.ms();
            if matches!(action, Action::AnswerCall { .. }) {
                cx.voice.answer(now, call_sid)?;
            } else {
                cx.voice.decline(now, call_sid)?;
            }
            done
        }
        Action::DirectoryAgents { query } => {
            check_text("query", Some(&query))?;
            Ok(ActionData::Agents {
                agents: view::directory_agents(cx.model, ws, worker, &query),
            })
        }
        Action::DirectoryQueues { prefix } => {
            check_text("prefix", Some(&prefix))?;
            Ok(ActionData::Queues {
                queues: view::directory_queues(cx.model, ws, &prefix),
            })
        }
        Action::UpdateToken { .. }
        | Action::MediaOffer { .. }
        | Action::MediaClose {}
        | Action::Recording { .. } => Err(CenterError::invalid(
            "type",
            "is carried out by the server, which hands it to the center as its own input",
        )),
    }
}

fn own_reservation(
    cx: &Cx<'_>,
    (ws, worker): Agent,
    r: Sid<Reservation>,
) -> Result<(Sid<Task>, ReservationStatus), CenterError> {
    cx.model
        .workspace_or_404(ws)?
        .engine
        .reservation(r)
        .filter(|x| x.worker_sid == worker)
        .map(|x| (x.task_sid, x.status))
        .ok_or_else(|| CenterError::not_found(format!("Reservation {r}")))
}

fn own_task(cx: &Cx<'_>, (ws, worker): Agent, task: Sid<Task>) -> Result<(), CenterError> {
    let e = &cx.model.workspace_or_404(ws)?.engine;
    let mine = e.task(task).is_some_and(|t| {
        t.reservations
            .iter()
            .filter_map(|r| e.reservation(*r))
            .any(|r| r.worker_sid == worker && r.status.is_live())
    });
    if mine {
        Ok(())
    } else {
        Err(CenterError::not_found(format!("Task {task}")))
    }
}

type ConferenceOfTask = (Sid<switchboard_sid::Conference>, Sid<Call>, Vec<Sid<Call>>);

/// Refuses an agent's action on a supervisor's leg: a supervisor changes how they take part
/// (monitor, coach, barge) or leaves from their own desktop.
fn not_a_supervisor(supervision: &Supervision, call_sid: Sid<Call>) -> Result<(), CenterError> {
    match supervision.supervisor_of_leg(call_sid) {
        Some(_) => Err(CenterError::invalid(
            "call_sid",
            format!("{call_sid} is a supervisor's leg: supervisors change how they take part, or leave, from their own desktop"),
        )),
        None => Ok(()),
    }
}

fn conference_of(
    calls: &Calls,
    cx: &Cx<'_>,
    task: Sid<Task>,
) -> Result<ConferenceOfTask, CenterError> {
    let leg = calls
        .agent_leg(task)
        .ok_or_else(|| CenterError::invalid("task_sid", "has no call"))?;
    let conf = calls
        .conference_of_task(cx.voice, task)
        .ok_or_else(|| CenterError::invalid("task_sid", "has no conference"))?;
    Ok((conf.sid, leg, conf.participants.clone()))
}
