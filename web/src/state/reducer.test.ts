import { describe, expect, it } from 'vitest';
import { initialState, reducer } from './reducer';
import { desktopState, task } from '../../test/render';

const signedIn = reducer(initialState, { type: 'signed-in', session: { token: 't', identity: 'alice' } });

describe('reducer', () => {
  it('signs in and connects', () => {
    expect(signedIn.session).toEqual({ token: 't', identity: 'alice' });
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
    const connected = task({ call: { state: 'connected', reason: null, call_sid: 'CA', muted: false, held: false } });
    const s1 = reducer(signedIn, { type: 'state', state: desktopState({ tasks: [connected] }), now: 1000 });
    expect(s1.connectedSince).toEqual({ WT1: 1000 });
    const s2 = reducer(s1, { type: 'state', state: desktopState({ tasks: [{ ...connected, call: { ...connected.call!, muted: true } }] }), now: 5000 });
    expect(s2.connectedSince).toEqual({ WT1: 1000 });
    const s3 = reducer(s2, { type: 'state', state: desktopState({ tasks: [] }), now: 6000 });
    expect(s3.connectedSince).toEqual({});
  });

  it('signs out when the worker is gone', () => {
    const s = reducer(signedIn, { type: 'state', state: { type: 'state', error: 'worker gone' } as never, now: 1 });
    expect(s.session).toBeNull();
    expect(s.signInError?.params).toEqual({ error: 'worker gone' });
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
