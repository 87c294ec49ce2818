import { describe, expect, it } from 'vitest';
import {
  audioWanted,
  callHeld,
  callNeedsAudio,
  describeCallAudio,
  effectiveControls,
  localAudio,
  micProblem,
  settleControls,
  type CallAudioInputs,
} from './callAudio';
import { call, desktopState, outboundTask, task } from '../../test/render';

const media = { enabled: true, ice_servers: [] };

describe('when a call needs audio', () => {
  it('a placed call needs it from dialing until it ends', () => {
    for (const s of ['dialing', 'ringing', 'connected'] as const) {
      expect(callNeedsAudio(desktopState({ tasks: [outboundTask(call(s))] }))).toBe(true);
    }
    expect(callNeedsAudio(desktopState({ tasks: [outboundTask(call('ended'))] }))).toBe(false);
    expect(callNeedsAudio(desktopState({ tasks: [outboundTask(call('ended'), { reservation_status: 'wrapping' })] }))).toBe(false);
  });
  it('an offered call needs it once accepted, not while it rings', () => {
    expect(callNeedsAudio(desktopState({ tasks: [task({ reservation_status: 'pending', call: call('ringing') })] }))).toBe(false);
    expect(callNeedsAudio(desktopState({ tasks: [task({ call: call('connected') })] }))).toBe(true);
  });
  it('a task without a call never does', () => {
    expect(callNeedsAudio(desktopState({ tasks: [task({ call: null })] }))).toBe(false);
    expect(callNeedsAudio(null)).toBe(false);
  });
  it('audio is wanted for a live call or one being started, only when the server relays audio', () => {
    const live = desktopState({ tasks: [outboundTask(call('connected'))], media });
    const idle = desktopState({ media });
    expect(audioWanted(live, false)).toBe(true);
    expect(audioWanted(idle, false)).toBe(false);
    expect(audioWanted(idle, true)).toBe(true);
    expect(audioWanted(desktopState({ tasks: [outboundTask(call('connected'))] }), true)).toBe(false); // media off
  });
});

describe('mute and hold, locally at once', () => {
  const connected = (over = {}) => outboundTask(call('connected', over));
  it('what the agent pressed wins until the server shows it', () => {
    expect(effectiveControls(connected(), {})).toEqual({ muted: false, held: false });
    expect(effectiveControls(connected(), { WT1: { muted: true } })).toEqual({ muted: true, held: false });
    expect(effectiveControls(connected({ held: true }), { WT1: { held: false } })).toEqual({ muted: false, held: false });
  });
  it('muting stops the microphone; holding stops it and the far end', () => {
    const d = (over = {}) => desktopState({ tasks: [connected(over)] });
    expect(localAudio(d(), {})).toEqual({ sendMicrophone: true, playRemote: true });
    expect(localAudio(d(), { WT1: { muted: true } })).toEqual({ sendMicrophone: false, playRemote: true });
    expect(localAudio(d({ muted: true }), {})).toEqual({ sendMicrophone: false, playRemote: true });
    expect(localAudio(d(), { WT1: { held: true } })).toEqual({ sendMicrophone: false, playRemote: false });
  });
  it('with two live calls, one held, the other is still talked to and heard', () => {
    const two = desktopState({
      tasks: [connected({ held: true }), outboundTask(call('connected'), { task_sid: 'WT2', reservation_sid: 'WR2' })],
    });
    expect(localAudio(two, {})).toEqual({ sendMicrophone: true, playRemote: true });
  });
  it('while a call is being placed both stay on', () => {
    expect(localAudio(desktopState(), {})).toEqual({ sendMicrophone: true, playRemote: true });
  });
  it('drops what the server now shows, and tasks that are gone or over', () => {
    const d = desktopState({ tasks: [connected({ muted: true })] });
    expect(settleControls({ WT1: { muted: true } }, d)).toEqual({});
    expect(settleControls({ WT1: { muted: true, held: true } }, d)).toEqual({ WT1: { held: true } });
    expect(settleControls({ WT9: { muted: true } }, d)).toEqual({});
    expect(settleControls({ WT1: { held: true } }, desktopState({ tasks: [outboundTask(call('ended'))] }))).toEqual({});
  });
});

describe("the call's audio as the agent is told it", () => {
  const base: CallAudioInputs = {
    server: { state: 'connected', detail: null, not_sending: false },
    peer: 'connected',
    offerError: null,
    socketOpen: true,
    wanted: true,
    sending: true,
  };
  const at = (over: Partial<CallAudioInputs>) => describeCallAudio({ ...base, ...over });

  it('is off without a call that needs it', () => {
    expect(at({ wanted: false }).state).toBe('off');
  });
  it('connects until the browser is connected', () => {
    expect(at({ peer: 'none', server: null }).state).toBe('connecting');
    expect(at({ peer: 'new', server: { state: 'connecting', detail: null, not_sending: false } }).state).toBe('connecting');
    expect(at({ peer: 'connecting' }).state).toBe('connecting');
    expect(at({ server: null }).state).toBe('connecting');
  });
  it('is connected when the browser is and the server agrees or lags behind (after an ICE restart)', () => {
    expect(at({})).toEqual({ state: 'connected', reason: null, detail: null, notSending: false });
    expect(at({ server: { state: 'connecting', detail: null, not_sending: false } }).state).toBe('connected');
  });
  it('warns when the server hears nothing although the agent should be heard', () => {
    const silent = { state: 'connected' as const, detail: null, not_sending: true };
    expect(at({ server: silent }).notSending).toBe(true);
    expect(at({ server: silent, sending: false }).notSending).toBe(false); // muted: expected
  });
  it('reconnects while the socket is down, or either side lost the path', () => {
    expect(at({ socketOpen: false })).toMatchObject({ state: 'reconnecting', reason: 'AudioReconnectingSocket' });
    expect(at({ peer: 'disconnected' })).toMatchObject({ state: 'reconnecting', reason: 'AudioReconnectingNetwork' });
    expect(at({ server: { state: 'reconnecting', detail: 'the connection to the server was lost', not_sending: false } })).toEqual({
      state: 'reconnecting',
      reason: 'AudioReconnectingNetwork',
      detail: 'the connection to the server was lost',
      notSending: false,
    });
  });
  it('fails with why: refused, unreachable, dropped by the server', () => {
    expect(at({ offerError: 'media_offer was refused: bad SDP' })).toMatchObject({ state: 'failed', reason: 'AudioFailedRefused', detail: 'media_offer was refused: bad SDP' });
    expect(at({ peer: 'failed', server: null })).toMatchObject({ state: 'failed', reason: 'AudioFailedNetwork', detail: null });
    expect(at({ peer: 'failed', server: { state: 'reconnecting', detail: 'lost', not_sending: false } })).toMatchObject({ state: 'failed', reason: 'AudioFailedNetwork' });
    expect(at({ peer: 'failed', server: { state: 'failed', detail: 'never connected', not_sending: false } })).toMatchObject({
      state: 'failed',
      detail: 'never connected',
    });
    expect(at({ server: { state: 'failed', detail: 'closed', not_sending: false } })).toMatchObject({ state: 'failed', reason: 'AudioFailedServer', detail: 'closed' });
  });
});

describe('microphone problems', () => {
  it.each([
    ['NotAllowedError', 'denied'],
    ['SecurityError', 'denied'],
    ['NotFoundError', 'missing'],
    ['OverconstrainedError', 'missing'],
    ['NotReadableError', 'busy'],
    ['AbortError', 'busy'],
    ['TypeError', 'error'],
  ])('%s is %s', (name, want) => expect(micProblem({ name })).toBe(want));
  it('anything else is an error', () => expect(micProblem('x')).toBe('error'));
});

describe('two tabs of one agent', () => {
  it('a tab whose connection failed while the agent’s audio is connected says it went elsewhere', () => {
    expect(
      describeCallAudio({
        server: { state: 'connected', detail: null, not_sending: false },
        peer: 'failed',
        offerError: null,
        socketOpen: true,
        wanted: true,
        sending: true,
      }),
    ).toMatchObject({ state: 'failed', reason: 'AudioElsewhere' });
  });
});

describe('transfers, three-way calls and supervising', () => {
  const parties = (...holds: boolean[]) => holds.map((hold, i) => ({ call_sid: `CA${i}`, name: `P${i}`, kind: 'caller' as const, hold, muted: false, coaching: false, coachable: false }));
  it('a call is held only when every other party is: consulting with the caller on hold is talking', () => {
    expect(callHeld(call('connected', { held: true, participants: parties(true, false) }))).toBe(false);
    expect(callHeld(call('connected', { held: true, participants: parties(true, true) }))).toBe(true);
    expect(callHeld(call('connected', { held: true }))).toBe(true); // no participants: the server's `held`
    const d = desktopState({ tasks: [outboundTask(call('connected', { held: true, participants: parties(true, false) }))] });
    expect(localAudio(d, {})).toEqual({ sendMicrophone: true, playRemote: true });
  });
  it('a supervisor leaves supervisors out of it', () => {
    const withSupervisor = [...parties(true), { call_sid: 'CAz', name: 'Zoë', kind: 'supervisor' as const, hold: false, muted: true, coaching: false, coachable: false }];
    expect(callHeld(call('connected', { held: true, participants: withSupervisor }))).toBe(true);
  });
  it('supervising a call needs audio, and sends and plays', () => {
    const supervising = desktopState({
      media,
      supervisor: { live_calls: [], supervising: { conference_sid: 'CF1', call_sid: 'CAz', mode: 'monitor', coached_call_sid: null } },
    });
    expect(callNeedsAudio(supervising)).toBe(true);
    expect(audioWanted(supervising, false)).toBe(true);
    expect(localAudio(supervising, {})).toEqual({ sendMicrophone: true, playRemote: true });
    expect(callNeedsAudio(desktopState({ supervisor: { live_calls: [], supervising: null } }))).toBe(false);
  });
});
