import { describe, expect, it, vi } from 'vitest';
import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { CustomizationProvider } from '@twilio-paste/core/customization';
import { TaskList } from './TaskList';
import { SESSION, call, desktopState, outboundTask, party, renderDesktop, task } from '../../test/render';
import { DesktopContextProvider, type DesktopApi } from '../state/DesktopContext';
import { I18nProvider } from '../i18n/I18n';
import { initialState } from '../state/reducer';
import { LOCALES, STRINGS } from '../i18n/strings';
import type { Action, DesktopState, RecordingView } from '../state/protocol';

const ALICE_PARTY = party({ call_sid: 'CAa', name: 'Alice Anders' });
/** Bob's side of a call from Alice, connected, with this recording. */
const connected = (recording: RecordingView | null = null) =>
  task({ attributes: { name: 'Alice Anders' }, call: call('connected', { participants: [ALICE_PARTY], recording }) });
const RUNNING: RecordingView = { sid: 'RE0123', paused: false };
const PAUSED: RecordingView = { sid: 'RE0123', paused: true };

const button = (name: string) => screen.queryByRole('button', { name, exact: true } as never) as HTMLButtonElement | null;

/**
 * The task list against a fake server that keeps the call's recording as the real one does
 * (start, pause, resume, stop, refusing what does not apply) and pushes the new state.
 */
function withFakeServer(initial: RecordingView | null = null) {
  const sent: Action[] = [];
  let push: (r: RecordingView | null) => void = () => {};
  let current = initial;
  const send = vi.fn(async (a: Action): Promise<unknown> => {
    sent.push(a);
    if (a.type !== 'recording') return {};
    // As the server: refused when already recording / not recording / not in that state.
    let now: RecordingView | null;
    if (a.action === 'start' && !current) now = { sid: 'RE9', paused: false };
    else if (a.action === 'pause' && current && !current.paused) now = { ...current, paused: true };
    else if (a.action === 'resume' && current?.paused) now = { ...current, paused: false };
    else if (a.action === 'stop' && current) now = null;
    else throw new Error('refused');
    current = now;
    act(() => push(now));
    return {};
  });
  function Harness() {
    const [desktop, setDesktop] = useState<DesktopState>(() => desktopState({ tasks: [connected(initial)] }));
    push = (r) => setDesktop(desktopState({ tasks: [connected(r)] }));
    const api: DesktopApi = {
      state: { ...initialState, session: SESSION, connection: 'open', desktop },
      dispatch: vi.fn(),
      send: send as unknown as DesktopApi['send'],
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
  }
  render(<Harness />);
  return { send, sent };
}

describe('Recording', () => {
  it('offers Record on a connected call, which starts the recording of the task', async () => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [connected()] }), send: send as never });
    expect(screen.queryByTestId('recording-indicator')).toBeNull();
    await userEvent.click(button('Record')!);
    expect(send).toHaveBeenCalledWith({ type: 'recording', task_sid: 'WT1', action: 'start' });
  });

  it.each(['dialing', 'ringing', 'ended'] as const)('offers no Record while the call is %s', (stage) => {
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [task({ attributes: { name: 'Alice Anders' }, call: call(stage) })] }) });
    expect(button('Record')).toBeNull();
  });

  it('while recording: a red dot and "Recording" in the call’s status, Pause and Stop', async () => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [connected(RUNNING)] }), send: send as never });
    const indicator = screen.getByTestId('recording-indicator');
    expect(indicator.getAttribute('data-recording-state')).toBe('recording');
    expect(indicator.getAttribute('data-recording-sid')).toBe('RE0123');
    expect(indicator.textContent).toBe('Recording');
    // In the stage line, a live region: announced when it appears or changes.
    expect(within(screen.getByTestId('call-stage')).getByTestId('recording-indicator')).toBe(indicator);
    expect(screen.getByTestId('call-stage').getAttribute('role')).toBe('status');
    // The dot is decoration: the text says it.
    const dot = screen.getByTestId('recording-dot');
    expect(dot.getAttribute('aria-hidden')).toBe('true');
    expect(button('Record')).toBeNull();
    await userEvent.click(button('Pause recording')!);
    expect(send).toHaveBeenCalledWith({ type: 'recording', task_sid: 'WT1', action: 'pause' });
    await userEvent.click(button('Stop recording')!);
    expect(send).toHaveBeenCalledWith({ type: 'recording', task_sid: 'WT1', action: 'stop' });
  });

  it('while paused: "Recording paused", Resume and Stop', async () => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [connected(PAUSED)] }), send: send as never });
    const indicator = screen.getByTestId('recording-indicator');
    expect(indicator.getAttribute('data-recording-state')).toBe('paused');
    expect(indicator.textContent).toBe('Recording paused');
    expect(button('Pause recording')).toBeNull();
    await userEvent.click(button('Resume recording')!);
    expect(send).toHaveBeenCalledWith({ type: 'recording', task_sid: 'WT1', action: 'resume' });
    expect(button('Stop recording')).toBeTruthy();
  });

  it('shows on the other agent’s desktop too (the caller’s side of the call)', () => {
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [outboundTask(call('connected', { recording: RUNNING }))] }) });
    expect(screen.getByTestId('recording-indicator').textContent).toBe('Recording');
    expect(button('Stop recording')).toBeTruthy();
  });

  it('is keyboard usable: Record, Pause, Resume and Stop by keys, focus following the control that replaces the one pressed', async () => {
    const { sent } = withFakeServer();
    const record = button('Record')!;
    record.focus();
    await userEvent.keyboard('{Enter}');
    await waitFor(() => expect(screen.getByTestId('recording-indicator').textContent).toBe('Recording'));
    // Record is gone: focus is on Pause, not lost on the page.
    expect(document.activeElement).toBe(button('Pause recording'));
    await userEvent.keyboard(' ');
    await waitFor(() => expect(screen.getByTestId('recording-indicator').textContent).toBe('Recording paused'));
    // The same button, now Resume: it keeps the focus.
    expect(document.activeElement).toBe(button('Resume recording'));
    await userEvent.keyboard('{Enter}');
    await waitFor(() => expect(screen.getByTestId('recording-indicator').textContent).toBe('Recording'));
    await userEvent.tab();
    expect(document.activeElement).toBe(button('Stop recording'));
    await userEvent.keyboard('{Enter}');
    await waitFor(() => expect(screen.queryByTestId('recording-indicator')).toBeNull());
    expect(document.activeElement).toBe(button('Record'));
    expect(sent.map((a) => (a.type === 'recording' ? a.action : a.type))).toEqual(['start', 'pause', 'resume', 'stop']);
  });

  it('ignores presses while the server has not answered', async () => {
    let answer: () => void = () => {};
    const send = vi.fn(() => new Promise((ok) => (answer = () => ok({}))));
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [connected()] }), send: send as never });
    const record = button('Record')!;
    await userEvent.click(record);
    await waitFor(() => expect(record.getAttribute('aria-disabled')).toBe('true'));
    await userEvent.click(record);
    expect(send).toHaveBeenCalledTimes(1);
    await act(async () => answer());
    await waitFor(() => expect(record.getAttribute('aria-disabled')).toBeNull());
  });

  it('stays as it was when the server refuses (the refusal is a notice)', async () => {
    const send = vi.fn(async () => {
      throw new Error('refused');
    });
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [connected()] }), send: send as never });
    await userEvent.click(button('Record')!);
    await waitFor(() => expect(button('Record')!.getAttribute('aria-disabled')).toBeNull());
    expect(screen.queryByTestId('recording-indicator')).toBeNull();
  });

  it.each(LOCALES)('%s: says it in the locale', (locale) => {
    const s = STRINGS[locale];
    const { unmount } = renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [connected(RUNNING)] }), locale });
    expect(screen.getByTestId('recording-indicator').textContent).toBe(s.Recording);
    expect(button(s.RecordPause)).toBeTruthy();
    expect(button(s.RecordStop)).toBeTruthy();
    unmount();
    renderDesktop(<TaskList />, { desktop: desktopState({ tasks: [connected(PAUSED)] }), locale });
    expect(screen.getByTestId('recording-indicator').textContent).toBe(s.RecordingPaused);
    expect(button(s.RecordResume)).toBeTruthy();
  });
});
