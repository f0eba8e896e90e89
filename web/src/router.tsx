/**
 * A small history router. Every UI page lives under `/ui/` (the hub serves the app there and at
 * `/`), so no UI route can shadow an API path. Routes are written without the prefix: `/board`.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

const BASE = '/ui';
const listeners = new Set<() => void>();

/** The route path (without `/ui`) and the query of the current location. */
export function current(): { path: string; query: URLSearchParams } {
  let path = location.pathname;
  if (path === BASE || path.startsWith(BASE + '/')) path = path.slice(BASE.length);
  path = path.replace(/\/+$/, '') || '/';
  return { path, query: new URLSearchParams(location.search) };
}

export function href(route: string): string {
  return BASE + (route === '/' ? '/' : route);
}

export function navigate(route: string, o: { replace?: boolean } = {}): void {
  const url = href(route);
  if (o.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  for (const fn of listeners) fn();
}

addEventListener('popstate', () => {
  for (const fn of listeners) fn();
});

/** Re-renders on every navigation; returns the current route. */
export function useRoute(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const fn = () => setTick((n) => n + 1);
    listeners.add(fn);
    return () => listeners.delete(fn);
  }, []);
  return current();
}

/** `/jobs/:id` against `/jobs/12` → `{id: '12'}`; null when it does not match. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('/').filter(Boolean);
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i]!.startsWith(':')) params[p[i]!.slice(1)] = decodeURIComponent(s[i]!);
    else if (p[i] !== s[i]) return null;
  }
  return params;
}

interface AnchorProps {
  to: string;
  children?: ComponentChildren;
  class?: string;
  title?: string;
  /** Current only on this very path (not below it). */
  exact?: boolean;
}

/** A link inside the app: a real `<a href>` (new tabs, keyboard) that navigates without reload. */
export function Link({ to, children, exact, ...rest }: AnchorProps) {
  const { path } = current();
  const active = path === to || (!exact && to !== '/' && path.startsWith(to + '/'));
  return (
    <a
      {...rest}
      href={href(to)}
      aria-current={active ? 'page' : undefined}
      onClick={(e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}
