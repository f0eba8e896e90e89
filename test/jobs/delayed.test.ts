/**
 * Delayed jobs over the native API: `runAt` / `delayMs` keep a job queued until then (a parked
 * worker gets it when it is due, not before), explain says `scheduled` with the time, and bad
 * times are refused with the error envelope.
 */
import { describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { createJob, registerWorker } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

describe('delayed jobs', () => {
  it('keeps a job with runAt queued until then, and hands it to a parked worker when due', async () => {
    const { url } = await testHub();
    const worker = await registerWorker(url, { runtimes: ['later'] });
    const runAt = new Date(Date.now() + 1500);
    const job = await createJob(url, { runtime: 'later', runAt: runAt.toISOString() });
    expect(job.state).toBe('queued');
    expect(job.runAt).toBe(runAt.toISOString());

    const explained = await api(url, 'GET', `/api/v1/jobs/${job.id}/explain`);
    expect(explained.body.verdict).toBe('scheduled');
    expect(explained.body.runAt).toBe(runAt.toISOString());
    expect(explained.body.reasons[0]).toContain(runAt.toISOString());

    // A lease that asks now waits (parked) and is answered with the job once it is due.
    const leased = await api(url, 'POST', `/api/v1/workers/${worker}/lease`, {
      waitMs: scaled(10_000),
    });
    expect(leased.body.jobs.map((j: { id: string }) => j.id)).toEqual([job.id]);
    expect(Date.now()).toBeGreaterThanOrEqual(runAt.getTime());
  });

  it('takes delayMs, also in a batch, and a job without delay runs at once beside it', async () => {
    const { url } = await testHub();
    const before = Date.now();
    const batch = await api(url, 'POST', '/api/v1/jobs/batch', {
      jobs: [
        { runtime: 'mix', delayMs: 60_000 },
        { runtime: 'mix', input: { text: 'now' } },
      ],
    });
    expect(batch.status).toBe(201);
    const [delayed, now] = batch.body.jobs;
    expect(Date.parse(delayed.runAt)).toBeGreaterThanOrEqual(before + 60_000);
    const worker = await registerWorker(url, { runtimes: ['mix'] });
    const leased = await api(url, 'POST', `/api/v1/workers/${worker}/lease`, { limit: 10, waitMs: 0 });
    expect(leased.body.jobs.map((j: { id: string }) => j.id)).toEqual([now.id]);
    const again = await api(url, 'POST', `/api/v1/workers/${worker}/lease`, { limit: 10, waitMs: 200 });
    expect(again.body.jobs).toEqual([]);
  });

  it('refuses both fields, a negative delay, a malformed time and one far in the past', async () => {
    const { url } = await testHub();
    const bad = [
      { runtime: 'x', runAt: new Date(Date.now() + 1000).toISOString(), delayMs: 10 },
      { runtime: 'x', delayMs: -1 },
      { runtime: 'x', delayMs: 1.5 },
      { runtime: 'x', runAt: 'tomorrow' },
      { runtime: 'x', runAt: '2030-02-31T00:00:00' },
      { runtime: 'x', runAt: '2001-01-01T00:00:00Z' },
      { runtime: 'x', runAt: '2999-01-01T00:00:00Z' },
    ];
    for (const body of bad) {
      const r = await api(url, 'POST', '/api/v1/jobs', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
    }
    const list = await api(url, 'GET', '/api/v1/jobs');
    expect(list.body.jobs).toEqual([]);
  });

  it('runs a job whose runAt is a moment ago at once', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'x', runAt: new Date(Date.now() - 5000).toISOString() });
    const explained = await api(url, 'GET', `/api/v1/jobs/${job.id}/explain`);
    expect(explained.body.verdict).not.toBe('scheduled');
  });
});
