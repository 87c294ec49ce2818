//! Supervisors on live calls: monitor (listen only), coach (whisper to one agent) and barge
//! (join the conversation), with Twilio's participant flags (`Muted`, `Coaching`,
//! `CallSidToCoach`) so the hearing graph decides who hears the supervisor. A supervisor is a
//! worker whose `roles` attribute (Flex's) holds `supervisor` or `admin`.

use switchboard_routing::ReservationStatus;
use switchboard_sid::{Call, Conference, Sid};
use switchboard_voice::{
    Callee, ConferenceStatus, DialRequest, JoinSpec, ParticipantUpdate, Voice,
};

use crate::calls::Calls;
use crate::cx::Cx;
use crate::entry::TaskOrigin;
use crate::error::CenterError;
use crate::model::Model;
use crate::protocol::{LiveCall, SuperviseMode, SupervisingView, SupervisorView};
use crate::sessions::Agent;
use crate::view;

/// The label a supervisor's leg carries in the conference.
pub const SUPERVISOR_LABEL: &str = "supervisor";

/// A supervisor on a call.
#[derive(Debug, Clone)]
pub struct Supervising {
    /// The call's conference.
    pub conference: Sid<Conference>,
    /// The supervisor's leg.
    pub leg: Sid<Call>,
    /// How it takes part.
    pub mode: SuperviseMode,
    /// The agent's leg it coaches.
    pub coached: Option<Sid<Call>>,
}

/// Whether the worker may supervise: its `roles` hold `supervisor` or `admin`.
pub fn is_supervisor(model: &Model, (ws, worker): Agent) -> bool {
    let Some(w) = model.workspace(ws).and_then(|s| s.engine.worker(worker)) else {
        return false;
    };
    w.attributes
        .value()
        .get("roles")
        .and_then(|r| r.as_array())
        .is_some_and(|roles| {
            roles
                .iter()
                .filter_map(|r| r.as_str())
                .any(|r| r == "supervisor" || r == "admin")
        })
}

fn flags(mode: SuperviseMode, coached: Option<Sid<Call>>) -> ParticipantUpdate {
    ParticipantUpdate {
        hold: None,
        muted: Some(mode == SuperviseMode::Monitor),
        coaching: Some(mode == SuperviseMode::Coach),
        call_sid_to_coach: coached.filter(|_| mode == SuperviseMode::Coach),
        end_on_exit: None,
    }
}

impl Calls {
    /// The supervisor whose leg this is.
    pub fn supervisor_of_leg(&self, leg: Sid<Call>) -> Option<Agent> {
        self.supervisor_legs.get(&leg).copied()
    }

    /// A supervisor joins `conference`, or changes how it takes part in it.
    pub fn supervise(
        &mut self,
        cx: &mut Cx<'_>,
        agent: Agent,
        conference: Sid<Conference>,
        mode: SuperviseMode,
        coach: Option<Sid<Call>>,
    ) -> Result<(), CenterError> {
        if !is_supervisor(cx.model, agent) {
            return Err(CenterError::invalid(
                "type",
                "supervise is for supervisors: the worker's roles must include \"supervisor\"",
            ));
        }
        let live = self.live_calls(cx.model, cx.voice, agent.0);
        let call = live
            .iter()
            .find(|c| c.conference_sid == conference)
            .ok_or_else(|| {
                CenterError::invalid("conference_sid", format!("{conference} is not a live call"))
            })?;
        let agents: Vec<Sid<Call>> = cx
            .voice
            .conference(conference)
            .map(|c| self.agent_legs_in(&c.participants))
            .unwrap_or_default();
        let coached =
            match (mode, coach) {
                (SuperviseMode::Coach, Some(c)) if agents.contains(&c) => Some(c),
                (SuperviseMode::Coach, Some(c)) => {
                    return Err(CenterError::invalid(
                        "call_sid",
                        format!("{c} is not an agent on this call"),
                    ))
                }
                (SuperviseMode::Coach, None) => Some(*agents.first().ok_or_else(|| {
                    CenterError::invalid("conference_sid", "has no agent to coach")
                })?),
                _ => None,
            };
        let _ = call;
        let now = cx.ms();
        if let Some(s) = self.supervising.get(&agent).cloned() {
            if s.conference != conference {
                return Err(CenterError::invalid(
                    "conference_sid",
                    "cannot be joined while you supervise another call: stop supervising first",
                ));
            }
            cx.voice
                .update_participant(now, conference, s.leg, flags(mode, coached))?;
            self.supervising
                .insert(agent, Supervising { mode, coached, ..s });
            self.touched.insert(agent);
            return Ok(());
        }
        let identity = view::identity(cx.model, agent.0, agent.1).ok_or_else(|| {
            CenterError::invalid(
                "type",
                "supervise needs a client: contact_uri on the supervisor's worker",
            )
        })?;
        let name = cx
            .voice
            .conference(conference)
            .map(|c| c.friendly_name.clone())
            .unwrap_or_default();
        let leg = cx.voice.dial(
            now,
            DialRequest {
                from: "supervisor".into(),
                to: format!("client:{identity}"),
                callee: Callee::Agent {
                    identity,
                    auto_answer: true,
                },
                join: JoinSpec {
                    conference: name,
                    start_on_enter: false,
                    end_on_exit: false,
                    muted: mode == SuperviseMode::Monitor,
                    label: Some(SUPERVISOR_LABEL.into()),
                    coaching: mode == SuperviseMode::Coach,
                    call_sid_to_coach: coached,
                    beep: switchboard_voice::Beep::No,
                    ..JoinSpec::default()
                },
                ring_timeout: 60,
            },
        )?;
        self.supervisor_legs.insert(leg, agent);
        self.supervising.insert(
            agent,
            Supervising {
                conference,
                leg,
                mode,
                coached,
            },
        );
        self.touched.insert(agent);
        Ok(())
    }

    /// The supervisor leaves the call it supervises.
    pub fn stop_supervising(&mut self, cx: &mut Cx<'_>, agent: Agent) -> Result<(), CenterError> {
        let s = self
            .supervising
            .get(&agent)
            .cloned()
            .ok_or_else(|| CenterError::invalid("type", "you supervise no call"))?;
        let now = cx.ms();
        cx.voice.hangup(now, s.leg, "the supervisor left")?;
        Ok(())
    }

    /// The calls a supervisor of workspace `ws` can join: conferences with an agent of a task on
    /// them, oldest first. The caller's own conference of an internal call is left out: the
    /// callee's conference holds the whole conversation.
    pub fn live_calls(
        &self,
        model: &Model,
        voice: &Voice,
        ws: switchboard_sid::Sid<switchboard_sid::Workspace>,
    ) -> Vec<LiveCall> {
        let mut out: Vec<LiveCall> = voice
            .conferences()
            .filter(|c| c.status == ConferenceStatus::InProgress)
            .filter_map(|c| {
                let legs = self.agent_legs_in(&c.participants);
                let (lws, task) = legs.iter().find_map(|l| self.task_of_leg(*l))?;
                if lws != ws {
                    return None;
                }
                let state = model.workspace(ws)?;
                // The conference's own task, else the first agent's.
                let owner = c
                    .friendly_name
                    .parse()
                    .ok()
                    .filter(|t| state.engine.task(*t).is_some());
                let task = owner.unwrap_or(task);
                let bridged = state.origin(task) == Some(TaskOrigin::Outbound)
                    && self
                        .outbound(task)
                        .is_some_and(|o| o.internal.is_some() && o.far_connected);
                if bridged {
                    return None;
                }
                let accepted = state.engine.task(task).is_some_and(|t| {
                    t.reservations.iter().any(|r| {
                        state
                            .engine
                            .reservation(*r)
                            .is_some_and(|r| r.status == ReservationStatus::Accepted)
                    })
                });
                if !accepted {
                    return None;
                }
                let queue = state
                    .engine
                    .task(task)
                    .and_then(|t| t.queue_sid)
                    .and_then(|q| state.engine.queue(q))
                    .map(|q| q.friendly_name.to_string());
                Some(LiveCall {
                    conference_sid: c.sid,
                    task_sid: task,
                    queue,
                    participants: view::participants(model, self, voice, c, None),
                    since: c.date_created,
                })
            })
            .collect();
        out.sort_by_key(|c| (c.since, c.conference_sid));
        out
    }

    /// What a supervisor's desktop shows; `None` for a worker who is not one.
    pub fn supervisor_view(
        &self,
        model: &Model,
        voice: &Voice,
        agent: Agent,
    ) -> Option<SupervisorView> {
        if !is_supervisor(model, agent) {
            return None;
        }
        Some(SupervisorView {
            live_calls: self.live_calls(model, voice, agent.0),
            supervising: self.supervising.get(&agent).map(|s| SupervisingView {
                conference_sid: s.conference,
                call_sid: s.leg,
                mode: s.mode,
                coached_call_sid: s.coached,
            }),
        })
    }
}
