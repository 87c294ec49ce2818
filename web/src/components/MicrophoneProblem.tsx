import { Box } from '@twilio-paste/core/box';
import { Alert } from '@twilio-paste/core/alert';
import { Text } from '@twilio-paste/core/text';
import { useDesktop } from '../state/DesktopContext';
import { useI18n } from '../i18n/I18n';
import { MIC_PROBLEM_STRINGS, isMicProblem } from '../lib/callAudio';

/** Why the microphone could not be had, and what to do about it. */
export function MicrophoneProblem() {
  const { state, dispatch } = useDesktop();
  const { t } = useI18n();
  const { mic, micDetail } = state.audio;
  if (!isMicProblem(mic)) return null;
  return (
    <Box role="alert" marginBottom="space50" data-testid="microphone-problem">
      <Alert variant="error" onDismiss={() => dispatch({ type: 'audio-mic-dismiss' })} i18nDismissLabel={t('Dismiss')}>
        <Text as="span">{t(MIC_PROBLEM_STRINGS[mic], { message: micDetail ?? '' })}</Text>
      </Alert>
    </Box>
  );
}
