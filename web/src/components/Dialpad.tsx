import { useState, type FormEvent } from 'react';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Heading } from '@twilio-paste/core/heading';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { Card } from '@twilio-paste/core/card';
import { Tabs, TabList, Tab, TabPanels, TabPanel } from '@twilio-paste/core/tabs';
import { Separator } from '@twilio-paste/core/separator';
import { CallIcon } from '@twilio-paste/icons/esm/CallIcon';
import { useDesktop } from '../state/DesktopContext';
import { useCallAudio } from '../state/CallAudioContext';
import { useI18n } from '../i18n/I18n';
import { TELEPHONE_TRUNK_CONFIGURED, internalCallAction, uuidv4, visibleTabs, type CallTarget } from '../lib/internalCall';
import { CallAgentTab } from './CallAgentTab';
import { CallQueueTab } from './CallQueueTab';
import { Message } from './Message';

/** The number field, and the internal-call tabs when the feature is on. */
export function Dialpad() {
  const { state, send } = useDesktop();
  const { withMicrophone } = useCallAudio();
  const { t } = useI18n();
  const [number, setNumber] = useState('');
  const [noTrunk, setNoTrunk] = useState(false);
  const [noApplication, setNoApplication] = useState(false);
  const [busy, setBusy] = useState(false);
  const d = state.desktop;
  if (!d) return null;

  const offline = d.offline_activity_sid !== null && d.worker.activity_sid === d.offline_activity_sid;
  const tabs = visibleTabs(d.internal_call, offline);

  const call = async (target: CallTarget) => {
    const action = internalCallAction(d.internal_call, d.worker, target, uuidv4());
    setNoApplication(action === null);
    if (!action) return;
    setBusy(true);
    try {
      // The microphone first: without one no call is placed (the agent is told why).
      await withMicrophone(() => send(action));
    } catch {
      // shown as a notice
    } finally {
      setBusy(false);
    }
  };

  const dialNumber = (e: FormEvent) => {
    e.preventDefault();
    if (!TELEPHONE_TRUNK_CONFIGURED) setNoTrunk(true);
  };

  return (
    <Card padding="space70">
      <Heading as="h2" variant="heading30">
        {t('DialpadTitle')}
      </Heading>
      {offline ? (
        <Message tone="neutral">{t('DialpadOffline')}</Message>
      ) : (
        <>
          <form onSubmit={dialNumber} aria-label={t('DialpadTitle')}>
            <Label htmlFor="dial-number">{t('DialpadNumberLabel')}</Label>
            <Box display="flex" columnGap="space30" alignItems="center">
              <Box flexGrow={1}>
                <Input
                  id="dial-number"
                  type="tel"
                  inputMode="tel"
                  autoComplete="off"
                  value={number}
                  onChange={(e) => {
                    setNumber(e.target.value);
                    setNoTrunk(false);
                  }}
                />
              </Box>
              <Button type="submit" variant="secondary" disabled={number.trim() === ''}>
                <CallIcon decorative />
                {t('DialpadCall')}
              </Button>
            </Box>
          </form>
          {noTrunk && <Message tone="warning">{t('DialpadNoTrunk')}</Message>}
          {tabs.length > 0 && (
            <Box marginTop="space60">
              <Separator orientation="horizontal" verticalSpacing="space50" />
              <Tabs key={tabs.join(',')} selectedId={`tab-${tabs[0]}`} baseId="internal-call">
                <TabList aria-label={t('DialpadInternalCall')}>
                  {tabs.map((tab) => (
                    <Tab key={tab} id={`tab-${tab}`}>
                      {tab === 'agent' ? t('PSInternalCallCallAgent') : t('PSInternalCallCallQueue')}
                    </Tab>
                  ))}
                </TabList>
                <TabPanels>
                  {tabs.map((tab) => (
                    <TabPanel key={tab}>
                      <Box paddingTop="space50">
                        {tab === 'agent' ? (
                          <CallAgentTab busy={busy} onCall={(agent) => call({ kind: 'agent', agent })} />
                        ) : (
                          <CallQueueTab busy={busy} onCall={(queue) => call({ kind: 'queue', queue })} />
                        )}
                      </Box>
                    </TabPanel>
                  ))}
                </TabPanels>
              </Tabs>
              {noApplication && <Message tone="warning">{t('DialpadNoApplication')}</Message>}
            </Box>
          )}
        </>
      )}
    </Card>
  );
}
