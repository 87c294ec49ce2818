import { describe, expect, it, vi } from 'vitest';
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { useState } from 'react';
import userEvent from '@testing-library/user-event';
import { TaskList } from './TaskList';
import { TransferStatus } from './TransferStatus';
import { call, desktopState, party, renderDesktop, task } from '../../test/render';
import { LOCALES, STRINGS } from '../i18n/strings';
import type { Action, TransferOutcome, TransferView } from '../state/protocol';
import { TRANSFER_OUTCOME_STRINGS } from '../lib/transfer';

const AGENTS = [
  { sid: 'WKc4c', friendly_name: 'carol', full_name: 'Carol Chen', activity_name: 'Available', available: true },
  { sid: 'WKd3d', friendly_name: 'dmitri', full_name: 'Dmitri Dorn', activity_name: 'Break', available: false },
];
const QUEUES = [
  { sid: 'WQs', friendly_name: 'Support' },
  { sid: 'WQa', friendly_name: 'Sales' },
];

function server() {
  return vi.fn(async (a: Action): Promise<unknown> => {
    if (a.type === 'directory_agents') return { agents: AGENTS.filter((x) => x.full_name.toLowerCase().includes(a.query.toLowerCase())) };
    if (a.type === 'directory_queues') return { queues: QUEUES.filter((x) => x.friendly_name.toLowerCase().startsWith(a.prefix.toLowerCase())) };
    if (a.type === 'transfer') return { task_sid: 'WT9' };
    return {};
  });
}

const ALICE_PARTY = party({ call_sid: 'CAa', name: 'Alice Anders' });
/** Bob's side of a call from Alice, connected. */
const connected = (over: Parameters<typeof call>[1] = {}) =>
  task({ attributes: { name: 'Alice Anders' }, call: call('connected', { participants: [ALICE_PARTY], ...over }) });
const withTransfer = (transfer: TransferView) => desktopState({ tasks: [connected({ transfer })] });

describe('Transfer', () => {
  it.each([
    ['Transfer now', 'cold'],
    ['Consult', 'warm'],
    ['Add to call', 'add'],
  ] as const)('picks an agent from the directory and sends %s as a %s transfer', async (button, mode) => {
    const send = server();
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [connected()] }), send: send as never });
    const open = screen.getByRole('button', { name: 'Transfer', exact: true } as never);
    expect(open.getAttribute('aria-expanded')).toBe('false');
    await userEvent.click(open);
    expect(open.getAttribute('aria-expanded')).toBe('true');
    const panel = screen.getByRole('group', { name: 'Transfer the call' });
    // Nothing picked yet: the three buttons wait for a target.
    for (const b of ['Transfer now', 'Consult', 'Add to call']) expect((within(panel).getByRole('button', { name: b }) as HTMLButtonElement).disabled).toBe(true);
    const input = within(panel).getByLabelText('Select an agent', { selector: 'input' });
    await userEvent.type(input, 'car');
    fireEvent.click(await screen.findByRole('option', { name: /Carol Chen/ }));
    const btn = within(panel).getByRole('button', { name: button }) as HTMLButtonElement;
    await waitFor(() => expect(btn.disabled).toBe(false));
    await userEvent.click(btn);
    expect(send).toHaveBeenCalledWith({ type: 'transfer', task_sid: 'WT1', mode, worker_sid: 'WKc4c' });
    // Once the server took it the directory closes.
    await waitFor(() => expect(screen.queryByRole('group', { name: 'Transfer the call' })).toBeNull());
  });

  it('transfers to a queue', async () => {
    const send = server();
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [connected()] }), send: send as never });
    await userEvent.click(screen.getByRole('button', { name: 'Transfer', exact: true } as never));
    const panel = screen.getByRole('group', { name: 'Transfer the call' });
    await userEvent.click(within(panel).getByRole('tab', { name: 'Call Queue' }));
    await userEvent.type(within(panel).getByLabelText('Select a queue', { selector: 'input' }), 'sup');
    fireEvent.click(await screen.findByRole('option', { name: 'Support' }));
    const visiblePanel = within(panel).getAllByRole('tabpanel').find((p) => !p.hidden)!;
    const btn = within(visiblePanel).getByRole('button', { name: 'Transfer now' }) as HTMLButtonElement;
    await waitFor(() => expect(btn.disabled).toBe(false));
    await userEvent.click(btn);
    expect(send).toHaveBeenCalledWith({ type: 'transfer', task_sid: 'WT1', mode: 'cold', queue_sid: 'WQs' });
  });

  it('is not offered before the call is connected', () => {
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [task({ attributes: { name: 'Alice Anders' }, call: call('dialing') })] }) });
    expect(screen.queryByRole('button', { name: 'Transfer', exact: true } as never)).toBeNull();
  });

  it('shows a ringing transfer with Cancel, and no new Transfer meanwhile', async () => {
    const send = server();
    renderDesktop(<TaskList />, { desktop: withTransfer({ mode: 'warm', target: 'Carol Chen', state: 'ringing', outcome: null }), send: send as never });
    expect(screen.getByText('Calling Carol Chen to consult… The caller is on hold.')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Complete transfer' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Transfer', exact: true } as never)).toBeNull();
    await userEvent.click(screen.getByRole('button', { name: 'Cancel transfer' }));
    expect(send).toHaveBeenCalledWith({ type: 'cancel_transfer', task_sid: 'WT1' });
  });

  it.each([
    ['cold', 'Transferring to Carol Chen… The caller hears hold music until Carol Chen answers.'],
    ['add', 'Adding Carol Chen to the call…'],
  ] as const)('says what a ringing %s transfer does', (mode, text) => {
    renderDesktop(<TaskList />, { desktop: withTransfer({ mode, target: 'Carol Chen', state: 'ringing', outcome: null }) });
    expect(screen.getByText(text)).toBeTruthy();
  });

  it('while consulting: Complete transfer and Cancel transfer', async () => {
    const send = server();
    renderDesktop(<TaskList />, { desktop: withTransfer({ mode: 'warm', target: 'Carol Chen', state: 'consulting', outcome: null }), send: send as never });
    expect(screen.getByText('Consulting Carol Chen. The caller is on hold.')).toBeTruthy();
    await userEvent.click(screen.getByRole('button', { name: 'Complete transfer' }));
    expect(send).toHaveBeenCalledWith({ type: 'complete_transfer', task_sid: 'WT1' });
    await userEvent.click(screen.getByRole('button', { name: 'Cancel transfer' }));
    expect(send).toHaveBeenCalledWith({ type: 'cancel_transfer', task_sid: 'WT1' });
  });

  it.each([
    ['declined', 'Carol Chen declined the transfer. The caller is back with you.'],
    ['no-answer', 'Carol Chen did not answer the transfer. The caller is back with you.'],
    ['unavailable', 'Carol Chen is unavailable. The caller is back with you.'],
    ['busy', 'Carol Chen is busy. The caller is back with you.'],
    ['nobody-available', 'Nobody in Carol Chen is available to take the call. The caller is back with you.'],
    ['canceled', 'You canceled the transfer to Carol Chen. The caller is back with you.'],
    ['caller-left', 'The caller hung up before the transfer to Carol Chen was done.'],
  ] as const)('says why a transfer failed (%s), and offers Transfer again', (outcome, text) => {
    renderDesktop(<TaskList />, { desktop: withTransfer({ mode: 'warm', target: 'Carol Chen', state: 'failed', outcome }) });
    expect(screen.getByRole('alert').textContent).toContain(text);
    expect(screen.getByRole('button', { name: 'Transfer', exact: true } as never)).toBeTruthy();
  });

  it.each(LOCALES)('has a sentence for every outcome in %s', (locale) => {
    for (const key of Object.values(TRANSFER_OUTCOME_STRINGS)) expect(STRINGS[locale][key]).toContain('{target}');
    renderDesktop(<TaskList />, { desktop: withTransfer({ mode: 'cold', target: 'Carol Chen', state: 'failed', outcome: 'busy' as TransferOutcome }), locale });
    expect(screen.getByRole('alert').textContent).toContain('Carol Chen');
  });

  it('lets the agent dismiss a failed transfer, and shows the next failure again', async () => {
    let push: (t: TransferView) => void = () => {};
    function Harness() {
      const [transfer, setTransfer] = useState<TransferView>({ mode: 'cold', target: 'Carol Chen', state: 'failed', outcome: 'busy' });
      push = setTransfer;
      return <TransferStatus task={connected({ transfer })} />;
    }
    renderDesktop(<Harness />);
    expect(screen.getByRole('alert').textContent).toContain('Carol Chen is busy');
    await userEvent.click(screen.getByRole('button', { name: 'Dismiss', exact: true } as never));
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.queryByTestId('transfer-status')).toBeNull();
    // The next transfer fails another way: the agent is told again.
    act(() => push({ mode: 'cold', target: 'Carol Chen', state: 'failed', outcome: 'no-answer' }));
    expect(screen.getByRole('alert').textContent).toContain('Carol Chen did not answer the transfer');
  });

  it('shows who transferred a call', () => {
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [connected({ transferred_from: 'Bob Brown' })] }) });
    expect(screen.getByTestId('transferred-from').textContent).toBe('Transferred from Bob Brown');
  });
});

describe('Participants', () => {
  const parties = [
    party({ call_sid: 'CAc', name: 'Carol Chen', kind: 'agent', muted: true }),
    party({ call_sid: 'CAa', name: 'Alice Anders', hold: true }),
    party({ call_sid: 'CAz', name: 'Zoë Ortega', kind: 'supervisor', coaching: true }),
  ];
  const desktop = desktopState({ tasks: [connected({ participants: parties })] });

  it('lists each party with its kind and how it takes part', () => {
    renderDesktop(<TaskList />, { desktop });
    const panel = screen.getByRole('region', { name: 'Participants' });
    const items = within(panel).getAllByRole('listitem');
    expect(items.map((li) => li.getAttribute('aria-label'))).toEqual(['Carol Chen', 'Alice Anders', 'Zoë Ortega']);
    expect(within(items[0]).getByText('Agent')).toBeTruthy();
    expect(within(items[0]).getByText('Muted')).toBeTruthy();
    expect(within(items[1]).getByText('Caller')).toBeTruthy();
    expect(within(items[1]).getByText('On hold')).toBeTruthy();
    expect(within(items[2]).getByText('Supervisor')).toBeTruthy();
    expect(within(items[2]).getByText('Coaching')).toBeTruthy();
  });

  it('offers no Hold, Mute or Remove for a supervisor (who takes part as they choose)', () => {
    renderDesktop(<TaskList />, { desktop });
    const zoe = within(screen.getByRole('region', { name: 'Participants' })).getByRole('listitem', { name: 'Zoë Ortega' });
    expect(within(zoe).queryAllByRole('button')).toEqual([]);
    expect(screen.getByRole('button', { name: 'Remove Alice Anders' })).toBeTruthy();
  });

  it('holds, resumes, mutes, unmutes and removes one party, by name', async () => {
    const send = server();
    renderDesktop(<TaskList />, { desktop, send: send as never });
    await userEvent.click(screen.getByRole('button', { name: 'Hold Carol Chen' }));
    expect(send).toHaveBeenCalledWith({ type: 'update_participant', task_sid: 'WT1', call_sid: 'CAc', hold: true });
    await userEvent.click(screen.getByRole('button', { name: 'Unmute Carol Chen' }));
    expect(send).toHaveBeenCalledWith({ type: 'update_participant', task_sid: 'WT1', call_sid: 'CAc', muted: false });
    await userEvent.click(screen.getByRole('button', { name: 'Resume Alice Anders' }));
    expect(send).toHaveBeenCalledWith({ type: 'update_participant', task_sid: 'WT1', call_sid: 'CAa', hold: false });
    await userEvent.click(screen.getByRole('button', { name: 'Mute Alice Anders' }));
    expect(send).toHaveBeenCalledWith({ type: 'update_participant', task_sid: 'WT1', call_sid: 'CAa', muted: true });
    await userEvent.click(screen.getByRole('button', { name: 'Remove Alice Anders' }));
    expect(send).toHaveBeenCalledWith({ type: 'remove_participant', task_sid: 'WT1', call_sid: 'CAa' });
  });

  it('is keyboard usable: Tab reaches each party’s buttons, Enter presses them', async () => {
    const send = server();
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [connected()] }), send: send as never });
    const hold = screen.getByRole('button', { name: 'Hold Alice Anders' });
    hold.focus();
    await userEvent.keyboard('{Enter}');
    expect(send).toHaveBeenCalledWith({ type: 'update_participant', task_sid: 'WT1', call_sid: 'CAa', hold: true });
    await userEvent.tab();
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Mute Alice Anders' }));
  });

  it('keeps the call’s own Mute and Hold apart from the parties’', () => {
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [connected()] }) });
    expect(screen.getAllByRole('button', { name: 'Mute', exact: true } as never)).toHaveLength(1);
    expect(screen.getAllByRole('button', { name: 'Hold', exact: true } as never)).toHaveLength(1);
  });

  it('is not shown without parties', () => {
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [connected({ participants: [] })] }) });
    expect(screen.queryByRole('region', { name: 'Participants' })).toBeNull();
  });
});
