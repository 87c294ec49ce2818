// The desktop's one state: the session, the connection, and the last `state` the server pushed.
import type { CloseReason, DesktopState, ErrorBody } from './protocol';
import type { StringKey } from '../i18n/strings';

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
  | { type: 'dismiss-notice' };

export const initialState: AppState = {
  session: null,
  connection: 'idle',
  desktop: null,
  connectedSince: {},
  notice: null,
  tokenExpiresAt: null,
  signInError: null,
};

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
      return { ...initialState, session: action.session, connection: 'connecting' };
    case 'signed-out':
      return { ...initialState, signInError: action.error ?? null };
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
      return { ...state, desktop: action.state, connectedSince, connection: 'open' };
    }
    case 'token-expiring':
      return state.session ? { ...state, tokenExpiresAt: action.expiresAt } : state;
    case 'token-updated':
      return state.session ? { ...state, session: { ...state.session, token: action.token }, tokenExpiresAt: null } : state;
    case 'closed':
      // A reason this desktop does not know yet still signs out, with a general sentence.
      return { ...initialState, signInError: { tone: 'error', key: CLOSE_REASON_STRINGS[action.reason] ?? 'ClosedOther' } };
    case 'refused':
      return { ...initialState, signInError: { tone: 'error', key: 'SessionRefused', params: { message: action.error.message } } };
    case 'notice':
      return { ...state, notice: action.notice };
    case 'dismiss-notice':
      return { ...state, notice: null };
  }
}
