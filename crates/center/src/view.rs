//! What an agent's desktop shows, worked out from the model, the calls, the transfers, the
//! supervisors and the voice engine: its state (the participants of its calls and a
//! supervisor's live calls included), and the directory of agents and queues the dialpad
//! searches.

use switchboard_routing::{ReservationStatus, TaskStatus};
use switchboard_sid::{Call, Sid, Worker, Workspace as WorkspaceKind};
use switchboard_voice::{ConferenceRecord, End, Voice};

use crate::calls::{Calls, InternalTarget};
use crate::media::Media;
use crate::model::Model;
use crate::protocol::{
    ActivityView, CallState, DesktopState, DirectoryAgent, DirectoryQueue, IncomingCall, LiveCall,
    ParticipantView, PartyKind, ReservationState, SupervisorView, TaskState, TaskView, WorkerView,
};
use crate::supervise::Supervision;
use crate::transfer::Transfers;
use crate::workers::{self, identity, worker_name};

/// What the views read.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    /// The durable state.
    pub model: &'a Model,
    /// The links between tasks and calls.
    pub calls: &'a Calls,
    /// Transfers in progress.
    pub transfers: &'a Transfers,
    /// Supervisors on calls.
    pub supervision: &'a Supervision,
    /// Calls and conferences.
    pub voice: &'a Voice,
    /// Audio connections.
    pub media: &'a Media,
}

/// The most agents a directory search answers with.
pub const DIRECTORY_LIMIT: usize = 50;

/// A live reservation's state; `None` for one that is over.
fn reservation_state(s: ReservationStatus) -> Option<ReservationState> {
    match s {
        ReservationStatus::Pending => Some(ReservationState::Pending),
        ReservationStatus::Accepted => Some(ReservationState::Accepted),
        ReservationStatus::Wrapping => Some(ReservationState::Wrapping),
        _ => None,
    }
}

fn task_state(s: TaskStatus) -> TaskState {
    match s {
        TaskStatus::Pending => TaskState::Pending,
        TaskStatus::Reserved => TaskState::Reserved,
        TaskStatus::Assigned => TaskState::Assigned,
        TaskStatus::Wrapping => TaskState::Wrapping,
        TaskStatus::Completed => TaskState::Completed,
        TaskStatus::Canceled => TaskState::Canceled,
    }
}

/// The parties of a conference (but `me`), agents first: who each is, and how it takes part.
pub fn participants(
    src: Sources<'_>,
    conference: &ConferenceRecord,
    me: Option<Sid<Call>>,
) -> Vec<ParticipantView> {
    let voice = src.voice;
    let mut out: Vec<ParticipantView> = conference
        .participants
        .iter()
        .copied()
        .filter(|c| Some(*c) != me)
        .filter_map(|leg| {
            let p = voice.participation(conference.sid, leg)?;
            let (kind, name) = party(src, conference, leg);
            let coachable = kind != PartyKind::Supervisor && src.calls.coachable(conference, leg);
            Some(ParticipantView {
                call_sid: leg,
                name,
                kind,
                hold: p.hold,
                muted: p.muted,
                coaching: p.coaching,
                coachable,
            })
        })
        .collect();
    out.sort_by_key(|p| match p.kind {
        PartyKind::Agent => 0,
        PartyKind::Caller => 1,
        PartyKind::Supervisor => 2,
    });
    out
}

/// Who a leg of a conference is, and the name to show for it.
fn party(src: Sources<'_>, conference: &ConferenceRecord, leg: Sid<Call>) -> (PartyKind, String) {
    let (model, calls, voice) = (src.model, src.calls, src.voice);
    if let Some((ws, worker)) = src.supervision.supervisor_of_leg(leg) {
        let name = worker_name(model, ws, worker).unwrap_or_default();
        return (PartyKind::Supervisor, name);
    }
    if let Some((ws, task)) = calls.task_of_leg(leg) {
        let name = calls
            .task_worker(model, ws, task)
            .and_then(|w| worker_name(model, ws, w))
            .unwrap_or_default();
        return (PartyKind::Agent, name);
    }
    if let Some((task, o)) = calls.outbound_of_far_leg(leg) {
        // The far leg of an internal call: in the callee's conference it is the calling agent;
        // in the caller's own it stands for whoever was called.
        let name = if conference.friendly_name == task.to_string() {
            match &o.internal {
                Some(InternalTarget::Agent(w)) => worker_name(model, o.workspace, *w),
                Some(InternalTarget::Queue(q)) => Some(q.clone()),
                None => None,
            }
            .unwrap_or_else(|| o.destination.clone())
        } else {
            worker_name(model, o.workspace, o.worker).unwrap_or_default()
        };
        return (PartyKind::Caller, name);
    }
    let from = voice.call(leg).map(|c| c.from.clone()).unwrap_or_default();
    let name = from.strip_prefix("client:").unwrap_or(&from).to_owned();
    (PartyKind::Caller, name)
}

/// Everything an agent's desktop shows; `None` when the agent or its workspace is gone.
pub fn desktop_state(
    src: Sources<'_>,
    ws: Sid<WorkspaceKind>,
    worker: Sid<Worker>,
) -> Option<DesktopState> {
    let Sources {
        model,
        calls,
        transfers,
        voice,
        media,
        ..
    } = src;
    let state = model.workspace(ws)?;
    let e = &state.engine;
    let w = e.worker(worker)?;
    let attrs = w.attributes.value();
    let string = |k: &str| attrs.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let activities = e
        .activities()
        .map(|a| ActivityView {
            sid: a.sid,
            friendly_name: a.friendly_name.to_string(),
            available: a.available,
        })
        .collect();
    let mut reservations: Vec<_> = w
        .live_reservations()
        .iter()
        .filter_map(|r| e.reservation(*r))
        .collect();
    reservations.sort_by_key(|r| (r.date_created, r.sid));
    let tasks = reservations
        .into_iter()
        .filter_map(|r| {
            let t = e.task(r.task_sid)?;
            Some(TaskView {
                reservation_sid: r.sid,
                reservation_status: reservation_state(r.status)?,
                task_sid: t.sid,
                task_status: task_state(t.status),
                channel: e.channel(t.channel_sid).map(|c| c.unique_name.to_string()),
                queue: t
                    .queue_sid
                    .and_then(|q| e.queue(q))
                    .map(|q| q.friendly_name.to_string()),
                attributes: t.attributes.value().clone(),
                date_created: t.date_created.0,
                call: calls
                    .call_view(model, voice, ws, t.sid, r.status)
                    .map(|mut c| {
                        // Who else is on it, and how a transfer of it stands.
                        if c.state == CallState::Connected {
                            if let Some(conf) = calls.conference_of_task(voice, t.sid) {
                                c.participants = participants(src, conf, c.call_sid);
                            }
                            // The calling agent of an internal call: the supervisors who joined
                            // the conversation are in the callee's conference.
                            if let Some(callee) = calls.callee_conference(voice, t.sid) {
                                c.participants.extend(
                                    participants(src, callee, None)
                                        .into_iter()
                                        .filter(|p| p.kind == PartyKind::Supervisor),
                                );
                            }
                        }
                        c.transfer = transfers.transfer_view(t.sid);
                        c.transferred_from = transfers.transferred_from(t.sid).map(str::to_owned);
                        c
                    }),
            })
        })
        .collect();
    let incoming_calls = identity(model, ws, worker)
        .map(|id| {
            calls
                .rings(&id)
                .filter_map(|c| voice.call(c))
                .filter(|c| !c.status.is_final())
                .filter(|c| {
                    matches!(
                        &c.callee,
                        End::Agent {
                            answered: false,
                            ..
                        }
                    )
                })
                .map(|c| IncomingCall {
                    call_sid: c.sid,
                    from: c.from.clone(),
                    status: c.status.as_str().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(DesktopState {
        worker: WorkerView {
            sid: w.sid,
            friendly_name: w.friendly_name.to_string(),
            full_name: string("full_name"),
            contact_uri: string("contact_uri"),
            activity_sid: w.activity_sid,
            activity_name: e.activity_name(w.activity_sid).to_string(),
            available: e.worker_available(w),
        },
        workspace_sid: ws,
        internal_call: model.flex().settings().internal_call.clone(),
        offline_activity_sid: model.offline_activity(ws),
        activities,
        tasks,
        incoming_calls,
        audio: media.view((ws, worker)),
        media: media.settings().clone(),
        supervisor: supervisor_view(src, (ws, worker)),
    })
}

/// What a supervisor's desktop shows; `None` for a worker who is not one.
fn supervisor_view(src: Sources<'_>, agent: crate::sessions::Agent) -> Option<SupervisorView> {
    if !workers::is_supervisor(src.model, agent) {
        return None;
    }
    let state = src.model.workspace(agent.0)?;
    let live_calls = src
        .calls
        .live_conferences(src.model, src.voice, agent.0)
        .into_iter()
        .filter_map(|(cf, task)| {
            let c = src.voice.conference(cf)?;
            let queue = state
                .engine
                .task(task)
                .and_then(|t| t.queue_sid)
                .and_then(|q| state.engine.queue(q))
                .map(|q| q.friendly_name.to_string());
            Some(LiveCall {
                conference_sid: cf,
                task_sid: task,
                queue,
                participants: participants(src, c, None),
                since: c.date_created,
            })
        })
        .collect();
    Some(SupervisorView {
        live_calls,
        supervising: src.supervision.view(agent),
    })
}

/// Other agents who are not offline, whose full name or friendly name contains `query`
/// (case-insensitive), sorted by the name the dialpad shows, at most [`DIRECTORY_LIMIT`].
pub fn directory_agents(
    model: &Model,
    ws: Sid<WorkspaceKind>,
    me: Sid<Worker>,
    query: &str,
) -> Vec<DirectoryAgent> {
    let Some(state) = model.workspace(ws) else {
        return Vec::new();
    };
    let e = &state.engine;
    let offline = model.offline_activity(ws);
    let q = query.trim().to_lowercase();
    let mut out: Vec<(String, DirectoryAgent)> = e
        .workers()
        .filter(|w| w.sid != me && Some(w.activity_sid) != offline)
        .filter_map(|w| {
            let full = w
                .attributes
                .value()
                .get("full_name")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            let matches = q.is_empty()
                || w.friendly_name.to_lowercase().contains(&q)
                || full.as_ref().is_some_and(|f| f.to_lowercase().contains(&q));
            matches.then(|| {
                let label = full.clone().unwrap_or_else(|| w.friendly_name.to_string());
                (
                    label.to_lowercase(),
                    DirectoryAgent {
                        sid: w.sid,
                        friendly_name: w.friendly_name.to_string(),
                        full_name: full,
                        activity_name: e.activity_name(w.activity_sid).to_string(),
                        available: e.worker_available(w),
                    },
                )
            })
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter()
        .map(|(_, v)| v)
        .take(DIRECTORY_LIMIT)
        .collect()
}

/// Queues whose name starts with `prefix` (case-insensitive), sorted by name; the internal
/// calls queue itself is left out.
pub fn directory_queues(
    model: &Model,
    ws: Sid<WorkspaceKind>,
    prefix: &str,
) -> Vec<DirectoryQueue> {
    let Some(state) = model.workspace(ws) else {
        return Vec::new();
    };
    let internal = model.flex().settings().internal_call.outbound_queue_sid;
    let p = prefix.trim().to_lowercase();
    let mut out: Vec<(String, DirectoryQueue)> = state
        .engine
        .queues()
        .filter(|q| Some(q.sid) != internal)
        .filter(|q| q.friendly_name.to_lowercase().starts_with(&p))
        .map(|q| {
            (
                q.friendly_name.to_lowercase(),
                DirectoryQueue {
                    sid: q.sid,
                    friendly_name: q.friendly_name.to_string(),
                },
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, v)| v).collect()
}
