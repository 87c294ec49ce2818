import { useState, type FormEvent } from 'react';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { useDesktop } from '../state/DesktopContext';
import { readPastedToken } from '../state/api';
import { useI18n } from '../i18n/I18n';
import type { StringKey } from '../i18n/strings';
import { Message } from './Message';

/**
 * The session's pasted access token expires soon (the server said so): when, and a field for a
 * new one. It does not block the desktop; the agent can go on working until the time shown.
 */
export function SessionEndingWarning() {
  const { state, updateToken } = useDesktop();
  const { t, time } = useI18n();
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<StringKey | null>(null);
  const [busy, setBusy] = useState(false);
  if (state.tokenExpiresAt === null) return null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    const pasted = readPastedToken(token, Date.now());
    if ('problem' in pasted) return setProblem(pasted.problem);
    setProblem(null);
    setBusy(true);
    try {
      await updateToken(pasted.token);
      setToken('');
    } catch {
      // shown as a notice
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box marginBottom="space50" data-testid="session-ending">
      <Message tone="warning">{t('SessionEnding', { time: time(state.tokenExpiresAt) })}</Message>
      <form onSubmit={submit}>
        <Label htmlFor="new-access-token">{t('SessionNewTokenLabel')}</Label>
        <Box display="flex" columnGap="space30" alignItems="center">
          <Box flexGrow={1}>
            <Input
              id="new-access-token"
              type="text"
              autoComplete="off"
              value={token}
              hasError={problem !== null}
              aria-describedby={problem ? 'new-access-token-problem' : undefined}
              onChange={(e) => {
                setToken(e.target.value);
                setProblem(null);
              }}
            />
          </Box>
          {/* Stays enabled while the token is being sent (clicks ignored): disabling it would throw
              keyboard focus to <body>. */}
          <Button type="submit" variant="primary" aria-disabled={busy || undefined}>
            {t('SessionNewTokenSubmit')}
          </Button>
        </Box>
        {problem && (
          <Box id="new-access-token-problem">
            <Message tone="error">{t(problem)}</Message>
          </Box>
        )}
      </form>
    </Box>
  );
}
