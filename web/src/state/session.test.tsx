// The session's life through the whole app: the socket is a fake (`open`), fetch is stubbed.
// Token renewal (docs/desktop-protocol.md §5, "Token lifetime") and the server closing a session.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../App';
import { SESSION_KEY, type OpenSocket } from './DesktopContext';
import { ActionFailed, type SocketHandlers } from './socket';
import type { Action, ActionData, CloseReason } from './protocol';
import type { Session } from './reducer';
import { ALICE, desktopState } from '../../test/render';

interface FakeSocket {
  url: string;
  handlers: SocketHandlers;
  request: ReturnType<typeof vi.fn<(a: Action) => Promise<ActionData>>>;
  close: ReturnType<typeof vi.fn<() => void>>;
}

/** The server's end: every socket the desktop opens, answering actions with `reply`. */
function fakeServer(reply: (a: Action) => Promise<ActionData> = async () => ({})) {
  const sockets: FakeSocket[] = [];
  const open: OpenSocket = (url, handlers) => {
    const s: FakeSocket = { url, handlers, request: vi.fn(reply), close: vi.fn<() => void>() };
    sockets.push(s);
    return { request: s.request, close: s.close };
  };
  const last = () => sockets[sockets.length - 1];
  /** The newest socket opens and pushes Alice's state. */
  const connect = () =>
    act(() => {
      last().handlers.onOpen();
      last().handlers.onState(desktopState());
    });
  return { open, sockets, last, connect };
}

type Route = (init: RequestInit | undefined) => { status: number; body: unknown };

/** A stubbed fetch answering by path; anything else is a 404. */
function stubFetch(routes: Record<string, Route>) {
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const path = String(input);
    const r = routes[path]?.(init) ?? { status: 404, body: { message: 'not found' } };
    return new Response(JSON.stringify(r.body), { status: r.status, headers: { 'Content-Type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
/** An access token as the desktop reads it (the signature is the server's business). */
const jwt = (expSeconds: number, workerSid = ALICE) =>
  `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({
    exp: expSeconds,
    grants: { identity: 'alice', task_router: { workspace_sid: 'WS5a5', worker_sid: workerSid, role: 'worker' } },
  })}.sig`;

const signedIn = (s: Partial<Session> = {}) => {
  const session: Session = { token: 'demo-token-1', identity: 'alice', workerSid: ALICE, demo: true, ...s };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
};
const stored = () => JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null') as Session | null;

const signInResult = (token: string) => ({
  status: 201,
  body: { token, identity: 'alice', workspace_sid: 'WS5a5', worker_sid: ALICE, ttl: 43_200 },
});
const DEMO_AGENTS = {
  '/demo/agents': () => ({
    status: 200,
    body: { workspace_sid: 'WS5a5', agents: [{ sid: ALICE, friendly_name: 'alice', full_name: 'Alice Anders', activity_name: 'Offline' }] },
  }),
};

beforeEach(() => sessionStorage.clear());
afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe('signing in', () => {
  it('keeps a demo session with its worker, and connects with its token', async () => {
    const fetchMock = stubFetch({ ...DEMO_AGENTS, '/demo/sign-in': () => signInResult('demo-token-1') });
    const server = fakeServer();
    render(<App open={server.open} locale="en-US" />);
    await userEvent.click(await screen.findByRole('button', { name: /Sign in as Alice Anders/ }));
    await waitFor(() => expect(server.sockets).toHaveLength(1));
    expect(server.last().url).toMatch(/\/v1\/Desktop\?token=demo-token-1$/);
    expect(stored()).toEqual({ token: 'demo-token-1', identity: 'alice', workerSid: ALICE, demo: true });
    expect(fetchMock.mock.calls.map(([u]) => String(u))).toEqual(['/demo/agents', '/demo/sign-in']);
    await server.connect();
    expect(screen.getByText('Signed in as Alice Anders')).toBeTruthy();
  });
});

describe('token_expiring in demo mode', () => {
  it('fetches a fresh token, sends update_token, stores it, and reconnects with it', async () => {
    signedIn();
    const fetchMock = stubFetch({ '/demo/token': () => signInResult('demo-token-2') });
    const server = fakeServer();
    render(<App open={server.open} locale="en-US" />);
    await server.connect();

    act(() => server.last().handlers.onTokenExpiring(Date.now() + 60_000));

    await waitFor(() => expect(server.last().request).toHaveBeenCalledWith({ type: 'update_token', token: 'demo-token-2' }));
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe('/demo/token');
    expect(init?.method).toBe('POST');
    expect(String(init?.body)).toBe(`WorkerSid=${ALICE}`);
    await waitFor(() => expect(stored()?.token).toBe('demo-token-2'));
    // Renewing does not reconnect, nor ask the agent anything.
    expect(server.sockets).toHaveLength(1);
    expect(screen.queryByTestId('session-ending')).toBeNull();

    // A reconnect uses the fresh token.
    act(() => server.last().handlers.onClose(true));
    await waitFor(() => expect(server.sockets).toHaveLength(2), { timeout: 2000 });
    expect(server.last().url).toMatch(/token=demo-token-2$/);
  });

  it('shows a refused update_token as an error notice and keeps the old token', async () => {
    signedIn();
    stubFetch({ '/demo/token': () => signInResult('demo-token-2') });
    const server = fakeServer(async (a) => {
      if (a.type === 'update_token') throw new ActionFailed({ code: 20003, message: 'the access token is for another worker' });
      return {};
    });
    render(<App open={server.open} locale="en-US" />);
    await server.connect();
    act(() => server.last().handlers.onTokenExpiring(Date.now() + 60_000));
    const alert = await screen.findByText('Switchboard did not accept the new access token: the access token is for another worker');
    expect(alert).toBeTruthy();
    expect(stored()?.token).toBe('demo-token-1');
  });

  it('says so when no fresh token can be had', async () => {
    signedIn();
    stubFetch({ '/demo/token': () => ({ status: 404, body: { message: 'no such worker' } }) });
    const server = fakeServer();
    render(<App open={server.open} locale="en-US" />);
    await server.connect();
    act(() => server.last().handlers.onTokenExpiring(Date.now() + 60_000));
    expect(await screen.findByText('Could not renew your session: no such worker')).toBeTruthy();
    expect(server.last().request).not.toHaveBeenCalled();
  });
});

describe('token_expiring with a pasted token', () => {
  it('warns when the session ends, without blocking, and sends a pasted token with update_token', async () => {
    const now = Math.floor(Date.now() / 1000);
    signedIn({ token: jwt(now + 60), demo: false });
    const fetchMock = stubFetch({});
    const server = fakeServer();
    render(<App open={server.open} locale="en-US" />);
    await server.connect();
    const expiresAt = (now + 60) * 1000;

    act(() => server.last().handlers.onTokenExpiring(expiresAt));

    const when = new Intl.DateTimeFormat('en-US', { timeStyle: 'medium' }).format(expiresAt);
    expect(await screen.findByText(`Your session ends at ${when}. Paste a new access token to stay signed in.`)).toBeTruthy();
    expect(fetchMock).not.toHaveBeenCalled();
    // The desktop stays usable.
    expect(screen.getByRole('heading', { name: 'Dialpad' })).toBeTruthy();

    const input = screen.getByLabelText('New access token');
    await userEvent.type(input, 'not a token');
    await userEvent.click(screen.getByRole('button', { name: 'Use this token' }));
    expect(screen.getByText('This is not a Switchboard access token.')).toBeTruthy();
    expect(server.last().request).not.toHaveBeenCalled();

    const fresh = jwt(now + 3600);
    await userEvent.clear(input);
    await userEvent.click(input);
    await userEvent.paste(fresh);
    await userEvent.click(screen.getByRole('button', { name: 'Use this token' }));
    expect(server.last().request).toHaveBeenCalledWith({ type: 'update_token', token: fresh });
    await waitFor(() => expect(screen.queryByTestId('session-ending')).toBeNull());
    expect(stored()?.token).toBe(fresh);
    expect(server.sockets).toHaveLength(1);
  });

  it('keeps the warning when the server refuses the pasted token', async () => {
    const now = Math.floor(Date.now() / 1000);
    signedIn({ token: jwt(now + 60), demo: false });
    stubFetch({});
    const server = fakeServer(async () => {
      throw new ActionFailed({ code: 20003, message: 'the access token is for another worker' });
    });
    render(<App open={server.open} locale="en-US" />);
    await server.connect();
    act(() => server.last().handlers.onTokenExpiring((now + 60) * 1000));
    await userEvent.click(await screen.findByLabelText('New access token'));
    await userEvent.paste(jwt(now + 3600, 'WKb0b00000000000000000000000000000'));
    await userEvent.click(screen.getByRole('button', { name: 'Use this token' }));
    expect(await screen.findByText('Switchboard did not accept the new access token: the access token is for another worker')).toBeTruthy();
    expect(screen.getByTestId('session-ending')).toBeTruthy();
  });
});

describe('the server closing the session', () => {
  it.each<[CloseReason, string]>([
    ['token_expired', 'Your session ended: its access token expired. Sign in again.'],
    ['worker_deleted', 'You were signed out: your agent was removed from the workspace.'],
    ['workspace_deleted', 'You were signed out: the workspace was deleted.'],
    ['shutdown', 'You were signed out: Switchboard is shutting down. Sign in again once it is back.'],
  ])('returns to sign-in and says why (%s)', async (reason, text) => {
    signedIn();
    stubFetch(DEMO_AGENTS);
    const server = fakeServer();
    render(<App open={server.open} locale="en-US" />);
    await server.connect();
    act(() => server.last().handlers.onClosed(reason));
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeTruthy();
    expect(screen.getByText(text)).toBeTruthy();
    expect(stored()).toBeNull();
    expect(server.last().close).toHaveBeenCalled();
    // It does not reconnect.
    await new Promise((r) => setTimeout(r, 600));
    expect(server.sockets).toHaveLength(1);
  });

  it('says why in the chosen language', async () => {
    signedIn();
    stubFetch(DEMO_AGENTS);
    const server = fakeServer();
    render(<App open={server.open} locale="th" />);
    await server.connect();
    act(() => server.last().handlers.onClosed('worker_deleted'));
    expect(await screen.findByText('คุณถูกออกจากระบบ เนื่องจากเอเย่นต์ของคุณถูกลบออกจากพื้นที่ทำงาน')).toBeTruthy();
  });

  it('returns to sign-in with the server’s message when it refuses the session', async () => {
    signedIn();
    stubFetch(DEMO_AGENTS);
    const server = fakeServer();
    render(<App open={server.open} locale="en-US" />);
    await server.connect();
    act(() => server.last().handlers.onRefused({ code: 20001, message: 'this agent already has 8 sessions' }));
    expect(await screen.findByText('Switchboard refused this session: this agent already has 8 sessions')).toBeTruthy();
    expect(stored()).toBeNull();
  });
});

describe('a session stored by an earlier version', () => {
  it('reads its worker from the token', async () => {
    const token = jwt(Math.floor(Date.now() / 1000) + 3600);
    sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token, identity: 'alice' }));
    stubFetch({});
    const server = fakeServer();
    render(<App open={server.open} locale="en-US" />);
    await server.connect();
    expect(screen.getByText('Signed in as Alice Anders')).toBeTruthy();
    await waitFor(() => expect(stored()).toEqual({ token, identity: 'alice', workerSid: ALICE, demo: false }));
  });
});
