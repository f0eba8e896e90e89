/**
 * The agent's HTTP client against a real hub and a real foreign server: JSON replies, the hub's
 * error envelope as typed errors, an error page that is not JSON, an unreachable hub, a token in
 * the base URL path, stream uploads (and one that fails to read), and a parked long-poll given
 * up through its abort signal.
 */
import { getEventListeners } from 'node:events';
import { createReadStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { HubClient, HubHttpError, HubUnreachableError, isTransient } from '../../src/agent/client.js';
import { api, testHub } from '../helpers/hub.js';
import { scaled } from '../helpers/time.js';

const clients: HubClient[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function client(url: string, token?: string) {
  const c = new HubClient({ url, token, connections: 4 });
  clients.push(c);
  return c;
}

/** A plain HTTP server answering every request with `status` and `body`, like a proxy would. */
async function foreign(status: number, body: string, type = 'text/html'): Promise<string> {
  const s = createServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': type }).end(body);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe('HubClient', () => {
  it('sends JSON and returns the parsed reply', async () => {
    const hub = await testHub();
    const c = client(hub.url);
    const job = await c.json<{ id: string; state: string; runtime: string }>('POST', '/api/v1/jobs', {
      json: { runtime: 'noop', tags: ['client-test'] },
    });
    expect(job.state).toBe('queued');
    const again = await c.json<{ id: string; tags: string[] }>('GET', `/api/v1/jobs/${job.id}`);
    expect(again).toMatchObject({ id: job.id, tags: ['client-test'] });
  });

  it("turns the hub's error envelope into a HubHttpError with its code", async () => {
    const hub = await testHub();
    const c = client(hub.url);
    const missing = await c.json('GET', '/api/v1/jobs/999999').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(HubHttpError);
    expect(missing).toMatchObject({ status: 404, code: 'not_found' });
    expect(isTransient(missing)).toBe(false);

    const invalid = await c
      .json('POST', '/api/v1/jobs', { json: { priority: 'high' } })
      .catch((e: unknown) => e);
    expect(invalid).toMatchObject({ status: 400 });
    expect((invalid as HubHttpError).message).toMatch(/^POST \/api\/v1\/jobs: /);
    // Nothing was created by the refused request.
    expect((await api(hub.url, 'GET', '/api/v1/jobs')).body.jobs).toEqual([]);
  });

  it('keeps the text of an error page that is not the envelope, and retries a 502', async () => {
    const url = await foreign(502, '<html><body>Bad Gateway</body></html>');
    const err = await client(url)
      .json('GET', '/api/v1/jobs/1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubHttpError);
    expect(err).toMatchObject({ status: 502, code: 'http_502' });
    expect((err as Error).message).toContain('Bad Gateway');
    expect(isTransient(err)).toBe(true);
  });

  it('refuses a successful reply that is not JSON', async () => {
    const url = await foreign(200, '<html>a captive portal</html>');
    const err = await client(url)
      .json('GET', '/api/v1/jobs/1')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 200, code: 'bad_reply' });
  });

  it('reports a hub that does not answer as unreachable (transient)', async () => {
    const url = await foreign(200, '{}');
    await new Promise((r) => servers.pop()!.close(r));
    const err = await client(url)
      .json('GET', '/healthz')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubUnreachableError);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    expect(isTransient(err)).toBe(true);
  });

  it('carries a token in the base URL path, before every request path', async () => {
    const seen: string[] = [];
    const s = createServer((req, res) => {
      seen.push(req.url!);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const c = client(`http://127.0.0.1:${(s.address() as AddressInfo).port}/t/some-token/`);
    expect(await c.json('POST', '/api/v1/workers', { json: { runtimes: ['noop'] } })).toEqual({ ok: true });
    await c.bytes('/api/v1/blobs/7');
    expect(seen).toEqual(['/t/some-token/api/v1/workers', '/t/some-token/api/v1/blobs/7']);
  });

  it('uploads a stream body of unknown length', async () => {
    const hub = await testHub();
    const c = client(hub.url);
    const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(2000, 65 + (i % 26)));
    const blob = await c.json<{ id: string; size: number }>('POST', '/api/v1/blobs', {
      body: Readable.from(parts),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(blob.size).toBe(100_000);
    expect((await c.bytes(`/api/v1/blobs/${blob.id}`)).equals(Buffer.concat(parts))).toBe(true);
  });

  it('passes on a body stream that fails to read instead of calling the hub unreachable', async () => {
    const hub = await testHub();
    const c = client(hub.url);
    const err = await c
      .json('POST', '/api/v1/blobs', {
        body: createReadStream('/nonexistent/jobhub-output'),
        headers: { 'content-type': 'application/octet-stream' },
      })
      .catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(HubUnreachableError);
    expect((err as { code?: string }).code).toBe('ENOENT');
    expect(isTransient(err)).toBe(false);
  });

  it('leaves no abort listener behind on a signal shared by many calls', async () => {
    const hub = await testHub();
    const c = client(hub.url);
    const abort = new AbortController();
    for (let i = 0; i < 20; i++) await c.json('GET', '/healthz', { signal: abort.signal });
    await c.json('GET', '/api/v1/jobs/404404', { signal: abort.signal }).catch(() => undefined);
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
  });

  it('gives up a parked lease when its signal aborts, and the hub hands the next job elsewhere', async () => {
    const hub = await testHub();
    const c = client(hub.url);
    const w = await c.json<{ id: string }>('POST', '/api/v1/workers', { json: { runtimes: ['noop'] } });
    const abort = new AbortController();
    const parked = c
      .json('POST', `/api/v1/workers/${w.id}/lease`, {
        json: { limit: 1, waitMs: 20_000 },
        signal: abort.signal,
      })
      .catch((e: unknown) => e);
    await expect
      .poll(async () => (await api(hub.url, 'GET', '/metrics')).body, { timeout: scaled(5_000) })
      .toMatch(/jobhub_parked_lease_requests 1\b/);
    const t0 = Date.now();
    abort.abort();
    const err = await parked;
    expect(Date.now() - t0).toBeLessThan(scaled(1_000)); // not the 20 s of the wait
    expect((err as Error).name).toBe('AbortError');
    await expect
      .poll(async () => (await api(hub.url, 'GET', '/metrics')).body, { timeout: 10_000 })
      .toMatch(/jobhub_parked_lease_requests 0\b/);
    // The job created now stays queued for the next lease instead of going to the abandoned one.
    const job = await c.json<{ id: string; state: string }>('POST', '/api/v1/jobs', {
      json: { runtime: 'noop' },
    });
    expect(job.state).toBe('queued');

    // An already aborted signal sends nothing.
    const before = (await api(hub.url, 'GET', '/metrics')).body as string;
    const late = await c
      .json('POST', '/api/v1/jobs', { json: { runtime: 'noop' }, signal: abort.signal })
      .catch((e: unknown) => e);
    expect((late as Error).name).toBe('AbortError');
    const count = (m: string) => Number(/jobhub_jobs_created_total\{[^}]*\} (\d+)/.exec(m)?.[1] ?? 0);
    expect(count(before)).toBe(1);
    expect(count((await api(hub.url, 'GET', '/metrics')).body)).toBe(1);
  });
});
