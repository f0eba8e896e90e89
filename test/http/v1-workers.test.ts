/** Native API, worker side: register, lease (batch, long-poll, matching), heartbeat, complete, fail, expiry. */
import { describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import {
  complete,
  createJob,
  fail,
  getJob,
  heartbeat,
  lease,
  leaseOne,
  registerWorker,
  sleep,
  until,
  uploadBlob,
  type LeasedJob,
} from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('POST /api/v1/workers', () => {
  it('registers with defaults and canonical runtimes', async () => {
    const { url } = await testHub({ leaseMs: 1_000 }); // the heartbeat interval is a third of it
    const r = await api(url, 'POST', '/api/v1/workers', { runtimes: ['lua+b+a', 'lua+a+b', 'default'] });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      name: null,
      runtimes: ['lua+a+b', 'default'],
      tags: [],
      capacity: 1,
      protocol: 'v1',
      leaseMs: 1_000,
      heartbeatMs: 333,
      maxWaitMs: 30_000,
      inlineBytes: 64 * 1024,
      maxJsonBytes: 8 * 1024 ** 2,
    });
    expect(r.body.id).toMatch(/^\d+$/);
    const named = await api(url, 'POST', '/api/v1/workers', {
      name: 'w2',
      runtimes: ['default'],
      tags: ['+gpu', 'ssd'],
      capacity: 4,
    });
    expect(named.body).toMatchObject({ name: 'w2', tags: ['gpu', 'ssd'], capacity: 4 });
    // Each registration is a new worker.
    expect(named.body.id).not.toBe(r.body.id);
    const list = await api(url, 'GET', '/api/v1/workers');
    expect(list.status).toBe(200);
    expect((list.body.workers as { id: string }[]).map((w) => w.id).sort()).toEqual(
      [r.body.id, named.body.id].sort(),
    );
  });

  it('refuses bad registrations without creating a worker', async () => {
    const { url } = await testHub();
    for (const body of [
      { runtimes: [] },
      { runtimes: ['bad name'] },
      { runtimes: ['lua++a'] },
      { runtimes: ['default'], tags: ['-gpu'] },
      { runtimes: ['default'], tags: ['no spaces'] },
      { runtimes: ['default'], capacity: 0 },
      { runtimes: ['default'], extra: 1 },
      { runtimes: 'default' },
    ]) {
      const r = await api(url, 'POST', '/api/v1/workers', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code, JSON.stringify(body)).toBe('validation_failed');
    }
    expect((await api(url, 'GET', '/api/v1/workers')).body.workers).toEqual([]);
  });
});

describe('POST /api/v1/workers/{id}/lease', () => {
  it('leases up to limit jobs with token, attempt and small inputs inline', async () => {
    const { url } = await testHub();
    const small = await uploadBlob(url, Buffer.from('small blob'));
    const ids: string[] = [];
    ids.push((await createJob(url, { runtime: 'default', input: { text: 'inline' } })).id);
    ids.push((await createJob(url, { runtime: 'default', input: { blobId: small.id } })).id);
    ids.push((await createJob(url, { runtime: 'default' })).id);
    ids.push((await createJob(url, { runtime: 'default' })).id);
    ids.push((await createJob(url, { runtime: 'default' })).id);
    const w = await registerWorker(url);
    const first = await lease(url, w, { limit: 3 });
    expect(first.map((j) => j.id)).toEqual(ids.slice(0, 3));
    for (const j of first) {
      expect(j.token).toEqual(expect.any(String));
      expect(j.token.length).toBeGreaterThan(8);
      expect(j.attempt).toBe(1);
      expect(j.runtime).toBe('default');
      expect(Date.parse(j.leaseExpiresAt!)).toBeGreaterThan(Date.now());
    }
    expect(new Set(first.map((j) => j.token)).size).toBe(3);
    expect(first[0]!.input).toEqual({ size: 6, base64: b64('inline') });
    expect(first[1]!.input).toMatchObject({
      blobId: small.id,
      size: 10,
      sha256: small.sha256,
      base64: b64('small blob'),
    });
    expect(first[2]!.input).toBeNull();
    const second = await lease(url, w, { limit: 3 });
    expect(second.map((j) => j.id)).toEqual(ids.slice(3));
    expect(await lease(url, w, { limit: 3 })).toEqual([]);
    // The jobs show as running, held by this worker.
    const job = await getJob(url, ids[0]!);
    expect(job).toMatchObject({ state: 'running', attempts: 1, lease: { workerId: w } });
  });

  it('does not inline a blob input above 64 KiB', async () => {
    const { url } = await testHub();
    const big = await uploadBlob(url, Buffer.alloc(70 * 1024, 1));
    await createJob(url, { runtime: 'default', input: { blobId: big.id } });
    const w = await registerWorker(url);
    const j = await leaseOne(url, w);
    expect(j.input).toEqual({ blobId: big.id, size: 70 * 1024, sha256: big.sha256 });
  });

  it('accepts an empty body (limit 1, no wait) and 404s unknown workers', async () => {
    const { url } = await testHub();
    await createJob(url, { runtime: 'default' });
    await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const r = await fetch(`${url}/api/v1/workers/${w}/lease`, { method: 'POST' });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { jobs: unknown[] }).jobs).toHaveLength(1);
    for (const id of ['999999', 'abc']) {
      const x = await api(url, 'POST', `/api/v1/workers/${id}/lease`, {});
      expect(x.status).toBe(404);
      expect(x.body.error.code).toBe('not_found');
    }
  });

  it('long-polls: a parked lease gets a job created 100 ms later at once', async () => {
    const { url } = await testHub();
    const w = await registerWorker(url);
    const t0 = Date.now();
    let gotAt = 0;
    const parked = lease(url, w, { waitMs: 5_000 }).then((jobs) => {
      gotAt = Date.now();
      return jobs;
    });
    await sleep(100);
    const createdAt = Date.now();
    const job = await createJob(url, { runtime: 'default', input: { text: 'now' } });
    const jobs = await parked;
    expect(jobs.map((j) => j.id)).toEqual([job.id]);
    expect(jobs[0]!.input).toEqual({ size: 3, base64: b64('now') });
    expect(gotAt - t0).toBeGreaterThanOrEqual(95);
    expect(gotAt - createdAt).toBeLessThan(200);
    expect((await getJob(url, job.id)).state).toBe('running');
  });

  it('long-polls: the wait ends with {jobs: []} after waitMs', async () => {
    const { url } = await testHub();
    const w = await registerWorker(url);
    await createJob(url, { runtime: 'other' });
    const t0 = Date.now();
    const r = await api(url, 'POST', `/api/v1/workers/${w}/lease`, { waitMs: 200 });
    const took = Date.now() - t0;
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ jobs: [] });
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(2_000);
  });

  it('a lease whose client hangs up leaves the park; the next job goes to a worker still waiting', async () => {
    const { url } = await testHub();
    const parked = async () =>
      Number(/^jobhub_parked_lease_requests (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1]);
    const gone = await registerWorker(url);
    const hangUp = new AbortController();
    const request = fetch(`${url}/api/v1/workers/${gone}/lease`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ waitMs: 30_000 }),
      signal: hangUp.signal,
    }).catch(() => null);
    await until(async () => (await parked()) === 1);
    hangUp.abort();
    await request;
    await until(async () => (await parked()) === 0);
    const stays = await registerWorker(url);
    const waiting = lease(url, stays, { waitMs: scaled(10_000) });
    await until(async () => (await parked()) === 1);
    const job = await createJob(url, { runtime: 'default' });
    expect((await waiting).map((j) => j.id)).toEqual([job.id]);
    expect((await getJob(url, job.id)).lease.workerId).toBe(stays);
  });

  it('a parked lease also gets a job that returns to the queue (retry)', async () => {
    const { url } = await testHub({ retryBaseMs: 100, retryMaxMs: 100 });
    const job = await createJob(url, { runtime: 'default' });
    const a = await registerWorker(url);
    const b = await registerWorker(url);
    const l = await leaseOne(url, a);
    const parked = lease(url, b, { waitMs: 5_000 });
    await sleep(50);
    await fail(url, l.id, { token: l.token, error: 'once' });
    const jobs = await parked;
    expect(jobs.map((j) => [j.id, j.attempt])).toEqual([[job.id, 2]]);
  });

  it('parked leases receive up to their limit from a batch created later', async () => {
    const running = await testHub();
    const { url } = running;
    const a = await registerWorker(url);
    const b = await registerWorker(url);
    const pa = lease(url, a, { limit: 3, waitMs: 5_000 });
    await until(async () => running.hub.ctx.dispatcher.parked === 1);
    const pb = lease(url, b, { limit: 3, waitMs: 5_000 });
    await until(async () => running.hub.ctx.dispatcher.parked === 2);
    const r = await api(url, 'POST', '/api/v1/jobs/batch', {
      jobs: Array.from({ length: 5 }, (_, i) => ({ runtime: 'default', input: { text: `j${i}` } })),
    });
    const ids = (r.body.jobs as { id: string }[]).map((j) => j.id);
    const [ja, jb] = await Promise.all([pa, pb]);
    expect(ja.map((j) => j.id)).toEqual(ids.slice(0, 3));
    expect(jb.map((j) => j.id)).toEqual(ids.slice(3));
    expect(ja[0]!.input).toEqual({ size: 2, base64: b64('j0') });
    for (const j of [...ja, ...jb]) expect(j.attempt).toBe(1);
    const listed = await api(url, 'GET', '/api/v1/jobs?state=running');
    expect(listed.body.jobs).toHaveLength(5);
  });

  it('a lease request abandoned by its client is not handed jobs', async () => {
    const running = await testHub();
    const { url } = running;
    const w = await registerWorker(url);
    const abort = new AbortController();
    const gone = fetch(`${url}/api/v1/workers/${w}/lease`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ waitMs: 10_000 }),
      signal: abort.signal,
    }).catch(() => null);
    await until(async () => running.hub.ctx.dispatcher.parked === 1);
    abort.abort();
    await gone;
    await until(async () => running.hub.ctx.dispatcher.parked === 0);
    const job = await createJob(url, { runtime: 'default' });
    expect((await getJob(url, job.id)).state).toBe('queued');
    const other = await registerWorker(url);
    expect((await leaseOne(url, other)).id).toBe(job.id);
  });

  it('matches Base+Feature runtimes: features of the job must be a subset', async () => {
    const { url } = await testHub();
    const ok = [
      await createJob(url, { runtime: 'lua' }),
      await createJob(url, { runtime: 'lua+b' }),
      await createJob(url, { runtime: 'lua+b+a' }),
      await createJob(url, { runtime: 'lua+a' }),
    ].map((j) => j.id);
    const no = [
      await createJob(url, { runtime: 'lua+c' }),
      await createJob(url, { runtime: 'lua+a+c' }),
      await createJob(url, { runtime: 'luax' }),
      await createJob(url, { runtime: 'default' }),
    ].map((j) => j.id);
    // Job runtimes are canonical too.
    expect((await getJob(url, ok[2]!)).runtime).toBe('lua+a+b');
    const w = await registerWorker(url, { runtimes: ['lua+a+b'] });
    const got = await lease(url, w, { limit: 10 });
    expect(got.map((j) => j.id).sort()).toEqual([...ok].sort());
    // A plain `lua` worker takes no featured job.
    const plain = await registerWorker(url, { runtimes: ['lua'] });
    expect(await lease(url, plain, { limit: 10 })).toEqual([]);
    const c = await registerWorker(url, { runtimes: ['lua+c+a'] });
    expect((await lease(url, c, { limit: 10 })).map((j) => j.id).sort()).toEqual([no[0], no[1]].sort());
  });

  it('a parked Base+Feature worker is handed a job of a feature subset', async () => {
    const { url } = await testHub();
    const w = await registerWorker(url, { runtimes: ['lua+a+b'] });
    const parked = lease(url, w, { waitMs: 5_000 });
    await sleep(30);
    const job = await createJob(url, { runtime: 'lua+b' });
    expect((await parked).map((j) => j.id)).toEqual([job.id]);
  });

  it('matches tags: +tag required, -tag excluded, plain tag preferred', async () => {
    const { url } = await testHub();
    const needsGpu = await createJob(url, { runtime: 'default', tags: ['+gpu'] });
    const noGpu = await createJob(url, { runtime: 'default', tags: ['-gpu'] });
    const plain = await createJob(url, { runtime: 'default' });
    const prefersSsd = await createJob(url, { runtime: 'default', tags: ['ssd'] });

    const gpu = await registerWorker(url, { runtimes: ['default'], tags: ['gpu', 'ssd'] });
    const cpu = await registerWorker(url, { runtimes: ['default'] });
    // The gpu worker: the preferred job first (more matches), then FIFO; never the -gpu job.
    const g = await lease(url, gpu, { limit: 10 });
    expect(g.map((j) => j.id)).toEqual([prefersSsd.id, needsGpu.id, plain.id]);
    const c = await lease(url, cpu, { limit: 10 });
    expect(c.map((j) => j.id)).toEqual([noGpu.id]);
  });

  it('per-request tags add to the registered ones', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default', tags: ['+team-a'] });
    const w = await registerWorker(url);
    expect(await lease(url, w)).toEqual([]);
    expect((await lease(url, w, { tags: ['team-a'] })).map((j) => j.id)).toEqual([job.id]);
  });

  it('hands a new job with a plain tag to the parked worker that has it', async () => {
    const running = await testHub();
    const { url } = running;
    const plainW = await registerWorker(url);
    const ssdW = await registerWorker(url, { runtimes: ['default'], tags: ['ssd'] });
    // The plain worker parks first: FIFO alone would choose it.
    const p1 = lease(url, plainW, { waitMs: 500 });
    await until(async () => running.hub.ctx.dispatcher.parked === 1);
    const p2 = lease(url, ssdW, { waitMs: 500 });
    await until(async () => running.hub.ctx.dispatcher.parked === 2);
    const job = await createJob(url, { runtime: 'default', tags: ['ssd'] });
    const [r1, r2] = await Promise.all([p1, p2]);
    expect(r2.map((j) => j.id)).toEqual([job.id]);
    expect(r1).toEqual([]);
  });

  it('orders by priority, then FIFO', async () => {
    const { url } = await testHub();
    const a = await createJob(url, { runtime: 'default', priority: 0 });
    const b = await createJob(url, { runtime: 'default', priority: 5 });
    const c = await createJob(url, { runtime: 'default', priority: 0 });
    const d = await createJob(url, { runtime: 'default', priority: 5 });
    const e = await createJob(url, { runtime: 'default', priority: -3 });
    const f = await createJob(url, { runtime: 'default', priority: 1000 });
    const w = await registerWorker(url);
    const order: string[] = [];
    for (let i = 0; i < 6; i++) order.push((await leaseOne(url, w)).id);
    expect(order).toEqual([f.id, b.id, d.id, a.id, c.id, e.id]);
    // The same order within one batch lease.
    const ids = [];
    for (const p of [1, 2, 1, 2]) ids.push((await createJob(url, { runtime: 'default', priority: p })).id);
    const batch = await lease(url, w, { limit: 4 });
    expect(batch.map((j) => j.id)).toEqual([ids[1], ids[3], ids[0], ids[2]]);
  });
});

describe('heartbeat, complete, fail', () => {
  it('a heartbeat extends the lease; the job outlives leaseMs while heartbeating', async () => {
    const { url, hub } = await testHub();
    const leaseMs = hub.ctx.config.leaseMs;
    const job = await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const l = await leaseOne(url, w);
    let expires = Date.parse(l.leaseExpiresAt!);
    for (let i = 0; i < 5; i++) {
      await sleep(leaseMs * 0.3);
      const hb = await heartbeat(url, l.id, { token: l.token, progress: i });
      expect(hb.status).toBe(200);
      expect(hb.body.cancel).toBe(false);
      const next = Date.parse(hb.body.leaseExpiresAt);
      expect(next).toBeGreaterThan(expires);
      expires = next;
    }
    // 1.5 × leaseMs: still the first attempt, still running.
    const now = await getJob(url, job.id);
    expect(now).toMatchObject({ state: 'running', attempts: 1, progress: 4 });
    expect((await complete(url, l.id, { token: l.token })).status).toBe(200);
  });

  it('a stale token gets 409 lease_stale and changes nothing', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const l = await leaseOne(url, w);
    const before = await getJob(url, job.id);
    const stale = 'not-the-token';
    for (const r of [
      await heartbeat(url, l.id, { token: stale, progress: 'x' }),
      await complete(url, l.id, { token: stale, output: { text: 'forged' } }),
      await fail(url, l.id, { token: stale, error: 'forged', retryable: false }),
    ]) {
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('lease_stale');
      expect(r.body.error.message).toEqual(expect.any(String));
    }
    const after = await getJob(url, job.id);
    expect(after).toEqual(before);
    // Unknown jobs are 404, not 409.
    const missing = await heartbeat(url, '999999', { token: l.token });
    expect(missing.status).toBe(404);
  });

  it('a token of an earlier attempt is stale after the job was leased again', async () => {
    const { url } = await testHub({ retryBaseMs: 0, retryMaxMs: 0 });
    const job = await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const l1 = await leaseOne(url, w);
    await fail(url, l1.id, { token: l1.token, error: 'first' });
    const l2 = await leaseOne(url, w);
    expect(l2.attempt).toBe(2);
    expect(l2.token).not.toBe(l1.token);
    const r = await complete(url, job.id, { token: l1.token, output: { text: 'old' } });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('lease_stale');
    expect((await getJob(url, job.id)).state).toBe('running');
    expect((await complete(url, job.id, { token: l2.token, output: { text: 'new' } })).body.output).toEqual({
      size: 3,
      base64: b64('new'),
    });
  });

  it('completion is idempotent for the same token', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const l = await leaseOne(url, w);
    const body = { token: l.token, output: { text: 'result' }, result: { score: 42 }, exitStatus: 0 };
    const first = await complete(url, l.id, body);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      state: 'succeeded',
      result: { score: 42 },
      exitStatus: 0,
      output: { base64: b64('result') },
    });
    const second = await complete(url, l.id, body);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    // A retry with another payload does not overwrite the recorded result.
    const third = await complete(url, l.id, { token: l.token, output: { text: 'other' } });
    expect(third.status).toBe(200);
    expect((await getJob(url, job.id)).output).toEqual({ size: 6, base64: b64('result') });
    // Failing after success is refused.
    const late = await fail(url, l.id, { token: l.token, error: 'late' });
    expect(late.status).toBe(409);
    expect((await getJob(url, job.id)).state).toBe('succeeded');
  });

  it('batch completion reports each item; good ones commit, stale ones change nothing', async () => {
    const { url } = await testHub();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await createJob(url, { runtime: 'default' })).id);
    const w = await registerWorker(url);
    const leased = await lease(url, w, { limit: 3 });
    expect(leased).toHaveLength(3);
    const [a, b, c] = leased as [LeasedJob, LeasedJob, LeasedJob];
    const r = await api(url, 'POST', '/api/v1/complete', {
      completions: [
        { jobId: a.id, token: a.token, output: { text: 'A' } },
        { jobId: b.id, token: 'stale', output: { text: 'B' } },
        { jobId: c.id, token: c.token, result: { ok: true } },
        { jobId: '999999', token: 'x' },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.results).toEqual([
      { jobId: a.id, ok: true, state: 'succeeded' },
      { jobId: b.id, ok: false, error: { code: 'lease_stale', message: expect.any(String) } },
      { jobId: c.id, ok: true, state: 'succeeded' },
      { jobId: '999999', ok: false, error: { code: 'not_found', message: expect.any(String) } },
    ]);
    expect((await getJob(url, a.id)).output).toEqual({ size: 1, base64: b64('A') });
    expect(await getJob(url, b.id)).toMatchObject({ state: 'running', output: null });
    expect(await getJob(url, c.id)).toMatchObject({ state: 'succeeded', result: { ok: true } });
    // The same batch again: the good ones are acknowledged again (idempotent).
    const again = await api(url, 'POST', '/api/v1/complete', {
      completions: [{ jobId: a.id, token: a.token, output: { text: 'A' } }],
    });
    expect(again.body.results).toEqual([{ jobId: a.id, ok: true, state: 'succeeded' }]);
    const invalid = await api(url, 'POST', '/api/v1/complete', { completions: [] });
    expect(invalid.status).toBe(400);
  });

  it('a retryable failure requeues after a backoff; the job is leased again as attempt 2', async () => {
    const { url } = await testHub({ retryBaseMs: scaled(400), retryMaxMs: scaled(400) });
    const job = await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const l1 = await leaseOne(url, w);
    const t0 = Date.now();
    const f = await fail(url, l1.id, { token: l1.token, error: 'network flake', exitStatus: 3 });
    expect(f.status).toBe(200);
    expect(f.body).toMatchObject({
      state: 'queued',
      attempts: 1,
      error: 'network flake',
      exitStatus: 3,
      lease: null,
    });
    expect(f.body.errors).toEqual([
      { at: expect.any(String), attempt: 1, type: 'failed', message: 'network flake' },
    ]);
    const runAt = Date.parse(f.body.runAt);
    expect(runAt).toBeGreaterThan(t0);
    // Not before the backoff (a lease answered before runAt is empty; one sent after it would
    // rightly get the job, so only an answer that came back in time says anything)...
    const early = await lease(url, w);
    if (Date.now() < runAt) expect(early).toEqual([]);
    // ...but a parked lease gets it when it is due, and not before.
    const l2 = early[0] ?? (await lease(url, w, { waitMs: scaled(3_000) }))[0]!;
    expect(Date.now()).toBeGreaterThanOrEqual(runAt);
    expect(l2).toMatchObject({ id: job.id, attempt: 2 });
    expect(l2.token).not.toBe(l1.token);
    expect((await complete(url, l2.id, { token: l2.token })).body).toMatchObject({
      state: 'succeeded',
      attempts: 2,
    });
  });

  it('a parked worker gets every retry when its backoff ends (timers firing early do not strand it)', async () => {
    const { url } = await testHub({ retryBaseMs: 20, retryMaxMs: 20, maxAttempts: 1000 });
    const job = await createJob(url, { runtime: 'default', maxAttempts: 1000 });
    const w = await registerWorker(url);
    let l = await leaseOne(url, w);
    for (let attempt = 2; attempt <= 25; attempt++) {
      await fail(url, l.id, { token: l.token, error: `attempt ${attempt - 1}` });
      const t0 = Date.now();
      const next = await lease(url, w, { waitMs: scaled(2_000) });
      expect(
        next.map((j) => [j.id, j.attempt]),
        `attempt ${attempt}`,
      ).toEqual([[job.id, attempt]]);
      expect(Date.now() - t0, `attempt ${attempt}`).toBeLessThan(scaled(1_000)); // not the end of the wait
      l = next[0]!;
    }
  });

  it('a non-retryable failure fails the job with the error text', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default', maxAttempts: 5 });
    const w = await registerWorker(url);
    const l = await leaseOne(url, w);
    const f = await fail(url, l.id, {
      token: l.token,
      error: 'syntax error in script',
      retryable: false,
      result: { line: 3 },
    });
    expect(f.status).toBe(200);
    expect(f.body).toMatchObject({
      state: 'failed',
      error: 'syntax error in script',
      result: { line: 3 },
      attempts: 1,
    });
    expect(f.body.finishedAt).not.toBeNull();
    expect(await lease(url, w)).toEqual([]);
    expect((await getJob(url, job.id)).state).toBe('failed');
  });

  it('fails the job when its attempts are used up', async () => {
    const { url } = await testHub({ retryBaseMs: 0, retryMaxMs: 0 });
    const job = await createJob(url, { runtime: 'default', maxAttempts: 2 });
    const w = await registerWorker(url);
    const l1 = await leaseOne(url, w);
    expect((await fail(url, l1.id, { token: l1.token, error: 'one' })).body.state).toBe('queued');
    const l2 = await leaseOne(url, w);
    const f = await fail(url, l2.id, { token: l2.token, error: 'two' });
    expect(f.body).toMatchObject({ state: 'failed', attempts: 2, error: 'two' });
    expect(f.body.errors.map((e: { message: string }) => e.message)).toEqual(['one', 'two']);
    expect((await getJob(url, job.id)).state).toBe('failed');
  });

  it('the reaper requeues a job whose lease expired, then fails it after maxAttempts', async () => {
    const { url } = await testHub({ leaseMs: 300, retryBaseMs: 0, retryMaxMs: 0 });
    const job = await createJob(url, { runtime: 'default', maxAttempts: 2 });
    const w = await registerWorker(url);
    const l1 = await leaseOne(url, w);
    const requeued = await until(async () => {
      const j = await getJob(url, job.id);
      return j.state === 'queued' ? j : null;
    }, scaled(3_000));
    expect(requeued.error).toMatch(/lease/);
    expect(requeued.errors).toEqual([
      { at: expect.any(String), attempt: 1, type: 'expired', message: expect.stringMatching(/lease/) },
    ]);
    // The old token is stale now.
    expect((await complete(url, l1.id, { token: l1.token })).status).toBe(409);
    const l2 = await leaseOne(url, w);
    expect(l2.attempt).toBe(2);
    const failed = await until(async () => {
      const j = await getJob(url, job.id);
      return j.state === 'failed' ? j : null;
    }, scaled(3_000));
    expect(failed.error).toMatch(/lease/);
    expect(failed.attempts).toBe(2);
    expect(await lease(url, w)).toEqual([]);
  });

  it('refuses an inline output above the inline cap', async () => {
    const { url } = await testHub({ inlineBytes: 16 });
    await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const l = await leaseOne(url, w);
    const r = await complete(url, l.id, { token: l.token, output: { text: 'x'.repeat(17) } });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('payload_too_large');
    expect((await getJob(url, l.id)).state).toBe('running');
  });
});

describe('concurrent long-polls', () => {
  it('never hand the same job to two workers', async () => {
    const { url } = await testHub({ leaseMs: 30_000 });
    const workers = [];
    for (let i = 0; i < 10; i++) workers.push(await registerWorker(url));
    const TOTAL = 200;
    const leasedBy = new Map<string, string[]>();
    let leasedCount = 0;
    let done = false;
    const loops = workers.map(async (w) => {
      while (!done) {
        const jobs = await lease(url, w, { limit: 3, waitMs: 300 });
        for (const j of jobs) {
          leasedCount++;
          leasedBy.set(j.id, [...(leasedBy.get(j.id) ?? []), w]);
        }
        // Complete every other batch at once to mix completions into the traffic.
        if (jobs.length) {
          const r = await api(url, 'POST', '/api/v1/complete', {
            completions: jobs.map((j) => ({ jobId: j.id, token: j.token })),
          });
          expect(r.body.results.every((x: { ok: boolean }) => x.ok)).toBe(true);
        }
      }
    });
    await until(
      async () =>
        (await api(url, 'GET', '/api/v1/workers')).body.workers.every(
          (w: { parked: number }) => w.parked > 0,
        ),
      scaled(3_000),
      10,
    );
    const created: string[] = [];
    // Two clients create batches at the same time, single jobs in between.
    const client = async (n: number) => {
      for (let b = 0; b < n; b++) {
        const r = await api(url, 'POST', '/api/v1/jobs/batch', {
          jobs: Array.from({ length: 19 }, () => ({ runtime: 'default' })),
        });
        expect(r.status).toBe(201);
        created.push(...(r.body.jobs as { id: string }[]).map((j) => j.id));
        created.push((await createJob(url, { runtime: 'default' })).id);
        if (b % 3 === 0) await sleep(5);
      }
    };
    await Promise.all([client(TOTAL / 40), client(TOTAL / 40)]);
    await until(async () => leasedCount >= TOTAL, scaled(10_000), 10);
    done = true;
    await Promise.all(loops);
    expect(leasedCount).toBe(TOTAL);
    expect(new Set(created).size).toBe(TOTAL);
    expect([...leasedBy.keys()].sort()).toEqual([...created].sort());
    for (const [id, by] of leasedBy) expect(by, `job ${id}`).toHaveLength(1);
    // More than one worker took part.
    expect(new Set([...leasedBy.values()].map((by) => by[0])).size).toBeGreaterThan(1);
    const done200 = await api(url, 'GET', '/api/v1/jobs?state=succeeded&limit=1000');
    expect(done200.body.jobs).toHaveLength(TOTAL);
    expect(done200.body.jobs.every((j: { attempts: number }) => j.attempts === 1)).toBe(true);
  });
});
