/** Native API, requester side: create, batch, idempotency, get, list, wait, cancel, explain, output, pipelines. */
import { describe, expect, it } from 'vitest';
import { prefersMinimal } from '../../src/http/v1/routes-jobs.js';
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
  type Json,
} from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('POST /api/v1/jobs', () => {
  it('creates a runtime job with text input (201, queued, inline input)', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default', input: { text: 'hello' } });
    expect(job).toMatchObject({
      state: 'queued',
      runtime: 'default',
      function: null,
      attempts: 0,
      maxAttempts: 3,
      priority: 0,
      input: { size: 5, base64: b64('hello') },
      output: null,
      lease: null,
      parent: null,
      hasNext: false,
    });
    expect(job.id).toMatch(/^\d+$/);
    expect(typeof job.createdAt).toBe('string');
  });

  it('accepts base64 input and blob input', async () => {
    const { url } = await testHub();
    const a = await createJob(url, { runtime: 'default', input: { base64: b64('\u0000\u0001bytes') } });
    expect(a.input).toEqual({ size: 7, base64: b64('\u0000\u0001bytes') });
    const blob = await uploadBlob(url, Buffer.from('blob input'));
    const b = await createJob(url, { runtime: 'default', input: { blobId: blob.id } });
    expect(b.input).toEqual({ blobId: blob.id });
    // An unknown blob is refused and nothing is created.
    const bad = await api(url, 'POST', '/api/v1/jobs', { runtime: 'default', input: { blobId: '999999' } });
    expect(bad.status).toBe(404);
    expect(bad.body.error.code).toBe('not_found');
    const list = await api(url, 'GET', '/api/v1/jobs');
    expect(list.body.jobs).toHaveLength(2);
  });

  it('creates a job from a function, inheriting runtime, tags and limits', async () => {
    const { url } = await testHub();
    const code = await uploadBlob(url, Buffer.from('#!/bin/sh\ncat\n'));
    const fn = await api(url, 'POST', '/api/v1/functions', {
      name: 'echo',
      runtime: 'lua+b+a',
      codeBlobId: code.id,
      tags: ['+gpu'],
      timeoutMs: 5_000,
      maxAttempts: 2,
    });
    expect(fn.status).toBe(201);
    // The function keeps the name as spelled; its jobs carry the canonical form they match by.
    expect(fn.body).toMatchObject({ name: 'echo', runtime: 'lua+b+a', codeBlobId: code.id, tags: ['+gpu'] });
    const job = await createJob(url, { function: fn.body.id, input: { text: 'x' }, tags: ['fast'] });
    expect(job).toMatchObject({ function: fn.body.id, runtime: 'lua+a+b', timeoutMs: 5_000, maxAttempts: 2 });
    expect((job.tags as string[]).sort()).toEqual(['+gpu', 'fast']);
    // The leased job carries the function context.
    const w = await registerWorker(url, { runtimes: ['lua+a+b'], tags: ['gpu'] });
    const leased = await leaseOne(url, w);
    expect(leased.function).toEqual({
      id: fn.body.id,
      name: 'echo',
      runtime: 'lua+b+a',
      codeBlobId: code.id,
    });
    // A runtime that contradicts the function is refused; an unknown function is 404.
    const clash = await api(url, 'POST', '/api/v1/jobs', { function: fn.body.id, runtime: 'default' });
    expect(clash.status).toBe(400);
    expect(clash.body.error.code).toBe('validation_failed');
    const missing = await api(url, 'POST', '/api/v1/jobs', { function: '424242' });
    expect(missing.status).toBe(404);
    // Neither function nor runtime.
    const neither = await api(url, 'POST', '/api/v1/jobs', { input: { text: 'x' } });
    expect(neither.status).toBe(400);
    expect(neither.body.error.code).toBe('validation_failed');
  });

  it('warns when no live worker offers the runtime or satisfies the tags', async () => {
    const { url } = await testHub();
    const lonely = await createJob(url, { runtime: 'nobody' });
    expect(lonely.warnings).toHaveLength(1);
    expect(lonely.warnings[0]).toMatch(/nobody/);
    await registerWorker(url, { runtimes: ['default'] });
    const fine = await createJob(url, { runtime: 'default' });
    expect(fine.warnings).toEqual([]);
    const tagged = await createJob(url, { runtime: 'default', tags: ['+gpu'] });
    expect(tagged.warnings).toHaveLength(1);
    expect(tagged.warnings[0]).toMatch(/gpu/);
  });

  it('batch-creates jobs in order, all or nothing', async () => {
    const { url } = await testHub();
    const r = await api(url, 'POST', '/api/v1/jobs/batch', {
      jobs: [
        { runtime: 'default', input: { text: 'a' } },
        { runtime: 'default', input: { text: 'b' }, priority: 5 },
        { runtime: 'other' },
      ],
    });
    expect(r.status).toBe(201);
    expect(r.body.jobs).toHaveLength(3);
    const ids = (r.body.jobs as { id: string }[]).map((j) => Number(j.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(r.body.jobs[0]).toMatchObject({ created: true, input: { base64: b64('a') } });
    expect(r.body.jobs[1]).toMatchObject({ priority: 5 });
    expect(r.body.jobs[2].warnings[0]).toMatch(/other/);
    // One invalid item refuses the whole batch.
    const bad = await api(url, 'POST', '/api/v1/jobs/batch', {
      jobs: [{ runtime: 'default' }, { runtime: 'default', input: { blobId: '777777' } }],
    });
    expect(bad.status).toBe(404);
    const list = await api(url, 'GET', '/api/v1/jobs');
    expect(list.body.jobs).toHaveLength(3);
    // An empty batch is a validation error.
    const empty = await api(url, 'POST', '/api/v1/jobs/batch', { jobs: [] });
    expect(empty.status).toBe(400);
  });

  it('a batch may name the same functions and input blobs many times; an unknown one refuses it all', async () => {
    const { url } = await testHub();
    const fa = (await api(url, 'POST', '/api/v1/functions', { runtime: 'default', tags: ['a'] })).body;
    const fb = (await api(url, 'POST', '/api/v1/functions', { runtime: 'dlabLua54', timeoutMs: 5_000 })).body;
    const blob = await uploadBlob(url, Buffer.from('shared input'));
    const jobs = Array.from({ length: 6 }, (_, i) => ({
      function: i % 2 ? fb.id : fa.id,
      input: { blobId: blob.id },
    }));
    const r = await api(url, 'POST', '/api/v1/jobs/batch', { jobs });
    expect(r.status).toBe(201);
    for (const [i, j] of (r.body.jobs as Json[]).entries()) {
      expect(j).toMatchObject(
        i % 2
          ? { function: fb.id, runtime: 'dlabLua54', timeoutMs: 5_000, input: { blobId: blob.id } }
          : { function: fa.id, runtime: 'default', tags: ['a'], input: { blobId: blob.id } },
      );
    }
    // The same unknown function twice, after known ones: a 404 naming it, and nothing created.
    const bad = await api(url, 'POST', '/api/v1/jobs/batch', {
      jobs: [...jobs, { function: '999999' }, { function: '999999' }],
    });
    expect(bad.status).toBe(404);
    expect(bad.body.error.message).toMatch(/function 999999/);
    expect((await api(url, 'GET', '/api/v1/jobs?limit=100')).body.jobs).toHaveLength(6);
  });

  it('answers a batch in short form when the client prefers return=minimal', async () => {
    const { url } = await testHub();
    const jobs = [{ runtime: 'default', input: { text: 'a' } }, { runtime: 'other' }];
    const r = await api(
      url,
      'POST',
      '/api/v1/jobs/batch',
      { jobs },
      { prefer: 'respond-async, return=minimal' },
    );
    expect(r.status).toBe(201);
    expect(r.headers.get('preference-applied')).toBe('return=minimal');
    expect(r.body.jobs).toHaveLength(2);
    expect(Object.keys(r.body.jobs[0]).sort()).toEqual(['created', 'id', 'state', 'warnings']);
    expect(r.body.jobs[0]).toMatchObject({ state: 'queued', created: true });
    expect(r.body.jobs[1].warnings[0]).toMatch(/other/);
    // The jobs are the same as in the long form.
    const got = await api(url, 'GET', `/api/v1/jobs/${r.body.jobs[0].id}`);
    expect(got.body).toMatchObject({ id: r.body.jobs[0].id, input: { base64: b64('a') } });
    // Without the preference: the full jobs, and no Preference-Applied.
    const full = await api(url, 'POST', '/api/v1/jobs/batch', { jobs });
    expect(full.headers.get('preference-applied')).toBeNull();
    expect(full.body.jobs[0]).toMatchObject({ runtime: 'default', input: { base64: b64('a') } });
  });

  it('reads Prefer as RFC 7240 says: first return wins, spaces, quotes, parameters', () => {
    expect(prefersMinimal('return=minimal')).toBe(true);
    expect(prefersMinimal('respond-async, return = "minimal"; foo=bar')).toBe(true);
    expect(prefersMinimal(['wait=5', 'RETURN=Minimal'])).toBe(true);
    expect(prefersMinimal('return=representation, return=minimal')).toBe(false);
    expect(prefersMinimal('handling=lenient')).toBe(false);
    expect(prefersMinimal('x-return=minimal')).toBe(false);
    expect(prefersMinimal(undefined)).toBe(false);
  });

  it('is idempotent by Idempotency-Key header and by body field', async () => {
    const { url } = await testHub();
    const first = await createJob(
      url,
      { runtime: 'default', input: { text: '1' } },
      { 'Idempotency-Key': 'k-1' },
    );
    const again = await createJob(
      url,
      { runtime: 'default', input: { text: 'different' } },
      { 'Idempotency-Key': 'k-1' },
      200,
    );
    expect(again.id).toBe(first.id);
    expect(again.input).toEqual(first.input);
    expect(again.idempotencyKey).toBe('k-1');

    const f1 = await createJob(url, { runtime: 'default', idempotencyKey: 'k-2' });
    const f2 = await createJob(url, { runtime: 'default', idempotencyKey: 'k-2' }, {}, 200);
    expect(f2.id).toBe(f1.id);
    expect(f2.id).not.toBe(first.id);
    // Header and body name the same key: same job.
    const both = await createJob(
      url,
      { runtime: 'default', idempotencyKey: 'k-2' },
      { 'Idempotency-Key': 'k-2' },
      200,
    );
    expect(both.id).toBe(f1.id);
    // Different keys in header and body: refused.
    const clash = await api(
      url,
      'POST',
      '/api/v1/jobs',
      { runtime: 'default', idempotencyKey: 'a' },
      { 'Idempotency-Key': 'b' },
    );
    expect(clash.status).toBe(400);
    expect(clash.body.error.code).toBe('validation_failed');
    // In a batch the key works per item.
    const batch = await api(url, 'POST', '/api/v1/jobs/batch', {
      jobs: [
        { runtime: 'default', idempotencyKey: 'k-2' },
        { runtime: 'default', idempotencyKey: 'k-3' },
      ],
    });
    expect(batch.body.jobs[0]).toMatchObject({ id: f1.id, created: false });
    expect(batch.body.jobs[1]).toMatchObject({ created: true });
    const list = await api(url, 'GET', '/api/v1/jobs');
    expect(list.body.jobs).toHaveLength(3);
  });
});

describe('GET /api/v1/jobs', () => {
  it('gets one job and 404s an unknown one', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default', tags: ['x'] });
    const got = await getJob(url, job.id);
    expect(got).toMatchObject({ id: job.id, state: 'queued', tags: ['x'] });
    const missing = await api(url, 'GET', '/api/v1/jobs/123456789');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: 'not_found' });
  });

  it('lists newest first with filters and pages with next', async () => {
    const { url } = await testHub();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await createJob(url, { runtime: 'default', tags: i % 2 ? ['odd'] : [] })).id);
    ids.push((await createJob(url, { runtime: 'other' })).id);
    const w = await registerWorker(url, { runtimes: ['default'] });
    const running = await leaseOne(url, w);
    expect(running.id).toBe(ids[0]);

    const all = await api(url, 'GET', '/api/v1/jobs');
    expect(all.body.jobs.map((j: { id: string }) => j.id)).toEqual([...ids].reverse());
    expect(all.body.next).toBeNull();

    const byRuntime = await api(url, 'GET', '/api/v1/jobs?runtime=other');
    expect(byRuntime.body.jobs.map((j: { id: string }) => j.id)).toEqual([ids[5]]);
    const byState = await api(url, 'GET', '/api/v1/jobs?state=running');
    expect(byState.body.jobs.map((j: { id: string }) => j.id)).toEqual([ids[0]]);
    const byStates = await api(url, 'GET', '/api/v1/jobs?state=running,queued');
    expect(byStates.body.jobs).toHaveLength(6);
    const byTag = await api(url, 'GET', '/api/v1/jobs?tag=odd');
    expect(byTag.body.jobs.map((j: { id: string }) => j.id)).toEqual([ids[3], ids[1]]);
    const badState = await api(url, 'GET', '/api/v1/jobs?state=sleeping');
    expect(badState.status).toBe(400);
    expect(badState.body.error.code).toBe('validation_failed');

    // Paging: 6 jobs in pages of 4.
    const p1 = await api(url, 'GET', '/api/v1/jobs?limit=4');
    expect(p1.body.jobs).toHaveLength(4);
    expect(p1.body.next).toBe(ids[2]);
    const p2 = await api(url, 'GET', `/api/v1/jobs?limit=4&before=${p1.body.next}`);
    expect(p2.body.jobs.map((j: { id: string }) => j.id)).toEqual([ids[1], ids[0]]);
    expect(p2.body.next).toBeNull();
    for (const q of ['limit=0', 'limit=1001', 'limit=x', 'before=abc', 'function=abc']) {
      const r = await api(url, 'GET', `/api/v1/jobs?${q}`);
      expect(r.status, q).toBe(400);
    }
  });

  it('filters by function', async () => {
    const { url } = await testHub();
    const fn = await api(url, 'POST', '/api/v1/functions', { runtime: 'default' });
    const a = await createJob(url, { function: fn.body.id });
    await createJob(url, { runtime: 'default' });
    const r = await api(url, 'GET', `/api/v1/jobs?function=${fn.body.id}`);
    expect(r.body.jobs.map((j: { id: string }) => j.id)).toEqual([a.id]);
  });
});

describe('GET /api/v1/jobs/{id}/wait', () => {
  it('returns when the job reaches the requested state (running)', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const waiting = api(url, 'GET', `/api/v1/jobs/${job.id}/wait?state=running&timeoutMs=${scaled(5_000)}`);
    await sleep(50);
    const started = Date.now();
    await leaseOne(url, w);
    const r = await waiting;
    expect(Date.now() - started).toBeLessThan(scaled(1_000)); // not the end of the wait
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('running');
  });

  it('waits for a final state by default', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const waiting = api(url, 'GET', `/api/v1/jobs/${job.id}/wait?timeoutMs=5000`);
    const l = await leaseOne(url, w);
    await sleep(50);
    expect((await complete(url, l.id, { token: l.token, output: { text: 'done' } })).status).toBe(200);
    const r = await waiting;
    expect(r.body).toMatchObject({ state: 'succeeded', output: { base64: b64('done') } });
  });

  it('returns at once when the job is already in the state', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    const t0 = Date.now();
    const r = await api(url, 'GET', `/api/v1/jobs/${job.id}/wait?state=queued&timeoutMs=${scaled(5_000)}`);
    expect(r.body.state).toBe('queued');
    expect(Date.now() - t0).toBeLessThan(scaled(1_000)); // not the end of the wait
  });

  it('returns the current state on timeout', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    const t0 = Date.now();
    const r = await api(url, 'GET', `/api/v1/jobs/${job.id}/wait?timeoutMs=150`);
    const took = Date.now() - t0;
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('queued');
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(2_000);
    const bad = await api(url, 'GET', `/api/v1/jobs/${job.id}/wait?timeoutMs=-1`);
    expect(bad.status).toBe(400);
    const missing = await api(url, 'GET', '/api/v1/jobs/99999/wait?timeoutMs=10');
    expect(missing.status).toBe(404);
  });
});

describe('POST /api/v1/jobs/{id}/cancel', () => {
  it('cancels a queued job so that no worker gets it', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    const r = await api(url, 'POST', `/api/v1/jobs/${job.id}/cancel`);
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('canceled');
    expect(r.body.finishedAt).not.toBeNull();
    const w = await registerWorker(url);
    expect(await lease(url, w, { limit: 5 })).toEqual([]);
    // Canceling again returns the job unchanged.
    const again = await api(url, 'POST', `/api/v1/jobs/${job.id}/cancel`);
    expect(again.status).toBe(200);
    expect(again.body.state).toBe('canceled');
  });

  it('cancels a running job: the next heartbeat says cancel, a later completion is stale', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const l = await leaseOne(url, w);
    const r = await api(url, 'POST', `/api/v1/jobs/${job.id}/cancel`);
    expect(r.body.state).toBe('canceled');
    const hb = await heartbeat(url, l.id, { token: l.token });
    expect(hb.status).toBe(200);
    expect(hb.body.cancel).toBe(true);
    const done = await complete(url, l.id, { token: l.token, output: { text: 'late' } });
    expect(done.status).toBe(409);
    expect(done.body.error.code).toBe('lease_stale');
    const failed = await fail(url, l.id, { token: l.token, error: 'x' });
    expect(failed.status).toBe(409);
    const after = await getJob(url, job.id);
    expect(after).toMatchObject({ state: 'canceled', output: null });
  });

  it('does not cancel a finished job', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const l = await leaseOne(url, w);
    await complete(url, l.id, { token: l.token });
    const r = await api(url, 'POST', `/api/v1/jobs/${job.id}/cancel`);
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('succeeded');
  });
});

describe('GET /api/v1/jobs/{id}/explain', () => {
  const explain = async (url: string, id: string) =>
    (await api(url, 'GET', `/api/v1/jobs/${id}/explain`)).body;

  it('says no_worker_for_runtime, no_worker_for_tags, workers_busy, running, finished', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    const gpu = await createJob(url, { runtime: 'default', tags: ['+gpu'] });
    let e = await explain(url, job.id);
    expect(e).toMatchObject({ jobId: job.id, state: 'queued', verdict: 'no_worker_for_runtime' });
    expect(e.reasons.join(' ')).toMatch(/default/);

    const w = await registerWorker(url, { runtimes: ['default'] });
    e = await explain(url, gpu.id);
    expect(e.verdict).toBe('no_worker_for_tags');
    expect(e.reasons.join(' ')).toMatch(/\+gpu/);
    // Registered and eligible, but not asking for work right now.
    e = await explain(url, job.id);
    expect(e).toMatchObject({
      verdict: 'workers_busy',
      workers: { alive: 1, withRuntime: 1, eligible: 1, idle: 0 },
    });

    const l = await leaseOne(url, w);
    expect(l.id).toBe(job.id);
    e = await explain(url, job.id);
    expect(e.verdict).toBe('running');
    expect(e.reasons[0]).toContain(w);
    await complete(url, l.id, { token: l.token });
    e = await explain(url, job.id);
    expect(e).toMatchObject({ verdict: 'finished', state: 'succeeded' });
  });

  it('says waiting_for_backoff after a failed attempt', async () => {
    const { url } = await testHub({ retryBaseMs: 60_000, retryMaxMs: 60_000 });
    const job = await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const l = await leaseOne(url, w);
    const f = await fail(url, l.id, { token: l.token, error: 'flaky' });
    expect(f.body.state).toBe('queued');
    const e = await explain(url, job.id);
    expect(e.verdict).toBe('waiting_for_backoff');
    expect(e.reasons[0]).toMatch(/flaky/);
  });

  it('says ready while an idle eligible worker is parked and the job is not yet claimed', async () => {
    // New jobs are handed straight to parked workers, so "ready" shows in the moment between a
    // retried job returning to the queue and a woken worker claiming it. The claim is held here.
    const running = await testHub({ retryBaseMs: 0, retryMaxMs: 0 });
    const { url } = running;
    const job = await createJob(url, { runtime: 'default' });
    const c = await registerWorker(url);
    const l = await leaseOne(url, c);
    const a = await registerWorker(url);
    const b = await registerWorker(url);
    const pa = lease(url, a, { waitMs: 5_000 });
    const pb = lease(url, b, { waitMs: 5_000 });
    await until(async () => running.hub.ctx.dispatcher.parked === 2);
    const store = running.hub.ctx.store;
    const original = store.jobLeaseNext.bind(store);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    store.jobLeaseNext = async (p) => {
      await gate;
      return original(p);
    };
    const f = await fail(url, l.id, { token: l.token, error: 'retry me' });
    expect(f.body.state).toBe('queued');
    // One waiter was woken (and waits at the gate); the other is still parked.
    await until(async () => running.hub.ctx.dispatcher.parked === 1);
    const e = await explain(url, job.id);
    expect(e).toMatchObject({
      state: 'queued',
      verdict: 'ready',
      workers: { alive: 3, eligible: 3, idle: 1 },
    });
    store.jobLeaseNext = original;
    release();
    const first = await Promise.race([pa, pb]);
    expect(first.map((j) => [j.id, j.attempt])).toEqual([[job.id, 2]]);
    running.hub.leases.close();
    await Promise.all([pa, pb]);
  });
});

describe('GET /api/v1/jobs/{id}/output', () => {
  it('serves inline output and blob output; 404 before there is any', async () => {
    const { url } = await testHub();
    const w = await registerWorker(url);
    const a = await createJob(url, { runtime: 'default' });
    const none = await api(url, 'GET', `/api/v1/jobs/${a.id}/output`);
    expect(none.status).toBe(404);
    expect(none.body.error.code).toBe('not_found');
    const la = await leaseOne(url, w);
    await complete(url, la.id, { token: la.token, output: { base64: b64('inline out') } });
    const ra = await fetch(`${url}/api/v1/jobs/${a.id}/output`);
    expect(ra.status).toBe(200);
    expect(ra.headers.get('content-type')).toBe('application/octet-stream');
    expect(await ra.text()).toBe('inline out');

    const b = await createJob(url, { runtime: 'default' });
    const lb = await leaseOne(url, w);
    expect(lb.id).toBe(b.id);
    const bytes = Buffer.alloc(100_000, 7);
    const blob = await uploadBlob(url, bytes);
    await complete(url, lb.id, { token: lb.token, output: { blobId: blob.id } });
    expect((await getJob(url, b.id)).output).toEqual({ blobId: blob.id });
    const rb = await fetch(`${url}/api/v1/jobs/${b.id}/output`);
    expect(rb.status).toBe(200);
    expect(rb.headers.get('etag')).toBe(`"${blob.sha256}"`);
    expect(Buffer.from(await rb.arrayBuffer()).equals(bytes)).toBe(true);
  });
});

describe('pipelines', () => {
  it('creates the next job when a job succeeds, with its output as input and the parent id', async () => {
    const { url } = await testHub();
    const first = await createJob(url, {
      runtime: 'default',
      input: { text: 'step 1' },
      next: { runtime: 'lua', tags: ['second'], next: { runtime: 'default', priority: 3 } },
    });
    expect(first.hasNext).toBe(true);
    const w = await registerWorker(url, { runtimes: ['default', 'lua'] });
    const l1 = await leaseOne(url, w);
    expect(l1.id).toBe(first.id);
    // No next job before success.
    expect((await api(url, 'GET', '/api/v1/jobs')).body.jobs).toHaveLength(1);
    await complete(url, l1.id, { token: l1.token, output: { text: 'step 1 out' } });
    const list = (await api(url, 'GET', '/api/v1/jobs')).body.jobs as Record<string, Json>[];
    expect(list).toHaveLength(2);
    const second = list[0]!;
    expect(second).toMatchObject({
      state: 'queued',
      runtime: 'lua',
      tags: ['second'],
      parent: first.id,
      hasNext: true,
      input: { base64: b64('step 1 out') },
    });
    const l2 = await leaseOne(url, w);
    expect(l2.id).toBe(second.id);
    expect(Buffer.from(l2.input!.base64!, 'base64').toString()).toBe('step 1 out');
    // Blob output feeds the third job as a blob.
    const blob = await uploadBlob(url, Buffer.from('step 2 out'));
    await complete(url, l2.id, { token: l2.token, output: { blobId: blob.id } });
    const third = ((await api(url, 'GET', '/api/v1/jobs')).body.jobs as Record<string, Json>[])[0]!;
    expect(third).toMatchObject({
      runtime: 'default',
      priority: 3,
      parent: second.id,
      hasNext: false,
      input: { blobId: blob.id },
    });
  });

  it('creates no next job when the job fails or is canceled', async () => {
    const { url } = await testHub();
    await createJob(url, { runtime: 'default', maxAttempts: 1, next: { runtime: 'default' } });
    const c = await createJob(url, { runtime: 'other', next: { runtime: 'default' } });
    const w = await registerWorker(url);
    const l = await leaseOne(url, w);
    await fail(url, l.id, { token: l.token, error: 'boom' });
    await api(url, 'POST', `/api/v1/jobs/${c.id}/cancel`);
    expect((await api(url, 'GET', '/api/v1/jobs')).body.jobs).toHaveLength(2);
  });
});
