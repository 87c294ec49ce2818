// What Flex's internal-call dialpad computes (voice-flex.md §5.2, §5.4), in one place.
import type { DirectoryAgent, DirectoryQueue, InternalCallConfig, Worker } from '../state/protocol';

export interface InternalCallFlags {
  enabled: boolean;
  enableCallAgent: boolean;
  enableCallQueue: boolean;
  applicationSid: string;
  outboundQueueSid: string;
}

/** The feature flags with Flex's defaults for absent keys. */
export function internalCallFlags(config: InternalCallConfig | null | undefined): InternalCallFlags {
  const c = config ?? {};
  return {
    enabled: typeof c.enabled === 'boolean' ? c.enabled : false,
    enableCallAgent: typeof c.enable_call_agent === 'boolean' ? c.enable_call_agent : true,
    enableCallQueue: typeof c.enable_call_queue === 'boolean' ? c.enable_call_queue : false,
    applicationSid: typeof c.application_sid === 'string' ? c.application_sid : '',
    outboundQueueSid: typeof c.outbound_queue_sid === 'string' ? c.outbound_queue_sid : '',
  };
}

export type InternalCallTab = 'agent' | 'queue';

/** The tabs the dialpad shows, in Flex's order; empty when the section is hidden. */
export function visibleTabs(flags: InternalCallFlags, offline: boolean): InternalCallTab[] {
  if (!flags.enabled || offline) return [];
  const tabs: InternalCallTab[] = [];
  if (flags.enableCallAgent) tabs.push('agent');
  if (flags.enableCallQueue) tabs.push('queue');
  return tabs;
}

/** How an agent is named: full name, else the worker's friendly name. */
export function agentLabel(a: { full_name?: string | null; friendly_name: string }): string {
  return a.full_name && a.full_name.trim() !== '' ? a.full_name : a.friendly_name;
}

/** A random UUID, version 4 (crypto.randomUUID needs a secure context; this does not). */
export function uuidv4(random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  const b = random(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export type CallTarget = { kind: 'agent'; agent: DirectoryAgent } | { kind: 'queue'; queue: DirectoryQueue };

export interface StartOutboundCall {
  type: 'start_outbound_call';
  destination: string;
  queue_sid: string;
  task_attributes: {
    name: string;
    internal_outbound_to: string;
    conversations: { conversation_id: string };
  };
}

/** The StartOutboundCall payload Flex's dialpad sends, with every parameter value URL-encoded. */
export function internalCallAction(
  flags: InternalCallFlags,
  me: Pick<Worker, 'full_name' | 'friendly_name'>,
  target: CallTarget,
  conversationId: string,
): StartOutboundCall {
  const from = agentLabel(me);
  const enc = encodeURIComponent;
  const [key, value, name] =
    target.kind === 'agent'
      ? ['worker_sid', target.agent.sid, agentLabel(target.agent)]
      : ['callToQueue', target.queue.friendly_name, target.queue.friendly_name];
  return {
    type: 'start_outbound_call',
    destination: `app:${flags.applicationSid}?${key}=${enc(value)}&from=${enc(from)}&conversation_id=${enc(conversationId)}`,
    queue_sid: flags.outboundQueueSid,
    task_attributes: {
      name,
      internal_outbound_to: name,
      conversations: { conversation_id: conversationId },
    },
  };
}

/** Queues sorted by name (plain code-unit order, as Flex), keeping those starting with `prefix`. */
export function filterQueues(queues: DirectoryQueue[], prefix: string): DirectoryQueue[] {
  const p = prefix.toLocaleLowerCase();
  return queues
    .filter((q) => q.friendly_name.toLocaleLowerCase().startsWith(p))
    .sort((a, b) => (a.friendly_name > b.friendly_name ? 1 : a.friendly_name < b.friendly_name ? -1 : 0));
}

/**
 * Whether the server can dial telephone numbers. It never can today: the voice layer has no
 * trunk, and the state message does not say otherwise.
 */
export const TELEPHONE_TRUNK_CONFIGURED = false;
