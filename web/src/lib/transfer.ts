// How a transfer, a call's parties and a supervisor's part read on screen. Pure: derived from the
// pushed state only; the server decides what happens.
import type { CallView, LiveCall, ParticipantView, PartyKind, SuperviseMode, TransferOutcome, TransferView } from '../state/protocol';
import type { StringKey } from '../i18n/strings';

/** The sentence for each way a transfer does not happen (`{target}` is the agent or queue). */
export const TRANSFER_OUTCOME_STRINGS: Record<TransferOutcome, StringKey> = {
  declined: 'TransferDeclined',
  'no-answer': 'TransferNoAnswer',
  unavailable: 'TransferUnavailable',
  busy: 'TransferBusy',
  'nobody-available': 'TransferNobodyAvailable',
  canceled: 'TransferCanceled',
  'caller-left': 'TransferCallerLeft',
};

type Translate = (key: StringKey, params?: Record<string, string>) => string;

/** A transfer in progress or failed, in the agent's language. */
export function describeTransfer(transfer: TransferView, t: Translate): { sentence: string; tone: 'neutral' | 'error' } {
  const target = transfer.target;
  if (transfer.state === 'consulting') return { sentence: t('TransferConsulting', { target }), tone: 'neutral' };
  if (transfer.state === 'ringing') {
    const key: StringKey = transfer.mode === 'cold' ? 'TransferRingingCold' : transfer.mode === 'warm' ? 'TransferRingingWarm' : 'TransferRingingAdd';
    return { sentence: t(key, { target }), tone: 'neutral' };
  }
  // A code this desktop does not know yet still reads as "did not happen".
  const key = (transfer.outcome && TRANSFER_OUTCOME_STRINGS[transfer.outcome]) || 'TransferFailedOther';
  let sentence = t(key, { target });
  // Unless the caller left, the parties that waited are back with the agent.
  if (transfer.outcome !== 'caller-left' && transfer.mode !== 'add') sentence += ' ' + t('TransferBack');
  return { sentence, tone: 'error' };
}

/** A transfer is under way: no new one until it is completed or canceled. */
export function transferInProgress(call: CallView): boolean {
  return call.transfer !== null && call.transfer !== undefined && call.transfer.state !== 'failed';
}

export const PARTY_STRINGS: Record<PartyKind, StringKey> = {
  agent: 'PartyAgent',
  caller: 'PartyCaller',
  supervisor: 'PartySupervisor',
};

export const SUPERVISE_MODE_STRINGS: Record<SuperviseMode, StringKey> = {
  monitor: 'Monitor',
  coach: 'Coach',
  barge: 'Barge',
};

/** The names of a live call's parties (supervisors left out), for its line in the list. */
export function liveCallNames(call: LiveCall): string {
  return call.participants
    .filter((p) => p.kind !== 'supervisor')
    .map((p) => p.name)
    .filter((n) => n !== '')
    .join(', ');
}

/** The agent a coach joins by default: the call's first agent. */
export function firstAgent(participants: ParticipantView[]): ParticipantView | null {
  return participants.find((p) => p.kind === 'agent') ?? null;
}
