/**
 * Live data for pages: `useResource` loads a GET and, given an interval, keeps polling it with
 * ETags (paused while the tab is hidden); `useStream` follows a server-sent event stream and
 * falls back to polling when the stream cannot be opened or breaks.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { getTagged } from './api.js';

export interface Resource<T> {
  data: T | undefined;
  error: Error | null;
  loading: boolean;
  /** Fetch again now (after a write). */
  reload: () => void;
}

/** Runs `tick` now and then every `ms` while the page is visible; returns a stopper. */
function every(ms: number, tick: () => Promise<void>): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const loop = async () => {
    if (stopped) return;
    if (!document.hidden) await tick();
    if (!stopped) timer = setTimeout(() => void loop(), ms);
  };
  const onVisible = () => {
    if (document.hidden || stopped) return;
    clearTimeout(timer);
    void loop();
  };
  document.addEventListener('visibilitychange', onVisible);
  void loop();
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}

/**
 * Data loaded by `load` under `key` (null = nothing to load), polled every `intervalMs` when
 * given. `load` answers `changed: false` when the data is the same as before (a 304), which
 * costs no re-render. Errors keep the last good data.
 */
export function usePoll<T>(
  key: string | null,
  load: (signal: AbortSignal) => Promise<{ data: T; changed: boolean }>,
  intervalMs = 0,
): Resource<T> {
  const [state, setState] = useState<{ key: string | null; data?: T; error: Error | null; loading: boolean }>(
    {
      key,
      error: null,
      loading: key !== null,
    },
  );
  const [nonce, setNonce] = useState(0);
  const loader = useRef(load);
  loader.current = load;
  useEffect(() => {
    if (key === null) {
      setState({ key, error: null, loading: false });
      return;
    }
    const abort = new AbortController();
    setState((s) => (s.key === key ? s : { key, error: null, loading: true }));
    const tick = async () => {
      try {
        const r = await loader.current(abort.signal);
        if (abort.signal.aborted) return;
        setState((s) =>
          r.changed || s.error || s.loading ? { key, data: r.data, error: null, loading: false } : s,
        );
      } catch (err) {
        if (abort.signal.aborted) return;
        setState((s) => ({ ...s, key, error: err as Error, loading: false }));
      }
    };
    const stop = intervalMs > 0 ? every(intervalMs, tick) : (void tick(), () => undefined);
    return () => {
      abort.abort();
      stop();
    };
  }, [key, intervalMs, nonce]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  const same = state.key === key;
  return {
    data: same ? state.data : undefined,
    error: same ? state.error : null,
    loading: !same || state.loading,
    reload,
  };
}

/** A JSON GET, revalidated with its ETag on every poll (unchanged answers cost a 304). */
export function useResource<T>(path: string | null, intervalMs = 0): Resource<T> {
  return usePoll<T>(path, (signal) => getTagged<T>(path!, signal), intervalMs);
}

export type StreamMode = 'connecting' | 'live' | 'polling' | 'closed';

/**
 * Follows an SSE stream: `handlers[event](data)` for each event; a handler returning true ends
 * the stream (the job is final). When the stream fails, `poll` runs every `pollMs` instead (it
 * returns true when there is nothing more to wait for).
 */
export function useStream(
  url: string | null,
  handlers: Record<string, (data: unknown) => boolean | void>,
  poll: () => Promise<boolean>,
  pollMs = 1500,
): StreamMode {
  const [mode, setMode] = useState<StreamMode>('connecting');
  const ref = useRef({ handlers, poll });
  ref.current = { handlers, poll };
  useEffect(() => {
    if (url === null) {
      setMode('closed');
      return;
    }
    let es: EventSource | null = null;
    let stopPolling: (() => void) | null = null;
    let done = false;
    const finish = () => {
      done = true;
      es?.close();
      stopPolling?.();
      setMode('closed');
    };
    const fallback = () => {
      es?.close();
      if (done || stopPolling) return;
      setMode('polling');
      stopPolling = every(pollMs, async () => {
        try {
          if (await ref.current.poll()) finish();
        } catch {
          // keep polling: the hub may come back
        }
      });
    };
    if (typeof EventSource === 'undefined') fallback();
    else {
      setMode('connecting');
      es = new EventSource(url);
      es.onopen = () => setMode('live');
      es.onerror = () => {
        // The server ends the stream after the final state (we closed already), so an error here
        // is a broken connection or a refusal: poll instead of reconnecting in a loop.
        if (!done) fallback();
      };
      for (const name of Object.keys(handlers)) {
        es.addEventListener(name, (e) => {
          let data: unknown;
          try {
            data = JSON.parse((e as MessageEvent<string>).data);
          } catch {
            return;
          }
          if (ref.current.handlers[name]?.(data) === true) finish();
        });
      }
    }
    return () => {
      done = true;
      es?.close();
      stopPolling?.();
    };
    // The handler names are fixed per call site; the functions are read through `ref`.
  }, [url, pollMs]);
  return mode;
}

/** A clock for relative times ("12 s ago"), ticking every `ms`. */
export function useNow(ms = 5000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
