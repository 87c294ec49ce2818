// Generated from crates/center/src/protocol.rs by its `protocol_typescript` test.
// Do not edit: change the Rust types, then run
// UPDATE_PROTOCOL=1 cargo test -p switchboard-center protocol_typescript

export type Request = { 
/**
 * Echoed in the `result`.
 */
id?: number | undefined, } & ({ "type": "set_activity", 
/**
 * The new activity.
 */
activity_sid: string, } | { "type": "start_outbound_call", 
/**
 * `app:AP…?worker_sid=…` or `app:AP…?callToQueue=…`, or `client:NAME`.
 */
destination: string, 
/**
 * The queue the agent's own task is counted in (default: the outbound flow's).
 */
queue_sid?: string | undefined, 
/**
 * Caller ID (default: the outbound flow's).
 */
caller_id?: string, 
/**
 * Attributes for the agent's own task; names the server relies on are refused
 * ([`RESERVED_TASK_ATTRIBUTES`]).
 */
task_attributes?: Record<string, unknown> | undefined, } | { "type": "accept", 
/**
 * The reservation.
 */
reservation_sid: string, } | { "type": "reject", 
/**
 * The reservation.
 */
reservation_sid: string, } | { "type": "hangup", 
/**
 * The task.
 */
task_sid: string, } | { "type": "hold", 
/**
 * The task.
 */
task_sid: string, 
/**
 * On or off.
 */
hold: boolean, } | { "type": "mute", 
/**
 * The task.
 */
task_sid: string, 
/**
 * On or off.
 */
muted: boolean, } | { "type": "wrap", 
/**
 * The task.
 */
task_sid: string, 
/**
 * Why.
 */
reason?: string, } | { "type": "complete", 
/**
 * The task.
 */
task_sid: string, 
/**
 * Why.
 */
reason?: string, } | { "type": "answer_call", 
/**
 * The call.
 */
call_sid: string, } | { "type": "decline_call", 
/**
 * The call.
 */
call_sid: string, } | { "type": "directory_agents", 
/**
 * Part of a name; empty lists everyone.
 */
query: string, } | { "type": "directory_queues", 
/**
 * The start of a name; empty lists every queue.
 */
prefix: string, } | { "type": "transfer", 
/**
 * The task whose call moves.
 */
task_sid: string, 
/**
 * To this agent.
 */
worker_sid?: string | undefined, 
/**
 * To this queue.
 */
queue_sid?: string | undefined, 
/**
 * How.
 */
mode: TransferMode, } | { "type": "complete_transfer", 
/**
 * The transferring agent's task.
 */
task_sid: string, } | { "type": "cancel_transfer", 
/**
 * The transferring agent's task.
 */
task_sid: string, } | { "type": "update_participant", 
/**
 * The agent's task.
 */
task_sid: string, 
/**
 * The party.
 */
call_sid: string, 
/**
 * Hold on or off.
 */
hold?: boolean, 
/**
 * Mute on or off.
 */
muted?: boolean, } | { "type": "remove_participant", 
/**
 * The agent's task.
 */
task_sid: string, 
/**
 * The party.
 */
call_sid: string, } | { "type": "supervise", 
/**
 * The call's conference (from the live-calls list).
 */
conference_sid: string, 
/**
 * How.
 */
mode: SuperviseMode, 
/**
 * The leg to coach: an agent's, or an internal call's calling agent's (a participant
 * whose `coachable` is true; default: the call's first agent).
 */
call_sid?: string | undefined, } | { "type": "stop_supervising", } | { "type": "recording", 
/**
 * The agent's task.
 */
task_sid: string, 
/**
 * What to do.
 */
action: RecordingAction, } | { "type": "media_offer", 
/**
 * The offer's SDP.
 */
sdp: string, 
/**
 * The same RTCPeerConnection after the desktop reconnected (an ICE restart).
 */
restart: boolean, } | { "type": "media_close", } | { "type": "update_token", 
/**
 * The new token; it must be for the same worker.
 */
token: string, });

export type Action = { "type": "set_activity", 
/**
 * The new activity.
 */
activity_sid: string, } | { "type": "start_outbound_call", 
/**
 * `app:AP…?worker_sid=…` or `app:AP…?callToQueue=…`, or `client:NAME`.
 */
destination: string, 
/**
 * The queue the agent's own task is counted in (default: the outbound flow's).
 */
queue_sid?: string | undefined, 
/**
 * Caller ID (default: the outbound flow's).
 */
caller_id?: string, 
/**
 * Attributes for the agent's own task; names the server relies on are refused
 * ([`RESERVED_TASK_ATTRIBUTES`]).
 */
task_attributes?: Record<string, unknown> | undefined, } | { "type": "accept", 
/**
 * The reservation.
 */
reservation_sid: string, } | { "type": "reject", 
/**
 * The reservation.
 */
reservation_sid: string, } | { "type": "hangup", 
/**
 * The task.
 */
task_sid: string, } | { "type": "hold", 
/**
 * The task.
 */
task_sid: string, 
/**
 * On or off.
 */
hold: boolean, } | { "type": "mute", 
/**
 * The task.
 */
task_sid: string, 
/**
 * On or off.
 */
muted: boolean, } | { "type": "wrap", 
/**
 * The task.
 */
task_sid: string, 
/**
 * Why.
 */
reason?: string, } | { "type": "complete", 
/**
 * The task.
 */
task_sid: string, 
/**
 * Why.
 */
reason?: string, } | { "type": "answer_call", 
/**
 * The call.
 */
call_sid: string, } | { "type": "decline_call", 
/**
 * The call.
 */
call_sid: string, } | { "type": "directory_agents", 
/**
 * Part of a name; empty lists everyone.
 */
query: string, } | { "type": "directory_queues", 
/**
 * The start of a name; empty lists every queue.
 */
prefix: string, } | { "type": "transfer", 
/**
 * The task whose call moves.
 */
task_sid: string, 
/**
 * To this agent.
 */
worker_sid?: string | undefined, 
/**
 * To this queue.
 */
queue_sid?: string | undefined, 
/**
 * How.
 */
mode: TransferMode, } | { "type": "complete_transfer", 
/**
 * The transferring agent's task.
 */
task_sid: string, } | { "type": "cancel_transfer", 
/**
 * The transferring agent's task.
 */
task_sid: string, } | { "type": "update_participant", 
/**
 * The agent's task.
 */
task_sid: string, 
/**
 * The party.
 */
call_sid: string, 
/**
 * Hold on or off.
 */
hold?: boolean, 
/**
 * Mute on or off.
 */
muted?: boolean, } | { "type": "remove_participant", 
/**
 * The agent's task.
 */
task_sid: string, 
/**
 * The party.
 */
call_sid: string, } | { "type": "supervise", 
/**
 * The call's conference (from the live-calls list).
 */
conference_sid: string, 
/**
 * How.
 */
mode: SuperviseMode, 
/**
 * The leg to coach: an agent's, or an internal call's calling agent's (a participant
 * whose `coachable` is true; default: the call's first agent).
 */
call_sid?: string | undefined, } | { "type": "stop_supervising", } | { "type": "recording", 
/**
 * The agent's task.
 */
task_sid: string, 
/**
 * What to do.
 */
action: RecordingAction, } | { "type": "media_offer", 
/**
 * The offer's SDP.
 */
sdp: string, 
/**
 * The same RTCPeerConnection after the desktop reconnected (an ICE restart).
 */
restart: boolean, } | { "type": "media_close", } | { "type": "update_token", 
/**
 * The new token; it must be for the same worker.
 */
token: string, };

export type ServerMessage = { "type": "state" } & DesktopState | { "type": "result" } & ActionResult | { "type": "error", 
/**
 * Why.
 */
error: ErrorBody, } | { "type": "token_expiring", 
/**
 * When it expires (ms since the Unix epoch).
 */
expires_at: number, } | { "type": "closed", 
/**
 * Why.
 */
reason: CloseReason, };

export type CloseReason = "token_expired" | "worker_deleted" | "workspace_deleted" | "shutdown";

export type ErrorBody = { 
/**
 * Twilio's error code.
 */
code: number, 
/**
 * What was wrong and where.
 */
message: string, };

export type ActionResult = { 
/**
 * The action's `id`.
 */
id: number | null, 
/**
 * Whether it was carried out.
 */
ok: boolean, 
/**
 * What it gave, when it was.
 */
data?: ActionData, 
/**
 * Why not, when it was not.
 */
error?: ErrorBody, };

export type ActionData = { 
/**
 * The task.
 */
task_sid: string, } | { 
/**
 * The agents, by name.
 */
agents: Array<DirectoryAgent>, } | { 
/**
 * The answer's SDP.
 */
sdp: string, } | { 
/**
 * When the session now ends unless renewed again.
 */
expires_at: number, } | { 
/**
 * The queues, by name.
 */
queues: Array<DirectoryQueue>, } | Record<string, never>;

export type DesktopState = { 
/**
 * The agent.
 */
worker: WorkerView, 
/**
 * The workspace.
 */
workspace_sid: string, 
/**
 * The internal-call feature flags (Flex's defaults applied).
 */
internal_call: InternalCallFeature, 
/**
 * The activity the agent is moved to when its connection drops, if any.
 */
offline_activity_sid: string | null, 
/**
 * Every activity of the workspace.
 */
activities: Array<ActivityView>, 
/**
 * The agent's live reservations, oldest first.
 */
tasks: Array<TaskView>, 
/**
 * Calls ringing the agent directly (not through a reservation).
 */
incoming_calls: Array<IncomingCall>, 
/**
 * This agent's audio connection to the server, when there is one.
 */
audio: AudioView | null, 
/**
 * How the desktop reaches the server's media relay.
 */
media: MediaSettings, 
/**
 * For a supervisor (a worker whose `roles` include `supervisor` or `admin`): the live
 * calls and the one it takes part in.
 */
supervisor: SupervisorView | null, };

export type InternalCallFeature = { 
/**
 * `enabled` (default false); false without an `application_sid`.
 */
enabled: boolean, 
/**
 * `enable_call_agent` (default true).
 */
enable_call_agent: boolean, 
/**
 * `enable_call_queue` (default false).
 */
enable_call_queue: boolean, 
/**
 * `application_sid`: the "Internal Call" TwiML application.
 */
application_sid: string | null, 
/**
 * `outbound_queue_sid`: the queue of internal calls (left out of the queue directory).
 */
outbound_queue_sid: string | null, };

export type WorkerView = { 
/**
 * `WK…`.
 */
sid: string, 
/**
 * Its friendly name.
 */
friendly_name: string, 
/**
 * `full_name` from its attributes.
 */
full_name: string | null, 
/**
 * `contact_uri` from its attributes.
 */
contact_uri: string | null, 
/**
 * Its activity.
 */
activity_sid: string, 
/**
 * Its activity's name.
 */
activity_name: string, 
/**
 * Whether that activity is available.
 */
available: boolean, };

export type ActivityView = { 
/**
 * `WA…`.
 */
sid: string, 
/**
 * Its name.
 */
friendly_name: string, 
/**
 * Whether workers in it get tasks.
 */
available: boolean, };

export type ReservationState = "pending" | "accepted" | "wrapping";

export type TaskState = "pending" | "reserved" | "assigned" | "wrapping" | "completed" | "canceled";

export type TaskView = { 
/**
 * `WR…`.
 */
reservation_sid: string, 
/**
 * The reservation's status.
 */
reservation_status: ReservationState, 
/**
 * `WT…`.
 */
task_sid: string, 
/**
 * The task's status.
 */
task_status: TaskState, 
/**
 * The task channel's unique name (`voice`, `default`, ...).
 */
channel: string | null, 
/**
 * The task queue's name.
 */
queue: string | null, 
/**
 * The task's attributes.
 */
attributes: Record<string, unknown>, 
/**
 * Created at (ms since the Unix epoch).
 */
date_created: number, 
/**
 * The task's call, when the task is one the call path created.
 */
call: CallView | null, };

export type CallDirection = "outbound" | "inbound";

export type CallState = "dialing" | "ringing" | "connected" | "ended";

export type CallOutcome = { "code": "completed" } | { "code": "canceled" } | { "code": "declined" } | { "code": "no-answer" } | { "code": "busy" } | { "code": "unavailable" } | { "code": "failed", 
/**
 * Twilio's error code, when there is one (11200, 11205, 13227, ...).
 */
error_code: number | null, 
/**
 * What happened.
 */
message: string, };

export type CallView = { 
/**
 * Placed or offered.
 */
direction: CallDirection, 
/**
 * How it stands.
 */
state: CallState, 
/**
 * How it ended (outbound calls), once known.
 */
outcome: CallOutcome | null, 
/**
 * The agent's own leg, once it exists.
 */
call_sid: string | null, 
/**
 * The agent is muted.
 */
muted: boolean, 
/**
 * The other party is on hold.
 */
held: boolean, 
/**
 * The other parties of the call (the participants panel), agents first.
 */
participants: Array<ParticipantView>, 
/**
 * A transfer this agent started on the call, or how the last one failed.
 */
transfer: TransferView | null, 
/**
 * For a call transferred to this agent: who transferred it.
 */
transferred_from: string | null, 
/**
 * The call's recording, while one runs.
 */
recording: RecordingView | null, };

export type IncomingCall = { 
/**
 * `CA…`.
 */
call_sid: string, 
/**
 * Caller ID.
 */
from: string, 
/**
 * Twilio's call status (`ringing`).
 */
status: string, };

export type DirectoryAgent = { 
/**
 * `WK…`.
 */
sid: string, 
/**
 * Its friendly name.
 */
friendly_name: string, 
/**
 * `full_name` from its attributes.
 */
full_name: string | null, 
/**
 * Its activity's name.
 */
activity_name: string, 
/**
 * Whether it can take calls now.
 */
available: boolean, };

export type DirectoryQueue = { 
/**
 * `WQ…`.
 */
sid: string, 
/**
 * Its name.
 */
friendly_name: string, };

export type AudioState = "connecting" | "connected" | "reconnecting" | "failed";

export type AudioView = { 
/**
 * How it stands.
 */
state: AudioState, 
/**
 * Why it failed or is reconnecting.
 */
detail: string | null, 
/**
 * The server has received no sound from this desktop for a while (a muted or missing
 * microphone, or a stalled connection).
 */
not_sending: boolean, };

export type IceServer = { 
/**
 * `turn:host:3478?transport=udp`, `stun:host:3478`, ...
 */
urls: Array<string>, 
/**
 * For TURN.
 */
username: string | null, 
/**
 * For TURN.
 */
credential: string | null, };

export type MediaSettings = { 
/**
 * Whether the server relays audio at all.
 */
enabled: boolean, 
/**
 * STUN/TURN servers for networks where the relay's UDP port cannot be reached directly.
 */
ice_servers: Array<IceServer>, };

export type TransferMode = "cold" | "warm" | "add";

export type SuperviseMode = "monitor" | "coach" | "barge";

export type SupervisorView = { 
/**
 * Calls with an agent on them, oldest first.
 */
live_calls: Array<LiveCall>, 
/**
 * The call this supervisor is on, if any.
 */
supervising: SupervisingView | null, };

export type LiveCall = { 
/**
 * Its conference.
 */
conference_sid: string, 
/**
 * The task it was routed as.
 */
task_sid: string, 
/**
 * The task's queue.
 */
queue: string | null, 
/**
 * Its parties, agents first.
 */
participants: Array<ParticipantView>, 
/**
 * Started at (ms since the Unix epoch).
 */
since: number, };

export type SupervisingView = { 
/**
 * The call's conference.
 */
conference_sid: string, 
/**
 * The supervisor's own leg.
 */
call_sid: string, 
/**
 * How it takes part.
 */
mode: SuperviseMode, 
/**
 * The agent's leg it coaches.
 */
coached_call_sid: string | null, };

export type PartyKind = "agent" | "caller" | "supervisor";

export type ParticipantView = { 
/**
 * Its leg.
 */
call_sid: string, 
/**
 * The name to show.
 */
name: string, 
/**
 * Agent, caller or supervisor.
 */
kind: PartyKind, 
/**
 * On hold.
 */
hold: boolean, 
/**
 * Muted.
 */
muted: boolean, 
/**
 * Coaching (heard only by the agent it coaches).
 */
coaching: boolean, 
/**
 * A supervisor can coach it (whisper to the agent it is or carries): an agent's own leg,
 * or, in the callee's conference of an internal call, the leg of the calling agent.
 */
coachable: boolean, };

export type TransferState = "ringing" | "consulting" | "failed";

export type TransferOutcome = "declined" | "no-answer" | "unavailable" | "busy" | "nobody-available" | "canceled" | "caller-left";

export type TransferView = { 
/**
 * Cold, warm or add.
 */
mode: TransferMode, 
/**
 * The agent's or queue's name.
 */
target: string, 
/**
 * How it stands.
 */
state: TransferState, 
/**
 * Why it failed.
 */
outcome: TransferOutcome | null, };

export type RecordingAction = "start" | "pause" | "resume" | "stop";

export type RecordingView = { 
/**
 * `RE…` (the Recordings API's SID).
 */
sid: string, 
/**
 * Paused.
 */
paused: boolean, };
