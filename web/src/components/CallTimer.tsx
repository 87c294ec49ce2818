import { useEffect, useState } from 'react';
import { Text } from '@twilio-paste/core/text';
import { formatDuration } from '../lib/taskView';
import { useI18n } from '../i18n/I18n';

/** Time since the call connected, ticking every second. */
export function CallTimer({ since }: { since: number }) {
  const { t } = useI18n();
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, []);
  return (
    <Text as="span" fontVariantNumeric="tabular-nums" aria-label={t('CallDuration')} role="timer" data-testid="call-timer">
      {formatDuration(now - since)}
    </Text>
  );
}
