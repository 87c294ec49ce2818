// The HTTP calls the desktop makes (docs/desktop-protocol.md §1): the demo's sign-in and token
// renewal, and reading a pasted access token.
import type { DemoAgent, SignInResult } from './protocol';
import type { StringKey } from '../i18n/strings';

export interface DemoDirectory {
  workspace_sid: string;
  agents: DemoAgent[];
}

/** The demo's agents, or null when the server is not running the demo. */
export async function fetchDemoAgents(fetchFn: typeof fetch = fetch): Promise<DemoDirectory | null> {
  const res = await fetchFn('/demo/agents', { headers: { Accept: 'application/json' } });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`GET /demo/agents: ${res.status}`);
  return (await res.json()) as DemoDirectory;
}

async function demoPost(path: '/demo/sign-in' | '/demo/token', workerSid: string, fetchFn: typeof fetch): Promise<SignInResult> {
  const res = await fetchFn(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({ WorkerSid: workerSid }).toString(),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.message ?? `POST ${path}: ${res.status}`);
  return body as SignInResult;
}

/** Signs in as a demo agent (the server also makes the agent available). */
export function demoSignIn(workerSid: string, fetchFn: typeof fetch = fetch): Promise<SignInResult> {
  return demoPost('/demo/sign-in', workerSid, fetchFn);
}

/** A fresh token for a demo agent; unlike sign-in it leaves the agent's activity alone. */
export function demoToken(workerSid: string, fetchFn: typeof fetch = fetch): Promise<SignInResult> {
  return demoPost('/demo/token', workerSid, fetchFn);
}

export interface TokenInfo {
  identity: string;
  /** Seconds since the epoch. */
  exp: number;
  workerSid: string;
}

/** Reads an access token's identity, worker and expiry without checking it (the server checks). */
export function readToken(token: string): TokenInfo | null {
  const parts = token.trim().split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      Array.from(atob(b64.padEnd(b64.length + ((4 - (b64.length % 4)) % 4), '=')), (c) =>
        '%' + c.charCodeAt(0).toString(16).padStart(2, '0'),
      ).join(''),
    );
    const payload = JSON.parse(json);
    const identity = payload?.grants?.identity;
    const exp = payload?.exp;
    const workerSid = payload?.grants?.task_router?.worker_sid;
    if (typeof identity !== 'string' || typeof exp !== 'number') return null;
    if (typeof workerSid !== 'string' || workerSid === '') return null;
    return { identity, exp, workerSid };
  } catch {
    return null;
  }
}

/**
 * A pasted token, read; or why it cannot be used (not a token, or already expired). Whether the
 * server takes it is the server's to say.
 */
export function readPastedToken(token: string, now: number): { token: string; info: TokenInfo } | { problem: StringKey } {
  const info = readToken(token);
  if (!info) return { problem: 'SignInTokenInvalid' };
  if (info.exp * 1000 <= now) return { problem: 'SignInTokenExpired' };
  return { token: token.trim(), info };
}
