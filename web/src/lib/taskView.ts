// How a task reads on screen: who it is with and which stage it is in. Pure: derived from the
// pushed state only.
import type { Task } from '../state/protocol';

export type Stage =
  | 'incoming' // a reservation offered to this agent: Accept / Reject
  | 'dialing'
  | 'ringing' // an outbound call ringing the far end
  | 'connected'
  | 'ended' // the call is over but the task is not wrapping yet
  | 'wrapping';

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

export function isOutbound(task: Task): boolean {
  return str(task.attributes.outbound_to) !== null;
}

/**
 * The task line's header: for outbound calls `internal_outbound_to` if set, else `outbound_to`
 * (the seed's TaskLineOutboundCallHeader override); otherwise Flex's defaultFrom (`name`, else
 * `from`).
 */
export function taskHeader(task: Task): string {
  const a = task.attributes;
  if (isOutbound(task)) return str(a.internal_outbound_to) ?? str(a.outbound_to) ?? '';
  return str(a.name) ?? str(a.from) ?? task.task_sid;
}

export function taskStage(task: Task): Stage {
  if (task.reservation_status === 'wrapping') return 'wrapping';
  if (task.reservation_status === 'pending') return isOutbound(task) ? 'dialing' : 'incoming';
  const call = task.call;
  if (!call) return 'connected';
  if (call.state === 'ended') return 'ended';
  if (isOutbound(task)) return call.state;
  return call.state === 'ringing' ? 'incoming' : call.state === 'dialing' ? 'dialing' : 'connected';
}

export type FailureKey = 'declined' | 'no-answer' | 'busy' | 'unavailable' | 'canceled' | 'failed';

/** Why an outbound call ended without a conversation, or null when it ended normally. */
export function callFailure(task: Task): { key: FailureKey; detail: string | null } | null {
  const reason = task.call?.reason;
  if (!reason || reason === 'completed') return null;
  if (reason === 'declined' || reason === 'no-answer' || reason === 'busy' || reason === 'unavailable' || reason === 'canceled') {
    return { key: reason, detail: null };
  }
  const m = /^failed:\s*(.*)$/.exec(reason);
  return { key: 'failed', detail: m ? m[1] : reason };
}

/** mm:ss (or h:mm:ss) for a duration in milliseconds. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => n.toString().padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
}
