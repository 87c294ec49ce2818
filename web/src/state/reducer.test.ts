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
