import { useState } from 'react';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Heading } from '@twilio-paste/core/heading';
import { Text } from '@twilio-paste/core/text';
import { Tabs, TabList, Tab, TabPanels, TabPanel } from '@twilio-paste/core/tabs';
import { useDesktop } from '../state/DesktopContext';
import { useI18n } from '../i18n/I18n';
import type { StringKey } from '../i18n/strings';
import type { DirectoryAgent, DirectoryQueue, TaskView, TransferMode } from '../state/protocol';
import { CallAgentTab } from './CallAgentTab';
import { CallQueueTab } from './CallQueueTab';

const MODES: { mode: TransferMode; label: StringKey }[] = [
  { mode: 'cold', label: 'TransferCold' },
  { mode: 'warm', label: 'TransferWarm' },
  { mode: 'add', label: 'TransferAdd' },
];

type Target = { worker_sid: string } | { queue_sid: string };

/**
 * Where to move the call: an agent or a queue from the directory (the dialpad's pickers), then
 * transfer now (cold), consult first (warm) or add to the call (three-way). `onDone` once the
 * server took the transfer.
 */
export function TransferPanel({ task, onDone, id }: { task: TaskView; onDone(): void; id?: string }) {
  const { send } = useDesktop();
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);

  const transfer = async (target: Target, mode: TransferMode) => {
    if (busy) return;
    setBusy(true);
    try {
      await send({ type: 'transfer', task_sid: task.task_sid, mode, ...target });
      onDone();
    } catch {
      // shown as a notice
    } finally {
      setBusy(false);
    }
  };

  const buttons = (target: Target | null) =>
    MODES.map(({ mode, label }) => (
      // Like Call: enabled while the transfer is being sent (aria-disabled, clicks ignored).
      <Button
        key={mode}
        variant={mode === 'cold' ? 'primary' : 'secondary'}
        disabled={!target}
        aria-disabled={busy || undefined}
        onClick={() => target && void transfer(target, mode)}
      >
        {t(label)}
      </Button>
    ));

  return (
    <Box
      id={id}
      role="group"
      aria-labelledby={`transfer-heading-${task.task_sid}`}
      marginTop="space40"
      padding="space50"
      borderStyle="solid"
      borderWidth="borderWidth10"
      borderColor="colorBorderWeak"
      borderRadius="borderRadius20"
      data-testid="transfer-panel"
    >
      <Heading as="h4" variant="heading50" id={`transfer-heading-${task.task_sid}`} marginBottom="space0">
        {t('TransferTitle')}
      </Heading>
      <Text as="p" color="colorTextWeak" marginTop="space20" marginBottom="space40">
        {t('TransferHelp')}
      </Text>
      <Tabs selectedId={`transfer-tab-agent-${task.task_sid}`} baseId={`transfer-${task.task_sid}`}>
        <TabList aria-label={t('TransferTitle')}>
          <Tab id={`transfer-tab-agent-${task.task_sid}`}>{t('PSInternalCallCallAgent')}</Tab>
          <Tab id={`transfer-tab-queue-${task.task_sid}`}>{t('PSInternalCallCallQueue')}</Tab>
        </TabList>
        <TabPanels>
          <TabPanel>
            <Box paddingTop="space50">
              <CallAgentTab busy={busy} actions={(a: DirectoryAgent | null) => buttons(a && { worker_sid: a.sid })} />
            </Box>
          </TabPanel>
          <TabPanel>
            <Box paddingTop="space50">
              <CallQueueTab busy={busy} actions={(q: DirectoryQueue | null) => buttons(q && { queue_sid: q.sid })} />
            </Box>
          </TabPanel>
        </TabPanels>
      </Tabs>
    </Box>
  );
}
