import { useLayoutEffect, useRef, type FocusEvent } from 'react';
import { Box } from '@twilio-paste/core/box';
import { Card } from '@twilio-paste/core/card';
import { Heading } from '@twilio-paste/core/heading';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { useDesktop } from '../state/DesktopContext';
import { useI18n } from '../i18n/I18n';
import { taskHeader, taskStage } from '../lib/taskView';
import type { TaskView } from '../state/protocol';
import { IncomingCallCard } from './IncomingCallCard';
import { CallCanvas } from './CallCanvas';
import { WrapUp } from './WrapUp';

function TaskEntry({ task }: { task: TaskView }) {
  const stage = taskStage(task);
  if (stage === 'incoming') {
    return <IncomingCallCard reservationSid={task.reservation_sid} name={taskHeader(task)} queue={task.queue} />;
  }
  if (stage === 'wrapping') return <WrapUp task={task} />;
  return <CallCanvas task={task} />;
}

/**
 * Keeps keyboard focus in the task list when the control that had it goes away: Accept, Hang up
 * and Complete are replaced by the next stage's controls (or the whole task goes), which would
 * drop focus to <body>. Focus moves to the same task's primary action (`data-primary-action`),
 * else its first button, else the Tasks heading. Only when focus was in the list and is now
 * nowhere; focus the agent moved elsewhere on purpose is left alone.
 */
function useKeepFocusInList(deps: unknown[]) {
  const section = useRef<HTMLElement | null>(null);
  const heading = useRef<HTMLHeadingElement | null>(null);
  const focusInList = useRef(false);
  const lastItem = useRef<string | null>(null);

  const onFocus = (e: FocusEvent) => {
    focusInList.current = true;
    lastItem.current = (e.target as HTMLElement).closest('li[data-item-key]')?.getAttribute('data-item-key') ?? null;
  };
  const onBlur = (e: FocusEvent) => {
    const to = e.relatedTarget as Node | null;
    if (to && section.current?.contains(to)) return;
    if (to) {
      focusInList.current = false;
      return;
    }
    // Focus went nowhere: because the element was removed (keep the flag), or because the agent
    // clicked outside or left the window (drop it). Decided once React has finished the update.
    const from = e.target as HTMLElement;
    setTimeout(() => {
      if (from.isConnected && document.activeElement !== from) focusInList.current = false;
    }, 0);
  };

  useLayoutEffect(() => {
    const active = document.activeElement;
    if (!focusInList.current || (active && active !== document.body)) return;
    const items = section.current?.querySelectorAll<HTMLElement>('li[data-item-key]') ?? [];
    const item = [...items].find((li) => li.getAttribute('data-item-key') === lastItem.current);
    const target =
      item?.querySelector<HTMLElement>('[data-primary-action]:not([disabled])') ??
      item?.querySelector<HTMLElement>('button:not([disabled])') ??
      heading.current;
    target?.focus();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  return { section, heading, onFocus, onBlur };
}

/** The agent's tasks, oldest first, and calls ringing the browser directly. */
export function TaskList() {
  const { state } = useDesktop();
  const { t } = useI18n();
  const d = state.desktop;
  const keep = useKeepFocusInList([d?.tasks, d?.incoming_calls]);
  if (!d) return null;
  const empty = d.tasks.length === 0 && d.incoming_calls.length === 0;
  return (
    <Box as="section" aria-labelledby="tasks-heading" ref={keep.section} onFocus={keep.onFocus} onBlur={keep.onBlur}>
      <Heading as="h2" variant="heading30" id="tasks-heading" ref={keep.heading} tabIndex={-1}>
        {t('TasksTitle')}
      </Heading>
      {empty && <Paragraph>{t('TasksEmpty')}</Paragraph>}
      <Box as="ul" margin="space0" padding="space0" listStyleType="none" display="flex" flexDirection="column" rowGap="space40">
        {d.incoming_calls.map((c) => (
          <Box as="li" key={c.call_sid} data-item-key={c.call_sid}>
            <Card padding="space60">
              <IncomingCallCard callSid={c.call_sid} name={c.from} />
            </Card>
          </Box>
        ))}
        {d.tasks.map((task) => (
          <Box as="li" key={task.reservation_sid} data-item-key={task.reservation_sid} data-task-sid={task.task_sid}>
            <Card padding="space60">
              <TaskEntry task={task} />
            </Card>
          </Box>
        ))}
      </Box>
    </Box>
  );
}
