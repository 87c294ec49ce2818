//! The state machine: [`Voice`] and the records, requests and outputs it works with.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use switchboard_sid::{mix128, Application, Call, Conference, Sid, Task};
use switchboard_twiml::{Dial, DialTarget, Document, Enqueue, Method, Verb};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// A call's status, with Twilio's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// Created, not yet ringing.
    Queued,
    /// Ringing the callee.
    Ringing,
    /// Answered.
    InProgress,
    /// Ended after being answered.
    Completed,
    /// The callee was busy (or rejected it as busy).
    Busy,
    /// It could not be placed, or the application failed.
    Failed,
    /// Nobody answered in time.
    NoAnswer,
    /// Hung up before it was answered.
    Canceled,
}

impl CallStatus {
    /// Twilio's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::Failed => "failed",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Canceled => "canceled",
        }
    }

    /// Whether the call is over.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            CallStatus::Queued | CallStatus::Ringing | CallStatus::InProgress
        )
    }
}

/// Who placed a call, in Twilio's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Into an application.
    Inbound,
    /// Placed through the API (conference instructions, participants).
    OutboundApi,
    /// Placed by `<Dial>`.
    OutboundDial,
}

impl Direction {
    /// Twilio's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::OutboundApi => "outbound-api",
            Direction::OutboundDial => "outbound-dial",
        }
    }
}

/// Why a call ended, for people and for the caller's desktop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndReason {
    /// Twilio's error code when it is an error (11200, 12100, 14222, ...).
    pub code: Option<u32>,
    /// What happened.
    pub message: String,
}

/// How a call's end sits in a conference.
#[derive(Debug, Clone, PartialEq)]
pub struct Participation {
    /// The conference.
    pub conference: Sid<Conference>,
    /// Whether the conference starts when this participant joins.
    pub start_on_enter: bool,
    /// Whether the conference ends when this participant leaves.
    pub end_on_exit: bool,
    /// Muted: others do not hear it.
    pub muted: bool,
    /// On hold: it hears hold music (or silence) and others do not hear it.
    pub hold: bool,
    /// A label for the participant.
    pub label: Option<String>,
    /// Coaching (Twilio's `Coaching`): heard only by the participant whose call is
    /// [`call_sid_to_coach`](Self::call_sid_to_coach), while it hears everyone.
    pub coaching: bool,
    /// The call this participant coaches (Twilio's `CallSidToCoach`). Kept when coaching is
    /// switched off, as Twilio shows it; it only matters while [`coaching`](Self::coaching).
    pub call_sid_to_coach: Option<Sid<Call>>,
    /// Twilio's `Beep`, as asked. Held and shown; the relay plays no beeps.
    pub beep: Beep,
    /// Twilio's `EarlyMedia`, as asked. Held and shown; an agent's browser has no early media.
    pub early_media: bool,
    /// Joined at.
    pub joined: Millis,
    /// Resume this program when the conference ends (a TwiML `<Dial><Conference>`).
    resume: Option<Box<Program>>,
}

impl Participation {
    fn new(conference: Sid<Conference>, join: &JoinSpec, joined: Millis) -> Participation {
        Participation {
            conference,
            start_on_enter: join.start_on_enter,
            end_on_exit: join.end_on_exit,
            muted: join.muted,
            hold: join.hold,
            label: join.label.clone(),
            coaching: join.coaching,
            call_sid_to_coach: join.call_sid_to_coach,
            beep: join.beep,
            early_media: join.early_media,
            joined,
            resume: None,
        }
    }
}

/// Twilio's `Beep` on a participant: whether a beep plays when it joins or leaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Beep {
    /// `true` (Twilio's default): on enter and on exit.
    #[default]
    Yes,
    /// `false`.
    No,
    /// `onEnter`.
    OnEnter,
    /// `onExit`.
    OnExit,
}

impl Beep {
    /// Twilio's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Beep::Yes => "true",
            Beep::No => "false",
            Beep::OnEnter => "onEnter",
            Beep::OnExit => "onExit",
        }
    }

    /// Parses Twilio's value (`true`, `false`, `onEnter`, `onExit`).
    pub fn parse(s: &str) -> Option<Beep> {
        match s {
            "true" => Some(Beep::Yes),
            "false" => Some(Beep::No),
            "onEnter" => Some(Beep::OnEnter),
            "onExit" => Some(Beep::OnExit),
            _ => None,
        }
    }
}

/// One end of a call.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// An agent's browser (the identity of `client:NAME`).
    Agent {
        /// The identity.
        identity: String,
        /// Whether the agent has answered.
        answered: bool,
    },
    /// In a conference.
    Conference(Participation),
    /// Running TwiML.
    Program(Box<Program>),
    /// Waiting in a TaskRouter queue after `<Enqueue workflowSid>`.
    Queued {
        /// The task created for it.
        task: Sid<Task>,
        /// Requested when the call leaves the queue.
        action: Option<(String, Method)>,
        /// Since when.
        since: Millis,
        /// The program to resume after leaving the queue.
        resume: Box<Program>,
    },
    /// Connected to another call (`<Dial><Client>`).
    Bridge(Sid<Call>),
    /// A party we cannot reach (telephone number, SIP).
    External(String),
    /// Nothing any more.
    Gone,
}

/// TwiML being run on one end of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// The document's URL (relative URLs were resolved against it).
    pub url: String,
    /// The verbs.
    pub doc: Document,
    /// The next verb to run.
    pub pc: usize,
    /// A fetch in flight for this program.
    pub fetching: Option<u64>,
    /// Until when a `<Pause>` holds it.
    pub paused_until: Option<Millis>,
    /// A `<Dial>` in progress: the action to request when it ends, and the child calls.
    pub dialing: Option<DialState>,
}

/// A `<Dial>` waiting for its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct DialState {
    /// `action` and `method`.
    pub action: Option<(String, Method)>,
    /// The child calls ringing (first to answer wins).
    pub children: Vec<Sid<Call>>,
}

/// A call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// `CA…`.
    pub sid: Sid<Call>,
    /// The parent call (for `<Dial>` children).
    pub parent: Option<Sid<Call>>,
    /// Caller ID.
    pub from: String,
    /// What was dialed (`client:bob`, `AP…`, a number).
    pub to: String,
    /// Who placed it.
    pub direction: Direction,
    /// The application handling it, if any.
    pub application: Option<Sid<Application>>,
    /// Custom parameters sent with every webhook of the call.
    pub params: Vec<(String, String)>,
    /// Its status.
    pub status: CallStatus,
    /// The caller's end.
    pub caller: End,
    /// The callee's end.
    pub callee: End,
    /// Created at.
    pub date_created: Millis,
    /// Answered at.
    pub start_time: Option<Millis>,
    /// Ended at.
    pub end_time: Option<Millis>,
    /// Why it ended.
    pub end_reason: Option<EndReason>,
    /// Twilio's `Record` on the call: it is to be recorded once in progress.
    pub record: bool,
    ring_deadline: Option<Millis>,
    /// TwiML documents requested for this call so far.
    fetches: u32,
    /// What a call placed through the API runs once it is answered ([`Voice::place`]).
    on_answer: Option<Box<Instructions>>,
    /// Where its progress is posted (Twilio's `StatusCallback`).
    status_callback: Option<StatusCallback>,
    /// Status callbacks posted so far (Twilio's `SequenceNumber` counts from 0).
    callbacks_sent: u32,
}

impl CallRecord {
    /// Whether the call was placed through the API and still waits to be answered before it runs
    /// its instructions (a redirect then replaces what it will run).
    pub fn awaits_answer(&self) -> bool {
        self.on_answer.is_some()
    }

    /// Where the call's progress is posted, if anywhere.
    pub fn status_callback(&self) -> Option<&StatusCallback> {
        self.status_callback.as_ref()
    }
}

/// What a call placed through the API does once answered: Twilio's `Url` (with `Method`), or its
/// `Twiml`, run on the caller's end of the call while the callee (the `To`) listens.
#[derive(Debug, Clone, PartialEq)]
pub enum Instructions {
    /// Fetch TwiML from this URL and run it.
    Fetch {
        /// The URL.
        url: String,
        /// How to request it.
        method: Method,
    },
    /// Run this document.
    Twiml(Document),
}

/// A step of a call's progress that a status callback can ask for (Twilio's
/// `StatusCallbackEvent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallProgress {
    /// The call was created.
    Initiated,
    /// It rings.
    Ringing,
    /// It was answered.
    Answered,
    /// It ended, however it ended.
    Completed,
}

impl CallProgress {
    /// Twilio's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallProgress::Initiated => "initiated",
            CallProgress::Ringing => "ringing",
            CallProgress::Answered => "answered",
            CallProgress::Completed => "completed",
        }
    }

    /// Parses Twilio's name.
    pub fn parse(s: &str) -> Option<CallProgress> {
        match s {
            "initiated" => Some(CallProgress::Initiated),
            "ringing" => Some(CallProgress::Ringing),
            "answered" => Some(CallProgress::Answered),
            "completed" => Some(CallProgress::Completed),
            _ => None,
        }
    }
}

/// Twilio's call status callback: `StatusCallback`, `StatusCallbackMethod` and
/// `StatusCallbackEvent`. Each is an [`Output::Fetch`] whose answer is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCallback {
    /// Where.
    pub url: String,
    /// How.
    pub method: Method,
    /// Which steps are posted; empty means `completed` only, as on Twilio.
    pub events: Vec<CallProgress>,
}

impl StatusCallback {
    fn wants(&self, step: CallProgress) -> bool {
        if self.events.is_empty() {
            step == CallProgress::Completed
        } else {
            self.events.contains(&step)
        }
    }
}

/// A call placed through the API with [`Voice::place`] (Twilio's `POST Calls.json`): the callee
/// is rung (an agent) or runs its application, and once it answers the call runs `instructions`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceRequest {
    /// Caller ID.
    pub from: String,
    /// The target as written (`client:bob`, `app:AP…`).
    pub to: String,
    /// Who is called. [`Callee::External`] is refused: there is no trunk.
    pub callee: Callee,
    /// What the call runs once answered.
    pub instructions: Instructions,
    /// The application whose voice URL the instructions are (Twilio's `ApplicationSid`): sent
    /// as `ApplicationSid` with the call's webhooks.
    pub application: Option<Sid<Application>>,
    /// Seconds to ring an agent before giving up.
    pub ring_timeout: u64,
    /// Where the call's progress is posted.
    pub status_callback: Option<StatusCallback>,
}

/// The most TwiML documents one call may request: a `<Redirect>` loop ends the call instead of
/// running forever.
pub const MAX_FETCHES_PER_CALL: u32 = 100;

/// A conference's status, with Twilio's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConferenceStatus {
    /// Created, waiting for a participant that starts it.
    Init,
    /// Running.
    InProgress,
    /// Over.
    Completed,
}

impl ConferenceStatus {
    /// Twilio's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConferenceStatus::Init => "init",
            ConferenceStatus::InProgress => "in-progress",
            ConferenceStatus::Completed => "completed",
        }
    }
}

/// A conference room.
#[derive(Debug, Clone, PartialEq)]
pub struct ConferenceRecord {
    /// `CF…`.
    pub sid: Sid<Conference>,
    /// Its name (for TaskRouter's conference instruction, the task SID).
    pub friendly_name: String,
    /// Its status.
    pub status: ConferenceStatus,
    /// Participants: calls with an end in this conference.
    pub participants: Vec<Sid<Call>>,
    /// Created at.
    pub date_created: Millis,
    /// Last changed at.
    pub date_updated: Millis,
    /// Why it ended (Twilio's `ReasonConferenceEnded`).
    pub end_reason: Option<String>,
    /// Status callback for conference events.
    pub status_callback: Option<(String, Method, Vec<String>)>,
    /// To be recorded from its start (TwiML `record="record-from-start"`, or a participant
    /// added with `Record`).
    pub record: bool,
}

/// What a webhook answered.
#[derive(Debug, Clone)]
pub struct FetchResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Body.
    pub body: String,
}

/// Why a webhook produced no response.
#[derive(Debug, Clone)]
pub struct FetchFailure {
    /// Twilio's code: 11200 (HTTP retrieval failure), 11205 (connection failure / timeout), ...
    pub code: u32,
    /// What happened.
    pub message: String,
}

/// Something for the server to do, or to tell.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Request a webhook and report with [`Voice::fetched`].
    Fetch {
        /// Identifies the request.
        id: u64,
        /// For which call.
        call: Sid<Call>,
        /// Where.
        url: String,
        /// How.
        method: Method,
        /// Twilio's standard parameters, the call's custom ones, and any extra.
        params: Vec<(String, String)>,
    },
    /// Ring an agent's browser (answer with [`Voice::answer`], refuse with [`Voice::decline`]).
    Ring {
        /// The call.
        call: Sid<Call>,
        /// The agent.
        identity: String,
        /// Caller ID.
        from: String,
    },
    /// Stop ringing an agent.
    StopRinging {
        /// The call.
        call: Sid<Call>,
        /// The agent.
        identity: String,
    },
    /// An agent's browser is connected to the call: attach media.
    AgentConnected {
        /// The call.
        call: Sid<Call>,
        /// The agent.
        identity: String,
    },
    /// An agent's browser left the call: detach media.
    AgentDisconnected {
        /// The call.
        call: Sid<Call>,
        /// The agent.
        identity: String,
    },
    /// `<Enqueue workflowSid>`: create this task; report with [`Voice::task_refused`] if it
    /// could not be.
    CreateTask {
        /// The waiting call.
        call: Sid<Call>,
        /// The task's SID.
        task: Sid<Task>,
        /// The workflow.
        workflow_sid: String,
        /// The `<Task>` attributes with the call's merged in.
        attributes: Map<String, Value>,
        /// `<Task priority>`.
        priority: Option<u32>,
        /// `<Task timeout>`.
        timeout: Option<u64>,
    },
    /// The caller left the queue without being answered: cancel its task.
    CancelTask {
        /// The task.
        task: Sid<Task>,
        /// Why.
        reason: String,
    },
    /// A call's status changed.
    CallStatus {
        /// The call.
        call: Sid<Call>,
        /// Its new status.
        status: CallStatus,
    },
    /// A conference event, with Twilio's `StatusCallbackEvent` name.
    ConferenceEvent {
        /// The conference.
        conference: Sid<Conference>,
        /// `conference-start`, `participant-join`, ...
        event: &'static str,
        /// The participant's call.
        call: Option<Sid<Call>>,
    },
}

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoiceError {
    /// No such call.
    #[error("Call {0} was not found")]
    NoCall(String),
    /// No such conference.
    #[error("Conference {0} was not found")]
    NoConference(String),
    /// The call is not a participant of the conference.
    #[error("Call {call} is not a participant of conference {conference}")]
    NotParticipant {
        /// The call.
        call: String,
        /// The conference.
        conference: String,
    },
    /// The call is in a state that does not allow it.
    #[error("{0}")]
    State(String),
    /// A request's value is wrong; the message names the field (Twilio's JSON name).
    #[error("{0}")]
    Invalid(String),
}

/// How a call joins a conference. [`Default`] is Twilio's defaults for a participant (starts
/// the conference, does not end it, not muted, beeps), with an empty conference name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinSpec {
    /// The conference's name.
    pub conference: String,
    /// `startConferenceOnEnter`.
    pub start_on_enter: bool,
    /// `endConferenceOnExit`.
    pub end_on_exit: bool,
    /// Joins muted.
    pub muted: bool,
    /// Joins on hold.
    pub hold: bool,
    /// A label.
    pub label: Option<String>,
    /// Joins coaching [`call_sid_to_coach`](Self::call_sid_to_coach), which must then be a
    /// participant of the same conference.
    pub coaching: bool,
    /// The call to coach.
    pub call_sid_to_coach: Option<Sid<Call>>,
    /// `Beep`.
    pub beep: Beep,
    /// `EarlyMedia`.
    pub early_media: bool,
}

impl Default for JoinSpec {
    fn default() -> JoinSpec {
        JoinSpec {
            conference: String::new(),
            start_on_enter: true,
            end_on_exit: false,
            muted: false,
            hold: false,
            label: None,
            coaching: false,
            call_sid_to_coach: None,
            beep: Beep::Yes,
            early_media: false,
        }
    }
}

/// A change to a participant ([`Voice::update_participant`]); `None` leaves a field alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParticipantUpdate {
    /// Hold (hears hold music, heard by nobody) or resume.
    pub hold: Option<bool>,
    /// Mute (heard by nobody; a supervisor's monitor) or unmute.
    pub muted: Option<bool>,
    /// Coach (heard only by the coached call) or barge (`false`: heard by everyone). Given a
    /// `call_sid_to_coach` and no `coaching`, the participant coaches, as Twilio does.
    pub coaching: Option<bool>,
    /// The call to coach: a participant of the same conference.
    pub call_sid_to_coach: Option<Sid<Call>>,
    /// Whether the conference ends when this participant leaves.
    pub end_on_exit: Option<bool>,
}

impl ParticipantUpdate {
    /// Only hold.
    pub fn hold(hold: bool) -> ParticipantUpdate {
        ParticipantUpdate {
            hold: Some(hold),
            ..ParticipantUpdate::default()
        }
    }

    /// Only mute.
    pub fn muted(muted: bool) -> ParticipantUpdate {
        ParticipantUpdate {
            muted: Some(muted),
            ..ParticipantUpdate::default()
        }
    }
}

/// The callee of a call placed by [`Voice::dial`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callee {
    /// An agent's browser.
    Agent {
        /// Identity (`client:NAME` without the prefix).
        identity: String,
        /// Connect without ringing (the agent already said yes, e.g. by accepting a task).
        auto_answer: bool,
    },
    /// A TwiML application, at its voice URL.
    App {
        /// The application.
        sid: Sid<Application>,
        /// Its voice URL.
        voice_url: String,
        /// Its voice method.
        method: Method,
        /// Custom parameters from the `app:` target.
        params: Vec<(String, String)>,
    },
    /// A number or SIP address: no trunk is configured, so the call fails.
    External(String),
}

/// A call to place with [`Voice::dial`]: its caller end joins a conference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialRequest {
    /// Caller ID.
    pub from: String,
    /// The target as written (`client:bob`, `app:AP…?…`).
    pub to: String,
    /// Who is called.
    pub callee: Callee,
    /// Where the caller end goes.
    pub join: JoinSpec,
    /// Seconds to ring before giving up.
    pub ring_timeout: u64,
}

/// The voice layer's state for one account.
#[derive(Debug)]
pub struct Voice {
    account_sid: String,
    seed: u128,
    counter: u64,
    now: Millis,
    calls: BTreeMap<Sid<Call>, CallRecord>,
    /// The calls that are not final: what [`Voice::live_calls`] walks, so the hearing graph
    /// grows with the calls going on, not with the ended ones kept for the Voice API. Kept by
    /// [`Voice::insert_call`], [`Voice::set_status`] and the two places records go.
    live: BTreeSet<Sid<Call>>,
    conferences: BTreeMap<Sid<Conference>, ConferenceRecord>,
    timers: BTreeSet<(Millis, Sid<Call>)>,
    outputs: Vec<Output>,
    /// Programs of parents bridged to an answered `<Dial><Client>` child, resumed when it ends.
    bridged_programs: BTreeMap<Sid<Call>, (Side, Box<Program>)>,
    /// Conferences that have not ended, by name (names are unique among them).
    live_by_name: BTreeMap<String, Sid<Conference>>,
}

const API_VERSION: &str = "2010-04-01";

impl Voice {
    /// Continues the numbering of `old` (SIDs, webhook request ids) where it is ahead: a voice
    /// layer rebuilt inside a running server must not reuse an id the old one handed out, since
    /// answers to it may still arrive.
    pub fn continue_numbering_after(&mut self, old: &Voice) {
        self.counter = self.counter.max(old.counter);
    }

    /// An empty voice layer. `seed` makes its SIDs unique to this server.
    pub fn new(account_sid: String, seed: u128) -> Voice {
        Voice {
            account_sid,
            seed,
            counter: 0,
            now: 0,
            calls: BTreeMap::new(),
            live: BTreeSet::new(),
            conferences: BTreeMap::new(),
            timers: BTreeSet::new(),
            outputs: Vec::new(),
            bridged_programs: BTreeMap::new(),
            live_by_name: BTreeMap::new(),
        }
    }

    fn next_u128(&mut self, kind: u128) -> u128 {
        self.counter += 1;
        mix128(self.seed ^ (u128::from(self.counter) << 8) ^ kind)
    }

    fn tick(&mut self, now: Millis) {
        self.now = self.now.max(now);
    }

    /// The outputs produced since the last call.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    /// The next instant something is due.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// Forgets calls that ended before `before` and conferences that completed before it, so
    /// memory does not grow with every call ever made. Live calls are never touched.
    pub fn prune(&mut self, before: Millis) {
        let live = &mut self.live;
        self.calls.retain(|sid, c| {
            let keep = !(c.status.is_final() && c.end_time.is_some_and(|t| t < before));
            if !keep {
                live.remove(sid);
            }
            keep
        });
        self.conferences
            .retain(|_, c| !(c.status == ConferenceStatus::Completed && c.date_updated < before));
        let calls = &self.calls;
        self.bridged_programs
            .retain(|parent, _| calls.contains_key(parent));
    }

    /// A call.
    pub fn call(&self, sid: Sid<Call>) -> Option<&CallRecord> {
        self.calls.get(&sid)
    }

    /// All calls, by SID, ended ones included (they are kept until [`Voice::prune`]).
    pub fn calls(&self) -> impl Iterator<Item = &CallRecord> {
        self.calls.values()
    }

    /// The calls that are not final (queued, ringing, in progress), by SID: as many as there
    /// are calls going on, however many ended ones are kept.
    pub fn live_calls(&self) -> impl Iterator<Item = &CallRecord> {
        self.live.iter().filter_map(|sid| self.calls.get(sid))
    }

    /// The conferences that have not completed (`init` or in progress), by name.
    pub fn live_conferences(&self) -> impl Iterator<Item = &ConferenceRecord> {
        self.live_by_name
            .values()
            .filter_map(|sid| self.conferences.get(sid))
    }

    /// Checks the indexes of live things against the records: the live calls are exactly the
    /// calls that are not final, and the live conferences by name exactly the conferences that
    /// have not completed, each under its own name. Linear in every record kept; for tests.
    pub fn check_live_indexes(&self) -> Result<(), String> {
        let live: BTreeSet<Sid<Call>> = self
            .calls
            .values()
            .filter(|c| !c.status.is_final())
            .map(|c| c.sid)
            .collect();
        if live != self.live {
            return Err(format!(
                "live calls index {:?} but calls not final {:?}",
                self.live, live
            ));
        }
        let named: BTreeMap<&str, Sid<Conference>> = self
            .conferences
            .values()
            .filter(|c| c.status != ConferenceStatus::Completed)
            .map(|c| (c.friendly_name.as_str(), c.sid))
            .collect();
        let indexed: BTreeMap<&str, Sid<Conference>> = self
            .live_by_name
            .iter()
            .map(|(name, sid)| (name.as_str(), *sid))
            .collect();
        if named != indexed {
            return Err(format!(
                "live conferences index {indexed:?} but conferences not completed {named:?}"
            ));
        }
        Ok(())
    }

    /// A conference.
    pub fn conference(&self, sid: Sid<Conference>) -> Option<&ConferenceRecord> {
        self.conferences.get(&sid)
    }

    /// The live (not completed) conference with this name.
    pub fn conference_named(&self, name: &str) -> Option<&ConferenceRecord> {
        self.live_by_name
            .get(name)
            .and_then(|sid| self.conferences.get(sid))
    }

    /// All conferences, by SID.
    pub fn conferences(&self) -> impl Iterator<Item = &ConferenceRecord> {
        self.conferences.values()
    }

    /// Asks for a conference to be recorded (a participant's `Record`).
    pub fn request_conference_recording(&mut self, conference: Sid<Conference>) {
        if let Some(c) = self.conferences.get_mut(&conference) {
            c.record = true;
        }
    }

    /// Asks for a call to be recorded once in progress (`Record` on `POST Calls`).
    pub fn request_call_recording(&mut self, call: Sid<Call>) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.record = true;
        }
    }

    /// The participation of a call in a conference, from whichever end is in it.
    pub fn participation(
        &self,
        conference: Sid<Conference>,
        call: Sid<Call>,
    ) -> Option<&Participation> {
        let c = self.calls.get(&call)?;
        [&c.caller, &c.callee].into_iter().find_map(|e| match e {
            End::Conference(p) if p.conference == conference => Some(p),
            _ => None,
        })
    }

    /// Places a call whose caller end joins a conference (created when needed) and whose callee
    /// is an agent, an application or an unreachable party. Refused, with nothing changed, when
    /// the join asks to coach a call that is not a participant of that conference.
    pub fn dial(&mut self, now: Millis, req: DialRequest) -> Result<Sid<Call>, VoiceError> {
        self.dial_reporting(now, req, None)
    }

    /// [`Voice::dial`], posting the call's progress to `status_callback` (a participant added
    /// through the API with Twilio's `StatusCallback`).
    pub fn dial_reporting(
        &mut self,
        now: Millis,
        req: DialRequest,
        status_callback: Option<StatusCallback>,
    ) -> Result<Sid<Call>, VoiceError> {
        self.tick(now);
        let existing = self.conference_named(&req.join.conference).map(|c| c.sid);
        self.check_coaching(
            existing,
            &req.join.conference,
            None,
            req.join.coaching,
            req.join.call_sid_to_coach,
        )?;
        let sid = Sid::from_u128(self.next_u128(0x4341));
        let conference = self.conference_for(&req.join.conference);
        let participation = Participation::new(conference, &req.join, self.now);
        let (callee, application, params) = match &req.callee {
            Callee::Agent { identity, .. } => (
                End::Agent {
                    identity: identity.clone(),
                    answered: false,
                },
                None,
                Vec::new(),
            ),
            Callee::App { sid, params, .. } => (End::Gone, Some(*sid), params.clone()),
            Callee::External(to) => (End::External(to.clone()), None, Vec::new()),
        };
        let to = match &req.callee {
            // On the application's side, `To` is the application SID.
            Callee::App { sid, .. } => sid.to_string(),
            _ => req.to.clone(),
        };
        let record = CallRecord {
            sid,
            parent: None,
            from: req.from.clone(),
            to,
            direction: match req.callee {
                Callee::App { .. } => Direction::Inbound,
                _ => Direction::OutboundApi,
            },
            application,
            params,
            status: CallStatus::Queued,
            caller: End::Gone,
            callee,
            date_created: self.now,
            start_time: None,
            end_time: None,
            end_reason: None,
            record: false,
            ring_deadline: None,
            fetches: 0,
            on_answer: None,
            status_callback,
            callbacks_sent: 0,
        };
        self.insert_call(record);
        self.progress(sid, CallProgress::Initiated);
        self.join(sid, Side::Caller, participation);
        match req.callee {
            Callee::Agent {
                identity,
                auto_answer,
            } => {
                self.set_status(sid, CallStatus::Ringing);
                if auto_answer {
                    self.answer_agent(sid);
                } else {
                    self.ring_agent(sid, identity, req.from, req.ring_timeout);
                }
            }
            Callee::App {
                voice_url, method, ..
            } => {
                self.set_status(sid, CallStatus::Ringing);
                self.start_program(sid, voice_url, method, Vec::new());
            }
            Callee::External(to) => {
                self.end_call(
                    sid,
                    CallStatus::Failed,
                    EndReason {
                        code: Some(13227),
                        message: format!("{to} cannot be dialed: no telephone trunk is configured"),
                    },
                );
            }
        }
        Ok(sid)
    }

    /// The agent answered a ringing call.
    pub fn answer(&mut self, now: Millis, call: Sid<Call>) -> Result<(), VoiceError> {
        self.tick(now);
        let c = self
            .calls
            .get(&call)
            .ok_or_else(|| VoiceError::NoCall(call.to_string()))?;
        if c.status != CallStatus::Ringing
            || !matches!(
                c.callee,
                End::Agent {
                    answered: false,
                    ..
                }
            )
        {
            return Err(VoiceError::State(format!(
                "Call {call} is not ringing an agent"
            )));
        }
        self.answer_agent(call);
        Ok(())
    }

    /// The agent declined a ringing call.
    pub fn decline(&mut self, now: Millis, call: Sid<Call>) -> Result<(), VoiceError> {
        self.tick(now);
        let c = self
            .calls
            .get(&call)
            .ok_or_else(|| VoiceError::NoCall(call.to_string()))?;
        if c.status != CallStatus::Ringing {
            return Err(VoiceError::State(format!("Call {call} is not ringing")));
        }
        self.end_call(
            call,
            CallStatus::Busy,
            EndReason {
                code: None,
                message: "declined".into(),
            },
        );
        Ok(())
    }

    /// Hangs up a call (either party, or `Status=completed` through the API).
    pub fn hangup(&mut self, now: Millis, call: Sid<Call>, reason: &str) -> Result<(), VoiceError> {
        self.tick(now);
        let c = self
            .calls
            .get(&call)
            .ok_or_else(|| VoiceError::NoCall(call.to_string()))?;
        if c.status.is_final() {
            return Ok(());
        }
        let status = if c.status == CallStatus::InProgress {
            CallStatus::Completed
        } else {
            CallStatus::Canceled
        };
        self.end_call(
            call,
            status,
            EndReason {
                code: None,
                message: reason.to_owned(),
            },
        );
        Ok(())
    }

    /// Places a call through the API (Twilio's `POST Calls.json`): an agent's browser rings, or
    /// an application's voice URL is requested; once the callee answers, the call's caller end
    /// runs `instructions` (fetched or given). Refused, with nothing changed, for a callee that
    /// cannot be reached (a number or SIP address: no trunk).
    pub fn place(&mut self, now: Millis, req: PlaceRequest) -> Result<Sid<Call>, VoiceError> {
        self.tick(now);
        let (callee, application, params, to) = match &req.callee {
            Callee::Agent { identity, .. } => (
                End::Agent {
                    identity: identity.clone(),
                    answered: false,
                },
                req.application,
                Vec::new(),
                req.to.clone(),
            ),
            // On the application's side, `To` is the application SID.
            Callee::App { sid, params, .. } => {
                (End::Gone, Some(*sid), params.clone(), sid.to_string())
            }
            Callee::External(to) => {
                return Err(VoiceError::Invalid(format!(
                    "to {to} cannot be dialed: no telephone or SIP trunk is configured"
                )))
            }
        };
        let sid = Sid::from_u128(self.next_u128(0x4341));
        self.insert_call(CallRecord {
            sid,
            parent: None,
            from: req.from.clone(),
            to,
            direction: Direction::OutboundApi,
            application,
            params,
            status: CallStatus::Queued,
            caller: End::Gone,
            callee,
            date_created: self.now,
            start_time: None,
            end_time: None,
            end_reason: None,
            record: false,
            ring_deadline: None,
            fetches: 0,
            on_answer: Some(Box::new(req.instructions)),
            status_callback: req.status_callback,
            callbacks_sent: 0,
        });
        self.progress(sid, CallProgress::Initiated);
        match req.callee {
            Callee::Agent { identity, .. } => {
                self.set_status(sid, CallStatus::Ringing);
                self.ring_agent(sid, identity, req.from, req.ring_timeout);
            }
            Callee::App {
                voice_url, method, ..
            } => {
                self.set_status(sid, CallStatus::Ringing);
                self.start_program(sid, voice_url, method, Vec::new());
            }
            Callee::External(_) => {}
        }
        Ok(sid)
    }

    /// Redirects a live call (Twilio's `Url` or `Twiml` on a call update): the end that runs
    /// TwiML — the one facing the agent's browser, else the callee's — leaves whatever it is in
    /// (a program, a conference, a queue, a bridge) and runs `instructions`. A call placed
    /// through the API that is not answered yet gets new instructions to run when it is.
    /// Refused for a call that has ended, or that rings and has nothing to run.
    pub fn redirect(
        &mut self,
        now: Millis,
        call: Sid<Call>,
        instructions: Instructions,
    ) -> Result<(), VoiceError> {
        self.tick(now);
        let c = self
            .calls
            .get_mut(&call)
            .ok_or_else(|| VoiceError::NoCall(call.to_string()))?;
        if c.on_answer.is_some() && !c.status.is_final() {
            c.on_answer = Some(Box::new(instructions));
            return Ok(());
        }
        if c.status != CallStatus::InProgress {
            return Err(VoiceError::State(format!(
                "Call {call} is not in-progress. Cannot redirect."
            )));
        }
        let side = if matches!(c.callee, End::Agent { .. }) {
            Side::Caller
        } else {
            Side::Callee
        };
        let old = match side {
            Side::Caller => std::mem::replace(&mut c.caller, End::Gone),
            Side::Callee => std::mem::replace(&mut c.callee, End::Gone),
        };
        if let End::Agent { .. } = old {
            // Both ends are agents' browsers: nothing runs TwiML on this call.
            self.set_end(call, side, old);
            return Err(VoiceError::State(format!(
                "Call {call} connects two browsers and runs no TwiML. Cannot redirect."
            )));
        }
        self.detach(call, old);
        if self.calls.get(&call).is_some_and(|c| !c.status.is_final()) {
            self.install(call, side, instructions);
        }
        Ok(())
    }

    /// Forgets a call that has ended (Twilio's `DELETE Calls/{CA}`: the record goes). Refused
    /// for a live call.
    pub fn forget_call(&mut self, call: Sid<Call>) -> Result<(), VoiceError> {
        let c = self
            .calls
            .get(&call)
            .ok_or_else(|| VoiceError::NoCall(call.to_string()))?;
        if !c.status.is_final() {
            return Err(VoiceError::State(format!(
                "Call {call} is {}: only a call that has ended can be deleted",
                c.status.as_str()
            )));
        }
        self.calls.remove(&call);
        self.live.remove(&call);
        self.bridged_programs.remove(&call);
        Ok(())
    }

    /// Moves a call waiting in a queue into a conference (TaskRouter's conference instruction).
    pub fn move_to_conference(
        &mut self,
        now: Millis,
        call: Sid<Call>,
        join: JoinSpec,
    ) -> Result<Sid<Conference>, VoiceError> {
        self.tick(now);
        let c = self
            .calls
            .get(&call)
            .ok_or_else(|| VoiceError::NoCall(call.to_string()))?;
        if c.status.is_final() {
            return Err(VoiceError::State(format!("Call {call} has ended")));
        }
        let side = if matches!(c.callee, End::Queued { .. }) {
            Side::Callee
        } else if matches!(c.caller, End::Queued { .. }) {
            Side::Caller
        } else {
            return Err(VoiceError::State(format!(
                "Call {call} is not waiting in a queue"
            )));
        };
        let existing = self.conference_named(&join.conference).map(|c| c.sid);
        self.check_coaching(
            existing,
            &join.conference,
            Some(call),
            join.coaching,
            join.call_sid_to_coach,
        )?;
        let conference = self.conference_for(&join.conference);
        self.set_end(call, side, End::Gone);
        let participation = Participation::new(conference, &join, self.now);
        self.join(call, side, participation);
        Ok(conference)
    }

    /// Changes a participant: hold, mute, coaching (and whom it coaches), end-on-exit. Checked
    /// before anything changes: a coaching participant needs a `call_sid_to_coach` that is
    /// another participant of the same conference.
    pub fn update_participant(
        &mut self,
        now: Millis,
        conference: Sid<Conference>,
        call: Sid<Call>,
        update: ParticipantUpdate,
    ) -> Result<(), VoiceError> {
        self.tick(now);
        let conf = self
            .conferences
            .get(&conference)
            .ok_or_else(|| VoiceError::NoConference(conference.to_string()))?;
        if !self.calls.contains_key(&call) {
            return Err(VoiceError::NoCall(call.to_string()));
        }
        let current =
            self.participation(conference, call)
                .ok_or_else(|| VoiceError::NotParticipant {
                    call: call.to_string(),
                    conference: conference.to_string(),
                })?;
        let coaching = update
            .coaching
            .unwrap_or(current.coaching || update.call_sid_to_coach.is_some());
        let target = update.call_sid_to_coach.or(current.call_sid_to_coach);
        if coaching && (update.coaching.is_some() || update.call_sid_to_coach.is_some()) {
            let name = conf.friendly_name.clone();
            self.check_coaching(Some(conference), &name, Some(call), true, target)?;
        }
        let c = self
            .calls
            .get_mut(&call)
            .ok_or_else(|| VoiceError::NoCall(call.to_string()))?;
        let Some(p) = [&mut c.caller, &mut c.callee]
            .into_iter()
            .find_map(|e| match e {
                End::Conference(p) if p.conference == conference => Some(p),
                _ => None,
            })
        else {
            return Ok(()); // checked above
        };
        let mut events = Vec::new();
        if let Some(h) = update.hold {
            if p.hold != h {
                p.hold = h;
                events.push(if h {
                    "participant-hold"
                } else {
                    "participant-unhold"
                });
            }
        }
        if let Some(m) = update.muted {
            if p.muted != m {
                p.muted = m;
                events.push(if m {
                    "participant-mute"
                } else {
                    "participant-unmute"
                });
            }
        }
        if p.coaching != coaching || p.call_sid_to_coach != target {
            p.coaching = coaching;
            p.call_sid_to_coach = target;
            events.push("participant-modify");
        }
        if let Some(e) = update.end_on_exit {
            p.end_on_exit = e;
        }
        for event in events {
            self.outputs.push(Output::ConferenceEvent {
                conference,
                event,
                call: Some(call),
            });
        }
        Ok(())
    }

    /// Whether `call` (or a new call, `None`) may join or stay in `conference` (the live one
    /// named `name`, if any) with this coaching.
    fn check_coaching(
        &self,
        conference: Option<Sid<Conference>>,
        name: &str,
        call: Option<Sid<Call>>,
        coaching: bool,
        target: Option<Sid<Call>>,
    ) -> Result<(), VoiceError> {
        if !coaching {
            return Ok(());
        }
        let Some(target) = target else {
            return Err(VoiceError::Invalid(
                "coaching needs call_sid_to_coach: the participant it coaches".into(),
            ));
        };
        if Some(target) == call {
            return Err(VoiceError::Invalid(format!(
                "call_sid_to_coach {target} is the coaching participant itself"
            )));
        }
        let in_conference = conference.is_some_and(|cf| {
            self.conference(cf)
                .is_some_and(|c| c.status != ConferenceStatus::Completed)
                && self.participation(cf, target).is_some()
        });
        if !in_conference {
            return Err(VoiceError::Invalid(format!(
                "call_sid_to_coach {target} is not a participant of conference {name}"
            )));
        }
        Ok(())
    }

    /// Removes a participant: its call is hung up, as Twilio does.
    pub fn remove_participant(
        &mut self,
        now: Millis,
        conference: Sid<Conference>,
        call: Sid<Call>,
    ) -> Result<(), VoiceError> {
        if self.participation(conference, call).is_none() {
            return Err(VoiceError::NotParticipant {
                call: call.to_string(),
                conference: conference.to_string(),
            });
        }
        self.hangup(now, call, "removed from the conference")
    }

    /// Ends a conference (`Status=completed` through the API).
    pub fn end_conference_now(
        &mut self,
        now: Millis,
        conference: Sid<Conference>,
    ) -> Result<(), VoiceError> {
        self.tick(now);
        let c = self
            .conferences
            .get(&conference)
            .ok_or_else(|| VoiceError::NoConference(conference.to_string()))?;
        if c.status != ConferenceStatus::Completed {
            self.end_conference(conference, "conference-ended-via-api", None);
        }
        Ok(())
    }

    /// The task an `<Enqueue>` asked for could not be created: the call leaves the queue.
    pub fn task_refused(&mut self, now: Millis, call: Sid<Call>, message: &str) {
        self.tick(now);
        self.leave_queue(call, "system-error", Some((14222, message)));
    }

    /// The task of a waiting call ended without the call being answered (canceled, timed out):
    /// the call leaves the queue and its program goes on.
    pub fn task_ended(&mut self, now: Millis, task: Sid<Task>) {
        self.tick(now);
        let waiting = self.calls.values().find_map(|c| {
            [(&c.caller, Side::Caller), (&c.callee, Side::Callee)]
                .into_iter()
                .find(|(e, _)| matches!(e, End::Queued { task: t, .. } if *t == task))
                .map(|_| c.sid)
        });
        if let Some(call) = waiting {
            self.leave_queue(call, "leave", None);
        }
    }

    /// A webhook answered (or failed).
    pub fn fetched(&mut self, now: Millis, id: u64, result: Result<FetchResponse, FetchFailure>) {
        self.tick(now);
        let Some((call, side)) = self.calls.values().find_map(|c| {
            [(&c.caller, Side::Caller), (&c.callee, Side::Callee)]
                .into_iter()
                .find(|(e, _)| matches!(e, End::Program(p) if p.fetching == Some(id)))
                .map(|(_, s)| (c.sid, s))
        }) else {
            return; // the call ended meanwhile
        };
        let url = match self.end_of(call, side) {
            Some(End::Program(p)) => p.url.clone(),
            _ => return,
        };
        let doc = match result {
            Err(f) => Err(EndReason {
                code: Some(f.code),
                message: f.message,
            }),
            Ok(r) if !(200..300).contains(&r.status) => Err(EndReason {
                code: Some(11200),
                message: format!("HTTP retrieval failure: {url} answered {}", r.status),
            }),
            Ok(r) => switchboard_twiml::parse(&r.body, Some(&url)).map_err(|e| EndReason {
                code: Some(e.code),
                message: format!("{url} did not answer valid TwiML: {}", e.message),
            }),
        };
        match doc {
            Err(reason) => self.end_call(call, CallStatus::Failed, reason),
            Ok(doc) => {
                if let Some(End::Program(p)) = self.end_of_mut(call, side) {
                    p.doc = doc;
                    p.pc = 0;
                    p.fetching = None;
                }
                self.run(call, side);
            }
        }
    }

    /// Fires what is due at `now`: ring timeouts and pauses.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.tick(now);
        while let Some(&(at, call)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, call));
            let Some(c) = self.calls.get(&call) else {
                continue;
            };
            if c.ring_deadline == Some(at) && c.status == CallStatus::Ringing {
                self.end_call(
                    call,
                    CallStatus::NoAnswer,
                    EndReason {
                        code: None,
                        message: "no answer".into(),
                    },
                );
                continue;
            }
            for side in [Side::Caller, Side::Callee] {
                let due = matches!(self.end_of(call, side), Some(End::Program(p)) if p.paused_until == Some(at));
                if due {
                    if let Some(End::Program(p)) = self.end_of_mut(call, side) {
                        p.paused_until = None;
                    }
                    self.run(call, side);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Internals

    fn conference_for(&mut self, name: &str) -> Sid<Conference> {
        if let Some(c) = self.conference_named(name) {
            return c.sid;
        }
        let sid = Sid::from_u128(self.next_u128(0x4346));
        self.live_by_name.insert(name.to_owned(), sid);
        self.conferences.insert(
            sid,
            ConferenceRecord {
                sid,
                friendly_name: name.to_owned(),
                status: ConferenceStatus::Init,
                participants: Vec::new(),
                date_created: self.now,
                date_updated: self.now,
                end_reason: None,
                status_callback: None,
                record: false,
            },
        );
        sid
    }

    /// Rings an agent's browser for a call, until `ring_timeout` seconds from now.
    fn ring_agent(&mut self, sid: Sid<Call>, identity: String, from: String, ring_timeout: u64) {
        let deadline = self.now.saturating_add(secs(ring_timeout));
        if let Some(c) = self.calls.get_mut(&sid) {
            c.ring_deadline = Some(deadline);
        }
        self.timers.insert((deadline, sid));
        self.outputs.push(Output::Ring {
            call: sid,
            identity,
            from,
        });
    }

    fn end_of(&self, call: Sid<Call>, side: Side) -> Option<&End> {
        self.calls.get(&call).map(|c| match side {
            Side::Caller => &c.caller,
            Side::Callee => &c.callee,
        })
    }

    fn end_of_mut(&mut self, call: Sid<Call>, side: Side) -> Option<&mut End> {
        self.calls.get_mut(&call).map(|c| match side {
            Side::Caller => &mut c.caller,
            Side::Callee => &mut c.callee,
        })
    }

    fn set_end(&mut self, call: Sid<Call>, side: Side, end: End) {
        if let Some(e) = self.end_of_mut(call, side) {
            *e = end;
        }
    }

    /// Adds a call record (a SID not used before), indexed as live unless its status is final.
    fn insert_call(&mut self, record: CallRecord) {
        let sid = record.sid;
        if record.status.is_final() {
            self.live.remove(&sid);
        } else {
            self.live.insert(sid);
        }
        let old = self.calls.insert(sid, record);
        debug_assert!(old.is_none(), "call {sid} inserted twice");
    }

    /// Changes a call's status: the only place a status changes once the record is in, so the
    /// index of live calls follows it.
    fn set_status(&mut self, call: Sid<Call>, status: CallStatus) {
        let now = self.now;
        if let Some(c) = self.calls.get_mut(&call) {
            if c.status == status {
                return;
            }
            debug_assert_eq!(
                self.live.contains(&call),
                !c.status.is_final(),
                "call {call} is {} but the live index says otherwise",
                c.status.as_str()
            );
            c.status = status;
            if status.is_final() {
                self.live.remove(&call);
            } else {
                self.live.insert(call);
            }
            if status == CallStatus::InProgress && c.start_time.is_none() {
                c.start_time = Some(now);
            }
            if status.is_final() {
                c.end_time = Some(now);
            }
        }
        self.outputs.push(Output::CallStatus { call, status });
        let step = match status {
            CallStatus::Queued => None,
            CallStatus::Ringing => Some(CallProgress::Ringing),
            CallStatus::InProgress => Some(CallProgress::Answered),
            _ => Some(CallProgress::Completed),
        };
        if let Some(step) = step {
            self.progress(call, step);
        }
    }

    /// Posts a step of a call's progress to its status callback, when it asked for that step.
    /// The answer is ignored (no program waits for the fetch's id).
    fn progress(&mut self, call: Sid<Call>, step: CallProgress) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(cb) = c.status_callback.clone().filter(|cb| cb.wants(step)) else {
            return;
        };
        let sequence = c.callbacks_sent;
        c.callbacks_sent += 1;
        let duration = match (step, c.start_time, c.end_time) {
            (CallProgress::Completed, Some(start), Some(end)) => Some((end - start).max(0) / 1000),
            (CallProgress::Completed, _, _) => Some(0),
            _ => None,
        };
        let mut params = self.standard_params(call);
        params.push(("CallbackSource".into(), "call-progress-events".into()));
        params.push(("SequenceNumber".into(), sequence.to_string()));
        params.push(("StatusCallbackEvent".into(), step.as_str().into()));
        if let Some(d) = duration {
            params.push(("CallDuration".into(), d.to_string()));
            params.push(("Duration".into(), d.to_string()));
        }
        self.counter += 1;
        let id = self.counter;
        self.outputs.push(Output::Fetch {
            id,
            call,
            url: cb.url,
            method: cb.method,
            params,
        });
    }

    fn join(&mut self, call: Sid<Call>, side: Side, p: Participation) {
        let conference = p.conference;
        let starts = p.start_on_enter;
        self.set_end(call, side, End::Conference(p));
        let now = self.now;
        let Some(conf) = self.conferences.get_mut(&conference) else {
            return;
        };
        if !conf.participants.contains(&call) {
            conf.participants.push(call);
        }
        conf.date_updated = now;
        let start = conf.status == ConferenceStatus::Init && starts;
        if start {
            conf.status = ConferenceStatus::InProgress;
        }
        self.outputs.push(Output::ConferenceEvent {
            conference,
            event: "participant-join",
            call: Some(call),
        });
        if start {
            self.outputs.push(Output::ConferenceEvent {
                conference,
                event: "conference-start",
                call: Some(call),
            });
        }
    }

    fn answer_agent(&mut self, call: Sid<Call>) {
        let identity = match self.calls.get_mut(&call) {
            Some(c) => {
                if let Some(d) = c.ring_deadline.take() {
                    self.timers.remove(&(d, call));
                }
                match &mut c.callee {
                    End::Agent { identity, answered } => {
                        *answered = true;
                        identity.clone()
                    }
                    _ => return,
                }
            }
            None => return,
        };
        self.set_status(call, CallStatus::InProgress);
        self.outputs.push(Output::AgentConnected { call, identity });
        self.start_instructions(call);
        // A `<Dial><Client>` child that answers is bridged to its parent, and its siblings stop.
        let parent = self.calls.get(&call).and_then(|c| c.parent);
        if let Some(parent) = parent {
            self.bridge_answered_child(parent, call);
        }
    }

    fn standard_params(&self, call: Sid<Call>) -> Vec<(String, String)> {
        let Some(c) = self.calls.get(&call) else {
            return Vec::new();
        };
        let mut p = vec![
            ("CallSid".to_owned(), c.sid.to_string()),
            ("AccountSid".to_owned(), self.account_sid.clone()),
            ("From".to_owned(), c.from.clone()),
            ("To".to_owned(), c.to.clone()),
            ("Caller".to_owned(), c.from.clone()),
            ("Called".to_owned(), c.to.clone()),
            ("CallStatus".to_owned(), c.status.as_str().to_owned()),
            ("Direction".to_owned(), c.direction.as_str().to_owned()),
            ("ApiVersion".to_owned(), API_VERSION.to_owned()),
        ];
        if let Some(parent) = c.parent {
            p.push(("ParentCallSid".to_owned(), parent.to_string()));
        }
        if let Some(app) = c.application {
            p.push(("ApplicationSid".to_owned(), app.to_string()));
        }
        p.extend(c.params.iter().cloned());
        p
    }

    /// Starts (or replaces) the program on the callee end by fetching `url`.
    fn start_program(
        &mut self,
        call: Sid<Call>,
        url: String,
        method: Method,
        extra: Vec<(String, String)>,
    ) {
        self.fetch_into(call, Side::Callee, url, method, extra);
    }

    fn fetch_into(
        &mut self,
        call: Sid<Call>,
        side: Side,
        url: String,
        method: Method,
        extra: Vec<(String, String)>,
    ) {
        let fetched = self.calls.get_mut(&call).map_or(0, |c| {
            c.fetches += 1;
            c.fetches
        });
        if fetched > MAX_FETCHES_PER_CALL {
            self.end_call(
                call,
                CallStatus::Failed,
                EndReason {
                    code: Some(11215),
                    message: format!(
                        "the application asked for more than {MAX_FETCHES_PER_CALL} TwiML documents for one call (a <Redirect> loop?)"
                    ),
                },
            );
            return;
        }
        self.counter += 1;
        let id = self.counter;
        let mut params = self.standard_params(call);
        params.extend(extra);
        self.set_end(
            call,
            side,
            End::Program(Box::new(Program {
                url: url.clone(),
                doc: Document { verbs: Vec::new() },
                pc: 0,
                fetching: Some(id),
                paused_until: None,
                dialing: None,
            })),
        );
        self.outputs.push(Output::Fetch {
            id,
            call,
            url,
            method,
            params,
        });
    }

    /// Runs the program on `side` of `call` until it blocks or ends.
    fn run(&mut self, call: Sid<Call>, side: Side) {
        // Bounded: a document has at most a few thousand verbs, and each step advances `pc` or
        // blocks; redirects go through a fetch, which blocks.
        loop {
            let Some(End::Program(p)) = self.end_of(call, side) else {
                return;
            };
            if p.fetching.is_some() || p.paused_until.is_some() || p.dialing.is_some() {
                return;
            }
            let Some(verb) = p.doc.verbs.get(p.pc).cloned() else {
                // The document ran out: the call hangs up.
                self.answer_app(call);
                self.end_call(
                    call,
                    CallStatus::Completed,
                    EndReason {
                        code: None,
                        message: "the application's TwiML ended".into(),
                    },
                );
                return;
            };
            if let Some(End::Program(p)) = self.end_of_mut(call, side) {
                p.pc += 1;
            }
            if !matches!(verb, Verb::Reject { .. }) {
                self.answer_app(call);
                // Answering may have started the other end's instructions, which may have ended
                // the call: then this program is gone too.
                if !matches!(self.end_of(call, side), Some(End::Program(_))) {
                    return;
                }
            }
            match verb {
                Verb::Say { .. } | Verb::Play { .. } | Verb::Leave => {}
                Verb::Pause { length } => {
                    let until = self.now.saturating_add(secs(u64::from(length)));
                    if let Some(End::Program(p)) = self.end_of_mut(call, side) {
                        p.paused_until = Some(until);
                    }
                    self.timers.insert((until, call));
                    return;
                }
                Verb::Hangup => {
                    self.end_call(
                        call,
                        CallStatus::Completed,
                        EndReason {
                            code: None,
                            message: "the application hung up".into(),
                        },
                    );
                    return;
                }
                Verb::Reject { reason } => {
                    let status = match reason {
                        switchboard_twiml::RejectReason::Busy => CallStatus::Busy,
                        switchboard_twiml::RejectReason::Rejected => CallStatus::Failed,
                    };
                    self.end_call(
                        call,
                        status,
                        EndReason {
                            code: None,
                            message: "the application rejected the call".into(),
                        },
                    );
                    return;
                }
                Verb::Redirect { url, method } => {
                    self.fetch_into(call, side, url, method, Vec::new());
                    return;
                }
                Verb::Enqueue(e) => {
                    self.enqueue(call, side, e);
                    return;
                }
                Verb::Dial(d) => {
                    if self.dial_from_program(call, side, d) {
                        return;
                    }
                }
            }
        }
    }

    fn answer_app(&mut self, call: Sid<Call>) {
        if self
            .calls
            .get(&call)
            .is_some_and(|c| c.status == CallStatus::Ringing)
        {
            self.set_status(call, CallStatus::InProgress);
            self.start_instructions(call);
        }
    }

    /// A call placed through the API was answered: its caller end starts its instructions.
    fn start_instructions(&mut self, call: Sid<Call>) {
        let Some(instructions) = self.calls.get_mut(&call).and_then(|c| c.on_answer.take()) else {
            return;
        };
        self.install(call, Side::Caller, *instructions);
    }

    /// Runs `instructions` on one end of a call (which must be free: detached or `Gone`).
    fn install(&mut self, call: Sid<Call>, side: Side, instructions: Instructions) {
        match instructions {
            Instructions::Fetch { url, method } => {
                self.fetch_into(call, side, url, method, Vec::new());
            }
            Instructions::Twiml(doc) => {
                self.set_end(
                    call,
                    side,
                    End::Program(Box::new(Program {
                        url: String::new(),
                        doc,
                        pc: 0,
                        fetching: None,
                        paused_until: None,
                        dialing: None,
                    })),
                );
                self.run(call, side);
            }
        }
    }

    fn enqueue(&mut self, call: Sid<Call>, side: Side, e: Enqueue) {
        let Some(workflow_sid) = e.workflow_sid.clone() else {
            self.end_call(
                call,
                CallStatus::Failed,
                EndReason {
                    code: Some(12200),
                    message: "<Enqueue> without workflowSid (a named queue) is not supported; use a TaskRouter workflow".into(),
                },
            );
            return;
        };
        let task = Sid::from_u128(self.next_u128(0x5754));
        let mut attributes = e
            .task
            .as_ref()
            .map(|t| t.attributes.clone())
            .unwrap_or_default();
        // The call's attributes win over `<Task>` keys of the same name.
        if let Some(c) = self.calls.get(&call) {
            for (k, v) in [
                ("call_sid", c.sid.to_string()),
                ("account_sid", self.account_sid.clone()),
                ("from", c.from.clone()),
                ("to", c.to.clone()),
                ("caller", c.from.clone()),
                ("called", c.to.clone()),
                ("direction", c.direction.as_str().to_owned()),
                ("call_status", c.status.as_str().to_owned()),
                ("api_version", API_VERSION.to_owned()),
            ] {
                attributes.insert(k.to_owned(), Value::String(v));
            }
        }
        let program = match self.end_of(call, side) {
            Some(End::Program(p)) => p.clone(),
            _ => return,
        };
        self.set_end(
            call,
            side,
            End::Queued {
                task,
                action: e.action.clone().map(|a| (a, e.method)),
                since: self.now,
                resume: program,
            },
        );
        self.outputs.push(Output::CreateTask {
            call,
            task,
            workflow_sid,
            attributes,
            priority: e.task.as_ref().and_then(|t| t.priority),
            timeout: e.task.as_ref().and_then(|t| t.timeout),
        });
    }

    /// The call leaves a queue: its `action` is requested with `QueueResult`, or its program goes
    /// on with the next verb.
    fn leave_queue(&mut self, call: Sid<Call>, result: &str, error: Option<(u32, &str)>) {
        let Some(side) = [Side::Caller, Side::Callee]
            .into_iter()
            .find(|s| matches!(self.end_of(call, *s), Some(End::Queued { .. })))
        else {
            return;
        };
        let Some(End::Queued {
            action,
            since,
            resume,
            ..
        }) = self.end_of(call, side).cloned()
        else {
            return;
        };
        if let (Some((code, message)), None) = (error, &action) {
            // The task was never created: there is nothing to cancel.
            self.set_end(call, side, End::Gone);
            self.end_call(
                call,
                CallStatus::Failed,
                EndReason {
                    code: Some(code),
                    message: format!("Enqueue could not create the task: {message}"),
                },
            );
            return;
        }
        self.set_end(call, side, End::Program(resume));
        match action {
            Some((url, method)) => {
                let waited = (self.now - since).max(0) / 1000;
                self.fetch_into(
                    call,
                    side,
                    url,
                    method,
                    vec![
                        ("QueueResult".into(), result.into()),
                        ("QueueTime".into(), waited.to_string()),
                    ],
                );
            }
            None => self.run(call, side),
        }
    }

    /// Runs a `<Dial>`. Returns whether the program now waits for it.
    fn dial_from_program(&mut self, call: Sid<Call>, side: Side, d: Dial) -> bool {
        let action = d.action.clone().map(|a| (a, d.method));
        match d.target {
            DialTarget::Conference(c) => {
                let program = match self.end_of(call, side) {
                    Some(End::Program(p)) => {
                        let mut p = p.clone();
                        p.dialing = None;
                        // After the conference, `action` replaces what follows the `<Dial>`.
                        if let Some((url, method)) = action {
                            p.doc.verbs.insert(p.pc, Verb::Redirect { url, method });
                        }
                        p
                    }
                    _ => return true,
                };
                let conference = self.conference_for(&c.name);
                if c.record.as_deref() == Some("record-from-start") {
                    if let Some(conf) = self.conferences.get_mut(&conference) {
                        conf.record = true;
                    }
                }
                if let Some(cb) = c.status_callback.clone() {
                    if let Some(conf) = self.conferences.get_mut(&conference) {
                        conf.status_callback.get_or_insert((
                            cb,
                            c.status_callback_method,
                            c.status_callback_event.clone(),
                        ));
                    }
                }
                self.join(
                    call,
                    side,
                    Participation {
                        conference,
                        start_on_enter: c.start_conference_on_enter,
                        end_on_exit: c.end_conference_on_exit,
                        muted: c.muted,
                        hold: false,
                        label: c.participant_label.clone(),
                        coaching: false,
                        call_sid_to_coach: None,
                        beep: Beep::Yes,
                        early_media: false,
                        joined: self.now,
                        resume: Some(program),
                    },
                );
                true
            }
            target @ (DialTarget::Client(_) | DialTarget::Parallel(_)) => {
                // Only agents' browsers can be rung here; numbers and SIP in a mix are skipped.
                let clients: Vec<switchboard_twiml::ClientNoun> = target
                    .endpoints()
                    .into_iter()
                    .filter_map(|e| match e {
                        switchboard_twiml::Endpoint::Client(c) => Some(c),
                        _ => None,
                    })
                    .collect();
                if clients.is_empty() {
                    self.dial_finished(call, side, action, "failed", None);
                    return !matches!(self.end_of(call, side), Some(End::Program(p)) if p.fetching.is_none());
                }
                let from = d
                    .caller_id
                    .clone()
                    .or_else(|| self.calls.get(&call).map(|c| c.from.clone()))
                    .unwrap_or_default();
                let mut children = Vec::new();
                for client in clients {
                    let child = Sid::from_u128(self.next_u128(0x4341));
                    let deadline = self.now.saturating_add(secs(u64::from(d.timeout)));
                    self.insert_call(CallRecord {
                        sid: child,
                        parent: Some(call),
                        from: from.clone(),
                        to: format!("client:{}", client.identity),
                        direction: Direction::OutboundDial,
                        application: None,
                        params: client.parameters.clone(),
                        status: CallStatus::Ringing,
                        caller: End::Bridge(call),
                        callee: End::Agent {
                            identity: client.identity.clone(),
                            answered: false,
                        },
                        date_created: self.now,
                        start_time: None,
                        end_time: None,
                        end_reason: None,
                        record: false,
                        ring_deadline: Some(deadline),
                        fetches: 0,
                        on_answer: None,
                        status_callback: None,
                        callbacks_sent: 0,
                    });
                    self.timers.insert((deadline, child));
                    self.outputs.push(Output::CallStatus {
                        call: child,
                        status: CallStatus::Ringing,
                    });
                    self.outputs.push(Output::Ring {
                        call: child,
                        identity: client.identity,
                        from: from.clone(),
                    });
                    children.push(child);
                }
                if let Some(End::Program(p)) = self.end_of_mut(call, side) {
                    p.dialing = Some(DialState { action, children });
                }
                true
            }
            _ => {
                // Numbers, SIP, queues and applications cannot be reached from here.
                self.dial_finished(call, side, action, "failed", None);
                !matches!(self.end_of(call, side), Some(End::Program(p)) if p.fetching.is_none())
            }
        }
    }

    /// A `<Dial>` is over: request its action with `DialCallStatus`, or go on.
    fn dial_finished(
        &mut self,
        call: Sid<Call>,
        side: Side,
        action: Option<(String, Method)>,
        status: &str,
        child: Option<Sid<Call>>,
    ) {
        if let Some(End::Program(p)) = self.end_of_mut(call, side) {
            p.dialing = None;
        }
        match action {
            Some((url, method)) => {
                let mut extra = vec![("DialCallStatus".to_owned(), status.to_owned())];
                if let Some(c) = child {
                    extra.push(("DialCallSid".to_owned(), c.to_string()));
                }
                self.fetch_into(call, side, url, method, extra);
            }
            None => self.run(call, side),
        }
    }

    fn bridge_answered_child(&mut self, parent: Sid<Call>, child: Sid<Call>) {
        let Some(side) = [Side::Caller, Side::Callee]
            .into_iter()
            .find(|s| matches!(self.end_of(parent, *s), Some(End::Program(p)) if p.dialing.as_ref().is_some_and(|d| d.children.contains(&child))))
        else {
            return;
        };
        let siblings: Vec<Sid<Call>> = match self.end_of(parent, side) {
            Some(End::Program(p)) => p
                .dialing
                .as_ref()
                .map(|d| d.children.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        for s in siblings.into_iter().filter(|s| *s != child) {
            self.end_call(
                s,
                CallStatus::Canceled,
                EndReason {
                    code: None,
                    message: "answered elsewhere".into(),
                },
            );
        }
        let program = match self.end_of(parent, side) {
            Some(End::Program(p)) => p.clone(),
            _ => return,
        };
        self.set_end(parent, side, End::Bridge(child));
        // Keep the program to resume after the bridge ends.
        self.bridged_programs.insert(parent, (side, program));
    }

    /// An end a redirect took off a live call lets go of what it was in, as if that end hung up:
    /// a program stops (its `<Dial>` children are canceled), a conference sees the participant
    /// leave, a queued task is canceled, a bridged call ends (or its `<Dial>` goes on).
    fn detach(&mut self, call: Sid<Call>, end: End) {
        match end {
            End::Program(p) => {
                if let Some(until) = p.paused_until {
                    self.timers.remove(&(until, call));
                }
                if let Some(dialing) = p.dialing {
                    for child in dialing.children {
                        self.end_call(
                            child,
                            CallStatus::Canceled,
                            EndReason {
                                code: None,
                                message: "the caller was redirected".into(),
                            },
                        );
                    }
                }
            }
            End::Conference(p) => self.leave(call, p),
            End::Queued { task, .. } => self.outputs.push(Output::CancelTask {
                task,
                reason: "redirected".into(),
            }),
            End::Bridge(other) => {
                self.bridged_programs.remove(&call);
                let connected = [Side::Caller, Side::Callee]
                    .into_iter()
                    .any(|s| matches!(self.end_of(other, s), Some(End::Bridge(c)) if *c == call));
                if !connected {
                    return;
                }
                if let Some((side, program)) = self.bridged_programs.remove(&other) {
                    let action = program.dialing.as_ref().and_then(|d| d.action.clone());
                    self.set_end(other, side, End::Program(program));
                    self.dial_finished(other, side, action, "completed", Some(call));
                } else {
                    self.end_call(
                        other,
                        CallStatus::Completed,
                        EndReason {
                            code: None,
                            message: "the other party was redirected".into(),
                        },
                    );
                }
            }
            End::Agent { .. } | End::External(_) | End::Gone => {}
        }
    }

    /// Ends a call: every end detaches; conferences it leaves may end; queued tasks are canceled;
    /// bridged calls hang up too.
    fn end_call(&mut self, call: Sid<Call>, status: CallStatus, reason: EndReason) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.status.is_final() {
            return;
        }
        if let Some(d) = c.ring_deadline.take() {
            self.timers.remove(&(d, call));
        }
        c.end_reason = Some(reason);
        // A program kept while this call was bridged to a `<Dial>` child never resumes now.
        self.bridged_programs.remove(&call);
        let ends = [
            std::mem::replace(&mut c.caller, End::Gone),
            std::mem::replace(&mut c.callee, End::Gone),
        ];
        let parent = c.parent;
        self.set_status(call, status);
        for end in ends {
            match end {
                End::Agent { identity, answered } => {
                    if answered {
                        self.outputs
                            .push(Output::AgentDisconnected { call, identity });
                    } else {
                        self.outputs.push(Output::StopRinging { call, identity });
                    }
                }
                End::Conference(p) => self.leave(call, p),
                End::Queued { task, .. } => self.outputs.push(Output::CancelTask {
                    task,
                    reason: "hangup".into(),
                }),
                End::Program(p) => {
                    if let Some(until) = p.paused_until {
                        self.timers.remove(&(until, call));
                    }
                    if let Some(dialing) = p.dialing {
                        for child in dialing.children {
                            self.end_call(
                                child,
                                CallStatus::Canceled,
                                EndReason {
                                    code: None,
                                    message: "the caller hung up".into(),
                                },
                            );
                        }
                    }
                }
                End::Bridge(other) => {
                    // Only a bridge the other call holds too is a connection: a `<Dial><Client>`
                    // child that never answered points at its parent, but the parent is still
                    // running its `<Dial>` (handled by `child_failed` below), and a parent that
                    // ended first no longer points back.
                    let connected = [Side::Caller, Side::Callee].into_iter().any(
                        |s| matches!(self.end_of(other, s), Some(End::Bridge(c)) if *c == call),
                    );
                    if !connected {
                        continue;
                    }
                    if let Some((side, program)) = self.bridged_programs.remove(&other) {
                        // The child hung up: the parent's `<Dial>` is over; its program goes on.
                        let action = program.dialing.as_ref().and_then(|d| d.action.clone());
                        self.set_end(other, side, End::Program(program));
                        self.dial_finished(other, side, action, "completed", Some(call));
                    } else {
                        self.end_call(
                            other,
                            CallStatus::Completed,
                            EndReason {
                                code: None,
                                message: "the other party hung up".into(),
                            },
                        );
                    }
                }
                End::External(_) | End::Gone => {}
            }
        }
        // A `<Dial><Client>` child that never answered: the parent's `<Dial>` may be over.
        if let Some(parent) = parent {
            self.child_failed(parent, call, status);
        }
    }

    fn child_failed(&mut self, parent: Sid<Call>, child: Sid<Call>, status: CallStatus) {
        let Some(side) = [Side::Caller, Side::Callee]
            .into_iter()
            .find(|s| matches!(self.end_of(parent, *s), Some(End::Program(p)) if p.dialing.as_ref().is_some_and(|d| d.children.contains(&child))))
        else {
            return;
        };
        let mut done = None;
        if let Some(End::Program(p)) = self.end_of_mut(parent, side) {
            if let Some(d) = p.dialing.as_mut() {
                d.children.retain(|c| *c != child);
                if d.children.is_empty() {
                    done = Some(d.action.clone());
                }
            }
        }
        if let Some(action) = done {
            let s = match status {
                CallStatus::Busy => "busy",
                CallStatus::NoAnswer => "no-answer",
                CallStatus::Canceled => "canceled",
                _ => "failed",
            };
            self.dial_finished(parent, side, action, s, Some(child));
        }
    }

    /// A participant leaves: the conference ends if it was the last one or ends on its exit.
    fn leave(&mut self, call: Sid<Call>, p: Participation) {
        let now = self.now;
        let Some(conf) = self.conferences.get_mut(&p.conference) else {
            return;
        };
        conf.participants.retain(|c| *c != call);
        conf.date_updated = now;
        let remaining = conf.participants.len();
        let running = conf.status != ConferenceStatus::Completed;
        self.outputs.push(Output::ConferenceEvent {
            conference: p.conference,
            event: "participant-leave",
            call: Some(call),
        });
        if !running {
            return;
        }
        if p.end_on_exit {
            self.end_conference(
                p.conference,
                "participant-with-end-conference-on-exit-left",
                Some(call),
            );
        } else if remaining == 0 {
            self.end_conference(p.conference, "last-participant-left", Some(call));
        }
    }

    /// Ends a conference: participants that came from `<Dial><Conference>` go on with their
    /// TwiML; the others hang up.
    fn end_conference(&mut self, conference: Sid<Conference>, reason: &str, by: Option<Sid<Call>>) {
        let now = self.now;
        let participants = match self.conferences.get_mut(&conference) {
            Some(c) if c.status != ConferenceStatus::Completed => {
                c.status = ConferenceStatus::Completed;
                c.end_reason = Some(reason.to_owned());
                c.date_updated = now;
                if self.live_by_name.get(&c.friendly_name) == Some(&conference) {
                    self.live_by_name.remove(&c.friendly_name);
                }
                std::mem::take(&mut c.participants)
            }
            _ => return,
        };
        self.outputs.push(Output::ConferenceEvent {
            conference,
            event: "conference-end",
            call: by,
        });
        for call in participants {
            let Some(side) = [Side::Caller, Side::Callee]
                .into_iter()
                .find(|s| matches!(self.end_of(call, *s), Some(End::Conference(p)) if p.conference == conference))
            else {
                continue;
            };
            let resume = match self.end_of_mut(call, side) {
                Some(End::Conference(p)) => p.resume.take(),
                _ => None,
            };
            self.outputs.push(Output::ConferenceEvent {
                conference,
                event: "participant-leave",
                call: Some(call),
            });
            match resume {
                Some(program) => {
                    self.set_end(call, side, End::Program(program));
                    self.run(call, side);
                }
                None => {
                    self.set_end(call, side, End::Gone);
                    // A participant whose call was never answered (an agent still ringing) is
                    // canceled, not completed.
                    let answered = self
                        .calls
                        .get(&call)
                        .is_some_and(|c| c.status == CallStatus::InProgress);
                    self.end_call(
                        call,
                        if answered {
                            CallStatus::Completed
                        } else {
                            CallStatus::Canceled
                        },
                        EndReason {
                            code: None,
                            message: "the conference ended".into(),
                        },
                    );
                }
            }
        }
    }
}

/// The two ends of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// The caller's end.
    Caller,
    /// The callee's end.
    Callee,
}

impl Side {
    /// The other end.
    pub fn other(self) -> Side {
        match self {
            Side::Caller => Side::Callee,
            Side::Callee => Side::Caller,
        }
    }
}

impl CallRecord {
    /// One of its ends.
    pub fn end(&self, side: Side) -> &End {
        match side {
            Side::Caller => &self.caller,
            Side::Callee => &self.callee,
        }
    }
}

impl Voice {
    /// An end of a live call (`None` once the call ended).
    pub fn live_end(&self, call: Sid<Call>, side: Side) -> Option<&End> {
        self.call(call)
            .filter(|c| !c.status.is_final())
            .map(|c| c.end(side))
    }
}

fn secs(s: u64) -> Millis {
    i64::try_from(s)
        .unwrap_or(i64::MAX / 2)
        .saturating_mul(1000)
}
