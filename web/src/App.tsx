import { CustomizationProvider } from '@twilio-paste/core/customization';
import { DesktopProvider, useDesktop, type OpenSocket } from './state/DesktopContext';
import { CallAudioProvider, type MediaDeps } from './state/CallAudioContext';
import { I18nProvider } from './i18n/I18n';
import type { Locale } from './i18n/strings';
import { SignIn } from './components/SignIn';
import { Desktop } from './components/Desktop';

// The system font stack: Paste's Theme.Provider would load Inter from Twilio's CDN, and the
// desktop must load nothing from outside its own origin.
const SYSTEM_FONTS =
  "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Noto Sans Thai', 'Noto Sans CJK SC', 'Helvetica Neue', Arial, sans-serif";
const MONO_FONTS = "ui-monospace, 'SFMono-Regular', Menlo, Consolas, 'Liberation Mono', monospace";

export const THEME_OVERRIDES = {
  fonts: {
    fontFamilyText: SYSTEM_FONTS,
    fontFamilyDisplay: SYSTEM_FONTS,
    fontFamilyCode: MONO_FONTS,
  },
};

function Screen() {
  const { state } = useDesktop();
  return state.session ? <Desktop /> : <SignIn />;
}

/** The desktop. The props are for tests (a fake socket, a fixed language, fake browser media). */
export function App({ open, locale, media }: { open?: OpenSocket; locale?: Locale; media?: MediaDeps } = {}) {
  return (
    <CustomizationProvider baseTheme="default" theme={THEME_OVERRIDES}>
      <I18nProvider locale={locale}>
        <DesktopProvider open={open}>
          <CallAudioProvider deps={media}>
            <Screen />
          </CallAudioProvider>
        </DesktopProvider>
      </I18nProvider>
    </CustomizationProvider>
  );
}
