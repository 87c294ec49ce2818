// One WebSocket to /v1/Desktop: pushes `state`, answers each action with one `result`.
import type { ActionError, DesktopAction, DesktopState } from './protocol';

export class ActionFailed extends Error {
  code: number;
  constructor(error: ActionError) {
    super(error.message);
    this.code = error.code;
  }
}

export interface SocketHandlers {
  onOpen(): void;
  onState(state: DesktopState): void;
  onClose(wasOpen: boolean): void;
}

export interface DesktopTransport {
  request(action: DesktopAction): Promise<unknown>;
  close(): void;
}

export function desktopUrl(token: string, loc: Pick<Location, 'protocol' | 'host'> = window.location): string {
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${loc.host}/v1/Desktop?token=${encodeURIComponent(token)}`;
}

export function openDesktopSocket(url: string, handlers: SocketHandlers): DesktopTransport {
  const ws = new WebSocket(url);
  let nextId = 1;
  let wasOpen = false;
  let closed = false;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  ws.onopen = () => {
    wasOpen = true;
    handlers.onOpen();
  };
  ws.onmessage = (ev) => {
    let msg: { type?: string; id?: unknown; ok?: boolean; data?: unknown; error?: ActionError };
    try {
      msg = JSON.parse(String(ev.data));
    } catch {
      return;
    }
    if (msg.type === 'state') {
      handlers.onState(msg as unknown as DesktopState);
    } else if (msg.type === 'result' && typeof msg.id === 'number') {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.data ?? {});
      else p.reject(new ActionFailed(msg.error ?? { code: 0, message: 'unknown error' }));
    }
  };
  ws.onclose = () => {
    for (const p of pending.values()) p.reject(new Error('the connection to Switchboard was lost'));
    pending.clear();
    if (!closed) handlers.onClose(wasOpen);
  };

  return {
    request(action) {
      if (ws.readyState !== WebSocket.OPEN) {
        return Promise.reject(new Error('not connected to Switchboard'));
      }
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        ws.send(JSON.stringify({ ...action, id }));
      });
    },
    close() {
      closed = true;
      ws.close();
    },
  };
}
