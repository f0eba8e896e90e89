/**
 * Cron schedules over the native API on one hub: a job per tick, nextRunAt, 5 and 6 fields,
 * time zones, pause/resume/delete, overlap skip, owners, bad input, and missed ticks after
 * downtime (run once, with an injected clock).
 */
import { describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { bearer, sleep, until } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

const jobsOf = async (url: string, runtime: string, headers = {}) =>
  (await api(url, 'GET', `/api/v1/jobs?runtime=${runtime}&limit=1000`, undefined, headers)).body.jobs as {
    id: string;
    runAt: string;
    state: string;
  }[];

describe('cron schedules', () => {
  it('creates a job at each tick of a 6-field expression, each job at its tick', async () => {
    const { url } = await testHub();
    const r = await api(url, 'POST', '/api/v1/schedules', {
      name: 'every-second',
      cron: '* * * * * *',
      job: { runtime: 'tick', input: { text: 'hi' } },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ name: 'every-second', timezone: 'UTC', overlap: 'allow', paused: false });
    const next = Date.parse(r.body.nextRunAt);
    expect(next % 1000).toBe(0);
    expect(next).toBeGreaterThan(Date.now() - 1000);
    await until(async () => (await jobsOf(url, 'tick')).length >= 3, scaled(10_000));
    const jobs = await jobsOf(url, 'tick');
    const ticks = jobs.map((j) => Date.parse(j.runAt)).sort((a, b) => a - b);
    for (const t of ticks) expect(t % 1000).toBe(0);
    expect(new Set(ticks).size).toBe(ticks.length);
    const listed = await api(url, 'GET', '/api/v1/schedules');
    expect(listed.body.schedules).toHaveLength(1);
    expect(listed.body.schedules[0].lastJobId).not.toBeNull();
  });

  it('computes nextRunAt in the time zone for 5 fields, and refuses bad expressions and zones', async () => {
    const { url } = await testHub();
    const r = await api(url, 'POST', '/api/v1/schedules', {
      name: 'nine-in-tokyo',
      cron: '0 9 * * *',
      timezone: 'Asia/Tokyo',
      job: { runtime: 'x' },
    });
    expect(r.status).toBe(201);
    // 09:00 in Tokyo is 00:00 UTC.
    expect(r.body.nextRunAt).toMatch(/T00:00:00\.000Z$/);
    const bad = [
      { name: 'a', cron: '* * * *', job: { runtime: 'x' } },
      { name: 'a', cron: '* * * * * * *', job: { runtime: 'x' } },
      { name: 'a', cron: '0 99 * * *', job: { runtime: 'x' } },
      { name: 'a', cron: '0 9 * * *', timezone: 'Mars/Olympus', job: { runtime: 'x' } },
      { name: 'a', cron: '0 9 * * *', job: {} },
      { name: 'a', cron: '0 9 * * *', job: { runtime: 'x' }, overlap: 'sometimes' },
      { name: 'a', cron: '0 9 * * *', job: { runtime: 'x', delayMs: 5 } },
      { name: 'a', cron: '0 9 * * *', job: { function: '424242' } },
      { cron: '0 9 * * *', job: { runtime: 'x' } },
    ];
    for (const body of bad) {
      const res = await api(url, 'POST', '/api/v1/schedules', body);
      expect(res.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(res.status, JSON.stringify(body)).toBeLessThan(500);
      expect(typeof res.body.error.code).toBe('string');
    }
    const dup = await api(url, 'POST', '/api/v1/schedules', {
      name: 'nine-in-tokyo',
      cron: '0 9 * * *',
      job: { runtime: 'x' },
    });
    expect(dup.status).toBe(409);
  });

  it('pauses, resumes and deletes; a paused schedule makes no jobs', async () => {
    const { url } = await testHub();
    const s = (
      await api(url, 'POST', '/api/v1/schedules', { name: 'p', cron: '* * * * * *', job: { runtime: 'pz' } })
    ).body;
    const paused = await api(url, 'POST', `/api/v1/schedules/${s.id}/pause`);
    expect(paused.body).toMatchObject({ paused: true, nextRunAt: null });
    const before = (await jobsOf(url, 'pz')).length;
    await sleep(2200);
    expect((await jobsOf(url, 'pz')).length).toBeLessThanOrEqual(before + 1);
    const settled = (await jobsOf(url, 'pz')).length;
    await sleep(1500);
    expect((await jobsOf(url, 'pz')).length).toBe(settled);
    const resumed = await api(url, 'POST', `/api/v1/schedules/${s.id}/resume`);
    expect(resumed.body.paused).toBe(false);
    expect(Date.parse(resumed.body.nextRunAt)).toBeGreaterThan(Date.now() - 1000);
    await until(async () => (await jobsOf(url, 'pz')).length > settled, scaled(5000));
    expect((await api(url, 'DELETE', `/api/v1/schedules/${s.id}`)).status).toBe(204);
    expect((await api(url, 'GET', `/api/v1/schedules/${s.id}`)).status).toBe(404);
    expect((await api(url, 'DELETE', `/api/v1/schedules/${s.id}`)).status).toBe(404);
    expect((await api(url, 'POST', '/api/v1/schedules/abc/pause')).status).toBe(404);
  });

  it('skips ticks while the previous job is not final with overlap: skip', async () => {
    const { url } = await testHub();
    await api(url, 'POST', '/api/v1/schedules', {
      name: 'once',
      cron: '* * * * * *',
      overlap: 'skip',
      job: { runtime: 'nobody-runs' },
    });
    await until(async () => (await jobsOf(url, 'nobody-runs')).length === 1, scaled(5000));
    await sleep(2500);
    const jobs = await jobsOf(url, 'nobody-runs');
    expect(jobs).toHaveLength(1);
    // Once it is final, the next tick makes a new job.
    await api(url, 'POST', `/api/v1/jobs/${jobs[0]!.id}/cancel`);
    await until(async () => (await jobsOf(url, 'nobody-runs')).length === 2, scaled(5000));
  });

  it('shows a client only its own schedules; a worker none', async () => {
    const { url, hub } = await testHub({ auth: true });
    const a = bearer((await hub.auth.create('client', 'a')).token);
    const b = bearer((await hub.auth.create('client', 'b')).token);
    const w = bearer((await hub.auth.create('worker', 'w')).token);
    const s = await api(
      url,
      'POST',
      '/api/v1/schedules',
      { name: 'mine', cron: '0 0 1 1 *', job: { runtime: 'x' } },
      a,
    );
    expect(s.status).toBe(201);
    // The same name is another client's own.
    expect(
      (
        await api(
          url,
          'POST',
          '/api/v1/schedules',
          { name: 'mine', cron: '0 0 1 1 *', job: { runtime: 'x' } },
          b,
        )
      ).status,
    ).toBe(201);
    expect((await api(url, 'GET', '/api/v1/schedules', undefined, a)).body.schedules).toHaveLength(1);
    expect((await api(url, 'GET', `/api/v1/schedules/${s.body.id}`, undefined, b)).status).toBe(404);
    expect((await api(url, 'DELETE', `/api/v1/schedules/${s.body.id}`, undefined, b)).status).toBe(404);
    expect((await api(url, 'GET', '/api/v1/schedules', undefined, w)).status).toBe(403);
  });

  it('runs the ticks missed during downtime once, then goes on from now', async () => {
    let now = Date.UTC(2030, 0, 1, 0, 0, 30);
    const { url, hub } = await testHub({}, { clock: () => now });
    hub.schedules.close(); // driven by hand below, on the fake clock
    const s = await api(url, 'POST', '/api/v1/schedules', {
      name: 'minutely',
      cron: '* * * * *',
      job: { runtime: 'm' },
    });
    expect(s.body.nextRunAt).toBe('2030-01-01T00:01:00.000Z');
    now = Date.UTC(2030, 0, 1, 0, 10, 30); // ten ticks missed
    await hub.schedules.runDue();
    await hub.schedules.runDue();
    const jobs = await jobsOf(url, 'm');
    expect(jobs.map((j) => j.runAt)).toEqual(['2030-01-01T00:01:00.000Z']);
    const after = await api(url, 'GET', `/api/v1/schedules/${s.body.id}`);
    expect(after.body.nextRunAt).toBe('2030-01-01T00:11:00.000Z');
  });
});
