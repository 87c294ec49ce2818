import type { ReactElement } from 'react';
import { render } from '@testing-library/react';
import { vi } from 'vitest';
import { CustomizationProvider } from '@twilio-paste/core/customization';
import { DesktopContextProvider, type DesktopApi } from '../src/state/DesktopContext';
import { I18nProvider } from '../src/i18n/I18n';
import { initialState, type AppState } from '../src/state/reducer';
import type { DesktopState, Task } from '../src/state/protocol';
import type { Locale } from '../src/i18n/strings';

export const ALICE = 'WKa11ce000000000000000000000000000';
export const OFFLINE = 'WA0ff00000000000000000000000000000';
export const AVAILABLE = 'WAa7a00000000000000000000000000000';

export function desktopState(over: Partial<DesktopState> = {}): DesktopState {
  return {
    type: 'state',
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
    ...over,
  };
}

export function task(over: Partial<Task> & { attributes?: Record<string, unknown> }): Task {
  return {
    reservation_sid: 'WR1',
    reservation_status: 'accepted',
    task_sid: 'WT1',
    task_status: 'assigned',
    channel: 'voice',
    queue: 'Internal Calls',
    attributes: {},
    date_created: 1,
    call: { state: 'ringing', reason: null, call_sid: 'CA1', muted: false, held: false },
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
      session: { token: 't', identity: 'alice' },
      connection: 'open',
      desktop: opts.desktop ?? desktopState(),
      ...opts.state,
    },
    dispatch: vi.fn(),
    send,
    signIn: vi.fn(),
    signOut: vi.fn(),
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
