// A directory search: loads when first asked, then searches as the agent types (debounced).
import { useCallback, useEffect, useRef, useState } from 'react';

export const SEARCH_DEBOUNCE_MS = 250;

export function useDirectorySearch<T>(load: (text: string) => Promise<T[]>, debounceMs = SEARCH_DEBOUNCE_MS) {
  const [items, setItems] = useState<T[]>([]);
  const [loading, setLoading] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const seq = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;

  const run = useCallback(async (text: string) => {
    const n = ++seq.current;
    setLoading(true);
    try {
      const result = await loadRef.current(text);
      if (n === seq.current) {
        setItems(result);
        setLoaded(true);
      }
    } catch {
      if (n === seq.current) setItems([]);
    } finally {
      if (n === seq.current) setLoading(false);
    }
  }, []);

  /** The first open loads at once. */
  const open = useCallback(
    (text: string) => {
      if (!loaded && !loading) void run(text);
    },
    [loaded, loading, run],
  );

  /** Typing searches once the agent pauses. */
  const search = useCallback(
    (text: string) => {
      clearTimeout(timer.current);
      timer.current = setTimeout(() => void run(text), debounceMs);
    },
    [run, debounceMs],
  );

  useEffect(() => () => clearTimeout(timer.current), []);
  return { items, loading, loaded, open, search };
}
