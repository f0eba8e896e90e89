/**
 * Retry and bulk actions over the native API: a failed or canceled job goes back to the queue
 * with a fresh attempt budget and its history kept; other states are refused with 409; a bulk
 * retry or cancel changes exactly the jobs its filter selects, and a client only its own.
 */
import { describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { bearer, createJob, fail, getJob, leaseOne, registerWorker } from '../helpers/worker.js';

/** A job that failed for good: one attempt, failed by its worker. */
async function failedJob(url: string, worker: string, runtime: string, headers = {}) {
  const job = await createJob(url, { runtime, maxAttempts: 1 }, headers);
  const leased = await leaseOne(url, worker);
  expect(leased.id).toBe(job.id);
  const r = await fail(url, job.id, { token: leased.token, error: 'boom', retryable: false });
  expect(r.body.state).toBe('failed');
  return job.id;
}

describe('POST /api/v1/jobs/{id}/retry', () => {
  it('re-queues a failed job with a fresh budget, keeps its attempts in history, and runs it again', async () => {
    const { url } = await testHub();
    const worker = await registerWorker(url, { runtimes: ['r'] });
    const id = await failedJob(url, worker, 'r');
    const retried = await api(url, 'POST', `/api/v1/jobs/${id}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ state: 'queued', attempts: 0, maxAttempts: 1, error: null });
    expect(retried.body.errors).toMatchObject([{ attempt: 1, type: 'failed', message: 'boom' }]);
    const again = await leaseOne(url, worker);
    expect(again.id).toBe(id);
    expect((await getJob(url, id)).attempts).toBe(1);
  });

  it('re-queues a canceled job; refuses queued, running and succeeded ones with 409', async () => {
    const { url } = await testHub();
    const queued = await createJob(url, { runtime: 'q' });
    const refused = await api(url, 'POST', `/api/v1/jobs/${queued.id}/retry`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('conflict');
    await api(url, 'POST', `/api/v1/jobs/${queued.id}/cancel`);
    expect((await api(url, 'POST', `/api/v1/jobs/${queued.id}/retry`)).body.state).toBe('queued');
    const worker = await registerWorker(url, { runtimes: ['q'] });
    const running = await leaseOne(url, worker);
    expect((await api(url, 'POST', `/api/v1/jobs/${running.id}/retry`)).status).toBe(409);
    await api(url, 'POST', `/api/v1/jobs/${running.id}/complete`, { token: running.token });
    expect((await api(url, 'POST', `/api/v1/jobs/${running.id}/retry`)).status).toBe(409);
    expect((await api(url, 'POST', '/api/v1/jobs/99999/retry')).status).toBe(404);
    expect((await api(url, 'POST', '/api/v1/jobs/nope/retry')).status).toBe(404);
  });

  it('lets a client retry only its own jobs; a worker none', async () => {
    const { url, hub } = await testHub({ auth: true });
    const a = bearer((await hub.auth.create('client', 'a')).token);
    const b = bearer((await hub.auth.create('client', 'b')).token);
    const w = bearer((await hub.auth.create('worker', 'w')).token);
    const job = await createJob(url, { runtime: 'o' }, a);
    await api(url, 'POST', `/api/v1/jobs/${job.id}/cancel`, undefined, a);
    expect((await api(url, 'POST', `/api/v1/jobs/${job.id}/retry`, undefined, b)).status).toBe(404);
    expect((await api(url, 'POST', `/api/v1/jobs/${job.id}/retry`, undefined, w)).status).toBe(403);
    expect((await api(url, 'POST', `/api/v1/jobs/${job.id}/retry`, undefined, a)).status).toBe(200);
  });
});

describe('POST /api/v1/jobs/bulk', () => {
  it('cancels the jobs its filter selects and answers with the count', async () => {
    const { url } = await testHub();
    const tagged = await createJob(url, { runtime: 'b1', tags: ['batch-7'] });
    const other = await createJob(url, { runtime: 'b1' });
    const elsewhere = await createJob(url, { runtime: 'b2', tags: ['batch-7'] });
    const r = await api(url, 'POST', '/api/v1/jobs/bulk', {
      action: 'cancel',
      filter: { runtime: 'b1', tag: 'batch-7' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ count: 1 });
    expect((await getJob(url, tagged.id)).state).toBe('canceled');
    expect((await getJob(url, other.id)).state).toBe('queued');
    expect((await getJob(url, elsewhere.id)).state).toBe('queued');
    // createdBefore: nothing was created before the epoch; everything before the far future.
    const none = await api(url, 'POST', '/api/v1/jobs/bulk', {
      action: 'cancel',
      filter: { createdBefore: '1970-01-02T00:00:00Z' },
    });
    expect(none.body.count).toBe(0);
  });

  it('retries every failed and canceled job of a state filter, more than one commit of them', async () => {
    const { url } = await testHub();
    const created = await api(url, 'POST', '/api/v1/jobs/batch', {
      jobs: Array.from({ length: 1200 }, () => ({ runtime: 'many' })),
    });
    expect(created.status).toBe(201);
    const canceled = await api(url, 'POST', '/api/v1/jobs/bulk', { action: 'cancel', filter: {} });
    expect(canceled.body.count).toBe(1200);
    const worker = await registerWorker(url, { runtimes: ['f'] });
    const failedId = await failedJob(url, worker, 'f');
    const onlyFailed = await api(url, 'POST', '/api/v1/jobs/bulk', {
      action: 'retry',
      filter: { state: 'failed' },
    });
    expect(onlyFailed.body.count).toBe(1);
    expect((await getJob(url, failedId)).state).toBe('queued');
    const rest = await api(url, 'POST', '/api/v1/jobs/bulk', { action: 'retry', filter: {} });
    expect(rest.body.count).toBe(1200);
    const queued = await api(url, 'GET', '/api/v1/jobs?state=queued&limit=1000');
    expect(queued.body.jobs).toHaveLength(1000);
  });

  it('touches only the calling client’s jobs, and refuses bad bodies with the envelope', async () => {
    const { url, hub } = await testHub({ auth: true });
    const a = bearer((await hub.auth.create('client', 'a')).token);
    const b = bearer((await hub.auth.create('client', 'b')).token);
    const w = bearer((await hub.auth.create('worker', 'w')).token);
    const mine = await createJob(url, { runtime: 'x' }, a);
    const theirs = await createJob(url, { runtime: 'x' }, b);
    const r = await api(url, 'POST', '/api/v1/jobs/bulk', { action: 'cancel', filter: {} }, a);
    expect(r.body).toEqual({ count: 1 });
    expect((await getJob(url, mine.id, a)).state).toBe('canceled');
    expect((await getJob(url, theirs.id, b)).state).toBe('queued');
    expect((await api(url, 'POST', '/api/v1/jobs/bulk', { action: 'cancel', filter: {} }, w)).status).toBe(
      403,
    );
    for (const body of [
      {},
      { action: 'delete', filter: {} },
      { action: 'retry' },
      { action: 'retry', filter: { state: 'lost' } },
      { action: 'retry', filter: { state: [] } },
      { action: 'retry', filter: { createdBefore: 'yesterday' } },
      { action: 'retry', filter: { owner: 'b' } },
    ]) {
      const bad = await api(url, 'POST', '/api/v1/jobs/bulk', body, a);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body.error.code).toBe('validation_failed');
    }
  });
});
