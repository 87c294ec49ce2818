import { useEffect, useState, type FormEvent } from 'react';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Heading } from '@twilio-paste/core/heading';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { Input } from '@twilio-paste/core/input';
import { Label } from '@twilio-paste/core/label';
import { Card } from '@twilio-paste/core/card';
import { Stack } from '@twilio-paste/core/stack';
import { Text } from '@twilio-paste/core/text';
import { useDesktop } from '../state/DesktopContext';
import { demoSignIn, fetchDemoAgents, readPastedToken, type DemoDirectory } from '../state/api';
import { useI18n } from '../i18n/I18n';
import { agentLabel } from '../lib/internalCall';
import { Message } from './Message';

/** The demo offers its agents; otherwise the agent pastes an access token. */
export function SignIn() {
  const { signIn, state } = useDesktop();
  const { t } = useI18n();
  const [demo, setDemo] = useState<DemoDirectory | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [token, setToken] = useState('');

  useEffect(() => {
    let live = true;
    fetchDemoAgents()
      .then((d) => live && setDemo(d))
      .catch(() => live && setDemo(null));
    return () => {
      live = false;
    };
  }, []);

  const pick = async (sid: string) => {
    setError(null);
    try {
      const r = await demoSignIn(sid);
      signIn({ token: r.token, identity: r.identity, workerSid: r.worker_sid, demo: true });
    } catch (e) {
      setError(t('SignInFailed', { message: (e as Error).message }));
    }
  };

  const submitToken = (e: FormEvent) => {
    e.preventDefault();
    const pasted = readPastedToken(token, Date.now());
    if ('problem' in pasted) return setError(t(pasted.problem));
    signIn({ token: pasted.token, identity: pasted.info.identity, workerSid: pasted.info.workerSid, demo: false });
  };

  return (
    <Box maxWidth="size60" marginX="auto" padding="space80">
      <Card>
        <Heading as="h1" variant="heading20">
          {t('SignInTitle')}
        </Heading>
        {state.signInError && <Message tone="error">{t(state.signInError.key, state.signInError.params)}</Message>}
        {error && <Message tone="error">{error}</Message>}
        {demo === undefined && <Paragraph>{t('SignInLoading')}</Paragraph>}
        {demo && (
          <>
            <Paragraph>{t('SignInDemoIntro')}</Paragraph>
            <Stack orientation="vertical" spacing="space30">
              {demo.agents.map((a) => (
                <Button key={a.sid} variant="secondary" fullWidth onClick={() => pick(a.sid)}>
                  {t('SignInAs', { name: agentLabel(a) })}
                  <Text as="span" color="colorTextWeak" fontWeight="fontWeightNormal">
                    ({a.activity_name})
                  </Text>
                </Button>
              ))}
            </Stack>
          </>
        )}
        {demo === null && (
          <form onSubmit={submitToken}>
            <Paragraph>{t('SignInTokenIntro')}</Paragraph>
            <Label htmlFor="access-token" required>
              {t('SignInTokenLabel')}
            </Label>
            <Input id="access-token" type="text" value={token} onChange={(e) => setToken(e.target.value)} required />
            <Box marginTop="space40">
              <Button type="submit" variant="primary">
                {t('SignInTokenSubmit')}
              </Button>
            </Box>
          </form>
        )}
      </Card>
    </Box>
  );
}
