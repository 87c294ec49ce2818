import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Text } from '@twilio-paste/core/text';
import { Spinner } from '@twilio-paste/core/spinner';
import { VolumeOnIcon } from '@twilio-paste/icons/esm/VolumeOnIcon';
import { VolumeOffIcon } from '@twilio-paste/icons/esm/VolumeOffIcon';
import { useDesktop } from '../state/DesktopContext';
import { useCallAudio, useCallAudioView } from '../state/CallAudioContext';
import { useI18n } from '../i18n/I18n';
import type { StringKey } from '../i18n/strings';
import { Message } from './Message';

const LABEL: Record<'connecting' | 'connected' | 'reconnecting' | 'failed', StringKey> = {
  connecting: 'AudioConnecting',
  connected: 'AudioConnected',
  reconnecting: 'AudioReconnecting',
  failed: 'AudioFailed',
};

/** The call's sound: connecting, connected, reconnecting or failed (and why), and warnings. */
export function CallAudioStatus() {
  const { state } = useDesktop();
  const { reconnect, resumePlayback } = useCallAudio();
  const { t } = useI18n();
  const view = useCallAudioView();
  if (view.state === 'off') return null;
  const why = view.reason && (
    <>
      {t(view.reason)}
      {view.detail && (
        <Text as="span" display="block" marginTop="space20" data-testid="call-audio-detail">
          {view.detail}
        </Text>
      )}
    </>
  );
  return (
    <Box marginTop="space30" data-testid="call-audio-status" data-audio-state={view.state}>
      <Box display="flex" alignItems="center" columnGap="space20" role="status">
        {view.state === 'connected' ? (
          <VolumeOnIcon decorative color="colorTextSuccess" />
        ) : view.state === 'failed' ? (
          <VolumeOffIcon decorative color="colorTextError" />
        ) : (
          <Spinner decorative size="sizeIcon20" />
        )}
        <Text as="span" color={view.state === 'failed' ? 'colorTextError' : 'colorTextWeak'}>
          {t(LABEL[view.state])}
        </Text>
      </Box>
      {view.state === 'reconnecting' && why && <Message tone="warning">{why}</Message>}
      {view.state === 'failed' && (
        <>
          <Message tone="error">{why}</Message>
          <Button variant="secondary" size="small" onClick={reconnect}>
            {t('AudioReconnect')}
          </Button>
        </>
      )}
      {view.notSending && <Message tone="warning">{t('AudioNotSending')}</Message>}
      {state.audio.playbackBlocked && (
        <>
          <Message tone="warning">{t('AudioPlaybackBlocked')}</Message>
          <Button variant="secondary" size="small" onClick={resumePlayback}>
            {t('AudioPlay')}
          </Button>
        </>
      )}
    </Box>
  );
}
