/**
 * The web UI face: the Vite-built single-page app in `dist/web`, served at `/` and under `/ui/`.
 * Hashed assets (`/ui/assets/…`) are cached for a year; `index.html` is revalidated every time,
 * so a rebuilt UI is picked up at the next page load. Any other `/ui/…` path without a file
 * extension is a client-side route and gets `index.html`. The UI uses only the public APIs; this
 * face serves files and nothing else. Without a build it answers a 503 page that says what to run.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HubError } from '../../core/errors.js';
import { Router, type Match } from '../router.js';
import type { Face, FaceMount } from '../server.js';
import type { RequestContext } from '../router.js';
import { sendError } from '../v1/api.js';

/** Where `vite build --config web/vite.config.ts` writes (the same from src/ and dist/). */
export const WEB_DIR = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** No third-party origins at all: the UI works offline and talks only to this hub. */
const CSP =
  "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; " +
  "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>jobhub: web UI not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
code{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}</style></head><body>
<h1>The web UI has not been built</h1>
<p>This hub serves its web UI from <code>dist/web</code>, which does not exist yet.
Run <code>npm run build</code> (it runs <code>vite build --config web/vite.config.ts</code>) and reload.</p>
<p>The APIs work without it: <a href="/docs">/docs</a>.</p></body></html>`;

/** Paths this face answers: the root page and everything under /ui. */
export function servesWeb(path: string): boolean {
  return path === '/' || path === '/ui' || path.startsWith('/ui/');
}

/** A router that sends every GET/HEAD to one handler (the file server). */
class StaticRouter extends Router {
  constructor(private readonly handler: (c: RequestContext) => Promise<void>) {
    super();
  }
  override match(method: string): Match {
    if (method === 'GET' || method === 'HEAD') return { handler: this.handler, params: {} };
    return { allowed: ['GET', 'HEAD'] };
  }
}

/** The file under `dir` that a request path names, or null when it names none (or escapes). */
export function resolveAsset(dir: string, path: string): { file: string; spa: boolean } | null {
  let rel: string;
  try {
    rel = decodeURIComponent(path.replace(/^\/ui\/?/, '').replace(/^\/$/, ''));
  } catch {
    return null;
  }
  if (rel.includes('\0')) return null;
  // Client-side routes (no extension) all get the app's page.
  if (rel === '' || extname(rel) === '') return { file: join(dir, 'index.html'), spa: true };
  const file = normalize(join(dir, rel));
  if (!file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) return null;
  return { file, spa: false };
}

async function serveFile(c: RequestContext, dir: string): Promise<void> {
  // The UI answers canonical paths only: `/data/..` is `/` once normalised, but it was not
  // asked for as the UI, and a file server should not guess through dot segments.
  const raw = (c.req.url ?? '/').split('?')[0]!.replace(/^\/t\/[^/]+/, '');
  const path = new URL(raw, 'http://hub').pathname;
  if (raw !== path) throw new HubError('not_found', `no file for ${raw}`);
  const target = resolveAsset(dir, path);
  if (!target) throw new HubError('not_found', `no file for ${path}`);
  let body: Buffer;
  let mtime: number;
  try {
    const st = await stat(target.file);
    if (!st.isFile()) throw new Error('not a file');
    mtime = st.mtimeMs;
    body = await readFile(target.file);
  } catch {
    if (target.spa) {
      c.res.writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      c.res.end(c.req.method === 'HEAD' ? undefined : NOT_BUILT);
      return;
    }
    throw new HubError('not_found', `no file for ${path}`);
  }
  const hashed = !target.spa && /[\\/]assets[\\/]/.test(target.file);
  const etag = `"${body.length.toString(36)}-${Math.floor(mtime).toString(36)}"`;
  const headers: Record<string, string | number> = {
    'content-type': TYPES[extname(target.file).toLowerCase()] ?? 'application/octet-stream',
    'cache-control': hashed
      ? 'public, max-age=31536000, immutable'
      : target.spa
        ? 'no-cache'
        : 'public, max-age=3600',
    etag,
    'x-content-type-options': 'nosniff',
  };
  if (target.spa) {
    headers['content-security-policy'] = CSP;
    headers['referrer-policy'] = 'same-origin';
    headers['x-frame-options'] = 'DENY';
  }
  if (c.req.headers['if-none-match'] === etag) {
    c.res.writeHead(304, headers);
    c.res.end();
    return;
  }
  headers['content-length'] = body.length;
  c.res.writeHead(200, headers);
  c.res.end(c.req.method === 'HEAD' ? undefined : body);
}

/** The face, mounted for `/` and `/ui/…` (see `servesWeb`). */
export function webFace(dir: string = WEB_DIR): Face {
  return { name: 'web', router: new StaticRouter((c) => serveFile(c, dir)), sendError };
}

export function webMount(dir?: string): FaceMount {
  return { face: webFace(dir), serves: servesWeb };
}
