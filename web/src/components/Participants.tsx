import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Badge } from '@twilio-paste/core/badge';
import { Heading } from '@twilio-paste/core/heading';
import { Text } from '@twilio-paste/core/text';
import { useDesktop } from '../state/DesktopContext';
import { useI18n } from '../i18n/I18n';
import type { ParticipantView, TaskView } from '../state/protocol';
import { PARTY_STRINGS } from '../lib/transfer';

/**
 * The other parties of a connected call: who each is, whether it is on hold, muted or coaching,
 * and Hold / Mute / Remove for each but a supervisor (who changes how they take part from
 * their own desktop). The buttons show Hold, Mute and Remove; their names say whom they act on
 * ("Hold Alice Anders").
 */
export function Participants({ task }: { task: TaskView }) {
  const { send } = useDesktop();
  const { t } = useI18n();
  const parties = task.call?.participants ?? [];
  if (parties.length === 0) return null;
  const headingId = `participants-${task.task_sid}`;
  const act = (p: Promise<unknown>) => p.catch(() => {});
  const update = (p: ParticipantView, change: { hold?: boolean; muted?: boolean }) =>
    act(send({ type: 'update_participant', task_sid: task.task_sid, call_sid: p.call_sid, ...change }));

  return (
    <Box as="section" aria-labelledby={headingId} marginTop="space50" data-testid="participants">
      <Heading as="h4" variant="heading50" id={headingId} marginBottom="space0">
        {t('ParticipantsTitle')}
      </Heading>
      <Box as="ul" margin="space0" marginTop="space30" padding="space0" listStyleType="none" display="flex" flexDirection="column" rowGap="space30">
        {parties.map((p) => (
          <Box
            as="li"
            key={p.call_sid}
            data-call-sid={p.call_sid}
            display="flex"
            flexWrap="wrap"
            alignItems="center"
            justifyContent="space-between"
            columnGap="space40"
            rowGap="space20"
            aria-label={p.name}
          >
            <Box display="flex" flexWrap="wrap" alignItems="center" columnGap="space20" rowGap="space20">
              <Text as="span" fontWeight="fontWeightSemibold">
                {p.name}
              </Text>
              <Badge as="span" variant={p.kind === 'supervisor' ? 'new' : p.kind === 'agent' ? 'info' : 'neutral'}>
                {t(PARTY_STRINGS[p.kind] ?? 'PartyCaller')}
              </Badge>
              {p.hold && <Badge as="span" variant="neutral">{t('OnHold')}</Badge>}
              {p.muted && <Badge as="span" variant="warning">{t('Muted')}</Badge>}
              {p.coaching && <Badge as="span" variant="decorative20">{t('Coaching')}</Badge>}
            </Box>
            {p.kind !== 'supervisor' && (
              <Box display="flex" flexWrap="wrap" columnGap="space20" rowGap="space20">
                <Button
                  variant="secondary"
                  size="small"
                  aria-pressed={p.hold}
                  aria-label={t(p.hold ? 'ParticipantResume' : 'ParticipantHold', { name: p.name })}
                  onClick={() => update(p, { hold: !p.hold })}
                >
                  {p.hold ? t('Unhold') : t('Hold')}
                </Button>
                <Button
                  variant="secondary"
                  size="small"
                  aria-pressed={p.muted}
                  aria-label={t(p.muted ? 'ParticipantUnmute' : 'ParticipantMute', { name: p.name })}
                  onClick={() => update(p, { muted: !p.muted })}
                >
                  {p.muted ? t('Unmute') : t('Mute')}
                </Button>
                <Button
                  variant="destructive_secondary"
                  size="small"
                  aria-label={t('ParticipantRemove', { name: p.name })}
                  onClick={() => act(send({ type: 'remove_participant', task_sid: task.task_sid, call_sid: p.call_sid }))}
                >
                  {t('Remove')}
                </Button>
              </Box>
            )}
          </Box>
        ))}
      </Box>
    </Box>
  );
}
