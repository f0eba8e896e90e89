/**
 * Shared pieces of the portal API: JSON bodies, cached answers (ETag + short max-age), the
 * contestant's session cookie, and the staff check.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { isLoopback } from '../../config/config.js';
import { HubError } from '../../core/errors.js';
import { clientAddress } from '../../contest/net.js';
import type { SessionRecord } from '../../contest/store/store.js';
import { SESSION_TTL_MS } from '../../contest/sessions.js';
import { parseJson, readBody } from '../body.js';
import type { RequestContext } from '../router.js';
import { sendJson } from '../v1/api.js';

export { sendJson };

export const COOKIE = 'jobhub_session';
/** Browsers and proxies may reuse an answer this long (leaderboard, dashboard). */
const MAX_AGE_S = 2;

/** The body as a JSON object ({} when empty). */
export async function jsonBody(c: RequestContext): Promise<Record<string, unknown>> {
  const v = parseJson(await readBody(c.req, c.hub.ctx.config.maxJsonBytes), {});
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new HubError('validation_failed', 'the body must be a JSON object');
  return v as Record<string, unknown>;
}

/** Answers with a precomputed body; 304 when the client has it already. */
export function sendCached(
  c: RequestContext,
  r: { etag: string; body: string },
  visibility: 'public' | 'private',
): void {
  const headers = {
    etag: r.etag,
    'cache-control': `${visibility}, max-age=${MAX_AGE_S}`,
    vary: 'Cookie, Authorization',
  };
  const match = c.req.headers['if-none-match'];
  if (match !== undefined && match.split(',').some((t) => t.trim() === r.etag || t.trim() === '*')) {
    c.res.writeHead(304, headers);
    c.res.end();
    return;
  }
  c.res.writeHead(200, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(r.body),
  });
  c.res.end(c.req.method === 'HEAD' ? undefined : r.body);
}

/** A JSON answer with a content ETag (cheap revalidation for polling clients). */
export function sendTagged(c: RequestContext, value: unknown): void {
  const body = JSON.stringify(value);
  const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  sendCached(c, { etag, body }, 'private');
}

function cookieToken(c: RequestContext): string | null {
  const header = c.req.headers.cookie;
  if (header) {
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      // Session tokens are base64url: a value that needs decoding is not one of ours.
      if (eq > 0 && part.slice(0, eq).trim() === COOKIE) return part.slice(eq + 1).trim() || null;
    }
  }
  // Non-browser clients may send the session token as a bearer token.
  return c.token?.startsWith('sess_') ? c.token : null;
}

export function sessionToken(c: RequestContext): string | null {
  return cookieToken(c);
}

/** The caller's session, or null. */
export function optionalSession(c: RequestContext): Promise<SessionRecord | null> {
  return c.hub.portal.sessions.resolve(cookieToken(c));
}

/**
 * The caller's session, required. Writes from a browser must come from the portal's own origin
 * (the cookie is SameSite=Lax too): a cross-site page cannot act for a logged-in team.
 */
export async function session(c: RequestContext): Promise<SessionRecord> {
  const s = await optionalSession(c);
  if (!s) throw new HubError('unauthorized', 'log in first (POST /api/portal/login)');
  if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
    const origin = c.req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let host: string | null = null;
      try {
        host = new URL(origin).host;
      } catch {
        host = null;
      }
      if (host !== c.req.headers.host)
        throw new HubError('forbidden', 'cross-site requests are not accepted');
    }
  }
  return s;
}

export function setSessionCookie(res: ServerResponse, token: string | null): void {
  const value =
    token === null ? `${COOKIE}=; Max-Age=0` : `${COOKIE}=${token}; Max-Age=${SESSION_TTL_MS / 1000}`;
  res.setHeader('set-cookie', `${value}; Path=/api/portal; HttpOnly; SameSite=Lax`);
}

/** The request's address as the portal believes it (X-Forwarded-For from trusted proxies). */
export function callerAddress(c: RequestContext): string | null {
  return clientAddress(c.req.socket.remoteAddress, c.req.headers['x-forwarded-for'], c.hub.portal.trusted);
}

/**
 * Staff only: an admin token through the hub's auth. With auth off (a hub on loopback) callers
 * on loopback are staff, and nobody else.
 */
export async function requireStaff(c: RequestContext): Promise<void> {
  const p = await c.principal();
  c.hub.auth.require(p, 'admin');
  if (!c.hub.auth.enabled) {
    const address = callerAddress(c);
    if (address === null || !(isLoopback(address) || address === '::1')) {
      throw new HubError(
        'forbidden',
        'staff calls need an admin token (the hub runs without auth: loopback only)',
      );
    }
  }
}

/** `?limit=` within [1, max] (default `def`), `?before=` an id. */
export function paging(c: RequestContext, def = 50, max = 500): { limit: number; beforeId?: string } {
  const raw = c.query.get('limit');
  const limit = raw === null ? def : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new HubError('validation_failed', `limit must be an integer in [1, ${max}]`);
  }
  const before = c.query.get('before');
  if (before !== null && !/^\d{1,15}$/.test(before))
    throw new HubError('validation_failed', 'before must be a job id');
  return { limit, beforeId: before ?? undefined };
}
