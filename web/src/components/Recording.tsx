import { useEffect, useRef, useState } from 'react';
import { Box } from '@twilio-paste/core/box';
import { Button } from '@twilio-paste/core/button';
import { Text } from '@twilio-paste/core/text';
import { RecordIcon } from '@twilio-paste/icons/esm/RecordIcon';
import { PauseIcon } from '@twilio-paste/icons/esm/PauseIcon';
import { PlayIcon } from '@twilio-paste/icons/esm/PlayIcon';
import { StopIcon } from '@twilio-paste/icons/esm/StopIcon';
import { useDesktop } from '../state/DesktopContext';
import { useI18n } from '../i18n/I18n';
import type { RecordingAction, TaskView } from '../state/protocol';

/**
 * "● Recording" (or "Recording paused") while the call's recording runs, whoever started it: it
 * sits in the call's stage line, a live region, so a screen reader announces it as it changes.
 */
export function RecordingIndicator({ task }: { task: TaskView }) {
  const { t } = useI18n();
  const recording = task.call?.recording;
  if (!recording) return null;
  const paused = recording.paused;
  return (
    <Box
      as="span"
      display="inline-flex"
      alignItems="center"
      columnGap="space20"
      data-testid="recording-indicator"
      data-recording-state={paused ? 'paused' : 'recording'}
      data-recording-sid={recording.sid}
    >
      {/* The dot only repeats the text: red while recording, grey while paused. */}
      <Box
        as="span"
        aria-hidden="true"
        display="inline-block"
        width="sizeSquare30"
        height="sizeSquare30"
        borderRadius="borderRadiusCircle"
        backgroundColor={paused ? 'colorBackgroundStronger' : 'colorBackgroundError'}
        data-testid="recording-dot"
      />
      <Text as="span" fontWeight="fontWeightSemibold" color={paused ? 'colorTextWeak' : 'colorTextError'}>
        {t(paused ? 'RecordingPaused' : 'Recording')}
      </Text>
    </Box>
  );
}

/**
 * Record, or while recording Pause / Resume and Stop. Each waits for the server (clicks are
 * ignored meanwhile); a refusal is shown as a notice. Focus follows the control that replaces
 * the one pressed (Record → Pause, Stop → Record), so the keyboard is never dropped on the page.
 */
export function RecordingButtons({ task }: { task: TaskView }) {
  const { send } = useDesktop();
  const { t } = useI18n();
  const recording = task.call?.recording ?? null;
  const [busy, setBusy] = useState(false);
  const recordRef = useRef<HTMLButtonElement>(null);
  const pauseRef = useRef<HTMLButtonElement>(null);
  const focusNext = useRef<'record' | 'pause' | null>(null);
  const running = recording !== null;

  useEffect(() => {
    const want = focusNext.current;
    if (want === 'pause' && running) {
      focusNext.current = null;
      pauseRef.current?.focus();
    } else if (want === 'record' && !running) {
      focusNext.current = null;
      recordRef.current?.focus();
    }
  }, [running]);

  const act = async (action: RecordingAction, thenFocus: 'record' | 'pause' | null = null) => {
    if (busy) return;
    setBusy(true);
    focusNext.current = thenFocus;
    try {
      await send({ type: 'recording', task_sid: task.task_sid, action });
    } catch {
      // shown as a notice
      focusNext.current = null;
    } finally {
      setBusy(false);
    }
  };

  if (!recording) {
    return (
      <Button ref={recordRef} variant="secondary" aria-disabled={busy || undefined} onClick={() => void act('start', 'pause')}>
        <RecordIcon decorative />
        {t('RecordStart')}
      </Button>
    );
  }
  return (
    <>
      <Button
        ref={pauseRef}
        variant="secondary"
        aria-disabled={busy || undefined}
        onClick={() => void act(recording.paused ? 'resume' : 'pause')}
      >
        {recording.paused ? <PlayIcon decorative /> : <PauseIcon decorative />}
        {t(recording.paused ? 'RecordResume' : 'RecordPause')}
      </Button>
      <Button variant="secondary" aria-disabled={busy || undefined} onClick={() => void act('stop', 'record')}>
        <StopIcon decorative />
        {t('RecordStop')}
      </Button>
    </>
  );
}
