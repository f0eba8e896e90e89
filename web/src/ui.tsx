/**
 * Shared pieces of every page: loading, empty and error states, state badges, times and sizes,
 * sections, tabs, forms with a busy state.
 */
import type { ComponentChildren, InputHTMLAttributes } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from './api.js';
import { useNow } from './live.js';
import { Link } from './router.js';

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p class="muted loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {what}…
    </p>
  );
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401 || error.status === 403)
      return `${error.message} — set an API token in Settings if this hub needs one.`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div class="banner error" role="alert">
      <span>{errorText(error)}</span>
      {retry && (
        <button type="button" class="small" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** Loading / error / content for a resource, in one place. */
export function Load<T>({
  r,
  children,
  what,
}: {
  r: { data: T | undefined; error: Error | null; loading: boolean; reload: () => void };
  children: (data: T) => ComponentChildren;
  what?: string;
}) {
  if (r.data === undefined) {
    if (r.error) return <ErrorBox error={r.error} retry={r.reload} />;
    return <Loading what={what} />;
  }
  return (
    <>
      {r.error && <ErrorBox error={r.error} retry={r.reload} />}
      {children(r.data)}
    </>
  );
}

const TONE: Record<string, string> = {
  queued: 'wait',
  waiting: 'wait',
  running: 'run',
  succeeded: 'ok',
  done: 'ok',
  passed: 'ok',
  failed: 'bad',
  aborted: 'bad',
  fail: 'bad',
  canceled: 'off',
};

export function Badge({ state, label }: { state: string; label?: string }) {
  return <span class={`badge ${TONE[state] ?? 'off'}`}>{label ?? state}</span>;
}

export function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (Math.abs(s) < 60) return s <= 0 ? 'just now' : `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const m = Math.floor(ms / 60_000);
  if (m < 60) return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export const fmt = (n: number) => n.toLocaleString('en-US');

/** A time as "12 s ago", with the full local time on hover and for assistive technology. */
export function Time({ at, none = '—' }: { at: string | null | undefined; none?: string }) {
  const now = useNow(5000);
  if (!at) return <span class="muted">{none}</span>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={d.toLocaleString()}>
      {ago(now - d.getTime())}
    </time>
  );
}

/** A local time; the date only when it is not today. */
export function clock(at: string | null | undefined): string {
  if (!at) return '—';
  const d = new Date(at);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

export function Section({
  title,
  actions,
  children,
  id,
}: {
  title: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
  id?: string;
}) {
  return (
    <section class="card" id={id} aria-labelledby={id ? `${id}-h` : undefined}>
      <div class="card-head">
        <h2 id={id ? `${id}-h` : undefined}>{title}</h2>
        {actions && <div class="actions">{actions}</div>}
      </div>
      {children}
    </section>
  );
}

export function Tabs({ items, label }: { items: { to: string; label: string }[]; label: string }) {
  return (
    <nav class="tabs" aria-label={label}>
      {items.map((i) => (
        // A tab whose path prefixes another tab's is current only on its own path.
        <Link key={i.to} to={i.to} exact={items.some((o) => o !== i && o.to.startsWith(i.to + '/'))}>
          {i.label}
        </Link>
      ))}
    </nav>
  );
}

/** A scrolling wrapper so wide tables never widen the page on a phone. */
export function TableWrap({ children, label }: { children: ComponentChildren; label?: string }) {
  return (
    <div class="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/**
 * Runs an async action with a busy flag and its error; `run` resolves with the action's value or
 * undefined when it failed (the error is shown by `<ActionError>`).
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (err) {
      setError(err);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, clear: () => setError(null) };
}

export function ActionError({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="form-error" role="alert">
      {errorText(error)}
    </p>
  );
}

type InputProps = InputHTMLAttributes<HTMLInputElement> & { label: string; hint?: string };

/** A labelled input. */
export function Field({ label, hint, id, ...rest }: InputProps) {
  const fid = id ?? `f-${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <div class="field">
      <label for={fid}>{label}</label>
      <input id={fid} {...rest} aria-describedby={hint ? `${fid}-hint` : undefined} />
      {hint && (
        <small id={`${fid}-hint`} class="muted">
          {hint}
        </small>
      )}
    </div>
  );
}

export function Banner({
  kind,
  children,
}: {
  kind: 'info' | 'warn' | 'error' | 'ok';
  children: ComponentChildren;
}) {
  return (
    <div class={`banner ${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

/** The stream's state, for people: live (SSE) or polling (the fallback). */
export function LiveDot({ mode }: { mode: string }) {
  if (mode === 'closed') return null;
  const label = mode === 'live' ? 'live' : mode === 'polling' ? 'polling' : 'connecting';
  return (
    <span class={`live ${mode}`} title={mode === 'live' ? 'Server-sent events' : 'Polling every few seconds'}>
      {label}
    </span>
  );
}
