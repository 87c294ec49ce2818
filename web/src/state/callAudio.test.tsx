// The call's audio through the whole desktop: a fake socket (the server's end) and fake browser
// media (getUserMedia, RTCPeerConnection). When the microphone is asked for, what happens without
// one, mute and hold acting at once, closing after the call, and the ICE restart after a reconnect.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../App';
import { SESSION_KEY, type OpenSocket } from './DesktopContext';
import { ActionFailed, type SocketHandlers } from './socket';
import type { Action, ActionData, AudioView, DesktopState, TaskView } from './protocol';
import type { Locale } from '../i18n/strings';
import { ALICE, call, desktopState, outboundTask, task } from '../../test/render';
import { FakePeerConnection, fakeMediaDevices, flush, mediaDeps } from '../../test/fakeMedia';

const MEDIA = { enabled: true, ice_servers: [{ urls: ['stun:relay.example:3478'], username: null, credential: null }] };
const CONNECTED: AudioView = { state: 'connected', detail: null, not_sending: false };

interface FakeSocket {
  handlers: SocketHandlers;
  sent: Action[];
  close: ReturnType<typeof vi.fn<() => void>>;
}

/** The server's end: answers actions with `reply` (media_offer with an SDP by default). */
function fakeServer() {
  const sockets: FakeSocket[] = [];
  const server = {
    sockets,
    reply: async (a: Action): Promise<ActionData> => {
      if (a.type === 'media_offer') return { sdp: `answer-to-${a.sdp}` };
      if (a.type === 'directory_agents') return { agents: [{ sid: 'WKb0b', friendly_name: 'bob', full_name: 'Bob Brown', activity_name: 'Available', available: true }] };
      if (a.type === 'start_outbound_call') return { task_sid: 'WT1' };
      return {};
    },
    open: ((_url, handlers) => {
      const s: FakeSocket = { handlers, sent: [], close: vi.fn<() => void>() };
      sockets.push(s);
      return {
        request: (a: Action) => {
          s.sent.push(a);
          return server.reply(a);
        },
        close: s.close,
      };
    }) as OpenSocket,
    last: () => sockets[sockets.length - 1],
    /** Every action sent on every socket. */
    sent: () => sockets.flatMap((s) => s.sent),
    push: (over: Partial<DesktopState>) => act(() => server.last().handlers.onState(desktopState({ media: MEDIA, ...over }))),
    connect: (over: Partial<DesktopState> = {}) =>
      act(() => {
        server.last().handlers.onOpen();
        server.last().handlers.onState(desktopState({ media: MEDIA, ...over }));
      }),
  };
  return server;
}

async function start(opts: { locale?: Locale; devices?: Partial<MediaDeviceInfo>[] } = {}) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token: 't', identity: 'alice', workerSid: ALICE, demo: true }));
  const server = fakeServer();
  const md = fakeMediaDevices(opts.devices);
  render(<App open={server.open} locale={opts.locale ?? 'en-US'} media={mediaDeps(md)} />);
  await act(() => flush()); // the device list
  return { server, md };
}

/** Clicks, then lets the desktop's audio work settle (microphone, offer, answer). */
async function click(name: string) {
  await userEvent.click(screen.getByRole('button', { name }));
  await act(() => flush(20));
}

const ringing = task({ reservation_status: 'pending', task_status: 'reserved', attributes: { name: 'Bob Brown' }, call: call('ringing') });
const live = (over: Partial<TaskView['call'] & object> = {}) => task({ attributes: { name: 'Bob Brown' }, call: call('connected', { call_sid: 'CA2', ...over }) });

beforeEach(() => {
  sessionStorage.clear();
  localStorage.clear();
  FakePeerConnection.all = [];
  vi.spyOn(HTMLMediaElement.prototype, 'play').mockImplementation(async () => {});
});
afterEach(() => {
  vi.restoreAllMocks();
  sessionStorage.clear();
});

describe('the microphone is asked for only when a call needs it', () => {
  it('not on sign-in; on Accept, before the accept is sent', async () => {
    const { server, md } = await start();
    await server.connect({ tasks: [ringing] });
    expect(md.getUserMedia).not.toHaveBeenCalled();
    expect(FakePeerConnection.all).toHaveLength(0);
    let acceptSeenWithMic = false;
    const reply = server.reply;
    server.reply = async (a) => {
      if (a.type === 'accept') acceptSeenWithMic = md.getUserMedia.mock.calls.length === 1;
      return reply(a);
    };
    await click('Accept');
    await waitFor(() => expect(server.sent()).toContainEqual({ type: 'accept', reservation_sid: 'WR1' }));
    expect(acceptSeenWithMic).toBe(true);
    // The browser's voice processing is left on in the product.
    expect(md.getUserMedia).toHaveBeenCalledWith({ audio: true });
    // Audio is wanted from the Accept on: the offer goes out before the server shows the call.
    await waitFor(() => expect(server.sent().filter((a) => a.type === 'media_offer')).toHaveLength(1));
    expect(FakePeerConnection.last().config.iceServers).toEqual([{ urls: ['stun:relay.example:3478'] }]);
  });

  it('when placing a call, before start_outbound_call', async () => {
    const { server, md } = await start();
    await server.connect();
    let micBeforeCall = false;
    const reply = server.reply;
    server.reply = async (a) => {
      if (a.type === 'start_outbound_call') micBeforeCall = md.getUserMedia.mock.calls.length === 1;
      return reply(a);
    };
    const input = screen.getByLabelText('Select an agent', { selector: 'input' });
    fireEvent.focus(input);
    fireEvent.change(input, { target: { value: 'bob' } });
    fireEvent.click(await screen.findByRole('option', { name: /Bob Brown/ }));
    await waitFor(() => expect(screen.getByRole('tabpanel').querySelector('button')!.disabled).toBe(false));
    expect(md.getUserMedia).not.toHaveBeenCalled(); // searching the directory needs no microphone
    await userEvent.click(screen.getByRole('tabpanel').querySelector('button')!);
    await act(() => flush(20));
    await waitFor(() => expect(server.sent().some((a) => a.type === 'start_outbound_call')).toBe(true));
    expect(micBeforeCall).toBe(true);
    await waitFor(() => expect(server.sent().some((a) => a.type === 'media_offer')).toBe(true));
  });

  it('answering a direct ring too', async () => {
    const { server, md } = await start();
    await server.connect({ incoming_calls: [{ call_sid: 'CA9', from: 'Carol', status: 'ringing' }] });
    await click('Accept');
    await waitFor(() => expect(server.sent()).toContainEqual({ type: 'answer_call', call_sid: 'CA9' }));
    expect(md.getUserMedia).toHaveBeenCalledTimes(1);
  });

  it('not at all when the server relays no audio', async () => {
    const { server, md } = await start();
    await act(() => {
      server.last().handlers.onOpen();
      server.last().handlers.onState(desktopState({ tasks: [ringing], media: { enabled: false, ice_servers: [] } }));
    });
    await click('Accept');
    await waitFor(() => expect(server.sent()).toContainEqual({ type: 'accept', reservation_sid: 'WR1' }));
    expect(md.getUserMedia).not.toHaveBeenCalled();
    expect(screen.getByText('This Switchboard relays no audio: calls connect without sound.')).toBeTruthy();
  });
});

describe('without a microphone', () => {
  it.each([
    ['NotAllowedError', /Switchboard may not use your microphone.*Allow the microphone for this site/],
    ['NotFoundError', /No microphone found\. Connect a microphone or headset/],
    ['NotReadableError', /another application may be using it/],
  ])('%s: the call is not taken, and the agent is told what to do', async (name, text) => {
    const { server, md } = await start();
    md.fail = { name };
    await server.connect({ tasks: [ringing] });
    await click('Accept');
    expect(await screen.findByText(text)).toBeTruthy();
    expect(server.sent().some((a) => a.type === 'accept' || a.type === 'media_offer')).toBe(false);
    expect(FakePeerConnection.all).toHaveLength(0);
    // Dismissed, it goes; the call still rings, to try again.
    await click('Dismiss');
    expect(screen.queryByText(text)).toBeNull();
    expect(screen.getByRole('button', { name: 'Accept' })).toBeTruthy();
  });

  it('says so in every language', async () => {
    const { server, md } = await start({ locale: 'zh-Hans' });
    md.fail = { name: 'NotFoundError' };
    await server.connect({ tasks: [ringing] });
    await click('接听');
    expect(await screen.findByText('未找到麦克风。请连接麦克风或耳机，在“音频”中选择它，然后重试。')).toBeTruthy();
  });
});

describe('during a call', () => {
  /** A live call with its connection up on both sides. */
  async function inCall(over: Partial<TaskView['call'] & object> = {}) {
    const s = await start();
    await s.server.connect({ tasks: [live(over)] });
    await act(() => flush());
    const pc = FakePeerConnection.last();
    await act(() => pc.become('connected'));
    await s.server.push({ tasks: [live(over)], audio: CONNECTED });
    return { ...s, pc, track: () => s.md.streams[0].track };
  }

  it('shows the audio connecting, then connected once the browser and the server agree', async () => {
    const { server, md } = await start();
    await server.connect({ tasks: [live()] });
    await act(() => flush());
    expect(md.getUserMedia).toHaveBeenCalledTimes(1); // a reload during a call: audio again
    expect(screen.getByText('Connecting audio…')).toBeTruthy();
    await act(() => FakePeerConnection.last().become('connected'));
    expect(screen.getByText('Connecting audio…')).toBeTruthy();
    await server.push({ tasks: [live()], audio: CONNECTED });
    expect(screen.getByText('Audio connected')).toBeTruthy();
    expect(screen.getByTestId('microphone-level')).toBeTruthy();
  });

  it('Mute disables the microphone at once, before the server confirms; a refusal undoes it', async () => {
    const { server, track } = await inCall();
    let refuse: (e: Error) => void = () => {};
    server.reply = (a) => (a.type === 'mute' ? new Promise((_, reject) => (refuse = reject)) : Promise.resolve({}));
    await click('Mute');
    expect(track().enabled).toBe(false);
    expect(screen.getByRole('button', { name: 'Unmute' })).toBeTruthy();
    expect(screen.getByText('Muted')).toBeTruthy();
    await act(async () => refuse(new ActionFailed({ code: 20001, message: 'no' })));
    expect(track().enabled).toBe(true);
    expect(screen.getByRole('button', { name: 'Mute' })).toBeTruthy();
  });

  it('Mute stays once the server shows it, and Unmute sends the microphone again', async () => {
    const { server, track } = await inCall();
    await click('Mute');
    await server.push({ tasks: [live({ muted: true })], audio: CONNECTED });
    expect(track().enabled).toBe(false);
    await click('Unmute');
    expect(track().enabled).toBe(true);
  });

  it('Hold silences the far end and the microphone at once', async () => {
    await inCall();
    const audio = screen.getByTestId('call-audio') as HTMLAudioElement;
    await click('Hold');
    expect(audio.muted).toBe(true);
    expect(screen.getByRole('button', { name: 'Resume' })).toBeTruthy();
    await click('Resume');
    expect(audio.muted).toBe(false);
  });

  it('plays the far end in the audio element', async () => {
    const { pc } = await inCall();
    const stream = await act(async () => pc.remoteTrack());
    expect((screen.getByTestId('call-audio') as HTMLAudioElement & { srcObject: unknown }).srcObject).toBe(stream);
  });

  it('warns when the server hears nothing from the microphone (not when muted)', async () => {
    const { server } = await inCall();
    await server.push({ tasks: [live()], audio: { ...CONNECTED, not_sending: true } });
    expect(screen.getByText(/Switchboard hears nothing from your microphone/)).toBeTruthy();
    await server.push({ tasks: [live({ muted: true })], audio: { ...CONNECTED, not_sending: true } });
    expect(screen.queryByText(/Switchboard hears nothing from your microphone/)).toBeNull();
  });

  it('says why the audio failed, with the server’s reason, and reconnects on request', async () => {
    const { server } = await inCall();
    await server.push({ tasks: [live()], audio: { state: 'failed', detail: 'the browser never connected', not_sending: false } });
    expect(screen.getByText('No audio')).toBeTruthy();
    expect(screen.getByText('Switchboard dropped the call’s audio.')).toBeTruthy();
    expect(screen.getByTestId('call-audio-detail').textContent).toBe('the browser never connected');
    await click('Reconnect audio');
    expect(FakePeerConnection.all).toHaveLength(2);
  });

  it('ICE-restarts the same connection when the socket reconnects', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const { server, pc } = await inCall();
      act(() => server.last().handlers.onClose(true));
      expect(screen.getByText('Audio reconnecting…')).toBeTruthy();
      await act(async () => vi.advanceTimersByTime(600));
      expect(server.sockets).toHaveLength(2);
      await server.connect({ tasks: [live()], audio: CONNECTED });
      await act(() => flush());
      expect(server.last().sent.filter((a) => a.type === 'media_offer')).toEqual([
        { type: 'media_offer', sdp: 'offer-2-restart', restart: true },
      ]);
      expect(FakePeerConnection.all).toHaveLength(1);
      expect(pc.closed).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('closes when the call ends: media_close, pc.close(), the microphone stopped', async () => {
    const { server, pc, track } = await inCall();
    await server.push({ tasks: [live({ state: 'ended' })], audio: CONNECTED });
    expect(pc.closed).toBe(true);
    expect(track().readyState).toBe('ended');
    expect(server.sent()[server.sent().length - 1]).toEqual({ type: 'media_close' });
    expect(screen.queryByTestId('call-audio-status')).toBeNull();
  });

  it('keeps the connection while the outbound call rings (the caller hears the hold music)', async () => {
    const { server } = await start();
    await server.connect({ tasks: [outboundTask(call('ringing'))] });
    await act(() => flush());
    expect(FakePeerConnection.all).toHaveLength(1);
    expect(server.sent().filter((a) => a.type === 'media_offer')).toHaveLength(1);
  });
});

describe('devices', () => {
  it('chooses the microphone and keeps the choice', async () => {
    const { server, md } = await start({
      devices: [
        { kind: 'audioinput', deviceId: 'mic-1', label: 'Headset' },
        { kind: 'audioinput', deviceId: 'mic-2', label: '' },
      ],
    });
    await server.connect({ tasks: [ringing] });
    const select = screen.getByLabelText('Microphone') as HTMLSelectElement;
    expect([...select.options].map((o) => o.textContent)).toEqual(['System default', 'Headset', 'Microphone 2']);
    await userEvent.selectOptions(select, 'mic-1');
    expect(localStorage.getItem('switchboard.audio.input')).toBe('mic-1');
    await click('Accept');
    expect(md.getUserMedia).toHaveBeenCalledWith({ audio: { deviceId: { exact: 'mic-1' } } });
  });
});
