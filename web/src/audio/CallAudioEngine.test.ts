import { beforeEach, describe, expect, it, vi } from 'vitest';
import { CallAudioEngine, UNUSED_MICROPHONE_MS, type EngineEvent } from './CallAudioEngine';
import { ActionFailed } from '../state/socket';
import type { Action, ActionData } from '../state/protocol';
import { FakePeerConnection, fakeAudioElement, fakeMediaDevices, flush, mediaDeps } from '../../test/fakeMedia';

function setup(opts: { processing?: boolean; devices?: Partial<MediaDeviceInfo>[]; iceTransportPolicy?: RTCIceTransportPolicy } = {}) {
  const md = fakeMediaDevices(opts.devices);
  const events: EngineEvent[] = [];
  const signalled: Action[] = [];
  let answer: (a: Action) => Promise<ActionData> = async (a): Promise<ActionData> => (a.type === "media_offer" ? { sdp: `answer-to-${a.sdp}` } : {});
  const engine = new CallAudioEngine({
    ...mediaDeps(md),
    processing: opts.processing ?? true,
    ...(opts.iceTransportPolicy ? { iceTransportPolicy: opts.iceTransportPolicy } : {}),
    signal: (a) => {
      signalled.push(a);
      return answer(a);
    },
    onEvent: (e) => events.push(e),
  });
  const el = fakeAudioElement();
  engine.attachElement(el as unknown as HTMLAudioElement);
  return {
    md,
    engine,
    el,
    events,
    signalled,
    answerWith(f: typeof answer) {
      answer = f;
    },
    offers: () => signalled.filter((a): a is Extract<Action, { type: 'media_offer' }> => a.type === 'media_offer'),
    last: <T extends EngineEvent['type']>(type: T) => [...events].reverse().find((e) => e.type === type) as Extract<EngineEvent, { type: T }> | undefined,
  };
}

/** Audio wanted with the socket open: the microphone, one connection, one offer, the answer. */
async function connected(s: ReturnType<typeof setup>) {
  s.engine.setSocketOpen(true);
  s.engine.setWanted(true);
  await flush();
  return FakePeerConnection.last();
}

beforeEach(() => {
  FakePeerConnection.all = [];
});

describe('CallAudioEngine', () => {
  it('opens one connection with the microphone on a sendrecv transceiver, offers, and applies the answer', async () => {
    const s = setup();
    s.engine.setIceServers([{ urls: ['turn:t:3478'], username: 'u', credential: 'p' }]);
    const pc = await connected(s);
    expect(FakePeerConnection.all).toHaveLength(1);
    expect(pc.config).toEqual({ iceServers: [{ urls: ['turn:t:3478'], username: 'u', credential: 'p' }] });
    expect(s.md.getUserMedia).toHaveBeenCalledWith({ audio: true });
    expect(pc.transceivers).toHaveLength(1);
    expect(pc.transceivers[0].init?.direction).toBe('sendrecv');
    expect(pc.senders[0].track).toBe(s.md.streams[0].track);
    expect(s.offers()).toEqual([{ type: 'media_offer', sdp: 'offer-1', restart: false }]);
    expect(pc.remoteDescription).toEqual({ type: 'answer', sdp: 'answer-to-offer-1' });
    expect(s.last('mic')?.status).toBe('on');
    expect(s.last('offer-error')?.message).toBeNull();
  });

  it('uses relay candidates only when told to (the audio test mode’s ice-transport-policy=relay)', async () => {
    const s = setup({ iceTransportPolicy: 'relay' });
    s.engine.setIceServers([{ urls: ['turn:t:3478'], username: 'u', credential: 'p' }]);
    const pc = await connected(s);
    expect(pc.config).toEqual({ iceServers: [{ urls: ['turn:t:3478'], username: 'u', credential: 'p' }], iceTransportPolicy: 'relay' });
  });

  it('asks for raw audio when voice processing is off (the audio test mode)', async () => {
    const s = setup({ processing: false });
    await connected(s);
    expect(s.md.getUserMedia).toHaveBeenCalledWith({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  });

  it('plays the remote track in the audio element', async () => {
    const s = setup();
    const pc = await connected(s);
    const remote = pc.remoteTrack();
    expect(s.el.srcObject).toBe(remote);
    expect(s.el.play).toHaveBeenCalled();
    expect(s.engine.remoteStream()).toBe(remote);
  });

  it('says when the browser blocks playback, and plays on request', async () => {
    const s = setup();
    s.el.play.mockRejectedValueOnce(Object.assign(new Error('no gesture'), { name: 'NotAllowedError' }));
    const pc = await connected(s);
    pc.remoteTrack();
    await flush();
    expect(s.last('playback-blocked')?.blocked).toBe(true);
    s.engine.resumePlayback();
    await flush();
    expect(s.last('playback-blocked')?.blocked).toBe(false);
  });

  it('mutes and holds locally at once: the track is disabled, the far end silenced', async () => {
    const s = setup();
    await connected(s);
    const track = s.md.streams[0].track;
    s.engine.setSending(false);
    expect(track.enabled).toBe(false);
    s.engine.setPlaying(false);
    expect(s.el.muted).toBe(true);
    s.engine.setSending(true);
    s.engine.setPlaying(true);
    expect(track.enabled).toBe(true);
    expect(s.el.muted).toBe(false);
  });

  it('a microphone taken while muted starts disabled', async () => {
    const s = setup();
    s.engine.setSending(false);
    await connected(s);
    expect(s.md.streams[0].track.enabled).toBe(false);
  });

  it('waits for the socket before offering', async () => {
    const s = setup();
    s.engine.setWanted(true);
    await flush();
    expect(s.offers()).toHaveLength(0);
    s.engine.setSocketOpen(true);
    await flush();
    expect(s.offers()).toEqual([{ type: 'media_offer', sdp: 'offer-1', restart: false }]);
  });

  it('ICE-restarts the same connection after the socket reconnects', async () => {
    const s = setup();
    const pc = await connected(s);
    s.engine.setSocketOpen(false);
    s.engine.setSocketOpen(true);
    await flush();
    expect(FakePeerConnection.all).toHaveLength(1);
    expect(pc.offers[1]).toEqual({ iceRestart: true });
    expect(s.offers()[1]).toEqual({ type: 'media_offer', sdp: 'offer-2-restart', restart: true });
    expect(pc.remoteDescription?.sdp).toBe('answer-to-offer-2-restart');
    expect(s.signalled.some((a) => a.type === 'media_close')).toBe(false);
  });

  it('offers afresh after a reconnect when the first offer was lost with the socket', async () => {
    const s = setup();
    s.answerWith(async () => {
      throw new Error('the connection to Switchboard was lost');
    });
    const pc = await connected(s);
    s.engine.setSocketOpen(false);
    s.answerWith(async (a): Promise<ActionData> => (a.type === "media_offer" ? { sdp: "answer" } : {}));
    s.engine.setSocketOpen(true);
    await flush();
    expect(s.offers().map((o) => o.restart)).toEqual([false, false]);
    expect(pc.remoteDescription?.sdp).toBe('answer');
    expect(s.last('offer-error')?.message).toBeNull();
  });

  it('starts a new connection when the server cannot restart the old one', async () => {
    const s = setup();
    const first = await connected(s);
    s.answerWith(async (a) => {
      if (a.type === 'media_offer' && a.restart) throw new ActionFailed({ code: 20001, message: 'no such peer' });
      return { sdp: 'answer-2' };
    });
    s.engine.setSocketOpen(false);
    s.engine.setSocketOpen(true);
    await flush(20);
    expect(first.closed).toBe(true);
    expect(FakePeerConnection.all).toHaveLength(2);
    expect(s.offers().map((o) => o.restart)).toEqual([false, true, false]);
    expect(FakePeerConnection.last().senders[0].track).toBe(s.md.streams[0].track); // same microphone
  });

  it('says when the server refuses the offer', async () => {
    const s = setup();
    s.answerWith(async () => {
      throw new ActionFailed({ code: 20001, message: 'media_offer cannot be taken: this server relays no audio' });
    });
    await connected(s);
    expect(s.last('offer-error')?.message).toBe('media_offer cannot be taken: this server relays no audio');
  });

  it('a failed connection is ICE-restarted, then replaced, then left to the agent', async () => {
    const s = setup();
    const pc = await connected(s);
    pc.become('failed');
    await flush();
    expect(s.offers().map((o) => o.restart)).toEqual([false, true]);
    pc.become('failed');
    await flush(20);
    expect(FakePeerConnection.all).toHaveLength(2);
    FakePeerConnection.last().become('failed');
    await flush(20);
    expect(FakePeerConnection.all).toHaveLength(2);
    expect(s.last('peer')?.status).toBe('failed');
    s.engine.reconnect();
    await flush(20);
    expect(FakePeerConnection.all).toHaveLength(3);
  });

  it('closes everything when no call needs audio: media_close, pc.close(), the microphone stopped', async () => {
    const s = setup();
    const pc = await connected(s);
    pc.remoteTrack();
    s.engine.setWanted(false);
    expect(pc.closed).toBe(true);
    expect(s.signalled[s.signalled.length - 1]).toEqual({ type: 'media_close' });
    expect(s.md.streams[0].track.readyState).toBe('ended');
    expect(s.el.srcObject).toBeNull();
    expect(s.last('peer')?.status).toBe('none');
    expect(s.last('mic')?.status).toBe('off');
  });

  it('tells the server once the socket is back when it closed while the socket was down', async () => {
    const s = setup();
    await connected(s);
    s.engine.setSocketOpen(false);
    s.engine.setWanted(false);
    expect(s.signalled.some((a) => a.type === 'media_close')).toBe(false);
    s.engine.setSocketOpen(true);
    expect(s.signalled[s.signalled.length - 1]).toEqual({ type: 'media_close' });
  });

  it('says why there is no microphone, and still connects to hear the call (a reload during a call)', async () => {
    const s = setup();
    s.md.fail = { name: 'NotAllowedError', message: 'Permission denied' };
    const pc = await connected(s);
    expect(s.last('mic')).toEqual({ type: 'mic', status: 'denied', detail: 'Permission denied' });
    expect(pc.transceivers[0].trackOrKind).toBe('audio');
    expect(s.offers()).toHaveLength(1);
  });

  it('without getUserMedia (not a secure page) says so', async () => {
    const events: EngineEvent[] = [];
    const engine = new CallAudioEngine({
      mediaDevices: undefined,
      createPeerConnection: () => {
        throw new Error('unused');
      },
      createAudioContext: () => null,
      processing: true,
      signal: async () => ({}),
      onEvent: (e) => events.push(e),
    });
    expect(await engine.acquireMicrophone()).toBe(false);
    expect(events).toEqual([{ type: 'mic', status: 'insecure', detail: null }]);
  });

  it('asks for the microphone once while asking', async () => {
    const s = setup();
    const [a, b] = await Promise.all([s.engine.acquireMicrophone(), s.engine.acquireMicrophone()]);
    expect([a, b]).toEqual([true, true]);
    expect(s.md.getUserMedia).toHaveBeenCalledTimes(1);
  });

  it('releases a microphone taken for a call that never needed audio', async () => {
    vi.useFakeTimers();
    try {
      const s = setup();
      await s.engine.acquireMicrophone();
      vi.advanceTimersByTime(UNUSED_MICROPHONE_MS);
      expect(s.md.streams[0].track.readyState).toBe('ended');
    } finally {
      vi.useRealTimers();
    }
  });

  it('switches microphones during a call on the same sender', async () => {
    const s = setup();
    const pc = await connected(s);
    await s.engine.setInput('mic-2');
    expect(s.md.getUserMedia).toHaveBeenLastCalledWith({ audio: { deviceId: { exact: 'mic-2' } } });
    expect(pc.senders[0].replaceTrack).toHaveBeenCalledWith(s.md.streams[1].track);
    expect(s.md.streams[0].track.readyState).toBe('ended');
    expect(FakePeerConnection.all).toHaveLength(1);
  });

  it('falls back to the default microphone when the chosen one is gone', async () => {
    const s = setup();
    s.md.failDevice = 'gone-mic';
    await s.engine.setInput('gone-mic');
    await connected(s);
    expect(s.md.getUserMedia.mock.calls.map(([c]) => c)).toEqual([{ audio: { deviceId: { exact: 'gone-mic' } } }, { audio: true }]);
    expect(s.last('mic')?.status).toBe('on');
  });

  it('plays on the chosen speaker', async () => {
    const s = setup();
    await s.engine.setOutput('spk-2');
    expect(s.el.setSinkId).toHaveBeenCalledWith('spk-2');
  });

  it('lists microphones and speakers, without the system’s own entries', async () => {
    const s = setup({
      devices: [
        { kind: 'audioinput', deviceId: 'default', label: 'Default' },
        { kind: 'audioinput', deviceId: 'mic-1', label: 'Headset' },
        { kind: 'audioinput', deviceId: '', label: '' },
        { kind: 'audiooutput', deviceId: 'spk-1', label: 'Speakers' },
        { kind: 'videoinput', deviceId: 'cam', label: 'Camera' },
      ],
    });
    s.engine.start();
    await flush();
    const devices = s.last('devices');
    expect(devices?.inputs).toEqual([{ id: 'mic-1', label: 'Headset' }]);
    expect(devices?.outputs).toEqual(devices?.canChooseOutput ? [{ id: 'spk-1', label: 'Speakers' }] : []);
    s.engine.dispose();
    expect(s.md.removeEventListener).toHaveBeenCalledWith('devicechange', expect.any(Function));
  });

  it('ignores an answer to an offer made before it closed', async () => {
    const s = setup();
    let release: (d: ActionData) => void = () => {};
    s.answerWith((a) => (a.type === 'media_offer' ? new Promise((r) => (release = r)) : Promise.resolve({})));
    s.engine.setSocketOpen(true);
    s.engine.setWanted(true);
    await flush();
    const pc = FakePeerConnection.last();
    s.engine.setWanted(false);
    release({ sdp: 'late' });
    await flush();
    expect(pc.remoteDescription).toBeNull();
  });
});


describe('CallAudioEngine with another tab', () => {
  it('does not take the audio back by itself when the server says it is connected elsewhere', async () => {
    FakePeerConnection.all = [];
    const s = setup();
    const pc = await connected(s);
    s.engine.setServerConnected(true);
    pc.become('failed');
    await flush(20);
    expect(s.offers()).toHaveLength(1);
    expect(FakePeerConnection.all).toHaveLength(1);
  });
});
