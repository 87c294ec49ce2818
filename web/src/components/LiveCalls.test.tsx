import { describe, expect, it, vi } from 'vitest';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { LiveCalls } from './LiveCalls';
import { desktopState, party, renderDesktop } from '../../test/render';
import type { LiveCall, SupervisorView } from '../state/protocol';

const CALL: LiveCall = {
  conference_sid: 'CF1',
  task_sid: 'WT2',
  queue: 'Internal Calls',
  participants: [party({ call_sid: 'CAb', name: 'Bob Brown', kind: 'agent' }), party({ call_sid: 'CAx', name: 'Alice Anders' })],
  since: Date.now() - 65_000,
};
const OTHER: LiveCall = {
  conference_sid: 'CF2',
  task_sid: 'WT3',
  queue: 'Support',
  participants: [party({ call_sid: 'CAc', name: 'Carol Chen', kind: 'agent' }), party({ call_sid: 'CAy', name: 'Eva Evans' })],
  since: Date.now() - 5_000,
};
const supervisor = (over: Partial<SupervisorView> = {}) => desktopState({ supervisor: { live_calls: [CALL, OTHER], supervising: null, ...over } });
const zoeOnCall = (mode: 'monitor' | 'coach' | 'barge') =>
  supervisor({
    live_calls: [{ ...CALL, participants: [...CALL.participants, party({ call_sid: 'CAz', name: 'Zoë Ortega', kind: 'supervisor', coaching: mode === 'coach' })] }, OTHER],
    supervising: { conference_sid: 'CF1', call_sid: 'CAz', mode, coached_call_sid: mode === 'coach' ? 'CAb' : null },
  });

describe('LiveCalls', () => {
  it('is not shown to an agent who is no supervisor', () => {
    renderDesktop(<LiveCalls />, { desktop: desktopState({ supervisor: null }) });
    expect(screen.queryByRole('heading', { name: 'Live calls' })).toBeNull();
  });

  it('says when there is no call', () => {
    renderDesktop(<LiveCalls />, { desktop: supervisor({ live_calls: [] }) });
    expect(screen.getByText('No calls in progress.')).toBeTruthy();
  });

  it('lists each call with its queue, parties and duration', () => {
    renderDesktop(<LiveCalls />, { desktop: supervisor() });
    const item = screen.getByRole('listitem', { name: 'Live call with Bob Brown, Alice Anders' });
    expect(within(item).getByText('Queue: Internal Calls')).toBeTruthy();
    expect(within(item).getByRole('timer').textContent).toBe('01:05');
    expect(within(item).getByText('Agent')).toBeTruthy();
    expect(within(item).getByText('Caller')).toBeTruthy();
    expect(screen.getByRole('listitem', { name: 'Live call with Carol Chen, Eva Evans' })).toBeTruthy();
  });

  it.each([
    ['Monitor', { type: 'supervise', conference_sid: 'CF1', mode: 'monitor' }],
    ['Coach', { type: 'supervise', conference_sid: 'CF1', mode: 'coach', call_sid: 'CAb' }],
    ['Barge in', { type: 'supervise', conference_sid: 'CF1', mode: 'barge' }],
  ] as const)('%s joins the call', async (button, action) => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<LiveCalls />, { desktop: supervisor(), send: send as never });
    const item = screen.getByRole('listitem', { name: 'Live call with Bob Brown, Alice Anders' });
    await userEvent.click(within(item).getByRole('button', { name: button }));
    expect(send).toHaveBeenCalledWith(action);
  });

  it.each([
    ['monitor', 'You are monitoring this call: nobody hears you.'],
    ['coach', 'You are coaching Bob Brown: only Bob Brown hears you.'],
    ['barge', 'You joined this call: everyone hears you.'],
  ] as const)('while supervising (%s): says what it means, shows the mode pressed, switches and leaves', async (mode, text) => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<LiveCalls />, { desktop: zoeOnCall(mode), send: send as never });
    const item = screen.getByRole('listitem', { name: 'Live call with Bob Brown, Alice Anders' });
    expect(within(item).getByText(text)).toBeTruthy();
    expect(within(item).getByText('Supervising')).toBeTruthy();
    const group = within(item).getByRole('group', { name: 'How you take part' });
    const pressed = within(group)
      .getAllByRole('button')
      .filter((b) => b.getAttribute('aria-pressed') === 'true')
      .map((b) => b.textContent);
    expect(pressed).toEqual([{ monitor: 'Monitor', coach: 'Coach', barge: 'Barge in' }[mode]]);
    const next = mode === 'barge' ? 'Monitor' : 'Barge in';
    await userEvent.click(within(group).getByRole('button', { name: next }));
    expect(send).toHaveBeenCalledWith({ type: 'supervise', conference_sid: 'CF1', mode: next === 'Monitor' ? 'monitor' : 'barge' });
    await userEvent.click(within(group).getByRole('button', { name: 'Leave' }));
    expect(send).toHaveBeenCalledWith({ type: 'stop_supervising' });
  });

  it('does not join another call while supervising one, and says why', async () => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<LiveCalls />, { desktop: zoeOnCall('monitor'), send: send as never });
    const other = screen.getByRole('listitem', { name: 'Live call with Carol Chen, Eva Evans' });
    const monitor = within(other).getByRole('button', { name: 'Monitor' });
    expect(monitor.getAttribute('aria-disabled')).toBe('true');
    await userEvent.click(monitor);
    expect(send).not.toHaveBeenCalled();
    expect(within(other).getByText('Leave the call you supervise to join another.')).toBeTruthy();
  });

  it('is keyboard usable', async () => {
    const send = vi.fn(async () => ({}));
    renderDesktop(<LiveCalls />, { desktop: supervisor(), send: send as never });
    const item = screen.getByRole('listitem', { name: 'Live call with Bob Brown, Alice Anders' });
    within(item).getByRole('button', { name: 'Monitor' }).focus();
    await userEvent.tab();
    expect(document.activeElement).toBe(within(item).getByRole('button', { name: 'Coach' }));
    await userEvent.keyboard('{Enter}');
    expect(send).toHaveBeenCalledWith({ type: 'supervise', conference_sid: 'CF1', mode: 'coach', call_sid: 'CAb' });
  });

  it('offers to coach either agent of an internal call, the calling agent included', async () => {
    const send = vi.fn(async () => ({}));
    const internal: LiveCall = {
      ...CALL,
      participants: [party({ call_sid: 'CAb', name: 'Bob Brown', kind: 'agent' }), party({ call_sid: 'CAx', name: 'Alice Anders', coachable: true })],
    };
    renderDesktop(<LiveCalls />, { desktop: supervisor({ live_calls: [internal] }), send: send as never });
    const item = screen.getByRole('listitem', { name: 'Live call with Bob Brown, Alice Anders' });
    const group = within(item).getByRole('group', { name: 'How you take part' });
    expect(within(group).getAllByRole('button').map((b) => b.textContent)).toEqual(['Monitor', 'Coach Bob Brown', 'Coach Alice Anders', 'Barge in']);
    await userEvent.click(within(group).getByRole('button', { name: 'Coach Alice Anders' }));
    expect(send).toHaveBeenCalledWith({ type: 'supervise', conference_sid: 'CF1', mode: 'coach', call_sid: 'CAx' });
  });

  describe('with two agents on the call (a consult or three-way transfer)', () => {
    const THREE: LiveCall = {
      ...CALL,
      participants: [party({ call_sid: 'CAb', name: 'Bob Brown', kind: 'agent' }), party({ call_sid: 'CAc', name: 'Carol Chen', kind: 'agent' }), party({ call_sid: 'CAx', name: 'Alice Anders' })],
    };
    const item = () => screen.getByRole('listitem', { name: 'Live call with Bob Brown, Carol Chen, Alice Anders' });

    it('offers to coach each agent by name, and coaches the one chosen', async () => {
      const send = vi.fn(async () => ({}));
      renderDesktop(<LiveCalls />, { desktop: supervisor({ live_calls: [THREE] }), send: send as never });
      const group = within(item()).getByRole('group', { name: 'How you take part' });
      expect(within(group).getAllByRole('button').map((b) => b.textContent)).toEqual(['Monitor', 'Coach Bob Brown', 'Coach Carol Chen', 'Barge in']);
      await userEvent.click(within(group).getByRole('button', { name: 'Coach Carol Chen' }));
      expect(send).toHaveBeenCalledWith({ type: 'supervise', conference_sid: 'CF1', mode: 'coach', call_sid: 'CAc' });
    });

    it('while coaching one, shows whom, and switches to the other', async () => {
      const send = vi.fn(async () => ({}));
      const desktop = supervisor({
        live_calls: [{ ...THREE, participants: [...THREE.participants, party({ call_sid: 'CAz', name: 'Zoë Ortega', kind: 'supervisor', coaching: true })] }],
        supervising: { conference_sid: 'CF1', call_sid: 'CAz', mode: 'coach', coached_call_sid: 'CAb' },
      });
      renderDesktop(<LiveCalls />, { desktop, send: send as never });
      expect(within(item()).getByText('You are coaching Bob Brown: only Bob Brown hears you.')).toBeTruthy();
      const group = within(item()).getByRole('group', { name: 'How you take part' });
      const pressed = within(group)
        .getAllByRole('button')
        .filter((b) => b.getAttribute('aria-pressed') === 'true')
        .map((b) => b.textContent);
      expect(pressed).toEqual(['Coach Bob Brown']);
      await userEvent.click(within(group).getByRole('button', { name: 'Coach Bob Brown' }));
      expect(send).not.toHaveBeenCalled();
      await userEvent.click(within(group).getByRole('button', { name: 'Coach Carol Chen' }));
      expect(send).toHaveBeenCalledWith({ type: 'supervise', conference_sid: 'CF1', mode: 'coach', call_sid: 'CAc' });
    });

    it('names the agent in every locale', () => {
      renderDesktop(<LiveCalls />, { desktop: supervisor({ live_calls: [THREE] }), locale: 'pt-BR' });
      expect(screen.getByRole('button', { name: 'Orientar Carol Chen' })).toBeTruthy();
    });
  });

  it('is localized', () => {
    renderDesktop(<LiveCalls />, { desktop: zoeOnCall('coach'), locale: 'es-ES' });
    expect(screen.getByRole('heading', { name: 'Llamadas en curso' })).toBeTruthy();
    expect(screen.getByText('Estás asesorando a Bob Brown: solo Bob Brown te oye.')).toBeTruthy();
  });
});
