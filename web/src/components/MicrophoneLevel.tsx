import { useEffect, useId, useState } from 'react';
import { Box } from '@twilio-paste/core/box';
import { Meter, MeterLabel } from '@twilio-paste/core/meter';
import { useCallAudio } from '../state/CallAudioContext';
import { useI18n } from '../i18n/I18n';

/** How often the meter reads the microphone. */
export const LEVEL_INTERVAL_MS = 100;

/** A live meter of the microphone's level, so the agent sees it picks up their voice. */
export function MicrophoneLevel() {
  const { micLevel } = useCallAudio();
  const { t } = useI18n();
  const id = useId();
  const [level, setLevel] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setLevel(Math.round(micLevel() * 100)), LEVEL_INTERVAL_MS);
    return () => clearInterval(timer);
  }, [micLevel]);
  return (
    <Box marginTop="space50" data-testid="microphone-level">
      <MeterLabel htmlFor={id}>{t('AudioMicLevel')}</MeterLabel>
      <Meter id={id} value={level} minValue={0} maxValue={100} />
    </Box>
  );
}
