import { useState, type ReactNode } from 'react';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Combobox } from '@twilio-paste/core/combobox';
import { Text } from '@twilio-paste/core/text';
import { Badge } from '@twilio-paste/core/badge';
import { CallIcon } from '@twilio-paste/icons/esm/CallIcon';
import { useDesktop } from '../state/DesktopContext';
import { useDirectorySearch } from '../state/useDirectorySearch';
import { useI18n } from '../i18n/I18n';
import { agentLabel } from '../lib/internalCall';
import type { DirectoryAgent } from '../state/protocol';

/** Pick another agent (the server says who can be called) and call them. */
export function CallAgentTab({
  onCall,
  busy,
  actions,
}: {
  onCall?(agent: DirectoryAgent): void;
  busy: boolean;
  /** Buttons in place of Call (the transfer directory's), given the selection. */
  actions?(selected: DirectoryAgent | null): ReactNode;
}) {
  const { send } = useDesktop();
  const { t } = useI18n();
  const [selected, setSelected] = useState<DirectoryAgent | null>(null);
  const [input, setInput] = useState('');
  const dir = useDirectorySearch((query) =>
    send({ type: 'directory_agents', query }, { quiet: true }).then((d) => d.agents),
  );

  return (
    <Box>
      <Box onFocus={() => dir.open(input)}>
        <Combobox
          autocomplete
          labelText={t('PSInternalCallSelectAgent')}
          items={dir.items}
          itemToString={(a: DirectoryAgent | null) => (a ? agentLabel(a) : '')}
          selectedItem={selected}
          onIsOpenChange={({ isOpen }) => isOpen && dir.open(input)}
          onInputValueChange={({ inputValue }) => {
            const text = inputValue ?? '';
            setInput(text);
            if (selected && text !== agentLabel(selected)) setSelected(null);
            dir.search(text);
          }}
          onSelectedItemChange={({ selectedItem }) => setSelected((selectedItem as DirectoryAgent) ?? null)}
          optionTemplate={(a: DirectoryAgent) => (
            <Box display="flex" justifyContent="space-between" columnGap="space40" width="100%">
              <Text as="span">{agentLabel(a)}</Text>
              <Badge as="span" variant={a.available ? 'success' : 'neutral'}>
                {a.activity_name}
              </Badge>
            </Box>
          )}
          emptyState={() => (
            <Box paddingY="space30" paddingX="space50">
              <Text as="span" color="colorTextWeak">
                {dir.loading ? t('DirectoryLoading') : t('DirectoryEmpty')}
              </Text>
            </Box>
          )}
        />
      </Box>
      <Box marginTop="space50" display="flex" flexWrap="wrap" columnGap="space30" rowGap="space30">
        {actions ? (
          actions(selected)
        ) : (
          <>
            {/* While the call is being placed the button stays enabled (aria-disabled, clicks ignored):
                disabling it would throw keyboard focus to <body>. */}
            <Button
              variant="primary"
              disabled={!selected}
              aria-disabled={busy || undefined}
              onClick={() => selected && !busy && onCall?.(selected)}
            >
              <CallIcon decorative />
              {t('DialpadCall')}
            </Button>
          </>
        )}
      </Box>
    </Box>
  );
}
