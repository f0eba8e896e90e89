/**
 * Paths and sizes. Every id in every route, given a path-traversal payload, is refused (4xx)
 * and never reaches a file: no reply carries the content of a file outside the blob store. Every
 * body-reading route refuses a body above its limit with 413 (declared with Content-Length or
 * streamed chunked, read no further than the limit), changes nothing, and the hub serves on;
 * oversized headers and URLs get 4xx from the HTTP layer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  allRoutes,
  changedTables,
  envelopeProblem,
  faceFor,
  fillPath,
  raw,
  serverFault,
  sqliteDigester,
  stableDigest,
} from '../../chaos/surface.js';
import { api, testHub } from '../helpers/hub.js';
import { ROOT } from '../helpers/worker.js';

const TRAVERSAL = [
  '..',
  '..%2f..%2f..%2f..%2fetc%2fpasswd',
  '..%2F..%2Fjobhub.db',
  '%2e%2e%2f%2e%2e%2fjobhub.db',
  '%2e%2e',
  '....%2f%2f....%2f%2fetc%2fpasswd',
  '..%5c..%5cjobhub.db',
  '%252e%252e%252fjobhub.db',
  '%c0%ae%c0%ae%c0%afetc%c0%afpasswd',
  '%2fetc%2fpasswd',
  'blobs%2fobjects',
  '1%2f..%2f..%2fjobhub.db',
  '1%00.db',
  '%00',
  '~root',
  'file%3a%2f%2f%2fetc%2fpasswd',
];

/** Routes whose parameter is a name the caller chooses (a key, not an id of anything stored). */
const NAMED_BY_CALLER = new Set(['PUT /api/v1/groups/:group']);

describe('path traversal', () => {
  it('no id in any route reaches a file outside the store', async () => {
    const running = await testHub();
    const { url } = running;
    const dataDir = running.hub.ctx.config.dataDir;
    // Some real objects, so that ids resolve where they can.
    const blob = (await fetch(`${url}/api/v1/blobs`, { method: 'POST', body: 'BLOB-CONTENT' }).then((r) =>
      r.json(),
    )) as { id: string };
    await api(url, 'POST', '/api/v1/jobs', { runtime: 'r', input: { blobId: blob.id } });
    await api(url, 'POST', '/kv', {});
    const passwd = readFileSync('/etc/passwd', 'utf8').split('\n')[0]!;
    const forbidden = [passwd, 'SQLite format 3', dataDir, join(dataDir, 'blobs')];
    const digester = sqliteDigester(dataDir);
    const before = await stableDigest(digester);
    let sent = 0;
    for (const r of allRoutes()) {
      if (r.params.length === 0 || r.method === 'DELETE') continue;
      // A group's name is a key chosen by the admin, never a path: PUT creates the group of that
      // literal name by design. Checked after the loop: stored verbatim, no file read.
      if (NAMED_BY_CALLER.has(`${r.method} ${r.pattern}`)) continue;
      for (const prefix of r.prefixes) {
        for (const evil of TRAVERSAL) {
          for (const p of r.params) {
            const path = fillPath(
              r,
              { ...Object.fromEntries(r.params.map((x) => [x, '1'])), [p]: evil },
              prefix,
            );
            const reply = await raw(url, {
              method: r.method,
              path: path + (r.face === 'internal' ? '/' : ''),
              headers: { 'content-type': 'application/json' },
              body: r.method === 'GET' ? undefined : '{}',
            });
            sent++;
            const label = `${r.method} ${path}: ${reply.status} ${reply.text.slice(0, 200)}`;
            // A literal `..` segment is removed before routing (RFC 3986 dot segments): the
            // request is then for another route, which may exist; it must still reach no file.
            const normalised = new URL(path, 'http://hub').pathname !== path;
            if (!normalised) expect(reply.status, label).toBeGreaterThanOrEqual(400);
            expect(serverFault(faceFor(path), reply), label).toBe(false);
            expect(envelopeProblem(faceFor(path), reply), label).toBeNull();
            for (const f of forbidden) expect(reply.text, label).not.toContain(f);
          }
        }
      }
    }
    expect(sent).toBeGreaterThan(500);
    // The blob itself is still served where it belongs, and traversal around it is not.
    expect((await raw(url, { method: 'GET', path: `/api/v1/blobs/${blob.id}` })).text).toBe('BLOB-CONTENT');
    for (const path of [
      `/api/v1/blobs/${blob.id}/..%2f..%2f..%2fjobhub.db`,
      `/api/v1/blobs/${blob.id}%2f..%2f..%2fjobhub.db`,
      '/api/v1/blobs/../../jobhub.db',
      '/t/..%2f..%2f/api/v1/blobs/1',
      `/data/${blob.id}/blob/..%2f..%2f..%2fjobhub.db`,
    ]) {
      const reply = await raw(url, { method: 'GET', path });
      expect(reply.text).not.toContain('SQLite format 3');
      expect(reply.status, path).toBeLessThan(500);
    }
    // The web UI's file server, which maps paths to files by design.
    const pkg = readFileSync(join(ROOT, 'package.json'), 'utf8').split('\n')[1]!;
    for (const evil of TRAVERSAL) {
      for (const path of [
        `/ui/${evil}`,
        `/ui/assets/${evil}`,
        `/ui/${evil}%2fpackage.json`,
        `/ui/${evil}%2f..%2fpackage.json`,
      ]) {
        const reply = await raw(url, { method: 'GET', path });
        const label = `${path}: ${reply.status}`;
        expect(serverFault(faceFor(path), reply), label).toBe(false);
        for (const f of [...forbidden, pkg]) expect(reply.text, label).not.toContain(f);
      }
    }
    expect(changedTables(before, await digester.digest())).toEqual([]);
    await digester.close();
    for (const evil of TRAVERSAL.filter((e) => !e.includes('%00'))) {
      const path = `/api/v1/groups/${evil}`;
      const reply = await raw(url, {
        method: 'PUT',
        path,
        headers: { 'content-type': 'application/json' },
        body: '{"paused":true}',
      });
      const label = `PUT ${path}: ${reply.status} ${reply.text.slice(0, 200)}`;
      expect(serverFault(faceFor(path), reply), label).toBe(false);
      for (const f of forbidden) expect(reply.text, label).not.toContain(f);
      if (reply.status === 200)
        expect((reply.json as { name: string }).name, label).toBe(decodeURIComponent(evil));
    }
  });
});

describe('oversized input', () => {
  const LIMIT = 64 * 1024;

  it('every body-reading route refuses a body above the limit with 413, streamed or declared', async () => {
    const running = await testHub({ maxJsonBytes: LIMIT, maxBlobBytes: 256 * 1024 });
    const { url } = running;
    await api(url, 'POST', '/api/portal/staff/load', {
      benchmarkers: [{ name: 'b', ip: '127.0.0.1', teams: [] }],
    });
    const digester = sqliteDigester(running.hub.ctx.config.dataDir);
    const big = '{"x":"' + 'a'.repeat(LIMIT + 10) + '"}';
    const blobBig = Buffer.alloc(256 * 1024 + 1, 7);
    let checked = 0;
    for (const r of allRoutes()) {
      if (r.method === 'GET' || r.method === 'HEAD') continue;
      // Routes that never read a body (they drain it) may answer as they would without one.
      const isBlob = r.pattern === '/api/v1/blobs' || r.pattern === '/data';
      for (const chunked of [false, true]) {
        const path =
          fillPath(r, { id: '1', ns: '1', key: 'k', sid: '1' }) + (r.face === 'internal' ? '/' : '');
        let body: Buffer = Buffer.from(big);
        let type = 'application/json';
        if (r.pattern === '/api/v1/blobs') {
          body = blobBig;
          type = 'application/octet-stream';
        } else if (r.pattern === '/data') {
          body = Buffer.concat([
            Buffer.from('--b\r\ncontent-disposition: form-data; name="file"; filename="f"\r\n\r\n'),
            Buffer.alloc(1024 * 1024 + 256 * 1024 + 10, 7),
            Buffer.from('\r\n--b--\r\n'),
          ]);
          type = 'multipart/form-data; boundary=b';
        }
        const before = await stableDigest(digester);
        const reply = await raw(url, {
          method: r.method,
          path,
          headers: { 'content-type': type },
          body,
          chunked,
          timeoutMs: 20_000,
        });
        const label = `${r.method} ${path} ${chunked ? 'chunked' : 'content-length'}: ${reply.status} ${reply.text.slice(0, 200)} ${reply.error ?? ''}`;
        expect(reply.status, label).toBeLessThan(500);
        if (reply.status === 413 || isBlob) {
          expect(reply.status, label).toBe(413);
          expect(changedTables(before, await digester.digest()), label).toEqual([]);
          checked++;
        } else {
          // Not 413: the route refused before reading the body (auth, id, state) or never reads one.
          expect([400, 401, 403, 404, 405, 409, 200, 201, 204], label).toContain(reply.status);
        }
      }
    }
    expect(checked).toBeGreaterThan(40);
    expect((await api(url, 'GET', '/healthz')).status).toBe(200);
    await digester.close();
  });

  it('oversized headers and URLs are refused by the HTTP layer, and the hub serves on', async () => {
    const { url } = await testHub();
    const huge = await raw(url, {
      method: 'GET',
      path: '/api/v1/jobs',
      headers: { 'x-pad': 'a'.repeat(64 * 1024) },
    });
    expect(huge.status === 431 || huge.status === 400 || huge.error !== undefined).toBe(true);
    const many = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`x-h${i}`, 'v']));
    const m = await raw(url, { method: 'GET', path: '/api/v1/jobs', headers: many });
    expect(m.status === 431 || m.status === 400 || m.error !== undefined).toBe(true);
    const long = await raw(url, { method: 'GET', path: '/api/v1/jobs/' + '1'.repeat(100_000) });
    expect(
      long.status === 431 ||
        long.status === 414 ||
        long.status === 400 ||
        long.status === 404 ||
        long.error !== undefined,
    ).toBe(true);
    const auth = await raw(url, {
      method: 'GET',
      path: '/api/v1/jobs',
      headers: { authorization: 'Bearer ' + 'x'.repeat(15_000) },
    });
    expect(auth.status).toBeLessThan(500);
    expect((await api(url, 'GET', '/healthz')).status).toBe(200);
  });
});
