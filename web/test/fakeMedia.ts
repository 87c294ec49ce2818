// Fake browser media for tests: microphones (getUserMedia), RTCPeerConnection, the audio element.
import { vi } from 'vitest';

let ids = 0;

export class FakeTrack {
  kind = 'audio' as const;
  enabled = true;
  readyState: MediaStreamTrackState = 'live';
  constructor(public label = 'Fake microphone') {}
  stop() {
    this.readyState = 'ended';
  }
  addEventListener() {}
  removeEventListener() {}
}

export class FakeStream {
  id = `stream-${++ids}`;
  constructor(public track: FakeTrack = new FakeTrack()) {}
  getAudioTracks() {
    return [this.track];
  }
  getTracks() {
    return [this.track];
  }
}

/** getUserMedia hands out a new FakeStream per call unless `fail` says why not. */
export function fakeMediaDevices(devices: Partial<MediaDeviceInfo>[] = []) {
  const md = {
    streams: [] as FakeStream[],
    fail: null as null | { name: string; message?: string },
    /** Fails only when this device is asked for exactly. */
    failDevice: null as null | string,
    getUserMedia: vi.fn(async (c: MediaStreamConstraints) => {
      const audio = c.audio as MediaTrackConstraints | true;
      const exact = audio !== true && audio && (audio.deviceId as { exact?: string } | undefined)?.exact;
      if (md.fail) throw Object.assign(new Error(md.fail.message ?? md.fail.name), { name: md.fail.name });
      if (md.failDevice && exact === md.failDevice) throw Object.assign(new Error('gone'), { name: 'OverconstrainedError' });
      const s = new FakeStream();
      md.streams.push(s);
      return s as unknown as MediaStream;
    }),
    enumerateDevices: vi.fn(async () => devices as MediaDeviceInfo[]),
    addEventListener: vi.fn(),
    removeEventListener: vi.fn(),
  };
  return md;
}

export class FakePeerConnection {
  static all: FakePeerConnection[] = [];
  static last() {
    return FakePeerConnection.all[FakePeerConnection.all.length - 1];
  }
  connectionState: RTCPeerConnectionState = 'new';
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  senders: { track: FakeTrack | null; replaceTrack: ReturnType<typeof vi.fn> }[] = [];
  transceivers: { trackOrKind: unknown; init: RTCRtpTransceiverInit | undefined }[] = [];
  offers: (RTCOfferOptions | undefined)[] = [];
  ontrack: ((e: { streams: unknown[]; track: unknown }) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  closed = false;
  /** setRemoteDescription throws this, when set. */
  refuseAnswer: Error | null = null;
  constructor(public config: RTCConfiguration) {
    FakePeerConnection.all.push(this);
  }
  addTransceiver(trackOrKind: unknown, init?: RTCRtpTransceiverInit) {
    const sender = {
      track: typeof trackOrKind === 'string' ? null : (trackOrKind as FakeTrack),
      replaceTrack: vi.fn(async (t: FakeTrack | null) => {
        sender.track = t;
      }),
    };
    this.senders.push(sender);
    this.transceivers.push({ trackOrKind, init });
    return { sender };
  }
  async createOffer(opts?: RTCOfferOptions) {
    this.offers.push(opts);
    return { type: 'offer', sdp: `offer-${this.offers.length}${opts?.iceRestart ? '-restart' : ''}` };
  }
  async setLocalDescription(d: { type: string; sdp: string }) {
    this.localDescription = d;
  }
  async setRemoteDescription(d: { type: string; sdp: string }) {
    if (this.refuseAnswer) throw this.refuseAnswer;
    this.remoteDescription = d;
  }
  close() {
    this.closed = true;
    this.connectionState = 'closed';
  }
  /** The connection's state changes, as the browser would report it. */
  become(state: RTCPeerConnectionState) {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }
  /** The far end's track arrives. */
  remoteTrack(stream = new FakeStream(new FakeTrack('remote'))) {
    this.ontrack?.({ streams: [stream], track: stream.track });
    return stream;
  }
  async getStats() {
    return new Map();
  }
}

export function fakeAudioElement() {
  return { muted: false, srcObject: null as unknown, play: vi.fn(async () => {}), setSinkId: vi.fn(async () => {}) };
}

export const mediaDeps = (md: ReturnType<typeof fakeMediaDevices>) => ({
  mediaDevices: md as unknown as MediaDevices,
  createPeerConnection: (config: RTCConfiguration) => new FakePeerConnection(config) as unknown as RTCPeerConnection,
  createAudioContext: () => null,
});

/** Lets pending promise callbacks run. */
export const flush = async (n = 10) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};
