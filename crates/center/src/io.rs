//! What goes into the center and what comes out: [`Input`], [`Reply`] and [`Output`].

use std::sync::Arc;

use switchboard_routing::{Event, FinishedTask, Timestamp};
use switchboard_sid::{
    Application, Call, Conference, Event as EventKind, Reservation, Sid, Task, Worker,
    Workspace as WorkspaceKind,
};
use switchboard_twiml::Method;
use switchboard_voice::{FetchFailure, FetchResponse, JoinSpec, ParticipantUpdate, StatusCallback};

use crate::entry::Entry;
use crate::media::{Attachment, MediaEvent, MediaGraph, MediaPeer};
use crate::protocol::{Action, ActionData, CloseReason, DesktopState, ServerMessage};

pub use crate::ids::SessionId;

/// Options of TaskRouter's conference instruction (`Instruction=conference`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// Changes to calls through the Voice API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceRequest {
    /// `Status=completed` (or `canceled`) on a call.
    Hangup {
        /// The call.
        call: Sid<Call>,
    },
    /// `Status=completed` on a conference.
    EndConference {
        /// The conference.
        conference: Sid<Conference>,
    },
    /// Hold or mute a participant.
    UpdateParticipant {
        /// The conference.
        conference: Sid<Conference>,
        /// The participant's call.
        call: Sid<Call>,
        /// New hold.
        hold: Option<bool>,
        /// New mute.
        muted: Option<bool>,
    },
    /// Remove a participant (its call is hung up).
    RemoveParticipant {
        /// The conference.
        conference: Sid<Conference>,
        /// The participant's call.
        call: Sid<Call>,
    },
    /// `POST Calls.json`: place a call (Reply: [`Reply::Call`]).
    CreateCall(Box<CallSpec>),
    /// `Url` or `Twiml` on a call: redirect it (or, not answered yet, change what it will run).
    Redirect {
        /// The call.
        call: Sid<Call>,
        /// What it runs now.
        instructions: CallInstructions,
    },
    /// `DELETE Calls/{CA}`: forget an ended call.
    DeleteCall {
        /// The call.
        call: Sid<Call>,
    },
    /// `POST Conferences/{CF}/Participants.json`: dial `to` into a conference (Reply:
    /// [`Reply::Call`], the participant's call).
    AddParticipant(Box<ParticipantSpec>),
    /// Any change to a participant: hold, mute, coaching, end-on-exit.
    ModifyParticipant {
        /// The conference.
        conference: Sid<Conference>,
        /// The participant's call.
        call: Sid<Call>,
        /// What changes.
        update: ParticipantUpdate,
    },
}

/// What a call placed through the API runs once answered: Twilio's `ApplicationSid`, `Url` or
/// `Twiml`, in that order of precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallInstructions {
    /// Fetch this URL.
    Url {
        /// The URL.
        url: String,
        /// How.
        method: Method,
    },
    /// Run this TwiML document (parsed by the center: 12100 / 12200 when it is not TwiML).
    Twiml(String),
    /// Fetch this application's voice URL (sent as `ApplicationSid` with the webhooks).
    Application(Sid<Application>),
}

/// `POST Calls.json`'s parameters, validated by the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSpec {
    /// Caller ID (`From`).
    pub from: String,
    /// The target (`To`): `client:NAME` or `app:AP…?…`.
    pub to: String,
    /// What it runs once answered.
    pub instructions: CallInstructions,
    /// Seconds to ring (`Timeout`).
    pub ring_timeout: u64,
    /// `StatusCallback`, `StatusCallbackMethod`, `StatusCallbackEvent`.
    pub status_callback: Option<StatusCallback>,
    /// Twilio's `Record`, validated and carried for the recording layer: the voice engine itself
    /// records nothing.
    pub record: bool,
}

/// `POST Conferences/{CF}/Participants.json`'s parameters, validated by the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantSpec {
    /// Caller ID (`From`).
    pub from: String,
    /// Whom to dial (`To`): `client:NAME` or `app:AP…?…`.
    pub to: String,
    /// How the call joins; `join.conference` is the conference's friendly name.
    pub join: JoinSpec,
    /// Seconds to ring (`Timeout`).
    pub ring_timeout: u64,
    /// `StatusCallback`, `StatusCallbackMethod`, `StatusCallbackEvent`.
    pub status_callback: Option<StatusCallback>,
    /// Twilio's `Record` (the participant's call), validated and carried for the recording
    /// layer: the voice engine itself records nothing.
    pub record: bool,
}

/// Audio: what a desktop asks of the relay, and what the relay reports.
#[derive(Debug, Clone)]
pub enum MediaInput {
    /// A desktop offers audio (Reply: [`Reply::Media`], saying which peer takes the offer).
    Offer {
        /// The session.
        session: SessionId,
        /// An ICE restart of the agent's peer (the same RTCPeerConnection after a reconnect).
        restart: bool,
    },
    /// The relay refused the offer of this peer.
    Refused {
        /// The peer.
        peer: MediaPeer,
        /// Why.
        why: String,
    },
    /// The relay reports on a peer.
    Event {
        /// The peer.
        peer: MediaPeer,
        /// What happened.
        event: MediaEvent,
    },
    /// A desktop ends its audio.
    Close {
        /// The session.
        session: SessionId,
    },
}

/// Something that happened, for the center to act on.
#[derive(Debug, Clone)]
pub enum Input {
    /// Durable changes decided outside (the REST API), applied in order until one is refused;
    /// those applied before stay applied.
    Changes(Vec<Entry>),
    /// TaskRouter's conference instruction on a reservation (REST).
    ConferenceInstruction {
        /// The workspace.
        workspace: Sid<WorkspaceKind>,
        /// The reservation.
        reservation: Sid<Reservation>,
        /// Its options.
        options: ConferenceOptions,
    },
    /// A Voice API change.
    Voice(VoiceRequest),
    /// A webhook the center asked for ([`Output::Fetch`]) answered, or failed.
    Fetched {
        /// The fetch's id.
        id: u64,
        /// What came back.
        result: Result<FetchResponse, FetchFailure>,
    },
    /// A desktop connected with a valid token for this worker.
    Connect {
        /// The workspace.
        workspace: Sid<WorkspaceKind>,
        /// The worker.
        worker: Sid<Worker>,
        /// When its token expires.
        expires_at: Timestamp,
    },
    /// A desktop's connection closed.
    Disconnect {
        /// The session.
        session: SessionId,
    },
    /// A desktop sent a refreshed, valid token.
    RenewToken {
        /// The session.
        session: SessionId,
        /// The token's worker (must be the session's).
        worker: Sid<Worker>,
        /// When the new token expires.
        expires_at: Timestamp,
    },
    /// Audio.
    Media(MediaInput),
    /// The recordings running now, whole (the server's recorder says so whenever one starts,
    /// pauses, resumes or stops): the desktops of their calls show them.
    Recordings(Vec<crate::recording::LiveRecording>),
    /// A desktop asked for something.
    Desktop {
        /// The session.
        session: SessionId,
        /// What.
        action: Action,
    },
}

/// What an input gave back to its caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Carried out.
    Done,
    /// A session was opened.
    Session(SessionId),
    /// A desktop action's result.
    Desktop(ActionData),
    /// Which relay peer takes a desktop's audio offer.
    Media(Attachment),
    /// The call a Voice API request placed.
    Call(Sid<Call>),
}

/// A TaskRouter event with the SID and workspace name it is stored and posted with.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// The workspace.
    pub workspace: Sid<WorkspaceKind>,
    /// The workspace's name when it happened.
    pub workspace_name: Arc<str>,
    /// `EV…`.
    pub sid: Sid<EventKind>,
    /// The event.
    pub event: Event,
}

/// Everything one input made durable: write it in one transaction before acting on any other
/// output of that input.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// Log entries, in order, each with the time it was applied at.
    pub log: Vec<(Timestamp, Entry)>,
    /// Events for the Events resource.
    pub events: Vec<StoredEvent>,
    /// Tasks that finished (kept as history), with their workspace.
    pub finished: Vec<(Sid<WorkspaceKind>, FinishedTask)>,
    /// Finished tasks to forget.
    pub deleted_tasks: Vec<Sid<Task>>,
}

impl Commit {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
            && self.events.is_empty()
            && self.finished.is_empty()
            && self.deleted_tasks.is_empty()
    }
}

/// Something for the driver to do.
#[derive(Debug, Clone)]
pub enum Output {
    /// Write this to the store, in one transaction, before acting on the outputs after it.
    /// It is always the first output of an input that changed anything durable.
    Persist(Commit),
    /// Request a webhook for the voice layer and report with [`Input::Fetched`].
    Fetch {
        /// Identifies the request.
        id: u64,
        /// Where.
        url: String,
        /// How.
        method: Method,
        /// Form parameters (Twilio's, signed by the driver).
        params: Vec<(String, String)>,
    },
    /// Post a workspace's event to its `EventCallbackUrl`.
    Webhook {
        /// Where.
        url: String,
        /// What.
        event: Box<StoredEvent>,
    },
    /// Send a session its new state.
    Push {
        /// The session.
        session: SessionId,
        /// Its state (shared by the sessions of one agent).
        state: Arc<DesktopState>,
    },
    /// Send a session a message.
    Send {
        /// The session.
        session: SessionId,
        /// The message.
        message: ServerMessage,
    },
    /// Close a session; it is already forgotten by the center.
    Close {
        /// The session.
        session: SessionId,
        /// Why.
        reason: CloseReason,
    },
    /// The API keys changed: refresh what authenticates requests.
    ApiKeysChanged,
    /// Who hears whom changed: give the relay this graph.
    MediaGraph(MediaGraph),
    /// Free a peer in the relay.
    MediaRemove(MediaPeer),
}
