// The one place that owns the state: a reducer fed by the WebSocket. Components read it with
// useDesktop() and act through `send` (and `updateToken`). The session is kept in sessionStorage
// so a reload (or a reconnect) signs in again with the newest token.
import { createContext, useCallback, useContext, useEffect, useMemo, useReducer, useRef, type ReactNode } from 'react';
import { initialState, reducer, type AppAction, type AppState, type Session } from './reducer';
import { desktopUrl, openDesktopSocket, type DesktopTransport, type SocketHandlers } from './socket';
import { demoToken, readToken } from './api';
import type { Action, ActionDataFor } from './protocol';
import type { StringKey } from '../i18n/strings';

export interface SendOptions {
  /** Do not show a failure as a notice (the caller shows it, or it does not matter). */
  quiet?: boolean;
  /** The notice shown on failure (with `{message}`); `ActionFailed` by default. */
  failure?: StringKey;
}

export interface DesktopApi {
  state: AppState;
  dispatch(action: AppAction): void;
  /** Sends an action; resolves with its data. Failures are also shown as a notice. */
  send<A extends Action>(action: A, opts?: SendOptions): Promise<ActionDataFor<A>>;
  signIn(session: Session): void;
  signOut(): void;
  /**
   * Gives this session a new access token (`update_token`); once the server takes it, it is also
   * the one a reconnect uses. A refusal is shown as a notice and rejects.
   */
  updateToken(token: string): Promise<void>;
}

const Ctx = createContext<DesktopApi | null>(null);

export function useDesktop(): DesktopApi {
  const api = useContext(Ctx);
  if (!api) throw new Error('useDesktop outside DesktopProvider');
  return api;
}

export const DesktopContextProvider = Ctx.Provider;

export const SESSION_KEY = 'switchboard.session';

function storedSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Partial<Session>;
    if (typeof s.token !== 'string' || typeof s.identity !== 'string') return null;
    // Sessions stored before the desktop renewed tokens have no worker: read it from the token.
    const workerSid = typeof s.workerSid === 'string' ? s.workerSid : readToken(s.token)?.workerSid;
    if (!workerSid) return null;
    return { token: s.token, identity: s.identity, workerSid, demo: s.demo === true };
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
  const session = state.session;
  const sessionRef = useRef(session);

  // The newest session, for a reconnect and for renewing (declared before the socket's effect, so
  // it runs first).
  useEffect(() => {
    sessionRef.current = session;
    try {
      if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
      else sessionStorage.removeItem(SESSION_KEY);
    } catch {
      // not persisted
    }
  }, [session]);

  const send = useCallback(async function send<A extends Action>(action: A, opts?: SendOptions): Promise<ActionDataFor<A>> {
    const t = transport.current;
    try {
      if (!t) throw new Error('not connected to Switchboard');
      return (await t.request(action)) as ActionDataFor<A>;
    } catch (e) {
      if (!opts?.quiet) {
        dispatch({ type: 'notice', notice: { tone: 'error', key: opts?.failure ?? 'ActionFailed', params: { message: (e as Error).message } } });
      }
      throw e;
    }
  }, []);

  const updateToken = useCallback(
    async (token: string) => {
      await send({ type: 'update_token', token }, { failure: 'TokenUpdateFailed' });
      dispatch({ type: 'token-updated', token });
    },
    [send],
  );

  // `token_expiring`: a demo session fetches a fresh token and hands it over by itself; a pasted
  // token's session asks the agent for a new one (AppState.tokenExpiresAt).
  const renewing = useRef(false);
  const renew = useCallback(
    (expiresAt: number) => {
      const s = sessionRef.current;
      if (!s) return;
      if (!s.demo) {
        dispatch({ type: 'token-expiring', expiresAt });
        return;
      }
      if (renewing.current) return;
      renewing.current = true;
      demoToken(s.workerSid)
        .then(
          (fresh) => updateToken(fresh.token).catch(() => {}), // a refusal is shown by send
          (e: Error) =>
            dispatch({ type: 'notice', notice: { tone: 'error', key: 'TokenRenewFailed', params: { message: e.message } } }),
        )
        .finally(() => {
          renewing.current = false;
        });
    },
    [updateToken],
  );

  // One socket per signed-in session; it reconnects after a drop with the newest token.
  const signedInAs = session?.workerSid ?? null;
  useEffect(() => {
    if (!signedInAs) return;
    let stopped = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    const connect = () => {
      const token = sessionRef.current?.token;
      if (!token) return;
      dispatch({ type: 'connecting' });
      transport.current = open(desktopUrl(token), {
        onOpen: () => {
          failures = 0;
          dispatch({ type: 'open' });
        },
        onState: (s) => dispatch({ type: 'state', state: s, now: Date.now() }),
        onTokenExpiring: renew,
        onClosed: (reason) => dispatch({ type: 'closed', reason }),
        onRefused: (error) => dispatch({ type: 'refused', error }),
        onClose: (wasOpen) => {
          transport.current = null;
          if (stopped) return;
          failures += 1;
          if (!wasOpen && failures >= 3) {
            // Refused before the upgrade: the token is expired or invalid.
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
  }, [signedInAs, open, renew]);

  const signIn = useCallback((s: Session) => dispatch({ type: 'signed-in', session: s }), []);
  const signOut = useCallback(() => dispatch({ type: 'signed-out' }), []);

  const api = useMemo<DesktopApi>(
    () => ({ state, dispatch, send, signIn, signOut, updateToken }),
    [state, send, signIn, signOut, updateToken],
  );
  return <Ctx.Provider value={api}>{children}</Ctx.Provider>;
}
