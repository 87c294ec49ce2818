//! The agent desktop protocol: every message on the desktop WebSocket, as types. The server
//! serializes them with serde; the desktop's TypeScript types (`web/src/state/protocol.gen.ts`)
//! are generated from these definitions by the `protocol_typescript` test, which fails when the
//! committed file is out of date. Described for people in `docs/desktop-protocol.md`.
//!
//! Nothing here decides anything: call outcomes are codes the desktop translates, never sentences
//! it would have to parse back.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_sid::{
    Activity, Call, Conference, Recording, Reservation, Sid, Task, TaskQueue, Worker,
    Workspace as WorkspaceKind,
};

pub use crate::flex::InternalCallFeature;

// ---------------------------------------------------------------------------------------------
// Client → server

/// One message from a desktop: an action, with an optional `id` echoed in its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Request {
    /// Echoed in the `result`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(type = "number | undefined", optional))]
    pub id: Option<u64>,
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
}

/// What a desktop can ask for. Every action acts only on the signed-in agent's own
/// reservations, tasks and calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Change the agent's activity.
    SetActivity {
        /// The new activity.
        #[cfg_attr(test, ts(type = "string"))]
        activity_sid: Sid<Activity>,
    },
    /// Flex's StartOutboundCall: call an agent or a queue (an `app:` destination) or any
    /// address.
    StartOutboundCall {
        /// `app:AP…?worker_sid=…` or `app:AP…?callToQueue=…`, or `client:NAME`.
        destination: String,
        /// The queue the agent's own task is counted in (default: the outbound flow's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(type = "string | undefined", optional))]
        queue_sid: Option<Sid<TaskQueue>>,
        /// Caller ID (default: the outbound flow's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(optional))]
        caller_id: Option<String>,
        /// Attributes for the agent's own task; names the server relies on are refused
        /// ([`RESERVED_TASK_ATTRIBUTES`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(type = "Record<string, unknown> | undefined", optional))]
        task_attributes: Option<Map<String, Value>>,
    },
    /// Accept a pending reservation (a call connects at once).
    Accept {
        /// The reservation.
        #[cfg_attr(test, ts(type = "string"))]
        reservation_sid: Sid<Reservation>,
    },
    /// Reject a pending reservation.
    Reject {
        /// The reservation.
        #[cfg_attr(test, ts(type = "string"))]
        reservation_sid: Sid<Reservation>,
    },
    /// Hang up the agent's call of a task.
    Hangup {
        /// The task.
        #[cfg_attr(test, ts(type = "string"))]
        task_sid: Sid<Task>,
    },
    /// Put the other party of a task's call on hold, or take it off.
    Hold {
        /// The task.
        #[cfg_attr(test, ts(type = "string"))]
        task_sid: Sid<Task>,
        /// On or off.
        hold: bool,
    },
    /// Mute or unmute the agent in a task's call.
    Mute {
        /// The task.
        #[cfg_attr(test, ts(type = "string"))]
        task_sid: Sid<Task>,
        /// On or off.
        muted: bool,
    },
    /// Move an assigned task to wrap-up.
    Wrap {
        /// The task.
        #[cfg_attr(test, ts(type = "string"))]
        task_sid: Sid<Task>,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(optional))]
        reason: Option<String>,
    },
    /// Complete a task.
    Complete {
        /// The task.
        #[cfg_attr(test, ts(type = "string"))]
        task_sid: Sid<Task>,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(optional))]
        reason: Option<String>,
    },
    /// Answer a call ringing the agent directly.
    AnswerCall {
        /// The call.
        #[cfg_attr(test, ts(type = "string"))]
        call_sid: Sid<Call>,
    },
    /// Decline a call ringing the agent directly.
    DeclineCall {
        /// The call.
        #[cfg_attr(test, ts(type = "string"))]
        call_sid: Sid<Call>,
    },
    /// Other agents who are not offline, by full or friendly name.
    DirectoryAgents {
        /// Part of a name; empty lists everyone.
        #[serde(default)]
        query: String,
    },
    /// Queues by name.
    DirectoryQueues {
        /// The start of a name; empty lists every queue.
        #[serde(default)]
        prefix: String,
    },
    /// Transfer a task's call to another agent or a queue (`cold`, `warm`), or add them to it
    /// (`add`, a three-way call). Exactly one of `worker_sid` and `queue_sid`.
    Transfer {
        /// The task whose call moves.
        #[cfg_attr(test, ts(type = "string"))]
        task_sid: Sid<Task>,
        /// To this agent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(type = "string | undefined", optional))]
        worker_sid: Option<Sid<Worker>>,
        /// To this queue.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(type = "string | undefined", optional))]
        queue_sid: Option<Sid<TaskQueue>>,
        /// How.
        mode: TransferMode,
    },
    /// End a warm transfer's consultation by leaving: the other parties stay with the new agent.
    CompleteTransfer {
        /// The transferring agent's task.
        #[cfg_attr(test, ts(type = "string"))]
        task_sid: Sid<Task>,
    },
    /// Call a transfer off: the target stops ringing (or leaves), the other parties come back.
    CancelTransfer {
        /// The transferring agent's task.
        #[cfg_attr(test, ts(type = "string"))]
        task_sid: Sid<Task>,
    },
    /// Hold or mute one other party of a task's call (the participants panel).
    UpdateParticipant {
        /// The agent's task.
        #[cfg_attr(test, ts(type = "string"))]
        task_sid: Sid<Task>,
        /// The party.
        #[cfg_attr(test, ts(type = "string"))]
        call_sid: Sid<Call>,
        /// Hold on or off.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(optional))]
        hold: Option<bool>,
        /// Mute on or off.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(optional))]
        muted: Option<bool>,
    },
    /// Remove one other party from a task's call.
    RemoveParticipant {
        /// The agent's task.
        #[cfg_attr(test, ts(type = "string"))]
        task_sid: Sid<Task>,
        /// The party.
        #[cfg_attr(test, ts(type = "string"))]
        call_sid: Sid<Call>,
    },
    /// A supervisor joins a live call to monitor, coach or barge, or changes how it takes part.
    Supervise {
        /// The call's conference (from the live-calls list).
        #[cfg_attr(test, ts(type = "string"))]
        conference_sid: Sid<Conference>,
        /// How.
        mode: SuperviseMode,
        /// The leg to coach: an agent's, or an internal call's calling agent's (a participant
        /// whose `coachable` is true; default: the call's first agent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(test, ts(type = "string | undefined", optional))]
        call_sid: Option<Sid<Call>>,
    },
    /// The supervisor leaves the call it supervises.
    StopSupervising {},
    /// Record a task's call (dual channel: the caller's side left, the agents' right), or pause,
    /// resume or stop its recording. Carried out by the server's recorder.
    Recording {
        /// The agent's task.
        #[cfg_attr(test, ts(type = "string"))]
        task_sid: Sid<Task>,
        /// What to do.
        action: RecordingAction,
    },
    /// Starts (or, with `restart`, ICE-restarts) this desktop's audio: a WebRTC offer with one
    /// audio transceiver. The answer comes back in the result. An agent has one audio
    /// connection; a new offer that is not a restart replaces it.
    MediaOffer {
        /// The offer's SDP.
        sdp: String,
        /// The same RTCPeerConnection after the desktop reconnected (an ICE restart).
        #[serde(default)]
        restart: bool,
    },
    /// Ends this desktop's audio (no call needs it any more).
    MediaClose {},
    /// A refreshed access token for this session (answer to `token_expiring`).
    UpdateToken {
        /// The new token; it must be for the same worker.
        token: String,
    },
}

/// How a transfer moves a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TransferMode {
    /// Blind: the other parties wait on hold; the agent leaves when the target answers.
    Cold,
    /// Consult first: the other parties wait on hold while the two agents talk; then
    /// `complete_transfer` or `cancel_transfer`.
    Warm,
    /// Add the target to the call: a three-way call, nobody on hold.
    Add,
}

/// What to do with a call's recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RecordingAction {
    /// Start recording.
    Start,
    /// Pause (the paused time is left out of the file).
    Pause,
    /// Resume a paused recording.
    Resume,
    /// Stop; the file is complete and listed in the Recordings API.
    Stop,
}

/// A call's recording, as its agents see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RecordingView {
    /// `RE…` (the Recordings API's SID).
    #[cfg_attr(test, ts(type = "string"))]
    pub sid: Sid<Recording>,
    /// Paused.
    pub paused: bool,
}

/// How a supervisor takes part in a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SuperviseMode {
    /// Listen only: nobody hears the supervisor.
    Monitor,
    /// Whisper: only the coached agent hears the supervisor.
    Coach,
    /// Join the conversation: everyone hears the supervisor.
    Barge,
}

/// Task attributes the server itself writes or relies on; a desktop cannot set them.
pub const RESERVED_TASK_ATTRIBUTES: &[&str] = &[
    "call_sid",
    "conference",
    "direction",
    "from",
    "outbound_to",
    "to",
];

/// The longest free text an action may carry (a reason, a search).
pub const MAX_TEXT: usize = 1_024;

// ---------------------------------------------------------------------------------------------
// Server → client

/// One message to a desktop.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Everything the desktop shows, whole; sent on connect and whenever it changes.
    State(std::sync::Arc<DesktopState>),
    /// The answer to one action.
    Result(ActionResult),
    /// The session cannot go on (sent once, then the socket closes).
    Error {
        /// Why.
        error: ErrorBody,
    },
    /// The session's access token expires soon: send `update_token` with a fresh one.
    TokenExpiring {
        /// When it expires (ms since the Unix epoch).
        #[cfg_attr(test, ts(type = "number"))]
        expires_at: i64,
    },
    /// The server closes the session.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// Why the server closed a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// Its access token expired.
    TokenExpired,
    /// Its worker was deleted.
    WorkerDeleted,
    /// Its workspace was deleted.
    WorkspaceDeleted,
    /// The server is shutting down.
    Shutdown,
}

/// A refusal, with Twilio's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ErrorBody {
    /// Twilio's error code.
    pub code: u32,
    /// What was wrong and where.
    pub message: String,
}

/// The answer to one action.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ActionResult {
    /// The action's `id`.
    #[cfg_attr(test, ts(type = "number | null"))]
    pub id: Option<u64>,
    /// Whether it was carried out.
    pub ok: bool,
    /// What it gave, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub data: Option<ActionData>,
    /// Why not, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub error: Option<ErrorBody>,
}

/// What an action gave back.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(untagged)]
pub enum ActionData {
    /// `start_outbound_call`: the agent's own task.
    Task {
        /// The task.
        #[cfg_attr(test, ts(type = "string"))]
        task_sid: Sid<Task>,
    },
    /// `directory_agents`.
    Agents {
        /// The agents, by name.
        agents: Vec<DirectoryAgent>,
    },
    /// `media_offer`: the server's answer.
    MediaAnswer {
        /// The answer's SDP.
        sdp: String,
    },
    /// `update_token`: the new token's expiry (ms since the Unix epoch).
    Token {
        /// When the session now ends unless renewed again.
        #[cfg_attr(test, ts(type = "number"))]
        expires_at: i64,
    },
    /// `directory_queues`.
    Queues {
        /// The queues, by name.
        queues: Vec<DirectoryQueue>,
    },
    /// Anything else.
    Done {},
}

/// Everything an agent's desktop shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DesktopState {
    /// The agent.
    pub worker: WorkerView,
    /// The workspace.
    #[cfg_attr(test, ts(type = "string"))]
    pub workspace_sid: Sid<WorkspaceKind>,
    /// The internal-call feature flags (Flex's defaults applied).
    pub internal_call: InternalCallFeature,
    /// The activity the agent is moved to when its connection drops, if any.
    #[cfg_attr(test, ts(type = "string | null"))]
    pub offline_activity_sid: Option<Sid<Activity>>,
    /// Every activity of the workspace.
    pub activities: Vec<ActivityView>,
    /// The agent's live reservations, oldest first.
    pub tasks: Vec<TaskView>,
    /// Calls ringing the agent directly (not through a reservation).
    pub incoming_calls: Vec<IncomingCall>,
    /// This agent's audio connection to the server, when there is one.
    pub audio: Option<AudioView>,
    /// How the desktop reaches the server's media relay.
    pub media: MediaSettings,
    /// For a supervisor (a worker whose `roles` include `supervisor` or `admin`): the live
    /// calls and the one it takes part in.
    pub supervisor: Option<SupervisorView>,
}

/// What a supervisor's desktop shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SupervisorView {
    /// Calls with an agent on them, oldest first.
    pub live_calls: Vec<LiveCall>,
    /// The call this supervisor is on, if any.
    pub supervising: Option<SupervisingView>,
}

/// A live call, in the supervisor's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct LiveCall {
    /// Its conference.
    #[cfg_attr(test, ts(type = "string"))]
    pub conference_sid: Sid<Conference>,
    /// The task it was routed as.
    #[cfg_attr(test, ts(type = "string"))]
    pub task_sid: Sid<Task>,
    /// The task's queue.
    pub queue: Option<String>,
    /// Its parties, agents first.
    pub participants: Vec<ParticipantView>,
    /// Started at (ms since the Unix epoch).
    #[cfg_attr(test, ts(type = "number"))]
    pub since: i64,
}

/// The call a supervisor is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SupervisingView {
    /// The call's conference.
    #[cfg_attr(test, ts(type = "string"))]
    pub conference_sid: Sid<Conference>,
    /// The supervisor's own leg.
    #[cfg_attr(test, ts(type = "string"))]
    pub call_sid: Sid<Call>,
    /// How it takes part.
    pub mode: SuperviseMode,
    /// The agent's leg it coaches.
    #[cfg_attr(test, ts(type = "string | null"))]
    pub coached_call_sid: Option<Sid<Call>>,
}

/// How an agent's audio connection stands, as the server sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AudioState {
    /// Offered; ICE and DTLS are not up yet.
    Connecting,
    /// Media flows.
    Connected,
    /// The connection was lost; the desktop should ICE-restart (it has a grace period).
    Reconnecting,
    /// It failed for good; `detail` says why.
    Failed,
}

/// An agent's audio connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AudioView {
    /// How it stands.
    pub state: AudioState,
    /// Why it failed or is reconnecting.
    pub detail: Option<String>,
    /// The server has received no sound from this desktop for a while (a muted or missing
    /// microphone, or a stalled connection).
    pub not_sending: bool,
}

/// A STUN or TURN server the desktop may use to reach the relay (RTCIceServer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct IceServer {
    /// `turn:host:3478?transport=udp`, `stun:host:3478`, ...
    pub urls: Vec<String>,
    /// For TURN.
    pub username: Option<String>,
    /// For TURN.
    pub credential: Option<String>,
}

/// What the desktop needs to open its audio connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MediaSettings {
    /// Whether the server relays audio at all.
    pub enabled: bool,
    /// STUN/TURN servers for networks where the relay's UDP port cannot be reached directly.
    pub ice_servers: Vec<IceServer>,
}

/// The agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct WorkerView {
    /// `WK…`.
    #[cfg_attr(test, ts(type = "string"))]
    pub sid: Sid<Worker>,
    /// Its friendly name.
    pub friendly_name: String,
    /// `full_name` from its attributes.
    pub full_name: Option<String>,
    /// `contact_uri` from its attributes.
    pub contact_uri: Option<String>,
    /// Its activity.
    #[cfg_attr(test, ts(type = "string"))]
    pub activity_sid: Sid<Activity>,
    /// Its activity's name.
    pub activity_name: String,
    /// Whether that activity is available.
    pub available: bool,
}

/// An activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ActivityView {
    /// `WA…`.
    #[cfg_attr(test, ts(type = "string"))]
    pub sid: Sid<Activity>,
    /// Its name.
    pub friendly_name: String,
    /// Whether workers in it get tasks.
    pub available: bool,
}

/// A reservation's status, as TaskRouter names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    /// Offered, waiting for accept or reject.
    Pending,
    /// Accepted.
    Accepted,
    /// Wrapping up.
    Wrapping,
}

/// A task's status, as TaskRouter names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for a worker.
    Pending,
    /// Offered.
    Reserved,
    /// Being handled.
    Assigned,
    /// Wrapping up.
    Wrapping,
    /// Done.
    Completed,
    /// Canceled.
    Canceled,
}

/// One live reservation of the agent, with its task.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TaskView {
    /// `WR…`.
    #[cfg_attr(test, ts(type = "string"))]
    pub reservation_sid: Sid<Reservation>,
    /// The reservation's status.
    pub reservation_status: ReservationState,
    /// `WT…`.
    #[cfg_attr(test, ts(type = "string"))]
    pub task_sid: Sid<Task>,
    /// The task's status.
    pub task_status: TaskState,
    /// The task channel's unique name (`voice`, `default`, ...).
    pub channel: Option<String>,
    /// The task queue's name.
    pub queue: Option<String>,
    /// The task's attributes.
    #[cfg_attr(test, ts(type = "Record<string, unknown>"))]
    pub attributes: Value,
    /// Created at (ms since the Unix epoch).
    #[cfg_attr(test, ts(type = "number"))]
    pub date_created: i64,
    /// The task's call, when the task is one the call path created.
    pub call: Option<CallView>,
}

/// Which way a task's call goes, from the agent's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    /// The agent placed it.
    Outbound,
    /// It was offered to the agent.
    Inbound,
}

/// How a task's call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// The far party is being reached.
    Dialing,
    /// The far party (or, for an offered call, this agent) is ringing.
    Ringing,
    /// Both parties are talking.
    Connected,
    /// Over; the outcome says why.
    Ended,
}

/// How an outbound call ended. The desktop turns each code into a sentence in the agent's
/// language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum CallOutcome {
    /// Talked, then hung up.
    Completed,
    /// The caller hung up before anyone answered.
    Canceled,
    /// The callee declined.
    Declined,
    /// Nobody answered in time.
    NoAnswer,
    /// The callee was on another call.
    Busy,
    /// The callee could not take calls (offline, away, gone).
    Unavailable,
    /// The call failed.
    Failed {
        /// Twilio's error code, when there is one (11200, 11205, 13227, ...).
        error_code: Option<u32>,
        /// What happened.
        message: String,
    },
}

/// A task's call, as its agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CallView {
    /// Placed or offered.
    pub direction: CallDirection,
    /// How it stands.
    pub state: CallState,
    /// How it ended (outbound calls), once known.
    pub outcome: Option<CallOutcome>,
    /// The agent's own leg, once it exists.
    #[cfg_attr(test, ts(type = "string | null"))]
    pub call_sid: Option<Sid<Call>>,
    /// The agent is muted.
    pub muted: bool,
    /// The other party is on hold.
    pub held: bool,
    /// The other parties of the call (the participants panel), agents first.
    pub participants: Vec<ParticipantView>,
    /// A transfer this agent started on the call, or how the last one failed.
    pub transfer: Option<TransferView>,
    /// For a call transferred to this agent: who transferred it.
    pub transferred_from: Option<String>,
    /// The call's recording, while one runs.
    pub recording: Option<RecordingView>,
}

/// Who a party of a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    /// An agent on a task of the call.
    Agent,
    /// The caller (for an internal call, the calling agent).
    Caller,
    /// A supervisor.
    Supervisor,
}

/// One party of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ParticipantView {
    /// Its leg.
    #[cfg_attr(test, ts(type = "string"))]
    pub call_sid: Sid<Call>,
    /// The name to show.
    pub name: String,
    /// Agent, caller or supervisor.
    pub kind: PartyKind,
    /// On hold.
    pub hold: bool,
    /// Muted.
    pub muted: bool,
    /// Coaching (heard only by the agent it coaches).
    pub coaching: bool,
    /// A supervisor can coach it (whisper to the agent it is or carries): an agent's own leg,
    /// or, in the callee's conference of an internal call, the leg of the calling agent.
    pub coachable: bool,
}

/// How a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TransferState {
    /// The target is being reached.
    Ringing,
    /// Warm: the target answered; the two agents talk while the others wait.
    Consulting,
    /// It did not happen; `outcome` says why.
    Failed,
}

/// Why a transfer did not happen. The desktop turns each code into a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum TransferOutcome {
    /// The target agent declined.
    Declined,
    /// Nobody answered in time.
    NoAnswer,
    /// The target agent cannot take calls (offline, away).
    Unavailable,
    /// The target agent is on another call.
    Busy,
    /// Nobody in the queue can take it.
    NobodyAvailable,
    /// The transferring agent called it off.
    Canceled,
    /// The caller hung up meanwhile.
    CallerLeft,
}

/// A transfer, as the transferring agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TransferView {
    /// Cold, warm or add.
    pub mode: TransferMode,
    /// The agent's or queue's name.
    pub target: String,
    /// How it stands.
    pub state: TransferState,
    /// Why it failed.
    pub outcome: Option<TransferOutcome>,
}

/// A call ringing the agent's browser directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct IncomingCall {
    /// `CA…`.
    #[cfg_attr(test, ts(type = "string"))]
    pub call_sid: Sid<Call>,
    /// Caller ID.
    pub from: String,
    /// Twilio's call status (`ringing`).
    pub status: String,
}

/// An agent in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DirectoryAgent {
    /// `WK…`.
    #[cfg_attr(test, ts(type = "string"))]
    pub sid: Sid<Worker>,
    /// Its friendly name.
    pub friendly_name: String,
    /// `full_name` from its attributes.
    pub full_name: Option<String>,
    /// Its activity's name.
    pub activity_name: String,
    /// Whether it can take calls now.
    pub available: bool,
}

/// A queue in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DirectoryQueue {
    /// `WQ…`.
    #[cfg_attr(test, ts(type = "string"))]
    pub sid: Sid<TaskQueue>,
    /// Its name.
    pub friendly_name: String,
}

#[cfg(test)]
mod typescript {
    use super::*;
    use ts_rs::TS;

    /// The TypeScript declarations of the protocol, in a stable order.
    fn declarations() -> String {
        let decls = [
            Request::decl(),
            Action::decl(),
            ServerMessage::decl(),
            CloseReason::decl(),
            ErrorBody::decl(),
            ActionResult::decl(),
            ActionData::decl(),
            DesktopState::decl(),
            InternalCallFeature::decl(),
            WorkerView::decl(),
            ActivityView::decl(),
            ReservationState::decl(),
            TaskState::decl(),
            TaskView::decl(),
            CallDirection::decl(),
            CallState::decl(),
            CallOutcome::decl(),
            CallView::decl(),
            IncomingCall::decl(),
            DirectoryAgent::decl(),
            DirectoryQueue::decl(),
            AudioState::decl(),
            AudioView::decl(),
            IceServer::decl(),
            MediaSettings::decl(),
            TransferMode::decl(),
            SuperviseMode::decl(),
            SupervisorView::decl(),
            LiveCall::decl(),
            SupervisingView::decl(),
            PartyKind::decl(),
            ParticipantView::decl(),
            TransferState::decl(),
            TransferOutcome::decl(),
            TransferView::decl(),
            RecordingAction::decl(),
            RecordingView::decl(),
        ];
        let mut out = String::from(
            "// Generated from crates/center/src/protocol.rs by its `protocol_typescript` test.\n\
             // Do not edit: change the Rust types, then run\n\
             // UPDATE_PROTOCOL=1 cargo test -p switchboard-center protocol_typescript\n\n",
        );
        for d in decls {
            out.push_str("export ");
            out.push_str(&d);
            out.push_str("\n\n");
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }

    #[test]
    fn protocol_typescript() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../web/src/state/protocol.gen.ts");
        let want = declarations();
        if std::env::var_os("UPDATE_PROTOCOL").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "web/src/state/protocol.gen.ts is out of date: run \
             UPDATE_PROTOCOL=1 cargo test -p switchboard-center protocol_typescript"
        );
    }
}
