// The desktop's one state: the session, the connection, and the last `state` the server pushed.
import type { DesktopState } from './protocol';
import type { StringKey } from '../i18n/strings';

export interface Session {
  token: string;
  identity: string;
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
  | { type: 'notice'; notice: Notice }
  | { type: 'dismiss-notice' };

export const initialState: AppState = {
  session: null,
  connection: 'idle',
  desktop: null,
  connectedSince: {},
  notice: null,
  signInError: null,
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
      if (action.state.error) {
        return { ...initialState, signInError: { tone: 'error', key: 'SignInWorkerGone', params: { error: action.state.error } } };
      }
      const connectedSince: Record<string, number> = {};
      for (const t of action.state.tasks ?? []) {
        if (t.call?.state === 'connected') {
          connectedSince[t.task_sid] = state.connectedSince[t.task_sid] ?? action.now;
        }
      }
      return { ...state, desktop: action.state, connectedSince, connection: 'open' };
    }
    case 'notice':
      return { ...state, notice: action.notice };
    case 'dismiss-notice':
      return { ...state, notice: null };
  }
}
