/**
 * The web face: the built UI at `/` and `/ui/…` with the right types and caching, client-side
 * routes answered with the page, a clear 503 without a build, and no API path shadowed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/http/server.js';
import { faceMounts } from '../../src/http/app.js';
import { resolveAsset, webMount } from '../../src/http/web/face.js';
import { api, tempDir, testHub } from '../helpers/hub.js';

/** A fake build: index.html, one hashed asset, one public file. */
function fakeBuild(): string {
  const dir = tempDir('jobhub-web-');
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>jobhub</title><div id="app"></div>');
  writeFileSync(join(dir, 'assets/index-abc123.js'), 'console.log(1)');
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  return dir;
}

/** GET with the request target exactly as given (fetch would normalise dot segments). */
function rawGet(base: string, path: string): Promise<{ status: number; text: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A hub whose web face serves `dir` (everything else as in production). */
async function hubServing(dir: string) {
  const hub = await testHub();
  const mounts = faceMounts().map((m) => (m.face.name === 'web' ? webMount(dir) : m));
  const http = createHttpServer(hub.hub, mounts);
  await new Promise<void>((r) => http.server.listen(0, '127.0.0.1', r));
  const port = (http.server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, close: () => http.close() };
}

describe('web face', () => {
  it('serves the page at / and /ui/ routes, hashed assets for a year, index.html revalidated', async () => {
    const h = await hubServing(fakeBuild());
    try {
      for (const path of ['/', '/ui', '/ui/', '/ui/board', '/ui/console/jobs/12']) {
        const res = await fetch(h.url + path);
        expect(res.status, path).toBe(200);
        expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(res.headers.get('cache-control')).toBe('no-cache');
        expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
        expect(await res.text()).toContain('<div id="app">');
      }
      const js = await fetch(`${h.url}/ui/assets/index-abc123.js`);
      expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(js.headers.get('cache-control')).toContain('immutable');
      const etag = js.headers.get('etag')!;
      expect(
        (await fetch(`${h.url}/ui/assets/index-abc123.js`, { headers: { 'if-none-match': etag } })).status,
      ).toBe(304);
      const svg = await fetch(`${h.url}/ui/favicon.svg`);
      expect(svg.headers.get('content-type')).toBe('image/svg+xml');
      expect((await fetch(`${h.url}/ui/assets/missing.js`)).status).toBe(404);
      expect((await fetch(`${h.url}/ui/%2e%2e/%2e%2e/package.json`)).status).toBe(404);
      expect((await fetch(`${h.url}/ui/`, { method: 'POST' })).status).toBe(405);
      const head = await fetch(`${h.url}/ui/board`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      // Dot segments are not resolved into the UI (`/data/..` is not a request for `/`).
      for (const path of ['/data/..', '/ui/assets/../index.html', '/ui/./board', '/api/..']) {
        const r = await rawGet(h.url, path);
        expect(r.status, path).toBe(404);
        expect(JSON.parse(r.text).error.code).toBe('not_found');
      }
    } finally {
      await h.close();
    }
  });

  it('answers a clear 503 page when the UI was not built', async () => {
    const h = await hubServing(join(tempDir('jobhub-web-'), 'nothing-here'));
    try {
      const res = await fetch(`${h.url}/ui/team`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build');
    } finally {
      await h.close();
    }
  });

  it('leaves every API path to its face', async () => {
    const hub = await testHub();
    const native = await api(hub.url, 'GET', '/api/v1/jobs');
    expect(native.status).toBe(200);
    expect((await api(hub.url, 'GET', '/api/v1/nothing')).body.error.code).toBe('not_found');
    expect((await api(hub.url, 'GET', '/api/portal/contest')).status).toBe(200);
    expect((await api(hub.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await fetch(`${hub.url}/metrics`)).headers.get('content-type')).toContain('text/plain');
    expect((await fetch(`${hub.url}/docs`)).status).toBe(200);
    expect((await api(hub.url, 'GET', '/openapi.json')).body.openapi).toBeDefined();
    expect((await fetch(`${hub.url}/ping`)).status).toBe(200);
    expect((await api(hub.url, 'POST', '/internal/job/dequeue/')).status).toBe(400);
    // An unknown path outside /ui stays a JSON 404.
    const other = await api(hub.url, 'GET', '/nothing/here');
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('not_found');
  });

  it('resolves only files inside the build directory', () => {
    const dir = '/srv/web';
    expect(resolveAsset(dir, '/')).toEqual({ file: '/srv/web/index.html', spa: true });
    expect(resolveAsset(dir, '/ui/staff/jobs')).toEqual({ file: '/srv/web/index.html', spa: true });
    expect(resolveAsset(dir, '/ui/assets/a.js')).toEqual({ file: '/srv/web/assets/a.js', spa: false });
    expect(resolveAsset(dir, '/ui/../../etc/passwd.txt')).toBeNull();
    expect(resolveAsset(dir, '/ui/%E0%A4%A.js')).toBeNull();
  });
});
