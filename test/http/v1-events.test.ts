/** Native API: job events as server-sent events (state, progress, log). */
import { describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import {
  complete,
  createJob,
  fail,
  heartbeat,
  leaseOne,
  openEvents,
  registerWorker,
} from '../helpers/worker.js';

describe('GET /api/v1/jobs/{id}/events', () => {
  it('streams queued → running → succeeded, with progress and log events from heartbeats', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default', input: { text: 'in' } });
    const sse = await openEvents(`${url}/api/v1/jobs/${job.id}/events`);
    try {
      expect(sse.status).toBe(200);
      expect(sse.headers.get('content-type')).toBe('text/event-stream');
      const first = await sse.next();
      expect(first).toMatchObject({ event: 'state', data: { id: job.id, state: 'queued' } });

      const w = await registerWorker(url);
      const l = await leaseOne(url, w);
      expect(await sse.next()).toMatchObject({
        event: 'state',
        data: { id: job.id, state: 'running', attempts: 1 },
      });

      const hb = await heartbeat(url, l.id, {
        token: l.token,
        progress: { done: 1, of: 3 },
        logs: ['line one', 'line two'],
      });
      expect(hb.status).toBe(200);
      expect(hb.body.cancel).toBe(false);
      expect(await sse.next()).toEqual({
        event: 'progress',
        data: { jobId: job.id, progress: { done: 1, of: 3 } },
      });
      expect(await sse.next()).toEqual({
        event: 'log',
        data: { jobId: job.id, lines: ['line one', 'line two'] },
      });

      await heartbeat(url, l.id, { token: l.token, progress: 0.9 });
      expect(await sse.next()).toEqual({ event: 'progress', data: { jobId: job.id, progress: 0.9 } });

      expect((await complete(url, l.id, { token: l.token, output: { text: 'out' } })).status).toBe(200);
      expect(await sse.next()).toMatchObject({ event: 'state', data: { id: job.id, state: 'succeeded' } });
      // The stream ends after a final state.
      expect(await sse.next()).toBeNull();
    } finally {
      sse.close();
    }
  });

  it('shows a retry as running → queued → running, and ends on failure', async () => {
    const { url } = await testHub({ retryBaseMs: 0, retryMaxMs: 0 });
    const job = await createJob(url, { runtime: 'default', maxAttempts: 2 });
    const sse = await openEvents(`${url}/api/v1/jobs/${job.id}/events`);
    try {
      expect((await sse.next())?.data.state).toBe('queued');
      const w = await registerWorker(url);
      const l1 = await leaseOne(url, w);
      expect((await sse.next())?.data.state).toBe('running');
      await fail(url, l1.id, { token: l1.token, error: 'first' });
      expect(await sse.next()).toMatchObject({ event: 'state', data: { state: 'queued', error: 'first' } });
      const l2 = await leaseOne(url, w);
      expect(l2.attempt).toBe(2);
      expect(await sse.next()).toMatchObject({ event: 'state', data: { state: 'running', attempts: 2 } });
      await fail(url, l2.id, { token: l2.token, error: 'second' });
      expect(await sse.next()).toMatchObject({ event: 'state', data: { state: 'failed', error: 'second' } });
      expect(await sse.next()).toBeNull();
    } finally {
      sse.close();
    }
  });

  it('replays the log tail of a running job to a late subscriber', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const l = await leaseOne(url, w);
    await heartbeat(url, l.id, { token: l.token, logs: ['a', 'b'] });
    await heartbeat(url, l.id, { token: l.token, logs: ['c'] });
    const sse = await openEvents(`${url}/api/v1/jobs/${job.id}/events`);
    try {
      expect(await sse.next()).toMatchObject({ event: 'state', data: { state: 'running' } });
      expect(await sse.next()).toEqual({ event: 'log', data: { jobId: job.id, lines: ['a', 'b', 'c'] } });
      await api(url, 'POST', `/api/v1/jobs/${job.id}/cancel`);
      expect(await sse.next()).toMatchObject({ event: 'state', data: { state: 'canceled' } });
      expect(await sse.next()).toBeNull();
    } finally {
      sse.close();
    }
  });

  it('sends one state event and ends for a finished job; 404 for an unknown job', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    await api(url, 'POST', `/api/v1/jobs/${job.id}/cancel`);
    const sse = await openEvents(`${url}/api/v1/jobs/${job.id}/events`);
    expect(await sse.next()).toMatchObject({ event: 'state', data: { state: 'canceled' } });
    expect(await sse.next()).toBeNull();
    const missing = await api(url, 'GET', '/api/v1/jobs/4242/events');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: { code: 'not_found' } });
    const bad = await api(url, 'GET', '/api/v1/jobs/abc/events');
    expect(bad.status).toBe(404);
  });

  it('stops watching when the client goes away', async () => {
    const running = await testHub();
    const job = await createJob(running.url, { runtime: 'default' });
    const before = running.hub.ctx.events.watchers;
    const sse = await openEvents(`${running.url}/api/v1/jobs/${job.id}/events`);
    await sse.next();
    expect(running.hub.ctx.events.watchers).toBe(before + 1);
    sse.close();
    const deadline = Date.now() + 2_000;
    while (running.hub.ctx.events.watchers !== before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(running.hub.ctx.events.watchers).toBe(before);
  });
});
