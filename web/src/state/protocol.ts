// The desktop protocol's shapes (docs/desktop-protocol.md). The socket's messages are generated
// from the server's Rust types (protocol.gen.ts, do not edit); this file re-exports them and adds
// only what is not generated: the HTTP sign-in answers, and which `data` each action gives back.
// Nothing here decides anything.
import type { Action, ActionData } from './protocol.gen';

export type * from './protocol.gen';

/** `POST /v1/AccessTokens`, `POST /demo/sign-in` and `POST /demo/token` answer this. */
export interface SignInResult {
  token: string;
  identity: string;
  workspace_sid: string;
  worker_sid: string;
  ttl: number;
}

/** One entry of `GET /demo/agents`. */
export interface DemoAgent {
  sid: string;
  friendly_name: string;
  full_name: string | null;
  activity_name: string;
}

/**
 * What `result.data` holds for an action. `ActionData` is untagged, so which of its shapes comes
 * back is known only from the action that was sent.
 */
export type ActionDataFor<A extends Action> = A extends { type: 'start_outbound_call' } | { type: 'transfer' }
  ? Extract<ActionData, { task_sid: string }>
  : A extends { type: 'directory_agents' }
    ? Extract<ActionData, { agents: unknown }>
    : A extends { type: 'directory_queues' }
      ? Extract<ActionData, { queues: unknown }>
      : A extends { type: 'media_offer' }
        ? Extract<ActionData, { sdp: string }>
        : Record<string, never>;
