import { Text } from '@twilio-paste/core/text';
import type { TaskView } from '../state/protocol';
import { describeOutcome, taskHeader } from '../lib/taskView';
import { useI18n } from '../i18n/I18n';
import { Message } from './Message';

/** How an ended call ended: normally, or why not (and, when it failed, what the server said). */
export function CallOutcome({ task }: { task: TaskView }) {
  const { t } = useI18n();
  if (task.call?.state !== 'ended') return null;
  const outcome = describeOutcome(task.call.outcome, taskHeader(task), t);
  return (
    <Message tone={outcome.tone}>
      {outcome.sentence}
      {outcome.detail && (
        <Text as="span" display="block" marginTop="space20" data-testid="call-outcome-detail">
          {outcome.detail}
        </Text>
      )}
    </Message>
  );
}
