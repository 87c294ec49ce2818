// The desktop protocol's shapes (docs/desktop-protocol.md). Nothing here decides anything.

export interface Worker {
  sid: string;
  friendly_name: string;
  full_name: string | null;
  contact_uri: string | null;
  activity_sid: string;
  activity_name: string;
  available: boolean;
}

export interface Activity {
  sid: string;
  friendly_name: string;
  available: boolean;
}

export interface InternalCallConfig {
  enabled?: boolean;
  enable_call_agent?: boolean;
  enable_call_queue?: boolean;
  application_sid?: string;
  outbound_queue_sid?: string;
}

export type CallState = 'dialing' | 'ringing' | 'connected' | 'ended';

export interface TaskCall {
  state: CallState;
  reason: string | null;
  call_sid: string | null;
  muted: boolean;
  held: boolean;
}

export interface Task {
  reservation_sid: string;
  reservation_status: 'pending' | 'accepted' | 'wrapping' | string;
  task_sid: string;
  task_status: string;
  channel: string;
  queue: string | null;
  attributes: Record<string, unknown>;
  date_created: number;
  call: TaskCall | null;
}

export interface IncomingCall {
  call_sid: string;
  from: string;
  status: string;
}

export interface DesktopState {
  type: 'state';
  error?: string;
  worker: Worker;
  workspace_sid: string;
  internal_call: InternalCallConfig | null;
  offline_activity_sid: string | null;
  activities: Activity[];
  tasks: Task[];
  incoming_calls: IncomingCall[];
}

export interface DirectoryAgent {
  sid: string;
  friendly_name: string;
  full_name: string | null;
  activity_name: string;
  available: boolean;
}

export interface DirectoryQueue {
  sid: string;
  friendly_name: string;
}

export interface ActionError {
  code: number;
  message: string;
}

export type DesktopAction =
  | { type: 'set_activity'; activity_sid: string }
  | {
      type: 'start_outbound_call';
      destination: string;
      queue_sid?: string;
      caller_id?: string;
      task_attributes?: Record<string, unknown>;
    }
  | { type: 'accept'; reservation_sid: string }
  | { type: 'reject'; reservation_sid: string }
  | { type: 'hangup'; task_sid: string }
  | { type: 'hold'; task_sid: string; hold: boolean }
  | { type: 'mute'; task_sid: string; muted: boolean }
  | { type: 'wrap'; task_sid: string; reason?: string }
  | { type: 'complete'; task_sid: string; reason?: string }
  | { type: 'answer_call'; call_sid: string }
  | { type: 'decline_call'; call_sid: string }
  | { type: 'directory_agents'; query: string }
  | { type: 'directory_queues'; prefix: string };

export interface SignInResult {
  token: string;
  identity: string;
  workspace_sid: string;
  worker_sid: string;
  ttl: number;
}

export interface DemoAgent {
  sid: string;
  friendly_name: string;
  full_name: string | null;
  activity_name: string;
}
