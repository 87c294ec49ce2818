import { Box } from '@twilio-paste/core/box';
import { Card } from '@twilio-paste/core/card';
import { Heading } from '@twilio-paste/core/heading';
import { Label } from '@twilio-paste/core/label';
import { Select, Option } from '@twilio-paste/core/select';
import { HelpText } from '@twilio-paste/core/help-text';
import { useDesktop } from '../state/DesktopContext';
import { useCallAudio } from '../state/CallAudioContext';
import { useI18n } from '../i18n/I18n';
import type { AudioDevice } from '../state/reducer';
import type { StringKey } from '../i18n/strings';
import { MicrophoneLevel } from './MicrophoneLevel';

function DevicePicker({
  id,
  label,
  unnamed,
  devices,
  value,
  onChange,
}: {
  id: string;
  label: StringKey;
  unnamed: StringKey;
  devices: AudioDevice[];
  value: string;
  onChange(id: string): void;
}) {
  const { t } = useI18n();
  // A chosen device that is gone plays or records on the default: show that.
  const shown = devices.some((d) => d.id === value) ? value : '';
  return (
    <Box marginTop="space40">
      <Label htmlFor={id}>{t(label)}</Label>
      <Select id={id} value={shown} onChange={(e) => onChange(e.target.value)}>
        <Option value="">{t('AudioSystemDefault')}</Option>
        {devices.map((d, i) => (
          <Option key={d.id} value={d.id}>
            {d.label || t(unnamed, { number: String(i + 1) })}
          </Option>
        ))}
      </Select>
    </Box>
  );
}

/** The agent's microphone and speaker, and the microphone's level while it is on. */
export function AudioDevices() {
  const { state } = useDesktop();
  const { chooseDevice } = useCallAudio();
  const { t } = useI18n();
  const a = state.audio;
  const relayOff = state.desktop?.media?.enabled === false;
  const namesHidden = a.inputs.length > 0 && a.inputs.every((d) => d.label === '');
  return (
    <Card padding="space70">
      <Heading as="h2" variant="heading30" marginBottom="space0">
        {t('AudioTitle')}
      </Heading>
      {relayOff && <HelpText>{t('AudioRelayOff')}</HelpText>}
      <DevicePicker
        id="audio-input"
        label="AudioMicrophoneLabel"
        unnamed="AudioMicrophoneUnnamed"
        devices={a.inputs}
        value={a.input}
        onChange={(id) => chooseDevice('input', id)}
      />
      {a.canChooseOutput ? (
        <DevicePicker
          id="audio-output"
          label="AudioSpeakerLabel"
          unnamed="AudioSpeakerUnnamed"
          devices={a.outputs}
          value={a.output}
          onChange={(id) => chooseDevice('output', id)}
        />
      ) : (
        <HelpText>{t('AudioSpeakerFixed')}</HelpText>
      )}
      {namesHidden && <HelpText>{t('AudioDeviceNamesHidden')}</HelpText>}
      {a.mic === 'on' && <MicrophoneLevel />}
    </Card>
  );
}
