// One WebSocket to /v1/Desktop (docs/desktop-protocol.md §2–5): the server pushes `state`,
// answers each request with one `result`, warns before the token expires (`token_expiring`), and
// ends the session with `closed` (or refuses it with `error`). Nothing here decides anything.
import type { Action, ActionData, CloseReason, DesktopState, ErrorBody, Request, ServerMessage } from './protocol';

export class ActionFailed extends Error {
  code: number;
  constructor(error: ErrorBody) {
    super(error.message);
    this.code = error.code;
  }
}

export interface SocketHandlers {
  onOpen(): void;
  onState(state: DesktopState): void;
  /** The session's token expires at `expiresAt` (ms since the epoch): send `update_token`. */
  onTokenExpiring(expiresAt: number): void;
  /** The server ended the session; the socket closes and must not be reopened with this token. */
  onClosed(reason: CloseReason): void;
  /** The server refused the session; the socket closes. */
  onRefused(error: ErrorBody): void;
  /** The connection dropped (not after `onClosed` or `onRefused`, nor after `close()`). */
  onClose(wasOpen: boolean): void;
}

export interface DesktopTransport {
  request(action: Action): Promise<ActionData>;
  close(): void;
}

export function desktopUrl(token: string, loc: Pick<Location, 'protocol' | 'host'> = window.location): string {
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${loc.host}/v1/Desktop?token=${encodeURIComponent(token)}`;
}

/** A frame from the server, or null when it is not a JSON object with a `type`. */
export function parseServerMessage(text: string): ServerMessage | null {
  try {
    const msg: unknown = JSON.parse(text);
    if (typeof msg !== 'object' || msg === null || typeof (msg as { type?: unknown }).type !== 'string') return null;
    return msg as ServerMessage;
  } catch {
    return null;
  }
}

export function openDesktopSocket(url: string, handlers: SocketHandlers): DesktopTransport {
  const ws = new WebSocket(url);
  let nextId = 1;
  let wasOpen = false;
  let closedByUs = false;
  // Set once the server said why it ends the session: the close that follows is not a drop.
  let ended = false;
  const pending = new Map<number, { resolve(v: ActionData): void; reject(e: Error): void }>();

  ws.onopen = () => {
    wasOpen = true;
    handlers.onOpen();
  };
  ws.onmessage = (ev) => {
    const msg = parseServerMessage(String(ev.data));
    if (!msg) return;
    switch (msg.type) {
      case 'state': {
        const { type: _type, ...state } = msg;
        handlers.onState(state);
        return;
      }
      case 'result': {
        if (msg.id === null) return; // a frame the server could not read: no request to answer
        const p = pending.get(msg.id);
        if (!p) return;
        pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.data ?? {});
        else p.reject(new ActionFailed(msg.error ?? { code: 0, message: 'unknown error' }));
        return;
      }
      case 'token_expiring':
        handlers.onTokenExpiring(msg.expires_at);
        return;
      case 'closed':
        ended = true;
        handlers.onClosed(msg.reason);
        return;
      case 'error':
        ended = true;
        handlers.onRefused(msg.error);
        return;
      default:
        return; // a message this desktop does not know yet
    }
  };
  ws.onclose = () => {
    for (const p of pending.values()) p.reject(new Error('the connection to Switchboard was lost'));
    pending.clear();
    if (!closedByUs && !ended) handlers.onClose(wasOpen);
  };

  return {
    request(action) {
      if (ws.readyState !== WebSocket.OPEN) {
        return Promise.reject(new Error('not connected to Switchboard'));
      }
      const id = nextId++;
      const request: Request = { ...action, id };
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        ws.send(JSON.stringify(request));
      });
    },
    close() {
      closedByUs = true;
      ws.close();
    },
  };
}
