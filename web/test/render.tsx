import type { ReactElement } from 'react';
import { render } from '@testing-library/react';
import { vi } from 'vitest';
import { CustomizationProvider } from '@twilio-paste/core/customization';
import { DesktopContextProvider, type DesktopApi } from '../src/state/DesktopContext';
import { I18nProvider } from '../src/i18n/I18n';
import { initialState, type AppState, type Session } from '../src/state/reducer';
import type { CallView, DesktopState, ParticipantView, TaskView } from '../src/state/protocol';
import type { Locale } from '../src/i18n/strings';

export const ALICE = 'WKa11ce000000000000000000000000000';
export const OFFLINE = 'WA0ff00000000000000000000000000000';
export const AVAILABLE = 'WAa7a00000000000000000000000000000';

export const SESSION: Session = { token: 't', identity: 'alice', workerSid: ALICE, demo: true };

export function desktopState(over: Partial<DesktopState> = {}): DesktopState {
  return {
    worker: {
      sid: ALICE,
      friendly_name: 'alice',
      full_name: 'Alice Anders',
      contact_uri: 'client:alice',
      activity_sid: AVAILABLE,
      activity_name: 'Available',
      available: true,
    },
    workspace_sid: 'WS5a5',
    internal_call: {
      enabled: true,
      enable_call_agent: true,
      enable_call_queue: true,
      application_sid: 'AP1c1',
      outbound_queue_sid: 'WQ1c1',
    },
    offline_activity_sid: OFFLINE,
    activities: [
      { sid: OFFLINE, friendly_name: 'Offline', available: false },
      { sid: AVAILABLE, friendly_name: 'Available', available: true },
      { sid: 'WAb8e', friendly_name: 'Break', available: false },
    ],
    tasks: [],
    incoming_calls: [],
    audio: null,
    media: { enabled: false, ice_servers: [] },
    supervisor: null,
    ...over,
  };
}

/** A task's call; inbound and ringing unless told otherwise. */
export function call(state: CallView['state'], over: Partial<CallView> = {}): CallView {
  return {
    direction: 'inbound',
    state,
    outcome: null,
    call_sid: 'CA1',
    muted: false,
    held: false,
    participants: [],
    transfer: null,
    transferred_from: null,
    // Fields the server adds later (the recording) start empty too; the cast lets the fixture
    // run against either shape.
    recording: null,
    ...over,
  } as CallView;
}

/** An internal call the agent placed to Bob Brown. */
export function outboundTask(c: CallView | null, over: Partial<TaskView> = {}): TaskView {
  return task({
    attributes: { name: 'Bob Brown', internal_outbound_to: 'Bob Brown', outbound_to: 'app:AP1?worker_sid=WKb0b&from=Alice', direction: 'outbound' },
    call: c && { ...c, direction: 'outbound' },
    ...over,
  });
}

export function task(over: Partial<TaskView> & { attributes?: Record<string, unknown> }): TaskView {
  return {
    reservation_sid: 'WR1',
    reservation_status: 'accepted',
    task_sid: 'WT1',
    task_status: 'assigned',
    channel: 'voice',
    queue: 'Internal Calls',
    attributes: {},
    date_created: 1,
    call: call('ringing'),
    ...over,
  };
}

export function renderDesktop(
  ui: ReactElement,
  opts: { desktop?: DesktopState; state?: Partial<AppState>; send?: DesktopApi['send']; locale?: Locale } = {},
) {
  const send = opts.send ?? (vi.fn(async () => ({})) as unknown as DesktopApi['send']);
  const api: DesktopApi = {
    state: {
      ...initialState,
      session: SESSION,
      connection: 'open',
      desktop: opts.desktop ?? desktopState(),
      ...opts.state,
    },
    dispatch: vi.fn(),
    send,
    signIn: vi.fn(),
    signOut: vi.fn(),
    updateToken: vi.fn(async () => {}),
  };
  const result = render(
    <CustomizationProvider baseTheme="default">
      <I18nProvider locale={opts.locale ?? 'en-US'}>
        <DesktopContextProvider value={api}>{ui}</DesktopContextProvider>
      </I18nProvider>
    </CustomizationProvider>,
  );
  return { ...result, api, send };
}

/** A party of a call (a caller, not held, unless told otherwise). */
export function party(over: Partial<ParticipantView> & { call_sid: string; name: string }): ParticipantView {
  return { kind: 'caller', hold: false, muted: false, coaching: false, coachable: (over.kind ?? 'caller') === 'agent', ...over };
}
