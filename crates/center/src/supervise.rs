//! Supervisors on live calls: monitor (listen only), coach (whisper to one agent) and barge
//! (join the conversation), with Twilio's participant flags (`Muted`, `Coaching`,
//! `CallSidToCoach`) so the hearing graph decides who hears the supervisor. A supervisor is a
//! worker whose `roles` attribute (Flex's) holds `supervisor` or `admin`.

use std::collections::{BTreeMap, BTreeSet};

use switchboard_sid::{Call, Conference, Sid};
use switchboard_voice::{Callee, DialRequest, JoinSpec, Output as VoiceOutput, ParticipantUpdate};

use crate::calls::Calls;
use crate::cx::Cx;
use crate::dirty::Dirty;
use crate::error::CenterError;
use crate::protocol::{SuperviseMode, SupervisingView};
use crate::sessions::Agent;
use crate::workers::{self, is_supervisor};

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

fn flags(mode: SuperviseMode, coached: Option<Sid<Call>>) -> ParticipantUpdate {
    ParticipantUpdate {
        hold: None,
        muted: Some(mode == SuperviseMode::Monitor),
        coaching: Some(mode == SuperviseMode::Coach),
        call_sid_to_coach: coached.filter(|_| mode == SuperviseMode::Coach),
        end_on_exit: None,
    }
}

/// The supervisors on calls.
#[derive(Debug, Default)]
pub struct Supervision {
    supervising: BTreeMap<Agent, Supervising>,
    supervisor_legs: BTreeMap<Sid<Call>, Agent>,
    touched: BTreeSet<Agent>,
}

impl Supervision {
    /// The supervisor whose leg this is.
    pub fn supervisor_of_leg(&self, leg: Sid<Call>) -> Option<Agent> {
        self.supervisor_legs.get(&leg).copied()
    }

    /// The call a supervisor is on, as its desktop shows it.
    pub fn view(&self, agent: Agent) -> Option<SupervisingView> {
        self.supervising.get(&agent).map(|s| SupervisingView {
            conference_sid: s.conference,
            call_sid: s.leg,
            mode: s.mode,
            coached_call_sid: s.coached,
        })
    }

    /// Agents whose desktops changed since the last call.
    pub fn take_touched(&mut self) -> BTreeSet<Agent> {
        std::mem::take(&mut self.touched)
    }

    /// A supervisor's leg ended: it supervises nothing any more.
    pub fn on_voice_output(&mut self, o: &VoiceOutput) {
        if let VoiceOutput::CallStatus { call, status } = o {
            if status.is_final() {
                if let Some(agent) = self.supervisor_legs.remove(call) {
                    self.supervising.remove(&agent);
                    self.touched.insert(agent);
                }
            }
        }
    }

    /// Marks the supervisor desktops a voice output may have changed.
    pub fn mark(&self, o: &VoiceOutput, dirty: &mut Dirty) {
        let call = match o {
            VoiceOutput::CallStatus { call, .. } => Some(*call),
            VoiceOutput::ConferenceEvent { call, .. } => *call,
            _ => None,
        };
        if let Some(agent) = call.and_then(|c| self.supervisor_legs.get(&c)) {
            dirty.workers.insert(*agent);
        }
    }

    /// A supervisor joins `conference`, or changes how it takes part in it.
    pub fn supervise(
        &mut self,
        calls: &Calls,
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
        let live = calls.live_conferences(cx.model, cx.voice, agent.0);
        if !live.iter().any(|(c, _)| *c == conference) {
            return Err(CenterError::invalid(
                "conference_sid",
                format!("{conference} is not a live call"),
            ));
        }
        let agents: Vec<Sid<Call>> = cx
            .voice
            .conference(conference)
            .map(|c| calls.coachable_legs_in(c))
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
        let identity = workers::identity(cx.model, agent.0, agent.1).ok_or_else(|| {
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
}
