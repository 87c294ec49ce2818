import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/react';
import { CustomizationProvider } from '@twilio-paste/core/customization';
import { DesktopContextProvider, type DesktopApi } from '../state/DesktopContext';
import { I18nProvider } from '../i18n/I18n';
import { initialState } from '../state/reducer';
import type { DesktopState } from '../state/protocol';
import userEvent from '@testing-library/user-event';
import { TaskList } from './TaskList';
import { LOCALES } from '../i18n/strings';
import type { CallOutcome } from '../state/protocol';
import { SESSION, call, desktopState, outboundTask as outbound, renderDesktop, task } from '../../test/render';

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
    ['canceled', 'You hung up before anyone answered.'],
  ] as const)('says why a call failed (%s) and offers Complete after wrap-up', async (code, text) => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<TaskList />, {
      desktop: desktopState({ tasks: [outbound(call('ended', { outcome: { code } }), { reservation_status: 'wrapping', task_status: 'wrapping' })] }),
      send: send as never,
    });
    expect(screen.getByRole('alert').textContent).toContain(text);
    await userEvent.click(screen.getByRole('button', { name: 'Complete' }));
    expect(send).toHaveBeenCalledWith({ type: 'complete', task_sid: 'WT1' });
  });

  it("shows a failed call's sentence with the server's message and Twilio's error code", () => {
    const outcome: CallOutcome = { code: 'failed', error_code: 11200, message: 'the Internal Call application answered HTTP 500' };
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [outbound(call('ended', { outcome }), { reservation_status: 'wrapping' })] }) });
    const alert = screen.getByRole('alert');
    expect(alert.textContent).toContain('The call to Bob Brown failed.');
    expect(screen.getByTestId('call-outcome-detail').textContent).toBe('the Internal Call application answered HTTP 500 (error 11200)');
  });

  it.each(LOCALES)('translates a failed call in %s, keeping the server’s message as it is', (locale) => {
    const outcome: CallOutcome = { code: 'failed', error_code: null, message: 'no telephone trunk' };
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [outbound(call('ended', { outcome }))] }), locale });
    expect(screen.getByRole('alert').textContent).toContain('Bob Brown');
    expect(screen.getByTestId('call-outcome-detail').textContent).toBe('no telephone trunk');
  });

  it('says an offered call that ended just ended (it has no outcome)', () => {
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [task({ attributes: { name: 'Alice Anders' }, call: call('ended') })] }) });
    expect(screen.getByText('The call has ended.')).toBeTruthy();
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('offers Wrap up for an ended call not yet wrapping', async () => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [outbound(call('ended', { outcome: { code: 'completed' } }))] }), send: send as never });
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
        state: { ...initialState, session: SESSION, connection: 'open', desktop },
        dispatch: vi.fn(),
        send: vi.fn(async () => ({})) as never,
        signIn: vi.fn(),
        signOut: vi.fn(),
        updateToken: vi.fn(async () => {}),
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
    const wrapping = task({ reservation_status: 'wrapping', task_status: 'wrapping', attributes: { name: 'Alice Anders' }, call: call('ended') });

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
