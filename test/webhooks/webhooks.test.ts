/**
 * Webhooks against a real local HTTP receiver (loopback, allowed with webhookAllow): signed
 * deliveries of job outcomes, retries with backoff after failures, deliveries listed with their
 * results, event and owner filters, refused targets, retention of done deliveries; and with
 * several hubs on one PostgreSQL, each delivery sent once.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { bearer, createJob, leaseOne, registerWorker, until } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

const servers: Server[] = [];
const schemas: string[] = [];
const PG = process.env.JOBHUB_TEST_PG;

afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  if (!PG || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: PG });
  await client.connect();
  for (const s of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await client.end();
});

/** A receiver that answers each POST with the next status of `statuses` (then 200). */
async function receiver(statuses: number[] = []) {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(statuses.shift() ?? 200).end('ok');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

/** Runs one job of `runtime` to success (or failure) through a worker. */
async function finish(url: string, runtime: string, ok = true, headers = {}) {
  const job = await createJob(url, { runtime, maxAttempts: 1 }, headers);
  const worker = await registerWorker(url, { runtimes: [runtime] });
  const leased = await leaseOne(url, worker);
  const path = `/api/v1/jobs/${leased.id}/${ok ? 'complete' : 'fail'}`;
  const r = await api(
    url,
    'POST',
    path,
    ok ? { token: leased.token } : { token: leased.token, error: 'bad', retryable: false },
  );
  expect(r.status).toBe(200);
  return job.id;
}

const SECRET = 'a-very-secret-key';

describe('webhooks', () => {
  it('delivers a signed job.succeeded event and lists the delivery with its result', async () => {
    const rx = await receiver();
    const { url } = await testHub({ webhookAllow: ['127.0.0.0/8'] });
    const hook = await api(url, 'POST', '/api/v1/webhooks', {
      url: rx.url,
      events: ['job.succeeded'],
      secret: SECRET,
    });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    expect(hook.body.secret).toBeUndefined();
    const jobId = await finish(url, 'wh-ok');
    await until(async () => rx.got.length === 1, scaled(10_000));
    const [d] = rx.got;
    const ts = d!.headers['jobhub-timestamp'] as string;
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(60);
    const expected = createHmac('sha256', SECRET).update(`${ts}.${d!.body}`).digest('hex');
    expect(d!.headers['jobhub-signature']).toBe(`v1=${expected}`);
    expect(d!.headers['jobhub-event']).toBe('job.succeeded');
    const body = JSON.parse(d!.body);
    expect(body).toMatchObject({ event: 'job.succeeded', job: { id: jobId, state: 'succeeded' } });
    expect(d!.headers['jobhub-delivery']).toBe(body.id);
    await until(async () => {
      const list = await api(url, 'GET', `/api/v1/webhooks/${hook.body.id}/deliveries`);
      return list.body.deliveries[0]?.state === 'delivered' && list.body.deliveries;
    });
    const list = await api(url, 'GET', `/api/v1/webhooks/${hook.body.id}/deliveries`);
    expect(list.body.deliveries).toMatchObject([
      { jobId, event: 'job.succeeded', state: 'delivered', attempts: 1, lastStatus: 200, lastError: null },
    ]);
  });

  it('retries a failing receiver with backoff until it takes the delivery', async () => {
    const rx = await receiver([500, 503]);
    const { url } = await testHub({ webhookAllow: ['127.0.0.1'], webhookRetryBaseMs: 50 });
    const hook = (
      await api(url, 'POST', '/api/v1/webhooks', { url: rx.url, events: ['job.failed'], secret: SECRET })
    ).body;
    const jobId = await finish(url, 'wh-retry', false);
    await until(async () => {
      const d = (await api(url, 'GET', `/api/v1/webhooks/${hook.id}/deliveries`)).body.deliveries[0];
      return d?.state === 'delivered';
    }, scaled(15_000));
    expect(rx.got).toHaveLength(3);
    // The same delivery each time: one id, one job.
    expect(new Set(rx.got.map((g) => g.headers['jobhub-delivery'])).size).toBe(1);
    expect(JSON.parse(rx.got[2]!.body).job).toMatchObject({ id: jobId, state: 'failed', error: 'bad' });
    const d = (await api(url, 'GET', `/api/v1/webhooks/${hook.id}/deliveries`)).body.deliveries[0];
    expect(d).toMatchObject({ attempts: 3, lastStatus: 200, state: 'delivered' });
  });

  it('sends only the subscribed events, and a client only its own jobs', async () => {
    const rx = await receiver();
    const { url, hub } = await testHub({ auth: true, webhookAllow: ['127.0.0.0/8'] });
    const a = bearer((await hub.auth.create('client', 'a')).token);
    const b = bearer((await hub.auth.create('client', 'b')).token);
    const hook = await api(
      url,
      'POST',
      '/api/v1/webhooks',
      { url: rx.url, events: ['job.canceled'], secret: SECRET },
      a,
    );
    expect(hook.status).toBe(201);
    const mine = await createJob(url, { runtime: 'wh-own' }, a);
    const theirs = await createJob(url, { runtime: 'wh-own' }, b);
    await api(url, 'POST', `/api/v1/jobs/${theirs.id}/cancel`, undefined, b);
    await api(url, 'POST', `/api/v1/jobs/${mine.id}/cancel`, undefined, a);
    await until(async () => rx.got.length >= 1, scaled(10_000));
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.got.map((g) => JSON.parse(g.body).job.id)).toEqual([mine.id]);
    expect((await api(url, 'GET', '/api/v1/webhooks', undefined, b)).body.webhooks).toEqual([]);
    expect((await api(url, 'GET', `/api/v1/webhooks/${hook.body.id}/deliveries`, undefined, b)).status).toBe(
      404,
    );
    expect((await api(url, 'DELETE', `/api/v1/webhooks/${hook.body.id}`, undefined, b)).status).toBe(404);
    expect((await api(url, 'DELETE', `/api/v1/webhooks/${hook.body.id}`, undefined, a)).status).toBe(204);
  });

  it('refuses loopback, link-local and private targets unless allowed, and bad bodies', async () => {
    const { url } = await testHub();
    for (const target of [
      'http://127.0.0.1:9/x',
      'http://[::1]:9/x',
      'http://169.254.169.254/latest',
      'http://10.1.2.3/x',
      'http://192.168.0.1/x',
      'http://0.0.0.0/x',
      'ftp://example.com/x',
      'not a url',
      'http://user:pw@example.com/x',
    ]) {
      const r = await api(url, 'POST', '/api/v1/webhooks', {
        url: target,
        events: ['job.failed'],
        secret: SECRET,
      });
      expect(r.status, target).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
    }
    for (const body of [
      { url: 'http://example.com/', events: [], secret: SECRET },
      { url: 'http://example.com/', events: ['job.exploded'], secret: SECRET },
      { url: 'http://example.com/', events: ['job.failed'], secret: 'short' },
      { url: 'http://example.com/', events: ['job.failed'] },
    ]) {
      expect((await api(url, 'POST', '/api/v1/webhooks', body)).status, JSON.stringify(body)).toBe(400);
    }
  });

  it('refuses a host name that resolves to loopback when it connects, and records why', async () => {
    const rx = await receiver();
    const { url } = await testHub({ webhookRetryBaseMs: 60_000 });
    const port = new URL(rx.url).port;
    const hook = await api(url, 'POST', '/api/v1/webhooks', {
      url: `http://localhost:${port}/hook`,
      events: ['job.succeeded'],
      secret: SECRET,
    });
    expect(hook.status).toBe(201);
    await finish(url, 'wh-dns');
    const d = await until(async () => {
      const x = (await api(url, 'GET', `/api/v1/webhooks/${hook.body.id}/deliveries`)).body.deliveries[0];
      return x?.lastError ? x : null;
    }, scaled(10_000));
    expect(d).toMatchObject({ state: 'pending', attempts: 1, lastStatus: null });
    expect(d.lastError).toMatch(/not allowed for webhooks/);
    expect(rx.got).toEqual([]);
  });

  it('retention deletes done deliveries past it and keeps recent and pending ones', async () => {
    const ok = await receiver();
    const down = await receiver([500, 500, 500, 500]);
    // The hub's clock runs `skew` ahead of the real one: the test moves time on without waiting.
    let skew = 0;
    const { url, hub } = await testHub(
      { webhookAllow: ['127.0.0.0/8'], webhookRetryBaseMs: 3_600_000, retentionMs: 60_000 },
      { clock: () => Date.now() + skew },
    );
    const make = async (target: string) =>
      (await api(url, 'POST', '/api/v1/webhooks', { url: target, events: ['job.canceled'], secret: SECRET }))
        .body.id as string;
    const [good, bad] = [await make(ok.url), await make(down.url)];
    const job = await createJob(url, { runtime: 'wh-keep' });
    await api(url, 'POST', `/api/v1/jobs/${job.id}/cancel`);
    const deliveries = async (hook: string) =>
      (await api(url, 'GET', `/api/v1/webhooks/${hook}/deliveries`)).body.deliveries;
    await until(async () => (await deliveries(good))[0]?.state === 'delivered', scaled(10_000));
    await until(async () => (await deliveries(bad))[0]?.lastStatus === 500, scaled(10_000));

    // Past the retention but within the sweep's window (which would add it again): kept.
    skew = 5 * 60_000;
    expect((await hub.retainOnce()).deliveries).toBe(0);
    expect(await deliveries(good)).toHaveLength(1);
    // Well past both: the delivered one goes, the pending one (still retried) stays.
    skew = 25 * 60_000;
    expect((await hub.retainOnce()).deliveries).toBe(1);
    expect(await deliveries(good)).toEqual([]);
    expect(await deliveries(bad)).toMatchObject([{ jobId: job.id, state: 'pending' }]);
  });

  it.runIf(PG)('delivers each event once with three hubs on one PostgreSQL', async () => {
    const rx = await receiver();
    const schema = `jobhub_wh_${randomBytes(5).toString('hex')}`;
    schemas.push(schema);
    const u = new URL(PG!);
    u.searchParams.set('schema', schema);
    const database = u.toString();
    const cfg = { database, webhookAllow: ['127.0.0.0/8'] };
    const hubs = [await testHub(cfg), await testHub(cfg), await testHub(cfg)];
    const hook = await api(hubs[0]!.url, 'POST', '/api/v1/webhooks', {
      url: rx.url,
      events: ['job.canceled'],
      secret: SECRET,
    });
    expect(hook.status).toBe(201);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const h = hubs[i % 3]!.url;
      const job = await createJob(h, { runtime: 'wh-multi' });
      await api(h, 'POST', `/api/v1/jobs/${job.id}/cancel`);
      ids.push(job.id);
    }
    await until(
      async () => new Set(rx.got.map((g) => JSON.parse(g.body).job.id)).size === 30,
      scaled(30_000),
    );
    // Let every hub's sweep and sender run once more: still one delivery per job.
    await new Promise((r) => setTimeout(r, 3000));
    const jobIds = rx.got.map((g) => JSON.parse(g.body).job.id).sort();
    expect(jobIds).toEqual([...ids].sort());
  });
});
