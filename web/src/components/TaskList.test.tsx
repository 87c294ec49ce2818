import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import { CustomizationProvider } from '@twilio-paste/core/customization';
import { DesktopContextProvider, type DesktopApi } from '../state/DesktopContext';
import { I18nProvider } from '../i18n/I18n';
import { initialState } from '../state/reducer';
import type { DesktopState } from '../state/protocol';
import userEvent from '@testing-library/user-event';
import { TaskList } from './TaskList';
import { desktopState, renderDesktop, task } from '../../test/render';
import type { TaskCall } from '../state/protocol';

const call = (state: TaskCall['state'], over: Partial<TaskCall> = {}): TaskCall => ({ state, reason: null, call_sid: 'CA1', muted: false, held: false, ...over });
const outbound = (c: TaskCall, over = {}) =>
  task({
    attributes: { name: 'Bob Brown', internal_outbound_to: 'Bob Brown', outbound_to: 'app:AP1?worker_sid=WKb0b&from=Alice', direction: 'outbound' },
    call: c,
    ...over,
  });

describe('TaskList', () => {
  it('shows an empty list', () => {
    renderDesktop(<TaskList />);
    expect(screen.getByText(/No tasks/)).toBeTruthy();
  });

  it("shows an incoming call with the caller's name, Accept and Reject", async () => {
    const send = vi.fn(async () => ({}));
    const incoming = task({ reservation_sid: 'WR2', reservation_status: 'pending', task_status: 'reserved', attributes: { name: 'Alice Anders', from: '+1500' }, call: call('ringing') });
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [incoming] }), send: send as never });
    expect(screen.getByRole('group', { name: 'Alice Anders is calling' })).toBeTruthy();
    await userEvent.click(screen.getByRole('button', { name: 'Accept' }));
    expect(send).toHaveBeenCalledWith({ type: 'accept', reservation_sid: 'WR2' });
    await userEvent.click(screen.getByRole('button', { name: 'Reject' }));
    expect(send).toHaveBeenCalledWith({ type: 'reject', reservation_sid: 'WR2' });
  });

  it("shows an outgoing call by the callee's name, ringing, with hang up", async () => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [outbound(call('ringing'))] }), send: send as never });
    expect(screen.getByRole('heading', { name: 'Bob Brown' })).toBeTruthy();
    expect(screen.getByText('Ringing…')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Mute' })).toBeNull();
    await userEvent.click(screen.getByRole('button', { name: 'Hang up' }));
    expect(send).toHaveBeenCalledWith({ type: 'hangup', task_sid: 'WT1' });
  });

  it('shows a connected call with a running timer, mute, hold and hang up', async () => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<TaskList />, {
      desktop: desktopState({ tasks: [outbound(call('connected', { muted: true }))] }),
      state: { connectedSince: { WT1: Date.now() - 65_000 } },
      send: send as never,
    });
    expect(screen.getByText('Live')).toBeTruthy();
    expect(screen.getByRole('timer').textContent).toBe('01:05');
    expect(screen.getByText('Muted')).toBeTruthy();
    await userEvent.click(screen.getByRole('button', { name: 'Unmute' }));
    expect(send).toHaveBeenCalledWith({ type: 'mute', task_sid: 'WT1', muted: false });
    await userEvent.click(screen.getByRole('button', { name: 'Hold' }));
    expect(send).toHaveBeenCalledWith({ type: 'hold', task_sid: 'WT1', hold: true });
  });

  it.each([
    ['declined', 'Bob Brown declined the call.'],
    ['no-answer', 'Bob Brown did not answer.'],
    ['busy', 'Bob Brown is busy.'],
    ['unavailable', 'Bob Brown is unavailable.'],
  ])('says why a call failed (%s) and offers Complete after wrap-up', async (reason, text) => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<TaskList />, {
      desktop: desktopState({ tasks: [outbound(call('ended', { reason }), { reservation_status: 'wrapping', task_status: 'wrapping' })] }),
      send: send as never,
    });
    expect(screen.getByRole('alert').textContent).toContain(text);
    await userEvent.click(screen.getByRole('button', { name: 'Complete' }));
    expect(send).toHaveBeenCalledWith({ type: 'complete', task_sid: 'WT1' });
  });

  it('offers Wrap up for an ended call not yet wrapping', async () => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [outbound(call('ended', { reason: 'completed' }))] }), send: send as never });
    await userEvent.click(screen.getByRole('button', { name: 'Wrap up' }));
    expect(send).toHaveBeenCalledWith({ type: 'wrap', task_sid: 'WT1' });
  });

  it('answers and declines calls that ring the browser directly', async () => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<TaskList />, { desktop: desktopState({ incoming_calls: [{ call_sid: 'CA9', from: 'client:carol', status: 'ringing' }] }), send: send as never });
    await userEvent.click(screen.getByRole('button', { name: 'Accept' }));
    expect(send).toHaveBeenCalledWith({ type: 'answer_call', call_sid: 'CA9' });
    await userEvent.click(screen.getByRole('button', { name: 'Reject' }));
    expect(send).toHaveBeenCalledWith({ type: 'decline_call', call_sid: 'CA9' });
  });

  describe('keeps keyboard focus in the list when the focused control goes away', () => {
    const tree = (desktop: DesktopState) => {
      const api: DesktopApi = {
        state: { ...initialState, session: { token: 't', identity: 'alice' }, connection: 'open', desktop },
        dispatch: vi.fn(),
        send: vi.fn(async () => ({})) as never,
        signIn: vi.fn(),
        signOut: vi.fn(),
      };
      return (
        <CustomizationProvider baseTheme="default">
          <I18nProvider locale="en-US">
            <DesktopContextProvider value={api}>
              <TaskList />
            </DesktopContextProvider>
          </I18nProvider>
        </CustomizationProvider>
      );
    };
    const incoming = task({ reservation_status: 'pending', task_status: 'reserved', attributes: { name: 'Alice Anders' }, call: call('ringing') });
    const live = task({ attributes: { name: 'Alice Anders' }, call: call('connected') });
    const wrapping = task({ reservation_status: 'wrapping', task_status: 'wrapping', attributes: { name: 'Alice Anders' }, call: call('ended', { reason: 'completed' }) });

    it('Accept → Hang up → Complete → the Tasks heading', async () => {
      const user = userEvent.setup();
      const { rerender } = render(tree(desktopState({ tasks: [incoming] })));
      await user.tab();
      expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Accept' }));
      await user.keyboard('{Enter}');
      rerender(tree(desktopState({ tasks: [live] })));
      expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Hang up' }));
      rerender(tree(desktopState({ tasks: [wrapping] })));
      expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Complete' }));
      rerender(tree(desktopState({ tasks: [] })));
      expect(document.activeElement).toBe(screen.getByRole('heading', { name: 'Tasks' }));
    });

    it('leaves focus alone when it is not in the list', () => {
      const outside = document.createElement('button');
      document.body.appendChild(outside);
      const { rerender } = render(tree(desktopState({ tasks: [incoming] })));
      outside.focus();
      rerender(tree(desktopState({ tasks: [live] })));
      expect(document.activeElement).toBe(outside);
      outside.remove();
    });
  });
});
