import { useState, type ReactNode } from 'react';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Combobox } from '@twilio-paste/core/combobox';
import { Text } from '@twilio-paste/core/text';
import { CallIcon } from '@twilio-paste/icons/esm/CallIcon';
import { useDesktop } from '../state/DesktopContext';
import { useDirectorySearch } from '../state/useDirectorySearch';
import { useI18n } from '../i18n/I18n';
import { filterQueues } from '../lib/internalCall';
import type { DirectoryQueue } from '../state/protocol';

/** Pick a queue by name (typed prefix, any case) and call it. */
export function CallQueueTab({
  onCall,
  busy,
  actions,
}: {
  onCall?(queue: DirectoryQueue): void;
  busy: boolean;
  /** Buttons in place of Call (the transfer directory's), given the selection. */
  actions?(selected: DirectoryQueue | null): ReactNode;
}) {
  const { send } = useDesktop();
  const { t } = useI18n();
  const [selected, setSelected] = useState<DirectoryQueue | null>(null);
  const [input, setInput] = useState('');
  const dir = useDirectorySearch((prefix) =>
    send({ type: 'directory_queues', prefix }, { quiet: true }).then((d) =>
      filterQueues(d.queues, prefix),
    ),
  );

  return (
    <Box>
      <Box onFocus={() => dir.open(input)}>
        <Combobox
          autocomplete
          labelText={t('PSInternalCallSelectQueue')}
          items={dir.items}
          itemToString={(q: DirectoryQueue | null) => (q ? q.friendly_name : '')}
          selectedItem={selected}
          onIsOpenChange={({ isOpen }) => isOpen && dir.open(input)}
          onInputValueChange={({ inputValue }) => {
            const text = inputValue ?? '';
            setInput(text);
            if (selected && text !== selected.friendly_name) setSelected(null);
            dir.search(text);
          }}
          onSelectedItemChange={({ selectedItem }) => setSelected((selectedItem as DirectoryQueue) ?? null)}
          optionTemplate={(q: DirectoryQueue) => <Text as="span">{q.friendly_name}</Text>}
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
