import { describe, expect, it, vi } from 'vitest';
import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Dialpad } from './Dialpad';
import { ALICE, OFFLINE, desktopState, renderDesktop } from '../../test/render';
import type { Action, InternalCallFeature } from '../state/protocol';

const AGENTS = [
  { sid: 'WKb0b', friendly_name: 'bob', full_name: 'Bob Brown', activity_name: 'Available', available: true },
  { sid: 'WKc4c', friendly_name: 'carol', full_name: 'Carol Chen', activity_name: 'Break', available: false },
];
const QUEUES = [
  { sid: 'WQs', friendly_name: 'Support' },
  { sid: 'WQa', friendly_name: 'Sales' },
  { sid: 'WQe', friendly_name: 'Everyone' },
];

function server() {
  return vi.fn(async (a: Action): Promise<unknown> => {
    if (a.type === 'directory_agents') {
      const q = a.query.toLowerCase();
      return { agents: AGENTS.filter((x) => x.full_name.toLowerCase().includes(q) || x.friendly_name.includes(q)) };
    }
    if (a.type === 'directory_queues') {
      return { queues: QUEUES.filter((x) => x.friendly_name.toLowerCase().startsWith(a.prefix.toLowerCase())) };
    }
    if (a.type === 'start_outbound_call') return { task_sid: 'WT1' };
    return {};
  });
}

// The feature as the server sends it: every flag given (Flex's defaults applied by the server).
const flags = (over: Partial<InternalCallFeature>) =>
  desktopState({
    internal_call: { enabled: true, enable_call_agent: true, enable_call_queue: true, application_sid: 'AP1c1', outbound_queue_sid: 'WQ1c1', ...over },
  });

describe('Dialpad tabs', () => {
  it('shows Call Agent and Call Queue when both flags are on', () => {
    renderDesktop(<Dialpad />);
    expect(screen.getByRole('tab', { name: 'Call Agent' })).toBeTruthy();
    expect(screen.getByRole('tab', { name: 'Call Queue' })).toBeTruthy();
  });

  it('hides a tab whose flag is off', () => {
    renderDesktop(<Dialpad />, { desktop: flags({ enable_call_queue: false }) });
    expect(screen.getByRole('tab', { name: 'Call Agent' })).toBeTruthy();
    expect(screen.queryByRole('tab', { name: 'Call Queue' })).toBeNull();
  });

  it('hides the section when the feature is off or both tabs are off', () => {
    renderDesktop(<Dialpad />, { desktop: flags({ enabled: false }) });
    expect(screen.queryByRole('tablist')).toBeNull();
    renderDesktop(<Dialpad />, { desktop: flags({ enable_call_agent: false, enable_call_queue: false }) });
    expect(screen.queryByRole('tablist')).toBeNull();
  });

  it('fills in no defaults of its own: the server’s defaults arrive as values', () => {
    // What the server sends for a configuration without internal_call: enabled false.
    renderDesktop(<Dialpad />, {
      desktop: flags({ enabled: false, enable_call_agent: true, enable_call_queue: false, application_sid: null, outbound_queue_sid: null }),
    });
    expect(screen.queryByRole('tablist')).toBeNull();
  });

  it('hides everything but a hint when the agent is offline', () => {
    const d = desktopState();
    renderDesktop(<Dialpad />, { desktop: { ...d, worker: { ...d.worker, activity_sid: OFFLINE } } });
    expect(screen.queryByRole('tablist')).toBeNull();
    expect(screen.getByText(/You are offline/)).toBeTruthy();
  });

  it('is localized', () => {
    renderDesktop(<Dialpad />, { locale: 'pt-BR' });
    expect(screen.getByRole('tab', { name: 'Ligar Para um Agente' })).toBeTruthy();
    expect(screen.getByRole('tab', { name: 'Chame uma fila' })).toBeTruthy();
  });
});

describe('number field', () => {
  it('says there is no telephone trunk instead of failing silently', async () => {
    const send = server();
    renderDesktop(<Dialpad />, { send: send as never });
    await userEvent.type(screen.getByLabelText('Phone number'), '+15551234567');
    await userEvent.click(screen.getAllByRole('button', { name: 'Call' })[0]);
    expect(screen.getByText(/no telephone trunk is configured/)).toBeTruthy();
    expect(send.mock.calls.some(([a]) => a.type === 'start_outbound_call')).toBe(false);
  });
});

describe('Call Agent', () => {
  it('loads on first open, searches as you type (debounced), and calls as Flex does', async () => {
    const send = server();
    renderDesktop(<Dialpad />, { send: send as never });
    const input = screen.getByLabelText('Select an agent', { selector: 'input' });
    const callButton = () => screen.getByRole('tabpanel').querySelector('button')!;
    expect(callButton().disabled).toBe(true);
    fireEvent.focus(input);
    await waitFor(() => expect(send).toHaveBeenCalledWith({ type: 'directory_agents', query: '' }, { quiet: true }));

    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      fireEvent.change(input, { target: { value: 'b' } });
      fireEvent.change(input, { target: { value: 'br' } });
      fireEvent.change(input, { target: { value: 'bro' } });
      await act(async () => vi.advanceTimersByTime(100));
      expect(send.mock.calls.filter(([a]) => a.type === 'directory_agents')).toHaveLength(1);
      await act(async () => vi.advanceTimersByTime(300));
      const searches = send.mock.calls.filter(([a]) => a.type === 'directory_agents').map(([a]) => (a as { query: string }).query);
      expect(searches).toEqual(['', 'bro']);
    } finally {
      vi.useRealTimers();
    }

    const option = await screen.findByRole('option', { name: /Bob Brown/ });
    expect(option.textContent).toContain('Available');
    fireEvent.click(option);
    await waitFor(() => expect(callButton().disabled).toBe(false));
    await userEvent.click(callButton());
    const call = send.mock.calls.find(([a]) => a.type === 'start_outbound_call')![0] as Extract<Action, { type: 'start_outbound_call' }>;
    const m = /^app:AP1c1\?worker_sid=WKb0b&from=Alice%20Anders&conversation_id=([0-9a-f-]{36})$/.exec(call.destination);
    expect(m).not.toBeNull();
    expect(call.queue_sid).toBe('WQ1c1');
    expect(call.task_attributes).toEqual({ name: 'Bob Brown', internal_outbound_to: 'Bob Brown', conversations: { conversation_id: m![1] } });
    expect(ALICE).toBeTruthy();
  });
});

describe('Call Queue', () => {
  it('lists queues by name, filters by prefix, and calls the queue', async () => {
    const send = server();
    renderDesktop(<Dialpad />, { send: send as never });
    await userEvent.click(screen.getByRole('tab', { name: 'Call Queue' }));
    const input = screen.getByLabelText('Select a queue', { selector: 'input' });
    await userEvent.type(input, 'S');
    await waitFor(() => expect(screen.getAllByRole('option').map((o) => o.textContent)).toEqual(['Sales', 'Support']));
    await userEvent.type(input, 'u');
    await waitFor(() => expect(screen.getAllByRole('option').map((o) => o.textContent)).toEqual(['Support']));
    fireEvent.click(screen.getByRole('option', { name: 'Support' }));
    const panel = screen.getAllByRole('tabpanel').find((p) => !p.hidden)!;
    const button = panel.querySelector('button')!;
    await waitFor(() => expect(button.disabled).toBe(false));
    await userEvent.click(button);
    const call = send.mock.calls.find(([a]) => a.type === 'start_outbound_call')![0] as Extract<Action, { type: 'start_outbound_call' }>;
    expect(call.destination).toMatch(/^app:AP1c1\?callToQueue=Support&from=Alice%20Anders&conversation_id=[0-9a-f-]{36}$/);
    expect(call.task_attributes?.name).toBe("Support");
  });
});

describe('without an Internal Call application', () => {
  it('says internal calls are not set up instead of dialing nowhere', async () => {
    const send = server();
    renderDesktop(<Dialpad />, { desktop: flags({ application_sid: null }), send: send as never });
    const input = screen.getByLabelText('Select an agent', { selector: 'input' });
    await userEvent.type(input, 'bro');
    fireEvent.click(await screen.findByRole('option', { name: /Bob Brown/ }));
    const callButton = screen.getByRole('tabpanel').querySelector('button')!;
    await waitFor(() => expect(callButton.disabled).toBe(false));
    await userEvent.click(callButton);
    expect(screen.getByText(/Internal calls are not set up/)).toBeTruthy();
    expect(send.mock.calls.some(([a]) => a.type === 'start_outbound_call')).toBe(false);
  });
});
