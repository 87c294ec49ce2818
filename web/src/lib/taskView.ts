// How a task reads on screen: who it is with, which stage it is in, and how its call ended. Pure:
// derived from the pushed state only.
import type { CallOutcome, TaskView } from '../state/protocol';
import type { StringKey } from '../i18n/strings';

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

/** The agent placed the task's call (the server says so: `call.direction`). */
export function isOutbound(task: TaskView): boolean {
  return task.call?.direction === 'outbound';
}

/**
 * The task line's header: for outbound calls `internal_outbound_to` if set, else `outbound_to`
 * (the seed's TaskLineOutboundCallHeader override); otherwise Flex's defaultFrom (`name`, else
 * `from`).
 */
export function taskHeader(task: TaskView): string {
  const a = task.attributes;
  if (isOutbound(task)) return str(a.internal_outbound_to) ?? str(a.outbound_to) ?? '';
  return str(a.name) ?? str(a.from) ?? task.task_sid;
}

export function taskStage(task: TaskView): Stage {
  if (task.reservation_status === 'wrapping') return 'wrapping';
  if (task.reservation_status === 'pending') return isOutbound(task) ? 'dialing' : 'incoming';
  const call = task.call;
  if (!call) return 'connected';
  if (call.state === 'ended') return 'ended';
  if (isOutbound(task)) return call.state;
  return call.state === 'ringing' ? 'incoming' : call.state === 'dialing' ? 'dialing' : 'connected';
}

/** The sentence for each way a call ends (`{name}` is the other party). */
export const OUTCOME_STRINGS: Record<CallOutcome['code'], StringKey> = {
  completed: 'OutcomeCompleted',
  canceled: 'OutcomeCanceled',
  declined: 'OutcomeDeclined',
  'no-answer': 'OutcomeNoAnswer',
  busy: 'OutcomeBusy',
  unavailable: 'OutcomeUnavailable',
  failed: 'OutcomeFailed',
};

export interface OutcomeText {
  /** `error` unless the call ended normally. */
  tone: 'neutral' | 'error';
  sentence: string;
  /** For `failed`: what the server said, with Twilio's error code when there is one. */
  detail: string | null;
}

type Translate = (key: StringKey, params?: Record<string, string>) => string;

/**
 * How an ended call ended, in the agent's language. A call without an outcome (one offered to the
 * agent, or one whose outcome is not known yet) just ended; a code this desktop does not know yet
 * reads as a failure.
 */
export function describeOutcome(outcome: CallOutcome | null, name: string, t: Translate): OutcomeText {
  if (!outcome || outcome.code === 'completed') return { tone: 'neutral', sentence: t('OutcomeCompleted', { name }), detail: null };
  const key = OUTCOME_STRINGS[outcome.code] ?? 'OutcomeFailed';
  const sentence = t(key, { name });
  if (outcome.code !== 'failed') return { tone: 'error', sentence, detail: null };
  const message = outcome.message ?? '';
  const detail =
    outcome.error_code != null
      ? t('OutcomeFailedDetailWithCode', { message, code: String(outcome.error_code) }).trim()
      : message !== ''
        ? message
        : null;
  return { tone: 'error', sentence, detail };
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
