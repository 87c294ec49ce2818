import { Box } from '@twilio-paste/core/box';
import { Label } from '@twilio-paste/core/label';
import { Select, Option } from '@twilio-paste/core/select';
import { useDesktop } from '../state/DesktopContext';
import { useI18n } from '../i18n/I18n';

export function ActivitySelector() {
  const { state, send } = useDesktop();
  const { t } = useI18n();
  const d = state.desktop;
  if (!d) return null;
  return (
    <Box minWidth="size20">
      <Label htmlFor="activity">{t('ActivityLabel')}</Label>
      <Select
        id="activity"
        value={d.worker.activity_sid}
        onChange={(e) => {
          send({ type: 'set_activity', activity_sid: e.target.value }).catch(() => {});
        }}
      >
        {d.activities.map((a) => (
          <Option key={a.sid} value={a.sid}>
            {a.friendly_name}
          </Option>
        ))}
      </Select>
    </Box>
  );
}
