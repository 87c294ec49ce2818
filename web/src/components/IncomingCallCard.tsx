import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Heading } from '@twilio-paste/core/heading';
import { Text } from '@twilio-paste/core/text';
import { CallIncomingIcon } from '@twilio-paste/icons/esm/CallIncomingIcon';
import { useDesktop } from '../state/DesktopContext';
import { useCallAudio } from '../state/CallAudioContext';
import { useI18n } from '../i18n/I18n';

/**
 * A call ringing this agent: the caller's name, Accept and Reject. `reservation` for a task
 * offered by TaskRouter, `call` for a call that rings the browser directly.
 */
export function IncomingCallCard(
  props: { name: string; queue?: string | null } & ({ reservationSid: string } | { callSid: string }),
) {
  const { send } = useDesktop();
  const { withMicrophone } = useCallAudio();
  const { t } = useI18n();
  // The microphone first: without one the call is not taken (the agent is told why).
  const accept = () =>
    withMicrophone(() =>
      'reservationSid' in props
        ? send({ type: 'accept', reservation_sid: props.reservationSid })
        : send({ type: 'answer_call', call_sid: props.callSid }),
    ).catch(() => {});
  const reject = () =>
    ('reservationSid' in props
      ? send({ type: 'reject', reservation_sid: props.reservationSid })
      : send({ type: 'decline_call', call_sid: props.callSid })
    ).catch(() => {});
  return (
    <Box role="group" aria-label={t('IncomingCallFrom', { name: props.name })} data-testid="incoming-call">
      <Box display="flex" alignItems="center" columnGap="space30">
        <CallIncomingIcon decorative color="colorTextSuccess" />
        <Text as="span" fontWeight="fontWeightSemibold" color="colorTextSuccess">
          {t('StageIncoming')}
        </Text>
      </Box>
      <Heading as="h3" variant="heading40" marginBottom="space0">
        {props.name}
      </Heading>
      {props.queue && (
        <Text as="p" color="colorTextWeak">
          {t('QueueName', { queue: props.queue })}
        </Text>
      )}
      <Box display="flex" columnGap="space30" marginTop="space40">
        <Button variant="primary" onClick={accept}>
          {t('Accept')}
        </Button>
        <Button variant="destructive_secondary" onClick={reject}>
          {t('Reject')}
        </Button>
      </Box>
    </Box>
  );
}
