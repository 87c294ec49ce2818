// What Flex's internal-call dialpad computes (voice-flex.md §5.2, §5.4), in one place. The feature
// flags come from the server with Flex's defaults already applied (`DesktopState.internal_call`).
import type { DirectoryAgent, DirectoryQueue, InternalCallFeature, WorkerView } from '../state/protocol';

export type InternalCallTab = 'agent' | 'queue';

/** The tabs the dialpad shows, in Flex's order; empty when the section is hidden. */
export function visibleTabs(feature: InternalCallFeature, offline: boolean): InternalCallTab[] {
  if (!feature.enabled || offline) return [];
  const tabs: InternalCallTab[] = [];
  if (feature.enable_call_agent) tabs.push('agent');
  if (feature.enable_call_queue) tabs.push('queue');
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
  /** Left out when the configuration names no queue: the server uses the outbound flow's. */
  queue_sid?: string;
  task_attributes: {
    name: string;
    internal_outbound_to: string;
    conversations: { conversation_id: string };
  };
}

/**
 * The StartOutboundCall payload Flex's dialpad sends, with every parameter value URL-encoded; null
 * when the configuration names no Internal Call application (there is nothing to dial through).
 */
export function internalCallAction(
  feature: Pick<InternalCallFeature, 'application_sid' | 'outbound_queue_sid'>,
  me: Pick<WorkerView, 'full_name' | 'friendly_name'>,
  target: CallTarget,
  conversationId: string,
): StartOutboundCall | null {
  if (!feature.application_sid) return null;
  const from = agentLabel(me);
  const enc = encodeURIComponent;
  const [key, value, name] =
    target.kind === 'agent'
      ? ['worker_sid', target.agent.sid, agentLabel(target.agent)]
      : ['callToQueue', target.queue.friendly_name, target.queue.friendly_name];
  return {
    type: 'start_outbound_call',
    destination: `app:${feature.application_sid}?${key}=${enc(value)}&from=${enc(from)}&conversation_id=${enc(conversationId)}`,
    ...(feature.outbound_queue_sid ? { queue_sid: feature.outbound_queue_sid } : {}),
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
