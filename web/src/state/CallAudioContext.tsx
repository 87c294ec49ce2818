// The call's audio, wired to the desktop's state: one CallAudioEngine per desktop, told from the
// state whether audio is wanted (a live call, or one the agent is starting), whether the socket
// is open (a reconnect ICE-restarts the connection), and whether to send and play (mute and hold
// act at once, before the server confirms). What the engine reports goes into the reducer.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, type ReactNode } from 'react';
import { useDesktop } from './DesktopContext';
import { CallAudioEngine, type EngineDeps, type EngineEvent } from '../audio/CallAudioEngine';
import { audioTestMode, storeDevice, storedDevice, testIceTransportPolicy } from '../audio/settings';
import { audioWanted, describeCallAudio, effectiveControls, localAudio, type CallAudioView } from '../lib/callAudio';
import type { AppAction } from './reducer';
import type { TaskView } from './protocol';

export interface CallAudioApi {
  /**
   * Gets the microphone, then runs the call action (place, accept, answer). When there is no
   * microphone the action is not run (the agent is told why) and it resolves undefined.
   */
  withMicrophone<T>(run: () => Promise<T>): Promise<T | undefined>;
  chooseDevice(kind: 'input' | 'output', id: string): void;
  /** A new audio connection, after a failure. */
  reconnect(): void;
  /** Plays the call after the browser blocked autoplay. */
  resumePlayback(): void;
  /** The microphone's level now, 0 to 1. */
  micLevel(): number;
}

/** Outside a CallAudioProvider there is no audio: actions run as they are. */
const NO_AUDIO: CallAudioApi = {
  withMicrophone: (run) => run(),
  chooseDevice: () => {},
  reconnect: () => {},
  resumePlayback: () => {},
  micLevel: () => 0,
};

const Ctx = createContext<CallAudioApi>(NO_AUDIO);

export function useCallAudio(): CallAudioApi {
  return useContext(Ctx);
}

/** After a call action succeeded, audio stays wanted this long for its call to show up. */
export const START_CONFIRM_MS = 5000;

/** What the test hook exposes (window.__switchboardAudio, in the audio test mode only). */
export interface AudioTestHook {
  remoteStream(): MediaStream | null;
  peerState(): RTCPeerConnectionState | null;
  microphoneEnabled(): boolean | null;
  /** The inbound audio RTP statistics of the connection, or null without one. */
  inbound(): Promise<{ totalAudioEnergy: number; totalSamplesDuration: number; packetsReceived: number; audioLevel: number } | null>;
  /** The connection's iceTransportPolicy ('all', or 'relay' with ice-transport-policy=relay), or null without one. */
  iceTransportPolicy(): RTCIceTransportPolicy | null;
  /** The connection's selected ICE candidate pair and its two candidates, or null without one. */
  selectedCandidatePair(): Promise<SelectedCandidatePair | null>;
}

export interface IceCandidateView {
  candidateType: string | null;
  protocol: string | null;
  address: string | null;
  port: number | null;
  /** For a relay candidate: how the browser reaches the TURN server (udp, tcp, tls). */
  relayProtocol: string | null;
  url: string | null;
}

export interface SelectedCandidatePair {
  state: string;
  nominated: boolean;
  local: IceCandidateView | null;
  remote: IceCandidateView | null;
}

/** The browser's media, as the engine uses it (tests pass fakes). */
export type MediaDeps = Partial<Pick<EngineDeps, 'mediaDevices' | 'createPeerConnection' | 'createAudioContext'>>;

function browserDeps(): Pick<EngineDeps, 'mediaDevices' | 'createPeerConnection' | 'createAudioContext'> {
  return {
    mediaDevices: typeof navigator !== 'undefined' ? navigator.mediaDevices : undefined,
    createPeerConnection: (config) => new RTCPeerConnection(config),
    createAudioContext: () => (typeof AudioContext !== 'undefined' ? new AudioContext() : null),
  };
}

function toAction(e: EngineEvent): AppAction {
  switch (e.type) {
    case 'mic':
      return { type: 'audio-mic', status: e.status, detail: e.detail };
    case 'peer':
      return { type: 'audio-peer', status: e.status };
    case 'offer-error':
      return { type: 'audio-offer-error', message: e.message };
    case 'playback-blocked':
      return { type: 'audio-playback-blocked', blocked: e.blocked };
    case 'devices':
      return { type: 'audio-devices', inputs: e.inputs, outputs: e.outputs, canChooseOutput: e.canChooseOutput };
  }
}

export function CallAudioProvider({
  children,
  deps,
  testMode = audioTestMode(),
}: {
  children: ReactNode;
  /** For tests: fake browser media. */
  deps?: MediaDeps;
  testMode?: boolean;
}) {
  const { state, dispatch, send } = useDesktop();
  const sendRef = useRef(send);
  sendRef.current = send;
  const engineRef = useRef<CallAudioEngine | null>(null);
  if (!engineRef.current) {
    engineRef.current = new CallAudioEngine({
      ...browserDeps(),
      ...deps,
      processing: !testMode,
      iceTransportPolicy: testMode ? testIceTransportPolicy() : undefined,
      signal: (action) => sendRef.current(action, { quiet: true }),
      onEvent: (e) => dispatch(toAction(e)),
    });
  }
  const engine = engineRef.current;

  useEffect(() => {
    engine.start();
    for (const kind of ['input', 'output'] as const) {
      const id = storedDevice(kind);
      if (id) dispatch({ type: 'audio-choose', kind, id });
    }
    return () => engine.dispose();
  }, [engine, dispatch]);

  const { input, output } = state.audio;
  useEffect(() => void engine.setInput(input), [engine, input]);
  useEffect(() => void engine.setOutput(output), [engine, output]);

  const d = state.desktop;
  const iceServers = d?.media?.ice_servers;
  useEffect(() => engine.setIceServers(iceServers ?? []), [engine, iceServers]);
  // The socket before `wanted`: a first offer waits for an open socket.
  const socketOpen = state.connection === 'open';
  useEffect(() => engine.setSocketOpen(socketOpen), [engine, socketOpen]);
  const serverConnected = d?.audio?.state === 'connected';
  useEffect(() => engine.setServerConnected(serverConnected), [engine, serverConnected]);
  const wanted = audioWanted(d, state.audio.starting !== null);
  useEffect(() => engine.setWanted(wanted), [engine, wanted]);
  const { sendMicrophone, playRemote } = localAudio(d, state.callControls);
  useEffect(() => engine.setSending(sendMicrophone), [engine, sendMicrophone]);
  useEffect(() => engine.setPlaying(playRemote), [engine, playRemote]);

  // An action that succeeded keeps audio wanted a little while for its call to show up.
  const confirming = state.audio.starting === 'confirming';
  useEffect(() => {
    if (!confirming) return;
    const t = setTimeout(() => dispatch({ type: 'audio-start-expired' }), START_CONFIRM_MS);
    return () => clearTimeout(t);
  }, [confirming, dispatch]);

  useEffect(() => {
    if (!testMode) return;
    const hook: AudioTestHook = {
      remoteStream: () => engine.remoteStream(),
      peerState: () => engine.peerConnection()?.connectionState ?? null,
      microphoneEnabled: () => engine.microphone()?.getAudioTracks()[0]?.enabled ?? null,
      inbound: async () => {
        const pc = engine.peerConnection();
        if (!pc) return null;
        let found: Awaited<ReturnType<AudioTestHook['inbound']>> = null;
        (await pc.getStats()).forEach((r) => {
          if (r.type === 'inbound-rtp' && r.kind === 'audio') {
            found = {
              totalAudioEnergy: r.totalAudioEnergy ?? 0,
              totalSamplesDuration: r.totalSamplesDuration ?? 0,
              packetsReceived: r.packetsReceived ?? 0,
              audioLevel: r.audioLevel ?? 0,
            };
          }
        });
        return found;
      },
      iceTransportPolicy: () => engine.peerConnection()?.getConfiguration().iceTransportPolicy ?? null,
      selectedCandidatePair: async () => {
        const pc = engine.peerConnection();
        if (!pc) return null;
        const stats = await pc.getStats();
        // The transport names the selected pair; failing that, the nominated pair that succeeded.
        let pairId: string | undefined;
        stats.forEach((r) => {
          if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
        });
        if (!pairId) {
          stats.forEach((r) => {
            if (!pairId && r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pairId = r.id;
          });
        }
        const pair = pairId ? stats.get(pairId) : undefined;
        if (!pair) return null;
        const candidate = (id: string | undefined): IceCandidateView | null => {
          const c = id ? stats.get(id) : undefined;
          if (!c) return null;
          return {
            candidateType: c.candidateType ?? null,
            protocol: c.protocol ?? null,
            address: c.address ?? c.ip ?? null,
            port: c.port ?? null,
            relayProtocol: c.relayProtocol ?? null,
            url: c.url ?? null,
          };
        };
        return { state: pair.state, nominated: pair.nominated === true, local: candidate(pair.localCandidateId), remote: candidate(pair.remoteCandidateId) };
      },
    };
    (window as unknown as { __switchboardAudio?: AudioTestHook }).__switchboardAudio = hook;
    return () => {
      delete (window as unknown as { __switchboardAudio?: AudioTestHook }).__switchboardAudio;
    };
  }, [engine, testMode]);

  const mediaEnabled = d?.media?.enabled === true;
  const withMicrophone = useCallback(
    async function withMicrophone<T>(run: () => Promise<T>): Promise<T | undefined> {
      if (!mediaEnabled) return run();
      // The microphone before audio is wanted: without one, no connection is opened at all.
      if (!(await engine.acquireMicrophone())) return undefined;
      dispatch({ type: 'audio-starting' });
      try {
        const result = await run();
        dispatch({ type: 'audio-start-done', ok: true });
        return result;
      } catch (e) {
        dispatch({ type: 'audio-start-done', ok: false });
        throw e;
      }
    },
    [engine, dispatch, mediaEnabled],
  );

  const api = useMemo<CallAudioApi>(
    () => ({
      withMicrophone,
      chooseDevice: (kind, id) => {
        storeDevice(kind, id);
        dispatch({ type: 'audio-choose', kind, id });
      },
      reconnect: () => engine.reconnect(),
      resumePlayback: () => engine.resumePlayback(),
      micLevel: () => engine.micLevel(),
    }),
    [withMicrophone, engine, dispatch],
  );

  const attach = useCallback((el: HTMLAudioElement | null) => engine.attachElement(el), [engine]);
  return (
    <Ctx.Provider value={api}>
      {children}
      {/* The far end of the call plays here (a remote WebRTC track is silent unless it plays). */}
      <audio ref={attach} autoPlay data-testid="call-audio" />
    </Ctx.Provider>
  );
}

/** The call's audio as the agent is told it (connection, why not, not sending). */
export function useCallAudioView(): CallAudioView {
  const { state } = useDesktop();
  const d = state.desktop;
  const wanted = audioWanted(d, state.audio.starting !== null);
  const { sendMicrophone } = localAudio(d, state.callControls);
  return describeCallAudio({
    server: d?.audio ?? null,
    peer: state.audio.peer,
    offerError: state.audio.offerError,
    socketOpen: state.connection === 'open',
    wanted,
    sending: sendMicrophone && state.audio.mic === 'on',
  });
}

/** Mute and hold, shown and heard at once; the server's state settles them (or a refusal undoes them). */
export function useCallControls() {
  const { state, dispatch, send } = useDesktop();
  const set = useCallback(
    (task: TaskView, control: 'muted' | 'held', value: boolean) => {
      const taskSid = task.task_sid;
      dispatch({ type: 'call-control', taskSid, control, value });
      const action =
        control === 'muted' ? ({ type: 'mute', task_sid: taskSid, muted: value } as const) : ({ type: 'hold', task_sid: taskSid, hold: value } as const);
      send(action).then(
        () => dispatch({ type: 'call-control-done', taskSid, control, ok: true }),
        () => dispatch({ type: 'call-control-done', taskSid, control, ok: false }),
      );
    },
    [dispatch, send],
  );
  return {
    controls: (task: TaskView) => effectiveControls(task, state.callControls),
    mute: (task: TaskView, muted: boolean) => set(task, 'muted', muted),
    hold: (task: TaskView, held: boolean) => set(task, 'held', held),
  };
}
