import '@testing-library/react';
import { afterAll, afterEach } from 'vitest';
import { cleanup } from '@testing-library/react';

afterEach(() => cleanup());

// Paste's Combobox measures the window through `useWindowSize`, which calls a debounced handler
// when it mounts (lodash debounce: trailing, 50 ms, maxWait 150 ms) and does not cancel it when
// it unmounts. A file whose last test mounted one could end, and jsdom's `window` go, before that
// call fires ("window is not defined", an unhandled error that fails the run). Each file
// therefore ends only once the library's own bound on that timer has passed.
const PASTE_WINDOW_SIZE_MAX_WAIT_MS = 150;
afterAll(() => new Promise<void>((resolve) => setTimeout(resolve, PASTE_WINDOW_SIZE_MAX_WAIT_MS + 50)));

// Tests drive React through act() (Testing Library's, and directly when a fake socket pushes).
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

// jsdom lacks these; Paste's components ask for them.
if (!window.matchMedia) {
  window.matchMedia = (query: string) =>
    ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => {},
      removeListener: () => {},
      addEventListener: () => {},
      removeEventListener: () => {},
      dispatchEvent: () => false,
    }) as MediaQueryList;
}
if (!('ResizeObserver' in window)) {
  (window as unknown as { ResizeObserver: unknown }).ResizeObserver = class {
    observe() {}
    unobserve() {}
    disconnect() {}
  };
}
if (!Element.prototype.scrollIntoView) {
  Element.prototype.scrollIntoView = () => {};
}
