// When the desktop needs audio and what the agent is told about it, in one place. Pure: derived
// from the pushed state, the desktop's own audio state (AppState.audio) and the controls the agent
// pressed that the server has not confirmed yet. The server decides who hears whom; these rules
// only decide what this browser does with its own microphone and speaker meanwhile.
import type { AudioView, CallView, DesktopState, TaskView } from '../state/protocol';
import type { StringKey } from '../i18n/strings';

/** Why the microphone could not be had. */
export type MicProblem = 'denied' | 'missing' | 'busy' | 'insecure' | 'error';
export type MicStatus = 'off' | 'requesting' | 'on' | MicProblem;

/** The RTCPeerConnection's `connectionState`, or `none` when there is none. */
export type PeerStatus = 'none' | RTCPeerConnectionState;

/** Mute and hold the agent pressed, per task, until the server's state shows them (or refuses). */
export type CallControls = Record<string, { muted?: boolean; held?: boolean }>;

/** The task's call is live for this agent: placed or accepted, and not over. */
export function isLiveCall(task: TaskView): boolean {
  return task.reservation_status === 'accepted' && task.call !== null && task.call.state !== 'ended';
}

/** The agent is on a call as a supervisor (monitoring, coaching or barging). */
export function isSupervising(desktop: DesktopState | null): boolean {
  return !!desktop?.supervisor?.supervising;
}

/** Some call of this agent needs its microphone and speaker now (its own, or one it supervises). */
export function callNeedsAudio(desktop: DesktopState | null): boolean {
  return !!desktop && (desktop.tasks.some(isLiveCall) || isSupervising(desktop));
}

/**
 * The agent holds the call: every other party (supervisors aside) is on hold, so the agent
 * talks to and hears nobody. A call with someone still off hold is not held for the agent: while
 * it consults another agent (the caller waiting on hold) they talk. Without the participants
 * (older servers, calls not connected yet) the server's `held` says it.
 */
export function callHeld(call: CallView): boolean {
  const parties = (call.participants ?? []).filter((p) => p.kind !== 'supervisor');
  return parties.length > 0 ? parties.every((p) => p.hold) : call.held;
}

/**
 * Whether the desktop keeps an audio connection: the server relays audio, and a call is live or
 * the agent just started one (`starting`: placing, accepting or answering, before the server's
 * state shows it).
 */
export function audioWanted(desktop: DesktopState | null, starting: boolean): boolean {
  if (!desktop?.media?.enabled) return false;
  return starting || callNeedsAudio(desktop);
}

/** A task's mute and hold as the agent sees them: what it pressed, else what the server says. */
export function effectiveControls(task: TaskView, controls: CallControls): { muted: boolean; held: boolean } {
  const local = controls[task.task_sid];
  return {
    muted: local?.muted ?? task.call?.muted ?? false,
    held: local?.held ?? (task.call ? callHeld(task.call) : false),
  };
}

/**
 * What this browser does locally, at once: the microphone goes out while some live call is
 * neither muted nor on hold, and the far end plays while some live call is not on hold (holding
 * puts the other party on hold: the holder hears nothing of them). Without a live call (while
 * one is being placed) both stay on: the server sends nothing yet anyway.
 */
export function localAudio(desktop: DesktopState | null, controls: CallControls): { sendMicrophone: boolean; playRemote: boolean } {
  const live = desktop?.tasks.filter(isLiveCall) ?? [];
  // A supervisor talks and listens as its mode says: the server decides who hears it.
  if (live.length === 0 || isSupervising(desktop)) return { sendMicrophone: true, playRemote: true };
  const eff = live.map((t) => effectiveControls(t, controls));
  return {
    sendMicrophone: eff.some((c) => !c.muted && !c.held),
    playRemote: eff.some((c) => !c.held),
  };
}

/** Drops the controls the server's state now shows (or whose task is gone). */
export function settleControls(controls: CallControls, desktop: DesktopState): CallControls {
  const out: CallControls = {};
  for (const [sid, c] of Object.entries(controls)) {
    const call = desktop.tasks.find((t) => t.task_sid === sid)?.call;
    if (!call || call.state === 'ended') continue;
    const rest: { muted?: boolean; held?: boolean } = {};
    if (c.muted !== undefined && c.muted !== call.muted) rest.muted = c.muted;
    if (c.held !== undefined && c.held !== callHeld(call)) rest.held = c.held;
    if (rest.muted !== undefined || rest.held !== undefined) out[sid] = rest;
  }
  return out;
}

export type CallAudioState = 'off' | 'connecting' | 'connected' | 'reconnecting' | 'failed';

export interface CallAudioView {
  state: CallAudioState;
  /** The sentence saying why it is reconnecting or failed (translated). */
  reason: StringKey | null;
  /** What the server or the browser said, untranslated, when there is something. */
  detail: string | null;
  /** The server hears nothing from this desktop although the agent should be heard. */
  notSending: boolean;
}

export interface CallAudioInputs {
  /** `DesktopState.audio`: the server's view of this agent's connection. */
  server: AudioView | null;
  /** This browser's RTCPeerConnection. */
  peer: PeerStatus;
  /** The server refused the offer (its message), or the offer could not be made. */
  offerError: string | null;
  /** The desktop socket is open. */
  socketOpen: boolean;
  wanted: boolean;
  /** The microphone is going out (not muted or held locally). */
  sending: boolean;
}

/**
 * The call's audio as the agent is told it, from the browser's connectionState and the server's
 * `audio`: a failure or a reconnect on either side wins (with the server's reason when it gave
 * one); it is connected once the browser's connection is and the server does not say otherwise.
 */
export function describeCallAudio(i: CallAudioInputs): CallAudioView {
  const view = (state: CallAudioState, reason: StringKey | null = null, detail: string | null = null): CallAudioView => ({
    state,
    reason,
    detail,
    notSending: false,
  });
  if (!i.wanted) return view('off');
  if (i.offerError) return view('failed', 'AudioFailedRefused', i.offerError);
  // The server's audio for this agent is up while this browser's connection failed: another tab
  // (or window) of the agent took the audio.
  if (i.peer === 'failed' && i.server?.state === 'connected') return view('failed', 'AudioElsewhere');
  if (i.peer === 'failed') return view('failed', 'AudioFailedNetwork', i.server?.state === 'failed' ? i.server.detail : null);
  if (i.server?.state === 'failed') return view('failed', 'AudioFailedServer', i.server.detail);
  if (!i.socketOpen && i.peer !== 'none') return view('reconnecting', 'AudioReconnectingSocket');
  if (i.peer === 'disconnected') return view('reconnecting', 'AudioReconnectingNetwork', i.server?.detail ?? null);
  if (i.server?.state === 'reconnecting') return view('reconnecting', 'AudioReconnectingNetwork', i.server.detail);
  // The browser's 'connected' means DTLS completed with the relay: a server still saying
  // 'connecting' then is behind (after an ICE restart the server does not report it again).
  if (i.peer === 'connected' && (i.server?.state === 'connected' || i.server?.state === 'connecting')) {
    return { ...view('connected'), notSending: i.sending && i.server.not_sending };
  }
  return view('connecting');
}

/** Classifies a getUserMedia failure (DOMException names, as browsers give them). */
export function micProblem(e: unknown): MicProblem {
  const name = (e as { name?: unknown })?.name;
  switch (name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return 'denied';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'missing';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'busy';
    default:
      return 'error';
  }
}

/** The sentence for each microphone problem (what happened and what to do). */
export const MIC_PROBLEM_STRINGS: Record<MicProblem, StringKey> = {
  denied: 'MicDenied',
  missing: 'MicMissing',
  busy: 'MicBusy',
  insecure: 'MicInsecure',
  error: 'MicFailed',
};

export function isMicProblem(s: MicStatus): s is MicProblem {
  return s in MIC_PROBLEM_STRINGS;
}
