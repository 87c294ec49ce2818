import { describe, expect, it } from 'vitest';
import { callFailure, formatDuration, taskHeader, taskStage } from './taskView';
import { task } from '../../test/render';

const outbound = (call: Parameters<typeof task>[0]['call'], over = {}) =>
  task({
    attributes: { name: 'Bob Brown', internal_outbound_to: 'Bob Brown', outbound_to: 'app:AP1?worker_sid=WK1', direction: 'outbound' },
    call,
    ...over,
  });

describe('taskHeader', () => {
  it('uses internal_outbound_to for outbound calls, else outbound_to', () => {
    expect(taskHeader(outbound(null))).toBe('Bob Brown');
    expect(taskHeader(task({ attributes: { outbound_to: 'client:bob' } }))).toBe('client:bob');
  });
  it("uses the caller's name for incoming tasks, else from", () => {
    expect(taskHeader(task({ attributes: { name: 'Alice Anders', from: '+1500' } }))).toBe('Alice Anders');
    expect(taskHeader(task({ attributes: { from: '+1500' } }))).toBe('+1500');
  });
});

describe('taskStage', () => {
  const c = (state: 'dialing' | 'ringing' | 'connected' | 'ended') => ({ state, reason: null, call_sid: null, muted: false, held: false });
  it('follows an outbound call', () => {
    expect(taskStage(outbound(c('dialing')))).toBe('dialing');
    expect(taskStage(outbound(c('ringing')))).toBe('ringing');
    expect(taskStage(outbound(c('connected')))).toBe('connected');
    expect(taskStage(outbound(c('ended')))).toBe('ended');
    expect(taskStage(outbound(c('ended'), { reservation_status: 'wrapping' }))).toBe('wrapping');
  });
  it('offers a pending incoming reservation', () => {
    expect(taskStage(task({ reservation_status: 'pending', attributes: { name: 'A' }, call: c('ringing') }))).toBe('incoming');
    expect(taskStage(task({ attributes: { name: 'A' }, call: c('connected') }))).toBe('connected');
  });
});

describe('callFailure', () => {
  const ended = (reason: string | null) => outbound({ state: 'ended', reason, call_sid: null, muted: false, held: false });
  it('says why a call failed', () => {
    expect(callFailure(ended('declined'))).toEqual({ key: 'declined', detail: null });
    expect(callFailure(ended('no-answer'))).toEqual({ key: 'no-answer', detail: null });
    expect(callFailure(ended('busy'))?.key).toBe('busy');
    expect(callFailure(ended('unavailable'))?.key).toBe('unavailable');
    expect(callFailure(ended('failed: no trunk'))).toEqual({ key: 'failed', detail: 'no trunk' });
  });
  it('is null for a normal end', () => {
    expect(callFailure(ended('completed'))).toBeNull();
    expect(callFailure(ended(null))).toBeNull();
  });
});

it('formats durations', () => {
  expect(formatDuration(0)).toBe('00:00');
  expect(formatDuration(65_400)).toBe('01:05');
  expect(formatDuration(3_725_000)).toBe('1:02:05');
});
