import type { Task } from '../state/protocol';
import { callFailure, taskHeader, type FailureKey } from '../lib/taskView';
import { useI18n } from '../i18n/I18n';
import type { StringKey } from '../i18n/strings';
import { Message } from './Message';

const FAILURE_STRINGS: Record<FailureKey, StringKey> = {
  declined: 'FailDeclined',
  'no-answer': 'FailNoAnswer',
  busy: 'FailBusy',
  unavailable: 'FailUnavailable',
  canceled: 'FailCanceled',
  failed: 'FailFailed',
};

/** Why an ended call ended, when it did not end normally. */
export function CallOutcome({ task }: { task: Task }) {
  const { t } = useI18n();
  if (task.call?.state !== 'ended') return null;
  const failure = callFailure(task);
  if (!failure) return <Message tone="neutral">{t('CallCompleted')}</Message>;
  return (
    <Message tone="error">
      {t(FAILURE_STRINGS[failure.key], { name: taskHeader(task), detail: failure.detail ?? '' })}
    </Message>
  );
}
