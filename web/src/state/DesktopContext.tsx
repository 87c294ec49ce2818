// The one place that owns the state: a reducer fed by the WebSocket. Components read it with
// useDesktop() and act through `send`.
import { createContext, useCallback, useContext, useEffect, useMemo, useReducer, useRef, type ReactNode } from 'react';
import { initialState, reducer, type AppAction, type AppState, type Notice, type Session } from './reducer';
import { ActionFailed, desktopUrl, openDesktopSocket, type DesktopTransport, type SocketHandlers } from './socket';
import type { DesktopAction } from './protocol';

export interface DesktopApi {
  state: AppState;
  dispatch(action: AppAction): void;
  /** Sends an action; resolves with its data. Failures are also shown as a notice. */
  send<T = unknown>(action: DesktopAction, opts?: { quiet?: boolean }): Promise<T>;
  signIn(session: Session): void;
  signOut(): void;
}

const Ctx = createContext<DesktopApi | null>(null);

export function useDesktop(): DesktopApi {
  const api = useContext(Ctx);
  if (!api) throw new Error('useDesktop outside DesktopProvider');
  return api;
}

export const DesktopContextProvider = Ctx.Provider;

const SESSION_KEY = 'switchboard.session';

function storedSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export type OpenSocket = (url: string, handlers: SocketHandlers) => DesktopTransport;

export function DesktopProvider({ children, open = openDesktopSocket }: { children: ReactNode; open?: OpenSocket }) {
  const [state, dispatch] = useReducer(reducer, initialState, (s) => {
    const session = storedSession();
    return session ? reducer(s, { type: 'signed-in', session }) : s;
  });
  const transport = useRef<DesktopTransport | null>(null);
  const token = state.session?.token ?? null;

  useEffect(() => {
    if (!token) return;
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    const connect = () => {
      dispatch({ type: 'connecting' });
      transport.current = open(desktopUrl(token), {
        onOpen: () => {
          failures = 0;
          dispatch({ type: 'open' });
        },
        onState: (s) => dispatch({ type: 'state', state: s, now: Date.now() }),
        onClose: (wasOpen) => {
          transport.current = null;
          if (stopped) return;
          failures += 1;
          if (!wasOpen && failures >= 3) {
            // Refused before the upgrade: the token is expired or invalid.
            sessionStorage.removeItem(SESSION_KEY);
            dispatch({ type: 'signed-out', error: { tone: 'error', key: 'SignInRefused' } });
            return;
          }
          dispatch({ type: 'lost' });
          retry = setTimeout(connect, Math.min(500 * failures, 3000));
        },
      });
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      transport.current?.close();
      transport.current = null;
    };
  }, [token, open]);

  const send = useCallback(async function send<T>(action: DesktopAction, opts?: { quiet?: boolean }): Promise<T> {
    const t = transport.current;
    try {
      if (!t) throw new Error('not connected to Switchboard');
      return (await t.request(action)) as T;
    } catch (e) {
      if (!opts?.quiet) {
        const notice: Notice =
          e instanceof ActionFailed
            ? { tone: 'error', key: 'ActionFailed', params: { message: e.message } }
            : { tone: 'error', key: 'ActionFailed', params: { message: (e as Error).message } };
        dispatch({ type: 'notice', notice });
      }
      throw e;
    }
  }, []);

  const signIn = useCallback((session: Session) => {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    dispatch({ type: 'signed-in', session });
  }, []);

  const signOut = useCallback(() => {
    sessionStorage.removeItem(SESSION_KEY);
    dispatch({ type: 'signed-out' });
  }, []);

  const api = useMemo<DesktopApi>(() => ({ state, dispatch, send, signIn, signOut }), [state, send, signIn, signOut]);
  return <Ctx.Provider value={api}>{children}</Ctx.Provider>;
}
