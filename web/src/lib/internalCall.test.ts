import { describe, expect, it } from 'vitest';
import { agentLabel, filterQueues, internalCallAction, internalCallFlags, uuidv4, visibleTabs } from './internalCall';

describe('internalCallFlags', () => {
  it("uses Flex's defaults when keys are absent", () => {
    expect(internalCallFlags(null)).toEqual({
      enabled: false,
      enableCallAgent: true,
      enableCallQueue: false,
      applicationSid: '',
      outboundQueueSid: '',
    });
    expect(internalCallFlags({ enabled: true })).toMatchObject({ enabled: true, enableCallAgent: true, enableCallQueue: false });
  });

  it('keeps given values', () => {
    const f = internalCallFlags({ enabled: true, enable_call_agent: false, enable_call_queue: true, application_sid: 'AP1', outbound_queue_sid: 'WQ1' });
    expect(f).toEqual({ enabled: true, enableCallAgent: false, enableCallQueue: true, applicationSid: 'AP1', outboundQueueSid: 'WQ1' });
  });
});

describe('visibleTabs', () => {
  const on = internalCallFlags({ enabled: true, enable_call_agent: true, enable_call_queue: true });
  it('shows Call Agent then Call Queue', () => expect(visibleTabs(on, false)).toEqual(['agent', 'queue']));
  it('hides a tab whose flag is off', () => {
    expect(visibleTabs({ ...on, enableCallQueue: false }, false)).toEqual(['agent']);
    expect(visibleTabs({ ...on, enableCallAgent: false }, false)).toEqual(['queue']);
  });
  it('hides the section when both are off, when disabled, or when offline', () => {
    expect(visibleTabs({ ...on, enableCallAgent: false, enableCallQueue: false }, false)).toEqual([]);
    expect(visibleTabs({ ...on, enabled: false }, false)).toEqual([]);
    expect(visibleTabs(on, true)).toEqual([]);
  });
});

describe('internalCallAction', () => {
  const flags = internalCallFlags({ enabled: true, application_sid: 'AP1c1', outbound_queue_sid: 'WQ1c1' });

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
    const action = internalCallAction(flags, { full_name: null, friendly_name: 'alice' }, { kind: 'queue', queue: { sid: 'WQs', friendly_name: 'Support & Sales' } }, 'c-2');
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
    );
    const query = action.destination.split('?').slice(1).join('?');
    const params = new URLSearchParams(query);
    expect(params.get('worker_sid')).toBe('WK?1');
    expect(params.get('from')).toBe('Zoë "Z" O=rtega&co');
    expect(params.get('conversation_id')).toBe('id&=');
    expect(action.task_attributes.name).toBe('x');
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
