/**
 * Native API, fewer round trips per job: a batch completion that leases the next jobs in the same
 * request (`next`), and create-and-wait (`?waitMs=`) answering with the final job and its small
 * output inline. Over real HTTP, on SQLite and (when JOBHUB_TEST_PG names a database) PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../src/app/start.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { api, testHub } from '../helpers/hub.js';
import { bearer, createJob, getJob, lease, leaseOne, registerWorker, uploadBlob } from '../helpers/worker.js';

const pgUrl = process.env.JOBHUB_TEST_PG;
const schemas: string[] = [];

afterEach(async () => {
  if (!pgUrl || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  for (const s of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await client.end();
});

const stores: [string, () => Promise<RunningHub>][] = [['SQLite', () => testHub()]];
if (pgUrl) {
  stores.push([
    'PostgreSQL',
    async () => {
      const schema = `jobhub_trips_${randomBytes(6).toString('hex')}`;
      schemas.push(schema);
      const store = await PostgresStore.open({ connectionString: pgUrl, schema, maxConnections: 8 });
      return testHub({}, { store });
    },
  ]);
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe.each(stores)('on %s', (_name, start) => {
  describe('POST /api/v1/complete with next', () => {
    it('completes and leases the next job in one request', async () => {
      const { url } = await start();
      const w = await registerWorker(url, { runtimes: ['default'] });
      const a = await createJob(url, { runtime: 'default', input: { text: 'a' } });
      const b = await createJob(url, { runtime: 'default', input: { text: 'b' } });
      const first = await leaseOne(url, w);
      expect(first.id).toBe(a.id);
      const r = await api(url, 'POST', '/api/v1/complete', {
        completions: [{ jobId: a.id, token: first.token, output: { text: 'A' } }],
        next: { workerId: w, limit: 5, waitMs: 0 },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.results).toEqual([{ jobId: a.id, ok: true, state: 'succeeded' }]);
      expect(r.body.next.jobs).toHaveLength(1);
      const second = r.body.next.jobs[0];
      expect(second).toMatchObject({ id: b.id, attempt: 1, input: { size: 1, base64: b64('b') } });
      expect((await getJob(url, a.id)).output).toEqual({ size: 1, base64: b64('A') });
      expect(await getJob(url, b.id)).toMatchObject({ state: 'running', lease: { workerId: w } });
      // The leased job is a real lease: its token completes it.
      const done = await api(url, 'POST', '/api/v1/complete', {
        completions: [{ jobId: b.id, token: second.token }],
      });
      expect(done.body).toEqual({ results: [{ jobId: b.id, ok: true, state: 'succeeded' }] });
      expect(done.body.next).toBeUndefined();
    });

    it('leases even when a completion is stale, and waits for a job like a lease', async () => {
      const { url } = await start();
      const w = await registerWorker(url, { runtimes: ['default'] });
      const a = await createJob(url, { runtime: 'default' });
      const held = await leaseOne(url, w);
      const pending = api(url, 'POST', '/api/v1/complete', {
        completions: [{ jobId: a.id, token: 'not-the-token' }],
        next: { workerId: w, limit: 1, waitMs: 10_000 },
      });
      // Parked: the job created now is handed to it.
      const b = await createJob(url, { runtime: 'default' });
      const r = await pending;
      expect(r.status).toBe(200);
      expect(r.body.results[0]).toMatchObject({ jobId: a.id, ok: false, error: { code: 'lease_stale' } });
      expect(r.body.next.jobs.map((j: { id: string }) => j.id)).toEqual([b.id]);
      expect((await getJob(url, a.id)).state).toBe('running');
      expect(held.id).toBe(a.id);
    });

    it('answers an empty next when nothing matches within the wait', async () => {
      const { url } = await start();
      const w = await registerWorker(url, { runtimes: ['default'] });
      const a = await createJob(url, { runtime: 'default' });
      const held = await leaseOne(url, w);
      const r = await api(url, 'POST', '/api/v1/complete', {
        completions: [{ jobId: a.id, token: held.token }],
        next: { workerId: w, waitMs: 0 },
      });
      expect(r.body).toEqual({
        results: [{ jobId: a.id, ok: true, state: 'succeeded' }],
        next: { jobs: [] },
      });
    });

    it('refuses bad input with the error envelope and changes nothing', async () => {
      const { url } = await start();
      const w = await registerWorker(url, { runtimes: ['default'] });
      const a = await createJob(url, { runtime: 'default' });
      const held = await leaseOne(url, w);
      const item = { jobId: a.id, token: held.token };
      for (const [next, status, code] of [
        [{ workerId: 'abc' }, 400, 'validation_failed'],
        [{ workerId: w, limit: 0 }, 400, 'validation_failed'],
        [{ workerId: w, waitMs: -1 }, 400, 'validation_failed'],
        [{ workerId: w, bogus: 1 }, 400, 'validation_failed'],
        [{ workerId: '999999' }, 404, 'not_found'],
      ] as const) {
        const r = await api(url, 'POST', '/api/v1/complete', { completions: [item], next });
        expect(r.status, JSON.stringify(next)).toBe(status);
        expect(r.body.error.code).toBe(code);
      }
      // Nothing was completed by the refused requests.
      expect((await getJob(url, a.id)).state).toBe('running');
    });
  });

  describe('create and wait (?waitMs=)', () => {
    it('answers with the final job and its output inline', async () => {
      const { url } = await start();
      const w = await registerWorker(url, { runtimes: ['default'] });
      const created = api(url, 'POST', '/api/v1/jobs?waitMs=10000', {
        runtime: 'default',
        input: { text: 'hi' },
      });
      const job = (await lease(url, w, { limit: 1, waitMs: 10_000 }))[0]!;
      await api(url, 'POST', `/api/v1/jobs/${job.id}/complete`, { token: job.token, output: { text: 'HI' } });
      const r = await created;
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({
        id: job.id,
        state: 'succeeded',
        output: { size: 2, base64: b64('HI') },
      });
    });

    it('inlines a small output blob and keeps its id', async () => {
      const { url } = await start();
      const w = await registerWorker(url, { runtimes: ['default'] });
      const created = api(url, 'POST', '/api/v1/jobs/batch?waitMs=10000', {
        jobs: [{ runtime: 'default' }, { runtime: 'default' }],
      });
      const jobs = await lease(url, w, { limit: 2, waitMs: 10_000 });
      const more = jobs.length < 2 ? await lease(url, w, { limit: 1, waitMs: 10_000 }) : [];
      const all = [...jobs, ...more];
      const blob = await uploadBlob(url, Buffer.from('from a blob'));
      await api(url, 'POST', '/api/v1/complete', {
        completions: all.map((j, i) => ({
          jobId: j.id,
          token: j.token,
          output: i === 0 ? { blobId: blob.id } : { text: 'x' },
        })),
      });
      const r = await created;
      expect(r.status).toBe(201);
      const first = r.body.jobs.find((j: { id: string }) => j.id === all[0]!.id);
      expect(first).toMatchObject({
        state: 'succeeded',
        created: true,
        output: { blobId: blob.id, size: 11, base64: b64('from a blob') },
      });
      // Other faces still see the blob, not the inlined copy.
      expect((await getJob(url, all[0]!.id)).output).toEqual({ blobId: blob.id });
    });

    it('minimal batches carry state, output and error; a wait that ends early shows the job as it is', async () => {
      const { url } = await start();
      const r = await api(
        url,
        'POST',
        '/api/v1/jobs/batch?waitMs=50',
        { jobs: [{ runtime: 'nobody-runs-this' }] },
        { prefer: 'return=minimal' },
      );
      expect(r.status).toBe(201);
      expect(r.body.jobs[0]).toMatchObject({ state: 'queued', created: true, output: null, error: null });
      expect(r.body.jobs[0].warnings[0]).toMatch(/no live worker/);
    });

    it('refuses a bad waitMs with the error envelope and creates nothing', async () => {
      const { url } = await start();
      for (const q of ['-1', 'abc', '1.5', '99999999']) {
        const r = await api(url, 'POST', `/api/v1/jobs?waitMs=${q}`, { runtime: 'default' });
        expect(r.status, q).toBe(400);
        expect(r.body.error.code).toBe('validation_failed');
      }
      const list = await api(url, 'GET', '/api/v1/jobs');
      expect(list.body.jobs).toEqual([]);
    });
  });
});

describe('with auth on', () => {
  it("a worker token cannot lease as another token's worker through next", async () => {
    const running = await testHub({ auth: true });
    const { url } = running;
    const [w1, w2, client] = await Promise.all([
      running.hub.auth.create('worker', 'w1'),
      running.hub.auth.create('worker', 'w2'),
      running.hub.auth.create('client', 'c'),
    ]);
    const other = await registerWorker(url, { runtimes: ['default'] }, bearer(w2.token));
    const mine = await registerWorker(url, { runtimes: ['default'] }, bearer(w1.token));
    const a = await createJob(url, { runtime: 'default' }, bearer(client.token));
    expect(mine).not.toBe(other);
    const r = await api(
      url,
      'POST',
      '/api/v1/complete',
      { completions: [{ jobId: a.id, token: 'x' }], next: { workerId: other } },
      bearer(w1.token),
    );
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
  });
});
