import { describe, expect, it } from 'vitest';
import { CLOSE_REASON_STRINGS, initialState, reducer } from './reducer';
import { SESSION, call, desktopState, task } from '../../test/render';
import type { CloseReason } from './protocol';

const signedIn = reducer(initialState, { type: 'signed-in', session: SESSION });

describe('reducer', () => {
  it('signs in and connects', () => {
    expect(signedIn.session).toEqual(SESSION);
    expect(signedIn.connection).toBe('connecting');
  });

  it('replaces the desktop with each pushed state', () => {
    const s1 = reducer(signedIn, { type: 'state', state: desktopState(), now: 1 });
    expect(s1.desktop?.worker.full_name).toBe('Alice Anders');
    expect(s1.connection).toBe('open');
    const s2 = reducer(s1, { type: 'state', state: desktopState({ tasks: [task({})] }), now: 2 });
    expect(s2.desktop?.tasks).toHaveLength(1);
  });

  it('remembers when each call connected, and forgets it when it ends', () => {
    const connected = task({ call: call('connected') });
    const s1 = reducer(signedIn, { type: 'state', state: desktopState({ tasks: [connected] }), now: 1000 });
    expect(s1.connectedSince).toEqual({ WT1: 1000 });
    const s2 = reducer(s1, { type: 'state', state: desktopState({ tasks: [{ ...connected, call: { ...connected.call!, muted: true } }] }), now: 5000 });
    expect(s2.connectedSince).toEqual({ WT1: 1000 });
    const s3 = reducer(s2, { type: 'state', state: desktopState({ tasks: [] }), now: 6000 });
    expect(s3.connectedSince).toEqual({});
  });

  it.each(Object.entries(CLOSE_REASON_STRINGS))('signs out and says why when the server closes the session (%s)', (reason, key) => {
    const s = reducer(reducer(signedIn, { type: 'state', state: desktopState(), now: 1 }), { type: 'closed', reason: reason as CloseReason });
    expect(s.session).toBeNull();
    expect(s.desktop).toBeNull();
    expect(s.signInError).toEqual({ tone: 'error', key });
  });

  it('signs out with a general sentence for a close reason it does not know', () => {
    const s = reducer(signedIn, { type: 'closed', reason: 'maintenance' as CloseReason });
    expect(s.session).toBeNull();
    expect(s.signInError?.key).toBe('ClosedOther');
  });

  it('signs out with the server’s message when it refuses the session', () => {
    const s = reducer(signedIn, { type: 'refused', error: { code: 20001, message: 'too many sessions for this agent' } });
    expect(s.session).toBeNull();
    expect(s.signInError).toEqual({ tone: 'error', key: 'SessionRefused', params: { message: 'too many sessions for this agent' } });
  });

  it('keeps the token’s expiry until a new token is taken, and then the new token', () => {
    const warned = reducer(signedIn, { type: 'token-expiring', expiresAt: 1_718_000_000_000 });
    expect(warned.tokenExpiresAt).toBe(1_718_000_000_000);
    expect(warned.session).toEqual(SESSION);
    const renewed = reducer(warned, { type: 'token-updated', token: 'fresh' });
    expect(renewed.tokenExpiresAt).toBeNull();
    expect(renewed.session).toEqual({ ...SESSION, token: 'fresh' });
    expect(reducer(initialState, { type: 'token-updated', token: 'x' })).toEqual(initialState);
    expect(reducer(initialState, { type: 'token-expiring', expiresAt: 1 })).toEqual(initialState);
  });

  it('shows and dismisses notices; marks a lost connection', () => {
    const s1 = reducer(signedIn, { type: 'notice', notice: { tone: 'error', key: 'ActionFailed', params: { message: 'x' } } });
    expect(s1.notice?.key).toBe('ActionFailed');
    expect(reducer(s1, { type: 'dismiss-notice' }).notice).toBeNull();
    expect(reducer(s1, { type: 'lost' }).connection).toBe('reconnecting');
  });

  it('forgets everything on sign-out', () => {
    const s = reducer(reducer(signedIn, { type: 'state', state: desktopState(), now: 1 }), { type: 'signed-out' });
    expect(s).toEqual(initialState);
  });
});

describe('reducer: audio', () => {
  const idle = reducer(signedIn, { type: 'state', state: desktopState(), now: 1 });
  const liveCall = desktopState({ tasks: [task({ call: call('connected') })] });

  it('keeps audio wanted from the agent’s action until the state shows the call', () => {
    const s1 = reducer(idle, { type: 'audio-starting' });
    expect(s1.audio.starting).toBe('pending');
    const s2 = reducer(s1, { type: 'audio-start-done', ok: true });
    expect(s2.audio.starting).toBe('confirming');
    // A state without the call yet (an accepted reservation not in its conference) keeps it.
    const s3 = reducer(s2, { type: 'state', state: desktopState({ tasks: [task({ call: call('ended') })] }), now: 2 });
    expect(s3.audio.starting).toBe('confirming');
    const s4 = reducer(s3, { type: 'state', state: liveCall, now: 3 });
    expect(s4.audio.starting).toBeNull();
  });

  it('stops wanting it when the action failed, the call showed first, or it took too long', () => {
    const pending = reducer(idle, { type: 'audio-starting' });
    expect(reducer(pending, { type: 'audio-start-done', ok: false }).audio.starting).toBeNull();
    const shown = reducer(pending, { type: 'state', state: liveCall, now: 2 });
    expect(shown.audio.starting).toBe('pending');
    expect(reducer(shown, { type: 'audio-start-done', ok: true }).audio.starting).toBeNull();
    const confirming = reducer(pending, { type: 'audio-start-done', ok: true });
    expect(reducer(confirming, { type: 'audio-start-expired' }).audio.starting).toBeNull();
    expect(reducer(pending, { type: 'audio-start-expired' }).audio.starting).toBe('pending');
  });

  it('keeps what the agent pressed until the server shows it, and undoes a refusal', () => {
    const s = reducer(idle, { type: 'state', state: liveCall, now: 1 });
    const pressed = reducer(s, { type: 'call-control', taskSid: 'WT1', control: 'muted', value: true });
    expect(pressed.callControls).toEqual({ WT1: { muted: true } });
    expect(reducer(pressed, { type: 'call-control-done', taskSid: 'WT1', control: 'muted', ok: true }).callControls).toEqual({ WT1: { muted: true } });
    const shown = desktopState({ tasks: [task({ call: call('connected', { muted: true }) })] });
    expect(reducer(pressed, { type: 'state', state: shown, now: 2 }).callControls).toEqual({});
    expect(reducer(pressed, { type: 'call-control-done', taskSid: 'WT1', control: 'muted', ok: false }).callControls).toEqual({});
    const both = reducer(pressed, { type: 'call-control', taskSid: 'WT1', control: 'held', value: true });
    expect(reducer(both, { type: 'call-control-done', taskSid: 'WT1', control: 'muted', ok: false }).callControls).toEqual({ WT1: { held: true } });
  });

  it('keeps the devices and the agent’s choice across sessions, nothing else', () => {
    let s = reducer(idle, { type: 'audio-devices', inputs: [{ id: 'm', label: 'Mic' }], outputs: [], canChooseOutput: true });
    s = reducer(s, { type: 'audio-choose', kind: 'input', id: 'm' });
    s = reducer(s, { type: 'audio-mic', status: 'denied' });
    const out = reducer(s, { type: 'signed-out' });
    expect(out.audio).toMatchObject({ inputs: [{ id: 'm', label: 'Mic' }], input: 'm', canChooseOutput: true, mic: 'off' });
  });

  it('a dismissed microphone problem goes; a working microphone is not dismissed', () => {
    const denied = reducer(idle, { type: 'audio-mic', status: 'denied', detail: 'x' });
    expect(reducer(denied, { type: 'audio-mic-dismiss' }).audio.mic).toBe('off');
    const on = reducer(idle, { type: 'audio-mic', status: 'on' });
    expect(reducer(on, { type: 'audio-mic-dismiss' }).audio.mic).toBe('on');
  });
});
