import { describe, expect, it } from 'vitest';
import { OUTCOME_STRINGS, describeOutcome, formatDuration, isOutbound, taskHeader, taskStage } from './taskView';
import { call, outboundTask, task } from '../../test/render';
import { LOCALES, STRINGS, format, type Locale, type StringKey } from '../i18n/strings';
import type { CallOutcome } from '../state/protocol';

const translate = (locale: Locale) => (key: StringKey, params?: Record<string, string>) => format(STRINGS[locale][key], params);
const en = translate('en-US');

/** One of every outcome the protocol has. */
const OUTCOMES: CallOutcome[] = [
  { code: 'completed' },
  { code: 'canceled' },
  { code: 'declined' },
  { code: 'no-answer' },
  { code: 'busy' },
  { code: 'unavailable' },
  { code: 'failed', error_code: 11200, message: 'the application answered HTTP 500' },
  { code: 'failed', error_code: null, message: 'no trunk' },
];

describe('taskHeader', () => {
  it('uses internal_outbound_to for outbound calls, else outbound_to', () => {
    expect(taskHeader(outboundTask(call('ringing')))).toBe('Bob Brown');
    expect(taskHeader(task({ attributes: { outbound_to: 'client:bob' }, call: call('ringing', { direction: 'outbound' }) }))).toBe('client:bob');
  });
  it("uses the caller's name for incoming tasks, else from", () => {
    expect(taskHeader(task({ attributes: { name: 'Alice Anders', from: '+1500' } }))).toBe('Alice Anders');
    expect(taskHeader(task({ attributes: { from: '+1500' } }))).toBe('+1500');
  });
});

describe('isOutbound', () => {
  it('follows the call’s direction, as the server gives it', () => {
    expect(isOutbound(outboundTask(call('ringing')))).toBe(true);
    expect(isOutbound(task({ call: call('ringing') }))).toBe(false);
    expect(isOutbound(task({ call: null }))).toBe(false);
  });
});

describe('taskStage', () => {
  it('follows an outbound call', () => {
    expect(taskStage(outboundTask(call('dialing')))).toBe('dialing');
    expect(taskStage(outboundTask(call('ringing')))).toBe('ringing');
    expect(taskStage(outboundTask(call('connected')))).toBe('connected');
    expect(taskStage(outboundTask(call('ended')))).toBe('ended');
    expect(taskStage(outboundTask(call('ended'), { reservation_status: 'wrapping' }))).toBe('wrapping');
  });
  it('offers a pending incoming reservation', () => {
    expect(taskStage(task({ reservation_status: 'pending', attributes: { name: 'A' }, call: call('ringing') }))).toBe('incoming');
    expect(taskStage(task({ attributes: { name: 'A' }, call: call('connected') }))).toBe('connected');
  });
});

describe('describeOutcome', () => {
  it('says how a call ended, by its code', () => {
    expect(describeOutcome({ code: 'declined' }, 'Bob Brown', en)).toEqual({ tone: 'error', sentence: 'Bob Brown declined the call.', detail: null });
    expect(describeOutcome({ code: 'no-answer' }, 'Bob Brown', en).sentence).toBe('Bob Brown did not answer.');
    expect(describeOutcome({ code: 'busy' }, 'Bob Brown', en).sentence).toBe('Bob Brown is busy.');
    expect(describeOutcome({ code: 'unavailable' }, 'Bob Brown', en).sentence).toBe('Bob Brown is unavailable.');
    expect(describeOutcome({ code: 'canceled' }, 'Bob Brown', en).sentence).toBe('You hung up before anyone answered.');
  });

  it('ends normally when completed or without an outcome', () => {
    expect(describeOutcome({ code: 'completed' }, 'Bob Brown', en)).toEqual({ tone: 'neutral', sentence: 'The call has ended.', detail: null });
    expect(describeOutcome(null, 'Bob Brown', en)).toEqual({ tone: 'neutral', sentence: 'The call has ended.', detail: null });
  });

  it("shows a failure's message, with Twilio's error code when there is one", () => {
    expect(describeOutcome({ code: 'failed', error_code: 11200, message: 'HTTP retrieval failure' }, 'Bob Brown', en)).toEqual({
      tone: 'error',
      sentence: 'The call to Bob Brown failed.',
      detail: 'HTTP retrieval failure (error 11200)',
    });
    expect(describeOutcome({ code: 'failed', error_code: null, message: 'no trunk' }, 'Bob Brown', en).detail).toBe('no trunk');
    expect(describeOutcome({ code: 'failed', error_code: null, message: '' }, 'Bob Brown', en).detail).toBeNull();
  });

  it('reads a code it does not know as a failure', () => {
    const r = describeOutcome({ code: 'rerouted' } as unknown as CallOutcome, 'Bob Brown', en);
    expect(r).toEqual({ tone: 'error', sentence: 'The call to Bob Brown failed.', detail: null });
  });

  it('has a sentence for every code the protocol has', () => {
    const codes = [...new Set(OUTCOMES.map((o) => o.code))].sort();
    expect(Object.keys(OUTCOME_STRINGS).sort()).toEqual(codes);
  });

  describe.each(LOCALES)('in %s', (locale) => {
    const t = translate(locale);
    it.each(OUTCOMES.map((o) => [o.code + ('error_code' in o && o.error_code ? ` ${o.error_code}` : ''), o] as const))(
      '%s has a non-empty sentence with every placeholder filled',
      (_label, outcome) => {
        const r = describeOutcome(outcome, 'Bob Brown', t);
        expect(r.sentence.trim()).not.toBe('');
        expect(r.sentence).not.toMatch(/\{\w+\}/);
        if (outcome.code === 'failed') {
          expect(r.detail).toContain(outcome.message);
          if (outcome.error_code) expect(r.detail).toContain(String(outcome.error_code));
          expect(r.detail).not.toMatch(/\{\w+\}/);
        } else {
          expect(r.detail).toBeNull();
        }
        // Every outcome but `completed` and `canceled` names the other party.
        if (!['completed', 'canceled'].includes(outcome.code)) expect(r.sentence).toContain('Bob Brown');
      },
    );
    it('keeps each sentence its own (no two codes read alike)', () => {
      const sentences = Object.values(OUTCOME_STRINGS).map((k) => STRINGS[locale][k]);
      expect(new Set(sentences).size).toBe(sentences.length);
    });
  });
});

it('formats durations', () => {
  expect(formatDuration(0)).toBe('00:00');
  expect(formatDuration(65_400)).toBe('01:05');
  expect(formatDuration(3_725_000)).toBe('1:02:05');
});
