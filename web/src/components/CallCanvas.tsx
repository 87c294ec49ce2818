import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Heading } from '@twilio-paste/core/heading';
import { Text } from '@twilio-paste/core/text';
import { Badge } from '@twilio-paste/core/badge';
import { MicrophoneOffIcon } from '@twilio-paste/icons/esm/MicrophoneOffIcon';
import { MicrophoneOnIcon } from '@twilio-paste/icons/esm/MicrophoneOnIcon';
import { CallHoldIcon } from '@twilio-paste/icons/esm/CallHoldIcon';
import { CallFailedIcon } from '@twilio-paste/icons/esm/CallFailedIcon';
import { CallTransferIcon } from '@twilio-paste/icons/esm/CallTransferIcon';
import { useState } from 'react';
import { useDesktop } from '../state/DesktopContext';
import { useCallControls } from '../state/CallAudioContext';
import { useI18n } from '../i18n/I18n';
import type { TaskView } from '../state/protocol';
import { taskHeader, taskStage } from '../lib/taskView';
import type { StringKey } from '../i18n/strings';
import { CallTimer } from './CallTimer';
import { CallOutcome } from './CallOutcome';
import { CallAudioStatus } from './CallAudioStatus';
import { TransferPanel } from './TransferPanel';
import { TransferStatus } from './TransferStatus';
import { Participants } from './Participants';
import { RecordingButtons, RecordingIndicator } from './Recording';
import { transferInProgress } from '../lib/transfer';

const STAGE: Record<string, StringKey> = {
  dialing: 'StageDialing',
  ringing: 'StageRinging',
  connected: 'StageConnected',
  ended: 'StageEnded',
};

/**
 * A call in progress: who, its stage, the timer, its audio, mute, hold and hang up; once
 * connected, its parties, transfers and recording.
 */
export function CallCanvas({ task }: { task: TaskView }) {
  const { state, send } = useDesktop();
  const { t } = useI18n();
  const controls = useCallControls();
  const stage = taskStage(task);
  const name = taskHeader(task);
  const call = task.call;
  // Mute and hold as pressed: they act at once, the server confirms.
  const { muted, held } = controls.controls(task);
  const since = state.connectedSince[task.task_sid];
  const live = stage === 'dialing' || stage === 'ringing' || stage === 'connected';
  const act = (p: Promise<unknown>) => p.catch(() => {});
  const [transferOpen, setTransferOpen] = useState(false);
  const connected = stage === 'connected' && call !== null;
  const transferring = connected && transferInProgress(call);
  const panelId = `transfer-panel-${task.task_sid}`;

  return (
    <Box role="group" aria-label={t('CallWith', { name })} data-testid="call-canvas">
      <Heading as="h3" variant="heading40" marginBottom="space0">
        {name}
      </Heading>
      <Box display="flex" alignItems="center" columnGap="space30" marginTop="space20" role="status" data-testid="call-stage">
        <Text as="span" fontWeight="fontWeightSemibold">
          {t(STAGE[stage] ?? 'StageConnected')}
        </Text>
        {stage === 'connected' && since !== undefined && <CallTimer since={since} />}
        {call && muted && <Badge as="span" variant="warning">{t('Muted')}</Badge>}
        {call && held && <Badge as="span" variant="neutral">{t('OnHold')}</Badge>}
        {live && call && <RecordingIndicator task={task} />}
      </Box>
      {live && call && <CallAudioStatus />}
      {task.queue && (
        <Text as="p" color="colorTextWeak">
          {t('QueueName', { queue: task.queue })}
        </Text>
      )}
      {call?.transferred_from && (
        <Text as="p" color="colorTextWeak" data-testid="transferred-from">
          {t('TransferredFrom', { name: call.transferred_from })}
        </Text>
      )}
      <CallOutcome task={task} />
      {connected && <TransferStatus task={task} />}
      <Box display="flex" flexWrap="wrap" columnGap="space30" rowGap="space30" marginTop="space40">
        {stage === 'connected' && call && (
          <>
            <Button variant="secondary" aria-pressed={muted} onClick={() => controls.mute(task, !muted)}>
              {muted ? <MicrophoneOffIcon decorative /> : <MicrophoneOnIcon decorative />}
              {muted ? t('Unmute') : t('Mute')}
            </Button>
            <Button variant="secondary" aria-pressed={held} onClick={() => controls.hold(task, !held)}>
              <CallHoldIcon decorative />
              {held ? t('Unhold') : t('Hold')}
            </Button>
            {!transferring && (
              <Button
                variant="secondary"
                aria-expanded={transferOpen}
                aria-controls={transferOpen ? panelId : undefined}
                onClick={() => setTransferOpen(!transferOpen)}
              >
                <CallTransferIcon decorative />
                {t('TransferOpen')}
              </Button>
            )}
            <RecordingButtons task={task} />
          </>
        )}
        {live && call && (
          <Button variant="destructive" data-primary-action onClick={() => act(send({ type: 'hangup', task_sid: task.task_sid }))}>
            <CallFailedIcon decorative />
            {t('HangUp')}
          </Button>
        )}
        {stage === 'ended' && (
          <Button variant="primary" data-primary-action onClick={() => act(send({ type: 'wrap', task_sid: task.task_sid }))}>
            {t('WrapUp')}
          </Button>
        )}
      </Box>
      {connected && transferOpen && !transferring && <TransferPanel id={panelId} task={task} onDone={() => setTransferOpen(false)} />}
      {connected && <Participants task={task} />}
    </Box>
  );
}
