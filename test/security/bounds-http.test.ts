/**
 * Everything a client controls on a connection is bounded in time: a request head, a request
 * body and an idle keep-alive connection each have a deadline, while the routes that hold a
 * request on purpose (lease long-polls, waits, event streams) keep working past those deadlines.
 * Real sockets throughout: half requests are written with net.connect.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectionCapFromFileLimit } from '../../src/http/server.js';
import { api, tempDir, testHub } from '../helpers/hub.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Short limits so that the test sees them act; the defaults are documented in docs/security.md. */
const LIMITS = { headersTimeoutMs: 1_000, requestTimeoutMs: 2_000, keepAliveTimeoutMs: 1_000 };

interface Watched {
  socket: Socket;
  received: () => string;
  closed: Promise<number>;
}

/** Opens a raw connection, writes `first`, and records what comes back and when it closes. */
function open(port: number, first: string): Watched {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  const t0 = Date.now();
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - t0)));
  socket.write(first);
  return { socket, received: () => Buffer.concat(chunks).toString('latin1'), closed };
}

/** Resolves with the close time, or rejects when the connection is still open after `ms`. */
async function closedWithin(w: Watched, ms: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([w.closed, late]);
  } finally {
    clearTimeout(timer);
    w.socket.destroy();
  }
}

describe('connection deadlines', () => {
  it('half-sent request heads are answered 408 and closed; others are served meanwhile', async () => {
    const hub = await testHub(LIMITS);
    const port = Number(new URL(hub.url).port);
    const crowd = Array.from({ length: 200 }, () =>
      open(port, 'GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: a'),
    );
    // While the crowd waits, ordinary requests are served.
    for (let i = 0; i < 5; i++) expect((await api(hub.url, 'GET', '/healthz')).status).toBe(200);
    // Generous: the limit is 1 s; a busy machine may need a few more to get round to every socket.
    const times = await Promise.all(crowd.map((w) => closedWithin(w, 15_000)));
    expect(crowd.every((w) => w.received().startsWith('HTTP/1.1 408'))).toBe(true);
    // Not before the limit: the head timeout is what closed them.
    expect(Math.min(...times)).toBeGreaterThanOrEqual(LIMITS.headersTimeoutMs - 100);
    expect((await api(hub.url, 'GET', '/healthz')).status).toBe(200);
  }, 30_000);

  it('a head dripped one byte at a time does not keep the connection past the head limit', async () => {
    const hub = await testHub(LIMITS);
    const port = Number(new URL(hub.url).port);
    const w = open(port, 'GET /healthz HTTP/1.1\r\nhost: x\r\nx-drip: ');
    const drip = setInterval(() => w.socket.writable && w.socket.write('a'), 100);
    try {
      await closedWithin(w, 15_000);
    } finally {
      clearInterval(drip);
    }
    expect(w.received()).toMatch(/^HTTP\/1\.1 408/);
  }, 30_000);

  it('a body dripped slowly is cut at the request limit and creates nothing', async () => {
    const hub = await testHub(LIMITS);
    const port = Number(new URL(hub.url).port);
    const body = JSON.stringify({ runtime: 'slowloris', input: { text: 'x'.repeat(2000) } });
    const w = open(
      port,
      `POST /api/v1/jobs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    let sent = 0;
    // Ten bytes every 100 ms: the whole body would take 20 s; the request limit is 2 s.
    const drip = setInterval(() => {
      if (w.socket.writable && sent < body.length) w.socket.write(body.slice(sent, (sent += 10)));
    }, 100);
    try {
      const t = await closedWithin(w, 15_000);
      expect(t).toBeGreaterThanOrEqual(LIMITS.requestTimeoutMs - 100);
    } finally {
      clearInterval(drip);
    }
    expect(sent).toBeLessThan(body.length);
    expect(w.received()).toMatch(/^HTTP\/1\.1 408/);
    expect((await api(hub.url, 'GET', '/api/v1/jobs?runtime=slowloris')).body.jobs).toHaveLength(0);
  }, 30_000);

  it('an idle keep-alive connection is closed after the keep-alive limit', async () => {
    const hub = await testHub(LIMITS);
    const port = Number(new URL(hub.url).port);
    const w = open(port, 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    await closedWithin(w, 15_000);
    expect(w.received()).toMatch(/^HTTP\/1\.1 200/);
  }, 30_000);

  it('a lease long-poll and an event stream outlive the request limit', async () => {
    const hub = await testHub({ ...LIMITS, maxWaitMs: 10_000 });
    const worker = await api(hub.url, 'POST', '/api/v1/workers', { runtimes: ['held'] });
    expect(worker.status).toBe(201);
    const job = await api(hub.url, 'POST', '/api/v1/jobs', { runtime: 'other' });
    const events = await fetch(`${hub.url}/api/v1/jobs/${job.body.id}/events`);
    expect(events.status).toBe(200);
    const t0 = Date.now();
    // Three times the request limit with no job to hand out: answered empty when the wait ends.
    const lease = await api(hub.url, 'POST', `/api/v1/workers/${worker.body.id}/lease`, { waitMs: 6_000 });
    expect(lease.status).toBe(200);
    expect(lease.body.jobs).toEqual([]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(5_900);
    // The stream opened before the wait is still open: its final event arrives after the cancel.
    expect((await api(hub.url, 'POST', `/api/v1/jobs/${job.body.id}/cancel`)).status).toBe(200);
    const text = await events.text();
    expect(text).toContain('"state":"canceled"');
  }, 30_000);
});

describe('connection cap', () => {
  it('is half the file limit less a reserve, read from the process limits', () => {
    const dir = tempDir();
    const file = join(dir, 'limits');
    writeFileSync(
      file,
      'Limit                     Soft Limit           Hard Limit           Units\n' +
        'Max open files            256                  4096                 files\n',
    );
    expect(connectionCapFromFileLimit(file)).toBe(96);
    expect(connectionCapFromFileLimit(join(dir, 'absent'))).toBe(10_000);
  });

  it('connections past the cap get 503 with Retry-After, while admitted ones are served', async () => {
    const hub = await testHub({ maxConnections: 20 });
    const port = Number(new URL(hub.url).port);
    const held = Array.from({ length: 20 }, () => open(port, 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n'));
    await expect.poll(() => held.every((w) => w.received().startsWith('HTTP/1.1 200'))).toBe(true);
    // The admitted connections stay open (keep-alive): a new one is past the cap.
    const r = await fetch(`${hub.url}/api/v1/jobs`, { headers: { connection: 'close' } });
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('unavailable');
    // An admitted connection still gets its next request answered.
    held[0]!.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    await expect.poll(() => held[0]!.received().split('HTTP/1.1 200').length - 1).toBe(2);
    for (const w of held) w.socket.destroy();
    await Promise.all(held.map((w) => w.closed));
    expect((await api(hub.url, 'GET', '/healthz')).status).toBe(200);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/^jobhub_http_connections_shed_total [1-9]/m);
  }, 30_000);
});
