import { Box } from '@twilio-paste/core/box';
import { Card } from '@twilio-paste/core/card';
import { Heading } from '@twilio-paste/core/heading';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { useDesktop } from '../state/DesktopContext';
import { useI18n } from '../i18n/I18n';
import { taskHeader, taskStage } from '../lib/taskView';
import type { Task } from '../state/protocol';
import { IncomingCallCard } from './IncomingCallCard';
import { CallCanvas } from './CallCanvas';
import { WrapUp } from './WrapUp';

function TaskEntry({ task }: { task: Task }) {
  const stage = taskStage(task);
  if (stage === 'incoming') {
    return <IncomingCallCard reservationSid={task.reservation_sid} name={taskHeader(task)} queue={task.queue} />;
  }
  if (stage === 'wrapping') return <WrapUp task={task} />;
  return <CallCanvas task={task} />;
}

/** The agent's tasks, oldest first, and calls ringing the browser directly. */
export function TaskList() {
  const { state } = useDesktop();
  const { t } = useI18n();
  const d = state.desktop;
  if (!d) return null;
  const empty = d.tasks.length === 0 && d.incoming_calls.length === 0;
  return (
    <Box as="section" aria-labelledby="tasks-heading">
      <Heading as="h2" variant="heading30" id="tasks-heading">
        {t('TasksTitle')}
      </Heading>
      {empty && <Paragraph>{t('TasksEmpty')}</Paragraph>}
      <Box as="ul" margin="space0" padding="space0" listStyleType="none" display="flex" flexDirection="column" rowGap="space40">
        {d.incoming_calls.map((c) => (
          <Box as="li" key={c.call_sid}>
            <Card padding="space60">
              <IncomingCallCard callSid={c.call_sid} name={c.from} />
            </Card>
          </Box>
        ))}
        {d.tasks.map((task) => (
          <Box as="li" key={task.reservation_sid} data-task-sid={task.task_sid}>
            <Card padding="space60">
              <TaskEntry task={task} />
            </Card>
          </Box>
        ))}
      </Box>
    </Box>
  );
}
