import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LOCALES, STRINGS, format, pickLocale } from './strings';
import local from './internal-call-strings.json';

describe('strings', () => {
  const keys = Object.keys(STRINGS['en-US']).sort();
  it.each(LOCALES)('%s has every string, none empty', (l) => {
    expect(Object.keys(STRINGS[l]).sort()).toEqual(keys);
    for (const k of keys) expect(STRINGS[l][k as keyof (typeof STRINGS)['en-US']]).not.toBe('');
  });

  it("uses Flex's internal-call strings from the fixture", () => {
    for (const l of LOCALES) {
      for (const [k, v] of Object.entries(local[l])) expect(STRINGS[l][k as 'PSInternalCallCallAgent']).toBe(v);
    }
  });

  // The shared design fixture sits beside the repository (../shared) when it is there.
  const fixturePath = resolve(process.cwd(), '../../shared/fixtures/internal-call-strings.json');
  it.skipIf(!existsSync(fixturePath))('keeps its copy of the shared fixture in step', () => {
    expect(local).toEqual(JSON.parse(readFileSync(fixturePath, 'utf8')));
  });

  it('keeps placeholders in every translation', () => {
    for (const l of LOCALES) {
      for (const k of keys) {
        const want = (STRINGS['en-US'][k as 'SignInAs'].match(/\{\w+\}/g) ?? []).sort();
        expect((STRINGS[l][k as 'SignInAs'].match(/\{\w+\}/g) ?? []).sort(), `${l} ${k}`).toEqual(want);
      }
    }
  });

  it('formats placeholders', () => {
    expect(format('Call {name}', { name: 'Bob' })).toBe('Call Bob');
    expect(format('{x} stays', {})).toBe('{x} stays');
  });
});

describe('pickLocale', () => {
  it.each([
    [['es-MX'], 'es-MX'],
    [['es-419'], 'es-MX'],
    [['es'], 'es-ES'],
    [['es-ES'], 'es-ES'],
    [['pt'], 'pt-BR'],
    [['pt-PT'], 'pt-BR'],
    [['th-TH'], 'th'],
    [['zh-CN'], 'zh-Hans'],
    [['zh-Hans-CN'], 'zh-Hans'],
    [['fr-FR', 'pt-BR'], 'pt-BR'],
    [['fr-FR'], 'en-US'],
    [[], 'en-US'],
  ])('%j → %s', (langs, want) => expect(pickLocale(langs)).toBe(want));
});
