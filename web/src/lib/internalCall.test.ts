import { describe, expect, it } from 'vitest';
import { agentLabel, filterQueues, internalCallAction, uuidv4, visibleTabs } from './internalCall';
import type { InternalCallFeature } from '../state/protocol';

// As the server sends it: Flex's defaults already applied.
const feature = (over: Partial<InternalCallFeature> = {}): InternalCallFeature => ({
  enabled: true,
  enable_call_agent: true,
  enable_call_queue: true,
  application_sid: 'AP1c1',
  outbound_queue_sid: 'WQ1c1',
  ...over,
});

describe('visibleTabs', () => {
  const on = feature();
  it('shows Call Agent then Call Queue', () => expect(visibleTabs(on, false)).toEqual(['agent', 'queue']));
  it('hides a tab whose flag is off', () => {
    expect(visibleTabs({ ...on, enable_call_queue: false }, false)).toEqual(['agent']);
    expect(visibleTabs({ ...on, enable_call_agent: false }, false)).toEqual(['queue']);
  });
  it('hides the section when both are off, when disabled, or when offline', () => {
    expect(visibleTabs({ ...on, enable_call_agent: false, enable_call_queue: false }, false)).toEqual([]);
    expect(visibleTabs({ ...on, enabled: false }, false)).toEqual([]);
    expect(visibleTabs(on, true)).toEqual([]);
  });
  it('takes the flags as the server sends them, filling in nothing', () => {
    // The server's defaults (enabled false, agent true, queue false) arrive as values.
    expect(visibleTabs(feature({ enabled: false, enable_call_queue: false }), false)).toEqual([]);
    expect(visibleTabs(feature({ enable_call_queue: false }), false)).toEqual(['agent']);
  });
});

describe('internalCallAction', () => {
  const flags = feature();

  it('calls an agent as Flex does', () => {
    const action = internalCallAction(
      flags,
      { full_name: 'Alice Anders', friendly_name: 'alice' },
      { kind: 'agent', agent: { sid: 'WKb0b', friendly_name: 'bob', full_name: 'Bob Brown', activity_name: 'Available', available: true } },
      'c-1',
    );
    expect(action).toEqual({
      type: 'start_outbound_call',
      destination: 'app:AP1c1?worker_sid=WKb0b&from=Alice%20Anders&conversation_id=c-1',
      queue_sid: 'WQ1c1',
      task_attributes: { name: 'Bob Brown', internal_outbound_to: 'Bob Brown', conversations: { conversation_id: 'c-1' } },
    });
  });

  it('calls a queue with callToQueue', () => {
    const action = internalCallAction(flags, { full_name: null, friendly_name: 'alice' }, { kind: 'queue', queue: { sid: 'WQs', friendly_name: 'Support & Sales' } }, 'c-2')!;
    expect(action.destination).toBe('app:AP1c1?callToQueue=Support%20%26%20Sales&from=alice&conversation_id=c-2');
    expect(action.task_attributes.name).toBe('Support & Sales');
    expect(action.task_attributes.internal_outbound_to).toBe('Support & Sales');
  });

  it('encodes every value (names with &, =, quotes and non-ASCII letters)', () => {
    const action = internalCallAction(
      flags,
      { full_name: 'Zoë "Z" O=rtega&co', friendly_name: 'zoe' },
      { kind: 'agent', agent: { sid: 'WK?1', friendly_name: 'x', full_name: null, activity_name: 'Available', available: true } },
      'id&=',
    )!;
    const query = action.destination.split('?').slice(1).join('?');
    const params = new URLSearchParams(query);
    expect(params.get('worker_sid')).toBe('WK?1');
    expect(params.get('from')).toBe('Zoë "Z" O=rtega&co');
    expect(params.get('conversation_id')).toBe('id&=');
    expect(action.task_attributes.name).toBe('x');
  });

  const bob = { kind: 'agent' as const, agent: { sid: 'WKb0b', friendly_name: 'bob', full_name: 'Bob Brown', activity_name: 'Available', available: true } };
  const me = { full_name: 'Alice Anders', friendly_name: 'alice' };

  it('leaves queue_sid out when the configuration names no queue (the server uses the flow’s)', () => {
    const action = internalCallAction(feature({ outbound_queue_sid: null }), me, bob, 'c-3')!;
    expect(action).not.toHaveProperty('queue_sid');
    expect(action.destination).toBe('app:AP1c1?worker_sid=WKb0b&from=Alice%20Anders&conversation_id=c-3');
  });

  it('is null when there is no Internal Call application to dial through', () => {
    expect(internalCallAction(feature({ application_sid: null }), me, bob, 'c-4')).toBeNull();
  });
});

describe('helpers', () => {
  it('labels an agent by full name, else friendly name', () => {
    expect(agentLabel({ full_name: 'Bob Brown', friendly_name: 'bob' })).toBe('Bob Brown');
    expect(agentLabel({ full_name: null, friendly_name: 'bob' })).toBe('bob');
    expect(agentLabel({ full_name: '', friendly_name: 'bob' })).toBe('bob');
  });

  it('makes version-4 UUIDs', () => {
    const id = uuidv4();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuidv4()).not.toBe(id);
  });

  it('sorts queues by name and filters by prefix, any case', () => {
    const qs = [
      { sid: '1', friendly_name: 'Support' },
      { sid: '2', friendly_name: 'Sales' },
      { sid: '3', friendly_name: 'Everyone' },
      { sid: '4', friendly_name: 'superusers' },
    ];
    expect(filterQueues(qs, '').map((q) => q.friendly_name)).toEqual(['Everyone', 'Sales', 'Support', 'superusers']);
    expect(filterQueues(qs, 'SU').map((q) => q.friendly_name)).toEqual(['Support', 'superusers']);
    expect(filterQueues(qs, 'upp')).toEqual([]);
  });
});
