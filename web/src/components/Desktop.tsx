import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Heading } from '@twilio-paste/core/heading';
import { Text } from '@twilio-paste/core/text';
import { Alert } from '@twilio-paste/core/alert';
import { Spinner } from '@twilio-paste/core/spinner';
import { useDesktop } from '../state/DesktopContext';
import { useI18n } from '../i18n/I18n';
import { agentLabel } from '../lib/internalCall';
import { ActivitySelector } from './ActivitySelector';
import { LanguageSwitcher } from './LanguageSwitcher';
import { Dialpad } from './Dialpad';
import { TaskList } from './TaskList';
import { SessionEndingWarning } from './SessionEndingWarning';
import { MicrophoneProblem } from './MicrophoneProblem';
import { AudioDevices } from './AudioDevices';
import { LiveCalls } from './LiveCalls';

/** The signed-in agent's desktop: header bar, dialpad, tasks. */
export function Desktop() {
  const { state, signOut, dispatch } = useDesktop();
  const { t } = useI18n();
  const d = state.desktop;
  return (
    <Box minHeight="100vh" backgroundColor="colorBackground">
      <Box
        as="header"
        display="flex"
        flexWrap="wrap"
        alignItems="flex-end"
        justifyContent="space-between"
        columnGap="space60"
        rowGap="space40"
        paddingX="space70"
        paddingY="space50"
        backgroundColor="colorBackgroundBody"
        borderBottomStyle="solid"
        borderBottomWidth="borderWidth10"
        borderBottomColor="colorBorderWeak"
      >
        <Box>
          <Heading as="h1" variant="heading20" marginBottom="space0">
            {t('AppTitle')}
          </Heading>
          {d && (
            <Text as="p" color="colorTextWeak" data-testid="signed-in-as">
              {t('SignedInAs', { name: agentLabel(d.worker) })}
            </Text>
          )}
        </Box>
        <Box display="flex" flexWrap="wrap" alignItems="flex-end" columnGap="space50" rowGap="space40">
          <ActivitySelector />
          <LanguageSwitcher />
          <Button variant="secondary" onClick={signOut}>
            {t('SignOut')}
          </Button>
        </Box>
      </Box>
      <Box as="main" padding="space70">
        {state.connection === 'reconnecting' && (
          <Box role="status" marginBottom="space50">
            <Alert variant="warning">
              <Text as="span">{t('Reconnecting')}</Text>
            </Alert>
          </Box>
        )}
        <SessionEndingWarning />
        <MicrophoneProblem />
        {state.notice && (
          <Box role="alert" marginBottom="space50">
            <Alert variant="error" onDismiss={() => dispatch({ type: 'dismiss-notice' })} i18nDismissLabel={t("Dismiss")}>
              <Text as="span">{t(state.notice.key, state.notice.params)}</Text>
            </Alert>
          </Box>
        )}
        {!d ? (
          <Box display="flex" columnGap="space30" alignItems="center" role="status">
            <Spinner decorative />
            <Text as="span">{t('Connecting')}</Text>
          </Box>
        ) : (
          <Box display="grid" gridTemplateColumns={['1fr', '1fr', 'minmax(20rem, 26rem) 1fr']} columnGap="space70" rowGap="space70">
            <Box display="flex" flexDirection="column" rowGap="space70">
              <Box as="section" aria-label={t('DialpadTitle')}>
                <Dialpad />
              </Box>
              <Box as="section" aria-label={t('AudioTitle')}>
                <AudioDevices />
              </Box>
            </Box>
            <Box display="flex" flexDirection="column" rowGap="space70">
              <TaskList />
              {d.supervisor && <LiveCalls />}
            </Box>
          </Box>
        )}
      </Box>
    </Box>
  );
}
