// The desktop's one state: the session, the connection, and the last `state` the server pushed.
import type { CloseReason, DesktopState, ErrorBody } from './protocol';
import type { StringKey } from '../i18n/strings';
import { callNeedsAudio, settleControls, type CallControls, type MicStatus, type PeerStatus } from '../lib/callAudio';

export interface Session {
  token: string;
  identity: string;
  workerSid: string;
  /** Signed in through the demo's picker: the desktop renews its own token (`POST /demo/token`). */
  demo: boolean;
}

export type ConnectionStatus = 'idle' | 'connecting' | 'open' | 'reconnecting';

export interface Notice {
  tone: 'error' | 'neutral';
  key: StringKey;
  params?: Record<string, string>;
}

/** A microphone or speaker the browser offers (`id` '' is the system's default). */
export interface AudioDevice {
  id: string;
  /** Empty until the agent allowed the microphone (browsers hide device names until then). */
  label: string;
}

/** This desktop's own audio: the microphone, the RTCPeerConnection, the devices. */
export interface AudioState {
  mic: MicStatus;
  /** What the browser said when the microphone failed for another reason. */
  micDetail: string | null;
  peer: PeerStatus;
  /** The audio offer failed (the server's or the browser's message). */
  offerError: string | null;
  /** The browser refused to play the call without a click (autoplay policy). */
  playbackBlocked: boolean;
  /**
   * The agent started a call action that needs audio (placing, accepting, answering): audio is
   * wanted before the server's state shows the call. `confirming` once the action succeeded,
   * until the state shows a live call (or a few seconds passed).
   */
  starting: 'pending' | 'confirming' | null;
  inputs: AudioDevice[];
  outputs: AudioDevice[];
  /** The chosen devices ('' for the system default). */
  input: string;
  output: string;
  /** The browser can play on a chosen speaker (HTMLMediaElement.setSinkId). */
  canChooseOutput: boolean;
}

export interface AppState {
  session: Session | null;
  connection: ConnectionStatus;
  desktop: DesktopState | null;
  /** When each task's call was first seen connected (ms since epoch), for the call timer. */
  connectedSince: Record<string, number>;
  notice: Notice | null;
  /**
   * When the session's pasted token expires (ms since epoch), once the server warned and until a
   * new token is accepted: the desktop asks the agent for one.
   */
  tokenExpiresAt: number | null;
  /** Why the agent was signed out, if not by choice. */
  signInError: Notice | null;
  audio: AudioState;
  /** Mute and hold the agent pressed that the server's state does not show yet. */
  callControls: CallControls;
}

export type AppAction =
  | { type: 'signed-in'; session: Session }
  | { type: 'signed-out'; error?: Notice }
  | { type: 'connecting' }
  | { type: 'open' }
  | { type: 'lost' }
  | { type: 'state'; state: DesktopState; now: number }
  | { type: 'token-expiring'; expiresAt: number }
  | { type: 'token-updated'; token: string }
  | { type: 'closed'; reason: CloseReason }
  | { type: 'refused'; error: ErrorBody }
  | { type: 'notice'; notice: Notice }
  | { type: 'dismiss-notice' }
  | AudioAction;

export type AudioAction =
  | { type: 'audio-starting' }
  | { type: 'audio-start-done'; ok: boolean }
  | { type: 'audio-start-expired' }
  | { type: 'audio-mic'; status: MicStatus; detail?: string | null }
  | { type: 'audio-mic-dismiss' }
  | { type: 'audio-peer'; status: PeerStatus }
  | { type: 'audio-offer-error'; message: string | null }
  | { type: 'audio-playback-blocked'; blocked: boolean }
  | { type: 'audio-devices'; inputs: AudioDevice[]; outputs: AudioDevice[]; canChooseOutput: boolean }
  | { type: 'audio-choose'; kind: 'input' | 'output'; id: string }
  | { type: 'call-control'; taskSid: string; control: 'muted' | 'held'; value: boolean }
  | { type: 'call-control-done'; taskSid: string; control: 'muted' | 'held'; ok: boolean };

export const initialAudio: AudioState = {
  mic: 'off',
  micDetail: null,
  peer: 'none',
  offerError: null,
  playbackBlocked: false,
  starting: null,
  inputs: [],
  outputs: [],
  input: '',
  output: '',
  canChooseOutput: false,
};

export const initialState: AppState = {
  session: null,
  connection: 'idle',
  desktop: null,
  connectedSince: {},
  notice: null,
  tokenExpiresAt: null,
  signInError: null,
  audio: initialAudio,
  callControls: {},
};

/** A fresh state for a new or ended session; the browser's devices and the agent's choice stay. */
function fresh(state: AppState, over: Partial<AppState>): AppState {
  const { inputs, outputs, input, output, canChooseOutput } = state.audio;
  return { ...initialState, audio: { ...initialAudio, inputs, outputs, input, output, canChooseOutput }, ...over };
}

/** What the sign-in screen says after the server closed the session, for each reason. */
export const CLOSE_REASON_STRINGS: Record<CloseReason, StringKey> = {
  token_expired: 'ClosedTokenExpired',
  worker_deleted: 'ClosedWorkerDeleted',
  workspace_deleted: 'ClosedWorkspaceDeleted',
  shutdown: 'ClosedShutdown',
};

export function reducer(state: AppState, action: AppAction): AppState {
  switch (action.type) {
    case 'signed-in':
      return fresh(state, { session: action.session, connection: 'connecting' });
    case 'signed-out':
      return fresh(state, { signInError: action.error ?? null });
    case 'connecting':
      return { ...state, connection: state.connection === 'idle' ? 'connecting' : state.connection };
    case 'open':
      return { ...state, connection: 'open' };
    case 'lost':
      return state.session ? { ...state, connection: 'reconnecting' } : state;
    case 'state': {
      const connectedSince: Record<string, number> = {};
      for (const t of action.state.tasks) {
        if (t.call?.state === 'connected') {
          connectedSince[t.task_sid] = state.connectedSince[t.task_sid] ?? action.now;
        }
      }
      const starting = state.audio.starting === 'confirming' && callNeedsAudio(action.state) ? null : state.audio.starting;
      return {
        ...state,
        desktop: action.state,
        connectedSince,
        connection: 'open',
        callControls: settleControls(state.callControls, action.state),
        audio: starting === state.audio.starting ? state.audio : { ...state.audio, starting },
      };
    }
    case 'token-expiring':
      return state.session ? { ...state, tokenExpiresAt: action.expiresAt } : state;
    case 'token-updated':
      return state.session ? { ...state, session: { ...state.session, token: action.token }, tokenExpiresAt: null } : state;
    case 'closed':
      // A reason this desktop does not know yet still signs out, with a general sentence.
      return fresh(state, { signInError: { tone: 'error', key: CLOSE_REASON_STRINGS[action.reason] ?? 'ClosedOther' } });
    case 'refused':
      return fresh(state, { signInError: { tone: 'error', key: 'SessionRefused', params: { message: action.error.message } } });
    case 'notice':
      return { ...state, notice: action.notice };
    case 'dismiss-notice':
      return { ...state, notice: null };
    default:
      return audioReducer(state, action);
  }
}

function audioReducer(state: AppState, action: AudioAction): AppState {
  const audio = (over: Partial<AudioState>): AppState => ({ ...state, audio: { ...state.audio, ...over } });
  switch (action.type) {
    case 'audio-starting':
      return audio({ starting: 'pending' });
    case 'audio-start-done':
      if (!action.ok) return audio({ starting: null });
      return audio({ starting: callNeedsAudio(state.desktop) ? null : 'confirming' });
    case 'audio-start-expired':
      return state.audio.starting === 'confirming' ? audio({ starting: null }) : state;
    case 'audio-mic':
      return audio({ mic: action.status, micDetail: action.detail ?? null });
    case 'audio-mic-dismiss':
      return state.audio.mic === 'on' || state.audio.mic === 'requesting' ? state : audio({ mic: 'off', micDetail: null });
    case 'audio-peer':
      return audio({ peer: action.status });
    case 'audio-offer-error':
      return audio({ offerError: action.message });
    case 'audio-playback-blocked':
      return audio({ playbackBlocked: action.blocked });
    case 'audio-devices':
      return audio({ inputs: action.inputs, outputs: action.outputs, canChooseOutput: action.canChooseOutput });
    case 'audio-choose':
      return audio(action.kind === 'input' ? { input: action.id } : { output: action.id });
    case 'call-control': {
      const prev = state.callControls[action.taskSid] ?? {};
      return { ...state, callControls: { ...state.callControls, [action.taskSid]: { ...prev, [action.control]: action.value } } };
    }
    case 'call-control-done': {
      const prev = state.callControls[action.taskSid];
      if (!prev) return state;
      if (action.ok) {
        // Confirmed: dropped as soon as the pushed state shows it (maybe it already does).
        return state.desktop ? { ...state, callControls: settleControls(state.callControls, state.desktop) } : state;
      }
      // Refused: the server's value stands.
      const { [action.control]: _dropped, ...rest } = prev;
      const callControls = { ...state.callControls };
      if (Object.keys(rest).length === 0) delete callControls[action.taskSid];
      else callControls[action.taskSid] = rest;
      return { ...state, callControls };
    }
  }
}
