// The one i18n layer: the chosen locale, t(key, params), and times in the locale's format.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { LOCALES, STRINGS, format, pickLocale, type Locale, type StringKey } from './strings';

interface I18nApi {
  locale: Locale;
  setLocale(l: Locale): void;
  t(key: StringKey, params?: Record<string, string>): string;
  /** A time of day (ms since the epoch), as the locale writes it: `2:05:09 PM`, `14:05:09`. */
  time(ms: number): string;
}

const Ctx = createContext<I18nApi | null>(null);
const STORAGE_KEY = 'switchboard.locale';

function initialLocale(): Locale {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved && (LOCALES as readonly string[]).includes(saved)) return saved as Locale;
  } catch {
    // storage unavailable: use the browser's languages
  }
  const langs = typeof navigator !== 'undefined' ? (navigator.languages ?? [navigator.language]) : [];
  return pickLocale(langs.filter(Boolean));
}

export function I18nProvider({ children, locale: fixed }: { children: ReactNode; locale?: Locale }) {
  const [locale, setLocaleState] = useState<Locale>(() => fixed ?? initialLocale());
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  const setLocale = useCallback((l: Locale) => {
    setLocaleState(l);
    try {
      localStorage.setItem(STORAGE_KEY, l);
    } catch {
      // not persisted
    }
  }, []);
  const api = useMemo<I18nApi>(() => {
    const times = new Intl.DateTimeFormat(locale, { timeStyle: 'medium' });
    return {
      locale,
      setLocale,
      t: (key, params) => format(STRINGS[locale][key] ?? STRINGS['en-US'][key], params),
      time: (ms) => times.format(ms),
    };
  }, [locale, setLocale]);
  return <Ctx.Provider value={api}>{children}</Ctx.Provider>;
}

export function useI18n(): I18nApi {
  const api = useContext(Ctx);
  if (!api) throw new Error('useI18n outside I18nProvider');
  return api;
}
