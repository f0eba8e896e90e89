/**
 * A small path router: `/api/v1/jobs/:id/wait` style patterns, matched segment by segment.
 * Knows when a path exists for another method, so the answer can be 405 instead of 404.
 */
import type { CancelSignal } from '../core/cancel.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HubServices } from './services.js';
import type { Principal } from '../auth/auth.js';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  hub: HubServices;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Token from the path (`/t/<token>/…`) or the Authorization header, if any. */
  token: string | null;
  /** Aborted when the client goes away (long-polls stop waiting). */
  signal: CancelSignal;
  principal(): Promise<Principal>;
}

export type Handler = (c: RequestContext) => Promise<void>;

interface Route {
  method: string;
  segments: string[];
  handler: Handler;
}

export type Match = { handler: Handler; params: Record<string, string> } | { allowed: string[] } | null;

export class Router {
  private readonly routes: Route[] = [];

  on(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, segments: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  match(method: string, path: string): Match {
    const parts = path.split('/').filter(Boolean);
    const allowed: string[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) {
        return { handler: route.handler, params };
      }
      allowed.push(route.method);
    }
    return allowed.length ? { allowed } : null;
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | null {
  if (pattern.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    let part: string;
    try {
      part = decodeURIComponent(parts[i]!);
    } catch {
      return null;
    }
    if (p.startsWith(':')) params[p.slice(1)] = part;
    else if (p !== part) return null;
  }
  return params;
}
