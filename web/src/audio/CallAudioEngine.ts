// The browser's side of the call's audio: the microphone, one RTCPeerConnection to the server's
// relay (one sendrecv audio transceiver; the server answers as ICE-lite, so no trickle), and the
// remote track's playback. It decides nothing about calls: it is told whether audio is wanted,
// whether the desktop socket is open, and whether to send and play (CallAudioProvider derives
// those from the state), and it reports what happened (`onEvent`, into the reducer).
import type { Action, ActionData, IceServer } from '../state/protocol';
import { ActionFailed } from '../state/socket';
import type { AudioDevice } from '../state/reducer';
import { micProblem, type MicStatus, type PeerStatus } from '../lib/callAudio';
import { microphoneConstraints, rtcIceServers } from './settings';

export type EngineEvent =
  | { type: 'mic'; status: MicStatus; detail: string | null }
  | { type: 'peer'; status: PeerStatus }
  | { type: 'offer-error'; message: string | null }
  | { type: 'playback-blocked'; blocked: boolean }
  | { type: 'devices'; inputs: AudioDevice[]; outputs: AudioDevice[]; canChooseOutput: boolean };

export interface EngineDeps {
  /** `navigator.mediaDevices`; undefined outside a secure context. */
  mediaDevices: MediaDevices | undefined;
  createPeerConnection(config: RTCConfiguration): RTCPeerConnection;
  /** For the microphone level; null where there is no WebAudio. */
  createAudioContext(): AudioContext | null;
  /**
   * Sends `media_offer` / `media_close` over the desktop socket; rejects with ActionFailed when
   * the server refuses, with another error when the socket is down.
   */
  signal(action: Action): Promise<ActionData>;
  onEvent(event: EngineEvent): void;
  /** The browser's voice processing (echo cancellation, noise suppression, gain control). */
  processing: boolean;
  /** 'relay': TURN relay candidates only (the audio test mode's `ice-transport-policy=relay`). */
  iceTransportPolicy?: RTCIceTransportPolicy;
}

/**
 * A connection that fails by itself is first ICE-restarted, then replaced by a new one; after
 * that the agent is asked (Reconnect audio).
 */
const RECOVERIES = 2;

/** A microphone taken while no call wants audio is stopped after this long. */
export const UNUSED_MICROPHONE_MS = 10_000;

type PendingOffer = 'fresh' | 'restart' | null;

export class CallAudioEngine {
  private deps: EngineDeps;
  private wanted = false;
  private socketOpen = false;
  private sending = true;
  private playing = true;
  private iceServers: IceServer[] = [];
  private inputId = '';
  private outputId = '';

  private mic: MediaStream | null = null;
  private micStatus: MicStatus = 'off';
  private serverConnected = false;
  private micPending: Promise<boolean> | null = null;
  private pc: RTCPeerConnection | null = null;
  private sender: RTCRtpSender | null = null;
  /** An offer to (re)send once the socket is open. */
  private pendingOffer: PendingOffer = null;
  /** The server applied an answer on this connection: a reconnect restarts ICE. */
  private answered = false;
  private recoveries = 0;
  /** The connection was closed while the socket was down: tell the server once it is back. */
  private closeOnReopen = false;
  /** Bumped when the connection is dropped: offers made before it are ignored. */
  private generation = 0;
  /** Bumped by close(): a microphone that arrives after it is stopped at once. */
  private micGeneration = 0;
  /** An open() is waiting for the microphone (its micGeneration). */
  private opening: number | null = null;

  private element: HTMLAudioElement | null = null;
  private remote: MediaStream | null = null;
  private context: AudioContext | null = null;
  private analyser: AnalyserNode | null = null;
  private samples: Float32Array<ArrayBuffer> | null = null;
  private listening = false;
  private readonly onDeviceChange = () => void this.refreshDevices();

  constructor(deps: EngineDeps) {
    this.deps = deps;
  }

  // ---- what the provider tells it ------------------------------------------------------------

  /** Starts watching the devices. */
  start(): void {
    if (this.listening) return;
    this.listening = true;
    this.deps.mediaDevices?.addEventListener?.('devicechange', this.onDeviceChange);
    void this.refreshDevices();
  }

  /** Closes everything and stops watching (it can be started again). */
  dispose(): void {
    this.wanted = false;
    this.close();
    if (this.listening) this.deps.mediaDevices?.removeEventListener?.('devicechange', this.onDeviceChange);
    this.listening = false;
  }

  setWanted(wanted: boolean): void {
    this.wanted = wanted;
    if (!wanted) this.close();
    else if (!this.pc && this.opening !== this.micGeneration) void this.open();
  }

  setSocketOpen(open: boolean): void {
    const was = this.socketOpen;
    this.socketOpen = open;
    if (was === open) return;
    if (!open) {
      // Whatever was under way on the old socket is lost; after a reconnect, an answered
      // connection is ICE-restarted (the server keeps its peer for a few seconds).
      if (this.pc) this.pendingOffer = this.answered ? 'restart' : 'fresh';
      return;
    }
    if (this.closeOnReopen && !this.pc) {
      this.closeOnReopen = false;
      this.deps.signal({ type: 'media_close' }).catch(() => {});
    }
    if (this.pc && this.pendingOffer) void this.offer(this.pc, this.pendingOffer === 'restart');
    else if (this.wanted && !this.pc && this.opening !== this.micGeneration) void this.open();
  }

  /**
   * The server says the agent's audio is connected. A connection of this tab that fails
   * meanwhile was replaced by another tab of the same agent: it is not recovered by itself (the
   * tabs would take the audio from each other in turn); the agent can Reconnect audio here.
   */
  setServerConnected(connected: boolean): void {
    this.serverConnected = connected;
  }

  setIceServers(servers: IceServer[]): void {
    this.iceServers = servers;
  }

  /** The microphone goes out (false: muted or holding, at once, before the server confirms). */
  setSending(sending: boolean): void {
    this.sending = sending;
    for (const t of this.mic?.getAudioTracks() ?? []) t.enabled = sending;
  }

  /** The far end plays (false: holding it). */
  setPlaying(playing: boolean): void {
    this.playing = playing;
    if (this.element) this.element.muted = !playing;
  }

  /** The element the remote track plays in. */
  attachElement(el: HTMLAudioElement | null): void {
    this.element = el;
    if (el) {
      el.muted = !this.playing;
      if (this.outputId) void this.applySink();
      if (this.remote) this.play(this.remote);
    }
  }

  /**
   * Gets the microphone (once; a second call while asking waits for the first). False, with the
   * reason reported, when there is none.
   */
  acquireMicrophone(): Promise<boolean> {
    if (this.mic?.getAudioTracks().some((t) => t.readyState === 'live')) return Promise.resolve(true);
    if (this.micPending) return this.micPending;
    const md = this.deps.mediaDevices;
    if (!md?.getUserMedia) {
      this.emit({ type: 'mic', status: 'insecure', detail: null });
      return Promise.resolve(false);
    }
    const generation = this.micGeneration;
    this.emit({ type: 'mic', status: 'requesting', detail: null });
    const pending: Promise<boolean> = this.requestMicrophone(md, generation).finally(() => {
      if (this.micPending === pending) this.micPending = null;
    });
    this.micPending = pending;
    return pending;
  }

  private async requestMicrophone(md: MediaDevices, generation: number): Promise<boolean> {
    try {
      const stream = await this.getMicrophone(md, this.inputId);
      if (generation !== this.micGeneration) {
        stopAll(stream);
        return false;
      }
      this.useMicrophone(stream);
      this.emit({ type: 'mic', status: 'on', detail: null });
      void this.refreshDevices(); // names are shown once the microphone is allowed
      // Taken for a call that then never needed audio (the action failed): released.
      setTimeout(() => {
        if (generation === this.micGeneration && !this.wanted && !this.pc) this.close();
      }, UNUSED_MICROPHONE_MS);
      return true;
    } catch (e) {
      if (generation === this.micGeneration) this.emit({ type: 'mic', status: micProblem(e), detail: message(e) });
      return false;
    }
  }

  /** Another microphone: during a call its track replaces the old one on the same sender. */
  async setInput(deviceId: string): Promise<void> {
    this.inputId = deviceId;
    const md = this.deps.mediaDevices;
    if (!this.mic || !md?.getUserMedia) return;
    const generation = this.micGeneration;
    try {
      const stream = await this.getMicrophone(md, deviceId);
      if (generation !== this.micGeneration || !this.mic) {
        stopAll(stream);
        return;
      }
      const old = this.mic;
      this.useMicrophone(stream);
      stopAll(old);
      this.emit({ type: 'mic', status: 'on', detail: null });
    } catch (e) {
      this.emit({ type: 'mic', status: micProblem(e), detail: message(e) });
    }
  }

  /** Another speaker, where the browser can choose (setSinkId). */
  async setOutput(deviceId: string): Promise<void> {
    this.outputId = deviceId;
    await this.applySink();
  }

  /** The agent asks for a new connection after a failure. */
  reconnect(): void {
    if (!this.wanted) return;
    this.recoveries = 0;
    this.dropConnection();
    void this.open();
  }

  /** The agent clicked to hear the call after the browser blocked autoplay. */
  resumePlayback(): void {
    void this.context?.resume().catch(() => {});
    if (this.remote) this.play(this.remote);
  }

  // ---- what the desktop shows, and the test hook ------------------------------------------------

  /** The microphone's level now, 0 (silence) to 1 (loud). */
  micLevel(): number {
    if (!this.analyser || !this.samples) return 0;
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const v of this.samples) sum += v * v;
    const rms = Math.sqrt(sum / this.samples.length);
    if (rms <= 0) return 0;
    const db = 20 * Math.log10(rms);
    return Math.min(1, Math.max(0, (db + 60) / 60));
  }

  remoteStream(): MediaStream | null {
    return this.remote;
  }

  peerConnection(): RTCPeerConnection | null {
    return this.pc;
  }

  microphone(): MediaStream | null {
    return this.mic;
  }

  // ---- the connection -------------------------------------------------------------------------

  private async open(): Promise<void> {
    const micGeneration = this.micGeneration;
    this.opening = micGeneration;
    try {
      // Without a microphone (a reload during a call, the agent blocked it meanwhile) the
      // connection still opens: the agent hears the call and is told why nobody hears them.
      await this.acquireMicrophone();
      // Closed meanwhile (a new open() follows if audio is wanted again), or opened already.
      if (micGeneration !== this.micGeneration || !this.wanted || this.pc) return;
      const policy = this.deps.iceTransportPolicy;
      const pc = this.deps.createPeerConnection({
        iceServers: rtcIceServers(this.iceServers),
        ...(policy ? { iceTransportPolicy: policy } : {}),
      });
      this.pc = pc;
      this.answered = false;
      this.closeOnReopen = false;
      const track = this.mic?.getAudioTracks()[0] ?? null;
      if (track) track.enabled = this.sending;
      const transceiver = pc.addTransceiver(track ?? 'audio', {
        direction: 'sendrecv',
        streams: this.mic ? [this.mic] : [],
      });
      this.sender = transceiver.sender;
      pc.ontrack = (e) => {
        if (this.pc === pc) this.play(e.streams[0] ?? new MediaStream([e.track]));
      };
      pc.onconnectionstatechange = () => this.connectionChanged(pc);
      this.emit({ type: 'peer', status: pc.connectionState });
      await this.offer(pc, false);
    } finally {
      if (this.opening === micGeneration) this.opening = null;
    }
  }

  /** Sends an offer (an ICE restart of the same connection, or its first) and applies the answer. */
  private async offer(pc: RTCPeerConnection, restart: boolean): Promise<void> {
    if (!this.socketOpen) {
      this.pendingOffer = restart ? 'restart' : 'fresh';
      return;
    }
    this.pendingOffer = null;
    const generation = this.generation;
    const current = () => generation === this.generation && this.pc === pc;
    let sdp: string;
    try {
      const offer = await pc.createOffer(restart ? { iceRestart: true } : undefined);
      if (!current()) return;
      await pc.setLocalDescription(offer);
      if (!current()) return;
      const data = await this.deps.signal({ type: 'media_offer', sdp: pc.localDescription?.sdp ?? offer.sdp ?? '', restart });
      if (!current()) return;
      const answer = (data as { sdp?: unknown }).sdp;
      if (typeof answer !== 'string') throw new ActionFailed({ code: 0, message: 'the server answered without an SDP' });
      sdp = answer;
    } catch (e) {
      if (!current()) return;
      if (!(e instanceof ActionFailed) && !(e instanceof DOMException)) {
        // The socket went down meanwhile: offered again once it is back.
        this.pendingOffer = restart || this.answered ? 'restart' : 'fresh';
        return;
      }
      if (restart) this.replaceConnection();
      else this.emit({ type: 'offer-error', message: message(e) });
      return;
    }
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp });
      if (!current()) return;
      this.answered = true;
      this.emit({ type: 'offer-error', message: null });
    } catch (e) {
      if (!current()) return;
      // An answer this connection cannot take (after a restart: the server started over).
      if (restart) this.replaceConnection();
      else this.emit({ type: 'offer-error', message: message(e) });
    }
  }

  /** A new connection instead of this one (the server replaces its peer: restart false). */
  private replaceConnection(): void {
    this.dropConnection();
    void this.open();
  }

  private connectionChanged(pc: RTCPeerConnection): void {
    if (this.pc !== pc) return;
    const state = pc.connectionState;
    this.emit({ type: 'peer', status: state });
    if (state === 'connected') this.recoveries = 0;
    if (state !== 'failed' || !this.socketOpen || this.serverConnected || this.recoveries >= RECOVERIES) return;
    this.recoveries += 1;
    if (this.recoveries === 1 && this.answered) void this.offer(pc, true);
    else this.replaceConnection();
  }

  /** Closes the connection only (the microphone stays): a new offer replaces it at the server. */
  private dropConnection(): void {
    this.generation += 1;
    const pc = this.pc;
    this.pc = null;
    this.sender = null;
    this.answered = false;
    this.pendingOffer = null;
    if (pc) {
      pc.ontrack = null;
      pc.onconnectionstatechange = null;
      pc.close();
    }
    this.stopPlayback();
    this.emit({ type: 'peer', status: 'none' });
    this.emit({ type: 'offer-error', message: null });
  }

  /** No call needs audio: media_close, pc.close(), the microphone stopped. */
  private close(): void {
    if (!this.pc && !this.mic && !this.micPending) return;
    const hadPeer = this.pc !== null;
    this.dropConnection();
    if (hadPeer) {
      if (this.socketOpen) this.deps.signal({ type: 'media_close' }).catch(() => {});
      else this.closeOnReopen = true;
    }
    this.micGeneration += 1;
    if (this.mic) stopAll(this.mic);
    this.mic = null;
    this.micPending = null;
    this.analyser = null;
    this.samples = null;
    void this.context?.close().catch(() => {});
    this.context = null;
    // A problem stays shown (the agent is to act on it); a microphone that was on is off now.
    if (this.micStatus === 'on' || this.micStatus === 'requesting') this.emit({ type: 'mic', status: 'off', detail: null });
    this.emit({ type: 'playback-blocked', blocked: false });
  }

  // ---- microphone, speaker, devices -----------------------------------------------------------

  private async getMicrophone(md: MediaDevices, deviceId: string): Promise<MediaStream> {
    try {
      return await md.getUserMedia({ audio: microphoneConstraints(deviceId, this.deps.processing) });
    } catch (e) {
      // The chosen microphone is gone: the system's default will do.
      const name = (e as { name?: string }).name;
      if (deviceId && (name === 'OverconstrainedError' || name === 'NotFoundError')) {
        return md.getUserMedia({ audio: microphoneConstraints('', this.deps.processing) });
      }
      throw e;
    }
  }

  private useMicrophone(stream: MediaStream): void {
    this.mic = stream;
    const track = stream.getAudioTracks()[0] ?? null;
    if (track) {
      track.enabled = this.sending;
      track.addEventListener?.('ended', () => {
        if (this.mic === stream) this.emit({ type: 'mic', status: 'missing', detail: null });
      });
    }
    if (this.sender && track) void this.sender.replaceTrack(track).catch(() => {});
    this.meter(stream);
  }

  private meter(stream: MediaStream): void {
    try {
      this.context ??= this.deps.createAudioContext();
      if (!this.context) return;
      void this.context.resume().catch(() => {});
      const source = this.context.createMediaStreamSource(stream);
      const analyser = this.context.createAnalyser();
      analyser.fftSize = 1024;
      source.connect(analyser);
      this.analyser = analyser;
      this.samples = new Float32Array(analyser.fftSize);
    } catch {
      this.analyser = null; // no level meter, the call works all the same
    }
  }

  private play(stream: MediaStream): void {
    this.remote = stream;
    const el = this.element;
    if (!el) return;
    if (el.srcObject !== stream) el.srcObject = stream;
    el.muted = !this.playing;
    const played = el.play?.();
    if (played && typeof played.then === 'function') {
      played.then(
        () => this.emit({ type: 'playback-blocked', blocked: false }),
        (e: unknown) => {
          if ((e as { name?: string }).name === 'NotAllowedError' && this.remote === stream) {
            this.emit({ type: 'playback-blocked', blocked: true });
          }
        },
      );
    }
  }

  private stopPlayback(): void {
    this.remote = null;
    if (this.element) this.element.srcObject = null;
  }

  private async applySink(): Promise<void> {
    const el = this.element as (HTMLAudioElement & { setSinkId?(id: string): Promise<void> }) | null;
    if (!el?.setSinkId) return;
    try {
      await el.setSinkId(this.outputId);
    } catch {
      // the speaker is gone: the default plays
      await el.setSinkId('').catch(() => {});
    }
  }

  private async refreshDevices(): Promise<void> {
    const md = this.deps.mediaDevices;
    if (!md?.enumerateDevices) return;
    try {
      const all = await md.enumerateDevices();
      // '' (before the microphone is allowed), 'default' and 'communications' are the system's
      // own choices, offered as "System default".
      const pick = (kind: MediaDeviceKind) =>
        all
          .filter((d) => d.kind === kind && d.deviceId !== '' && d.deviceId !== 'default' && d.deviceId !== 'communications')
          .map((d) => ({ id: d.deviceId, label: d.label }));
      const canChooseOutput = typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
      this.emit({ type: 'devices', inputs: pick('audioinput'), outputs: canChooseOutput ? pick('audiooutput') : [], canChooseOutput });
    } catch {
      // no list: the defaults are used
    }
  }

  private emit(event: EngineEvent): void {
    if (event.type === 'mic') this.micStatus = event.status;
    this.deps.onEvent(event);
  }
}

function stopAll(stream: MediaStream): void {
  for (const t of stream.getTracks()) t.stop();
}

function message(e: unknown): string {
  return e instanceof Error || (typeof e === 'object' && e !== null && 'message' in e) ? String((e as Error).message) : String(e);
}
