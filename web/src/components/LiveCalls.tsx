import { useState } from 'react';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Badge } from '@twilio-paste/core/badge';
import { Card } from '@twilio-paste/core/card';
import { Heading } from '@twilio-paste/core/heading';
import { Paragraph } from '@twilio-paste/core/paragraph';
import { Text } from '@twilio-paste/core/text';
import { useDesktop } from '../state/DesktopContext';
import { useCallAudio } from '../state/CallAudioContext';
import { useI18n } from '../i18n/I18n';
import type { LiveCall, SuperviseMode, SupervisingView } from '../state/protocol';
import { firstAgent, liveCallNames, PARTY_STRINGS, SUPERVISE_MODE_STRINGS } from '../lib/transfer';
import { CallTimer } from './CallTimer';
import { CallAudioStatus } from './CallAudioStatus';

const MODES: SuperviseMode[] = ['monitor', 'coach', 'barge'];

/** What the supervisor's part means, in a sentence. */
function supervisingSentence(s: SupervisingView, call: LiveCall | undefined, t: ReturnType<typeof useI18n>['t']): string {
  if (s.mode === 'monitor') return t('SupervisingMonitor');
  if (s.mode === 'barge') return t('SupervisingBarge');
  const coached = call?.participants.find((p) => p.call_sid === s.coached_call_sid)?.name ?? firstAgent(call?.participants ?? [])?.name ?? '';
  return t('SupervisingCoach', { name: coached });
}

/**
 * What a supervisor can do on a call: monitor, coach, barge in; with two agents or more to
 * coach on it (an internal call's two agents, a consult or three-way transfer), one coach
 * choice per agent, each naming whom it coaches.
 */
function choices(call: LiveCall): { mode: SuperviseMode; coach?: string; name?: string }[] {
  const agents = call.participants.filter((p) => p.coachable);
  return MODES.flatMap((mode) =>
    mode === 'coach' && agents.length > 1 ? agents.map((a) => ({ mode, coach: a.call_sid, name: a.name })) : [{ mode }],
  );
}

/**
 * For supervisors: the calls in progress (queue, parties, duration) with Monitor, Coach and
 * Barge in; on the one it supervises, its mode (switchable) and Leave.
 */
export function LiveCalls() {
  const { state, send } = useDesktop();
  const { withMicrophone } = useCallAudio();
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const sup = state.desktop?.supervisor;
  if (!sup) return null;
  const supervising = sup.supervising;

  const run = async (action: () => Promise<unknown>) => {
    if (busy) return;
    setBusy(true);
    try {
      await action();
    } catch {
      // shown as a notice
    } finally {
      setBusy(false);
    }
  };
  /** `coach`: the agent's leg to coach (default: the one coached already, or the first agent). */
  const supervise = (call: LiveCall, mode: SuperviseMode, coach?: string) => {
    const coached = mode === 'coach' ? (coach ?? supervising?.coached_call_sid ?? firstAgent(call.participants)?.call_sid) : undefined;
    const action = { type: 'supervise', conference_sid: call.conference_sid, mode, ...(coached ? { call_sid: coached } : {}) } as const;
    // Joining needs the microphone and the audio connection; switching mode does not.
    return run(() => (supervising ? send(action) : withMicrophone(() => send(action))));
  };
  const leave = () => run(() => send({ type: 'stop_supervising' }));

  return (
    <Card padding="space70">
      <Box as="section" aria-labelledby="live-calls-heading" data-testid="live-calls">
        <Heading as="h2" variant="heading30" id="live-calls-heading">
          {t('LiveCallsTitle')}
        </Heading>
        {sup.live_calls.length === 0 && <Paragraph>{t('LiveCallsEmpty')}</Paragraph>}
        <Box as="ul" margin="space0" padding="space0" listStyleType="none" display="flex" flexDirection="column" rowGap="space50">
          {sup.live_calls.map((call) => {
            const names = liveCallNames(call);
            const mine = supervising?.conference_sid === call.conference_sid ? supervising : null;
            return (
              <Box
                as="li"
                key={call.conference_sid}
                data-conference-sid={call.conference_sid}
                aria-label={t('LiveCallWith', { names })}
                paddingBottom="space40"
                borderBottomStyle="solid"
                borderBottomWidth="borderWidth10"
                borderBottomColor="colorBorderWeaker"
              >
                <Box display="flex" flexWrap="wrap" alignItems="center" columnGap="space30" rowGap="space20">
                  <Heading as="h3" variant="heading50" marginBottom="space0">
                    {names}
                  </Heading>
                  <CallTimer since={call.since} />
                  {mine && (
                    <Badge as="span" variant="new">
                      {t('SupervisingBadge')}
                    </Badge>
                  )}
                </Box>
                {call.queue && (
                  <Text as="p" color="colorTextWeak">
                    {t('QueueName', { queue: call.queue })}
                  </Text>
                )}
                <Box as="ul" margin="space0" padding="space0" listStyleType="none" display="flex" flexWrap="wrap" columnGap="space30" marginTop="space20">
                  {call.participants.map((p) => (
                    <Box as="li" key={p.call_sid} display="flex" alignItems="center" columnGap="space10">
                      <Text as="span">{p.name}</Text>
                      <Badge as="span" size="small" variant={p.kind === 'supervisor' ? 'new' : p.kind === 'agent' ? 'info' : 'neutral'}>
                        {t(PARTY_STRINGS[p.kind] ?? 'PartyCaller')}
                      </Badge>
                      {p.hold && (
                        <Badge as="span" size="small" variant="neutral">
                          {t('OnHold')}
                        </Badge>
                      )}
                    </Box>
                  ))}
                </Box>
                {mine && (
                  <Box role="status" marginTop="space30">
                    <Text as="p" fontWeight="fontWeightSemibold">
                      {supervisingSentence(mine, call, t)}
                    </Text>
                  </Box>
                )}
                {mine && <CallAudioStatus />}
                <Box
                  role="group"
                  aria-label={t('SupervisingMode')}
                  display="flex"
                  flexWrap="wrap"
                  columnGap="space30"
                  rowGap="space30"
                  marginTop="space30"
                >
                  {choices(call).map(({ mode, coach, name }) => {
                    const pressed = mine !== null && mine.mode === mode && (coach === undefined || mine.coached_call_sid === coach);
                    return (
                      <Button
                        key={coach ? `${mode}-${coach}` : mode}
                        variant={pressed ? 'primary' : 'secondary'}
                        size="small"
                        aria-pressed={mine ? pressed : undefined}
                        // Another call is supervised: leave it first (the buttons stay focusable).
                        aria-disabled={busy || (supervising !== null && !mine) || undefined}
                        onClick={() => {
                          if (supervising && !mine) return;
                          if (pressed) return;
                          void supervise(call, mode, coach);
                        }}
                      >
                        {name ? t('CoachAgent', { name }) : t(SUPERVISE_MODE_STRINGS[mode])}
                      </Button>
                    );
                  })}
                  {mine && (
                    <Button variant="destructive_secondary" size="small" aria-disabled={busy || undefined} onClick={() => void leave()}>
                      {t('SupervisingLeave')}
                    </Button>
                  )}
                </Box>
                {supervising && !mine && (
                  <Text as="p" color="colorTextWeak" marginTop="space20">
                    {t('SupervisingOther')}
                  </Text>
                )}
              </Box>
            );
          })}
        </Box>
        {supervising && !sup.live_calls.some((c) => c.conference_sid === supervising.conference_sid) && (
          <Box marginTop="space40">
            <Button variant="destructive_secondary" size="small" onClick={() => void leave()}>
              {t('SupervisingLeave')}
            </Button>
          </Box>
        )}
      </Box>
    </Card>
  );
}
