// The HTTP calls the sign-in page makes (docs/desktop-protocol.md §1).
import type { DemoAgent, SignInResult } from './protocol';

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

export async function demoSignIn(workerSid: string, fetchFn: typeof fetch = fetch): Promise<SignInResult> {
  const res = await fetchFn('/demo/sign-in', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({ WorkerSid: workerSid }).toString(),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.message ?? `POST /demo/sign-in: ${res.status}`);
  return body as SignInResult;
}

/** Reads an access token's identity and expiry without checking it (the server checks). */
export function readToken(token: string): { identity: string; exp: number } | null {
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
    if (typeof identity !== 'string' || typeof exp !== 'number') return null;
    if (!payload?.grants?.task_router?.worker_sid) return null;
    return { identity, exp };
  } catch {
    return null;
  }
}
