import { Box } from '@twilio-paste/core/box';
import { Label } from '@twilio-paste/core/label';
import { Select, Option } from '@twilio-paste/core/select';
import { useI18n } from '../i18n/I18n';
import { LOCALES, LOCALE_NAMES, type Locale } from '../i18n/strings';

export function LanguageSwitcher() {
  const { locale, setLocale, t } = useI18n();
  return (
    <Box minWidth="size20">
      <Label htmlFor="language">{t('LanguageLabel')}</Label>
      <Select id="language" value={locale} onChange={(e) => setLocale(e.target.value as Locale)}>
        {LOCALES.map((l) => (
          <Option key={l} value={l} lang={l}>
            {LOCALE_NAMES[l]}
          </Option>
        ))}
      </Select>
    </Box>
  );
}
