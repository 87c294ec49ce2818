import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ActionFailed, desktopUrl, openDesktopSocket, parseServerMessage, type SocketHandlers } from './socket';
import { desktopState } from '../../test/render';

/** Just enough of a browser WebSocket: the test opens it, pushes frames and drops it. */
class FakeWebSocket {
  static readonly OPEN = 1;
  static last: FakeWebSocket;
  readyState = 0;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeWebSocket.last = this;
  }
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.drop();
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  push(msg: unknown) {
    this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) });
  }
  drop() {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.();
  }
}

function handlers() {
  return {
    onOpen: vi.fn<SocketHandlers['onOpen']>(),
    onState: vi.fn<SocketHandlers['onState']>(),
    onTokenExpiring: vi.fn<SocketHandlers['onTokenExpiring']>(),
    onClosed: vi.fn<SocketHandlers['onClosed']>(),
    onRefused: vi.fn<SocketHandlers['onRefused']>(),
    onClose: vi.fn<SocketHandlers['onClose']>(),
  };
}

beforeEach(() => vi.stubGlobal('WebSocket', FakeWebSocket));
afterEach(() => vi.unstubAllGlobals());

describe('openDesktopSocket', () => {
  it('hands each pushed state over whole, without its type tag', () => {
    const h = handlers();
    openDesktopSocket('ws://x/v1/Desktop?token=t', h);
    const ws = FakeWebSocket.last;
    ws.open();
    expect(h.onOpen).toHaveBeenCalled();
    ws.push({ type: 'state', ...desktopState() });
    expect(h.onState).toHaveBeenCalledWith(desktopState());
  });

  it('sends requests with an id and settles each with its result', async () => {
    const h = handlers();
    const t = openDesktopSocket('ws://x', h);
    const ws = FakeWebSocket.last;
    ws.open();
    const placed = t.request({ type: 'start_outbound_call', destination: 'client:bob' });
    const refused = t.request({ type: 'accept', reservation_sid: 'WR1' });
    expect(ws.sent).toEqual([
      { type: 'start_outbound_call', destination: 'client:bob', id: 1 },
      { type: 'accept', reservation_sid: 'WR1', id: 2 },
    ]);
    ws.push({ type: 'result', id: null, ok: false, error: { code: 20001, message: 'messages must be JSON objects' } });
    ws.push({ type: 'result', id: 2, ok: false, error: { code: 20001, message: 'reservation_sid is accepted, not pending' } });
    ws.push({ type: 'result', id: 1, ok: true, data: { task_sid: 'WT1' } });
    await expect(placed).resolves.toEqual({ task_sid: 'WT1' });
    const err = await refused.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActionFailed);
    expect((err as ActionFailed).code).toBe(20001);
    expect((err as ActionFailed).message).toBe('reservation_sid is accepted, not pending');
  });

  it('resolves an action without data with {}', async () => {
    const t = openDesktopSocket('ws://x', handlers());
    const ws = FakeWebSocket.last;
    ws.open();
    const p = t.request({ type: 'update_token', token: 'fresh' });
    expect(ws.sent).toEqual([{ type: 'update_token', token: 'fresh', id: 1 }]);
    ws.push({ type: 'result', id: 1, ok: true });
    await expect(p).resolves.toEqual({});
  });

  it('passes on token_expiring', () => {
    const h = handlers();
    openDesktopSocket('ws://x', h);
    FakeWebSocket.last.open();
    FakeWebSocket.last.push({ type: 'token_expiring', expires_at: 1_718_000_060_000 });
    expect(h.onTokenExpiring).toHaveBeenCalledWith(1_718_000_060_000);
  });

  it('reports closed with its reason, and the close after it is not a drop', async () => {
    const h = handlers();
    const t = openDesktopSocket('ws://x', h);
    const ws = FakeWebSocket.last;
    ws.open();
    const pending = t.request({ type: 'directory_agents', query: '' });
    ws.push({ type: 'closed', reason: 'token_expired' });
    ws.drop();
    expect(h.onClosed).toHaveBeenCalledWith('token_expired');
    expect(h.onClose).not.toHaveBeenCalled();
    await expect(pending).rejects.toThrow(/lost/);
  });

  it('reports a refused session, and the close after it is not a drop', () => {
    const h = handlers();
    openDesktopSocket('ws://x', h);
    const ws = FakeWebSocket.last;
    ws.open();
    ws.push({ type: 'error', error: { code: 20001, message: 'this agent already has 8 sessions' } });
    ws.drop();
    expect(h.onRefused).toHaveBeenCalledWith({ code: 20001, message: 'this agent already has 8 sessions' });
    expect(h.onClose).not.toHaveBeenCalled();
  });

  it('reports a drop, and whether the socket had opened', () => {
    const before = handlers();
    openDesktopSocket('ws://x', before);
    FakeWebSocket.last.drop();
    expect(before.onClose).toHaveBeenCalledWith(false);
    const after = handlers();
    openDesktopSocket('ws://x', after);
    FakeWebSocket.last.open();
    FakeWebSocket.last.drop();
    expect(after.onClose).toHaveBeenCalledWith(true);
  });

  it('says nothing when the desktop closes it itself', () => {
    const h = handlers();
    const t = openDesktopSocket('ws://x', h);
    FakeWebSocket.last.open();
    t.close();
    expect(h.onClose).not.toHaveBeenCalled();
  });

  it('refuses to send before the socket is open', async () => {
    const t = openDesktopSocket('ws://x', handlers());
    await expect(t.request({ type: 'hangup', task_sid: 'WT1' })).rejects.toThrow(/not connected/);
  });

  it('ignores frames it cannot read and messages it does not know', () => {
    const h = handlers();
    openDesktopSocket('ws://x', h);
    const ws = FakeWebSocket.last;
    ws.open();
    ws.push('not json');
    ws.push({ type: 'something_new', x: 1 });
    expect(h.onClosed).not.toHaveBeenCalled();
    expect(h.onRefused).not.toHaveBeenCalled();
    expect(h.onTokenExpiring).not.toHaveBeenCalled();
  });
});

describe('parseServerMessage', () => {
  it('reads JSON objects with a type', () => {
    expect(parseServerMessage('{"type":"closed","reason":"shutdown"}')).toEqual({ type: 'closed', reason: 'shutdown' });
    expect(parseServerMessage('[1]')).toBeNull();
    expect(parseServerMessage('null')).toBeNull();
    expect(parseServerMessage('{"reason":"shutdown"}')).toBeNull();
    expect(parseServerMessage('{')).toBeNull();
  });
});

it('builds the socket address from the page’s', () => {
  expect(desktopUrl('a.b+c', { protocol: 'https:', host: 'sb.example:8443' })).toBe('wss://sb.example:8443/v1/Desktop?token=a.b%2Bc');
  expect(desktopUrl('t', { protocol: 'http:', host: '127.0.0.1:3000' })).toBe('ws://127.0.0.1:3000/v1/Desktop?token=t');
});
