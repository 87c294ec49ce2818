import type { ReactNode } from 'react';
import { Box } from '@twilio-paste/core/box';
import { Callout, CalloutText } from '@twilio-paste/core/callout';

/** A message the agent must notice: announced by screen readers as soon as it appears. */
export function Message({ tone, children }: { tone: 'error' | 'neutral' | 'warning'; children: ReactNode }) {
  return (
    <Box role={tone === 'error' ? 'alert' : 'status'} marginY="space40">
      <Callout variant={tone}>
        <CalloutText>{children}</CalloutText>
      </Callout>
    </Box>
  );
}
