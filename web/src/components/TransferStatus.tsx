import { useState } from 'react';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Text } from '@twilio-paste/core/text';
import { useDesktop } from '../state/DesktopContext';
import { useI18n } from '../i18n/I18n';
import type { TaskView } from '../state/protocol';
import { describeTransfer } from '../lib/transfer';
import { Message } from './Message';

/**
 * A transfer this agent started: ringing the target, consulting it (Complete / Cancel), or why
 * it did not happen (until the agent dismisses it; a later failure shows again).
 */
export function TransferStatus({ task }: { task: TaskView }) {
  const { send } = useDesktop();
  const { t } = useI18n();
  // Which failure the agent dismissed: the same transfer failing the same way stays hidden.
  const [dismissed, setDismissed] = useState<string | null>(null);
  const transfer = task.call?.transfer;
  if (!transfer) return null;
  const { sentence, tone } = describeTransfer(transfer, t);
  const act = (type: 'complete_transfer' | 'cancel_transfer') => send({ type, task_sid: task.task_sid }).catch(() => {});
  if (tone === 'error') {
    const failure = `${transfer.mode}|${transfer.target}|${transfer.outcome ?? ''}`;
    if (dismissed === failure) return null;
    return (
      <Box data-testid="transfer-status" data-transfer-state="failed" data-transfer-outcome={transfer.outcome ?? ''}>
        <Message tone="error">{sentence}</Message>
        <Button variant="secondary" size="small" onClick={() => setDismissed(failure)}>
          {t('Dismiss')}
        </Button>
      </Box>
    );
  }
  return (
    <Box marginTop="space40" data-testid="transfer-status" data-transfer-state={transfer.state}>
      <Box role="status">
        <Text as="p" fontWeight="fontWeightSemibold">
          {sentence}
        </Text>
      </Box>
      <Box display="flex" flexWrap="wrap" columnGap="space30" rowGap="space30" marginTop="space30">
        {transfer.state === 'consulting' && (
          <Button variant="primary" onClick={() => act('complete_transfer')}>
            {t('TransferComplete')}
          </Button>
        )}
        <Button variant="secondary" onClick={() => act('cancel_transfer')}>
          {t('TransferCancel')}
        </Button>
      </Box>
    </Box>
  );
}
