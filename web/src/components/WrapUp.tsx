import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Heading } from '@twilio-paste/core/heading';
import { Text } from '@twilio-paste/core/text';
import { useDesktop } from '../state/DesktopContext';
import { useI18n } from '../i18n/I18n';
import type { TaskView } from '../state/protocol';
import { taskHeader } from '../lib/taskView';
import { CallOutcome } from './CallOutcome';

/** After the call: how it ended, then Complete. */
export function WrapUp({ task }: { task: TaskView }) {
  const { send } = useDesktop();
  const { t } = useI18n();
  return (
    <Box role="group" aria-label={t('StageWrapping')} data-testid="wrap-up">
      <Heading as="h3" variant="heading40" marginBottom="space0">
        {taskHeader(task)}
      </Heading>
      <Text as="p" fontWeight="fontWeightSemibold" marginTop="space20">
        {t('StageWrapping')}
      </Text>
      <CallOutcome task={task} />
      <Box marginTop="space40">
        <Button variant="primary" data-primary-action onClick={() => send({ type: 'complete', task_sid: task.task_sid }).catch(() => {})}>
          {t('Complete')}
        </Button>
      </Box>
    </Box>
  );
}
