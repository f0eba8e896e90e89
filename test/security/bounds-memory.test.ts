/**
 * What clients choose cannot grow the hub without bound: live log lines from heartbeats are kept
 * up to a byte budget per job and in total, an event stream nobody reads is cut instead of
 * buffering, and client-chosen runtime names do not become metric series (so /metrics stays small
 * and fast, and health checks stay fast while it is scraped).
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { heartbeat, lease, openEvents, registerWorker, sleep } from '../helpers/worker.js';

const LINE = 'x'.repeat(16_000);

async function gauge(url: string, name: string): Promise<number> {
  const text = (await api(url, 'GET', '/metrics')).body as string;
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}

describe('live logs', () => {
  it('a worker heartbeating huge logs for many jobs leaves the kept bytes bounded', async () => {
    const perJob = 64 * 1024;
    const total = 512 * 1024;
    const hub = await testHub({ leaseMs: 60_000, logTailBytes: perJob, logTailTotalBytes: total });
    const w = await registerWorker(hub.url, { runtimes: ['noisy'] });
    const created = await api(hub.url, 'POST', '/api/v1/jobs/batch', {
      jobs: Array.from({ length: 20 }, () => ({ runtime: 'noisy' })),
    });
    expect(created.status, JSON.stringify(created.body).slice(0, 300)).toBe(201);
    const jobs = await lease(hub.url, w, { limit: 20 });
    expect(jobs).toHaveLength(20);
    // 20 jobs × 2 beats × 40 lines of 16 kB: 25 MB of log lines sent.
    for (let beat = 0; beat < 2; beat++) {
      for (const j of jobs) {
        const logs = Array.from({ length: 40 }, (_, i) => `${j.id}/${beat}/${i} ${LINE}`);
        const r = await heartbeat(hub.url, j.id, { token: j.token, logs });
        expect(r.status).toBe(200);
      }
    }
    const kept = await gauge(hub.url, 'jobhub_live_log_bytes');
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(total);
    // The job that logged last keeps its newest lines, within its own budget.
    const last = jobs[jobs.length - 1]!;
    const sse = await openEvents(`${hub.url}/api/v1/jobs/${last.id}/events`);
    try {
      expect((await sse.next())?.event).toBe('state');
      const tail = await sse.next();
      expect(tail?.event).toBe('log');
      const lines = tail!.data.lines as string[];
      expect(lines.at(-1)).toBe(`${last.id}/1/39 ${LINE}`);
      expect(lines.reduce((n, l) => n + Buffer.byteLength(l), 0)).toBeLessThanOrEqual(perJob);
    } finally {
      sse.close();
    }
    // The job that logged least recently gave its tail up for the total.
    const first = jobs[0]!;
    const old = await openEvents(`${hub.url}/api/v1/jobs/${first.id}/events`);
    try {
      expect((await old.next())?.event).toBe('state');
      // No log event follows the state: nothing is kept for it any more.
      await expect(old.next(500)).rejects.toThrow(/no SSE event/);
    } finally {
      old.close();
    }
    // Finished jobs give their tails back.
    for (const j of jobs) await api(hub.url, 'POST', `/api/v1/jobs/${j.id}/complete`, { token: j.token });
    expect(await gauge(hub.url, 'jobhub_live_log_bytes')).toBe(0);
  }, 60_000);

  it('an event stream whose reader never reads is cut, not buffered', async () => {
    const hub = await testHub({ leaseMs: 60_000 });
    const w = await registerWorker(hub.url, { runtimes: ['noisy'] });
    await api(hub.url, 'POST', '/api/v1/jobs', { runtime: 'noisy' });
    const [job] = await lease(hub.url, w, { limit: 1 });
    const before = hub.hub.ctx.events.watchers;
    const port = Number(new URL(hub.url).port);
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.write(`GET /api/v1/jobs/${job!.id}/events HTTP/1.1\r\nhost: x\r\n\r\n`);
    // Never read: the kernel's buffers fill, then the hub's.
    s.pause();
    await expect.poll(() => hub.hub.ctx.events.watchers).toBe(before + 1);
    const logs = Array.from({ length: 64 }, () => LINE);
    for (let i = 0; i < 60 && hub.hub.ctx.events.watchers > before; i++) {
      expect((await heartbeat(hub.url, job!.id, { token: job!.token, logs })).status).toBe(200);
    }
    await expect.poll(() => hub.hub.ctx.events.watchers).toBe(before);
    s.destroy();
  }, 60_000);
});

describe('worker registrations', () => {
  it('a worker offering runtimes that accept too many job runtimes is refused', async () => {
    const hub = await testHub();
    const runtimes = Array.from({ length: 64 }, (_, i) => `r${i}+a+b+c+d+e+f+g+h`);
    const r = await api(hub.url, 'POST', '/api/v1/workers', { runtimes });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('validation_failed');
    expect((await api(hub.url, 'GET', '/api/v1/workers')).body.workers).toHaveLength(0);
    // 4 runtimes of 8 features (1,024 names) is still fine.
    expect((await api(hub.url, 'POST', '/api/v1/workers', { runtimes: runtimes.slice(0, 4) })).status).toBe(
      201,
    );
  });

  it('the workers kept in memory are capped; a forgotten worker is loaded again when it calls', async () => {
    const hub = await testHub({ leaseMs: 60_000 });
    const first = await registerWorker(hub.url, { runtimes: ['default'] });
    for (let batch = 0; batch < 21; batch++) {
      await Promise.all(
        Array.from({ length: 500 }, () =>
          hub.hub.workers.register({ name: null, runtimes: ['x'], tags: [], capacity: 1, protocol: 'v1' }),
        ),
      );
    }
    expect(hub.hub.workers.size).toBeLessThanOrEqual(10_000);
    // The first worker was forgotten from memory, not from the hub: it still leases.
    await api(hub.url, 'POST', '/api/v1/jobs', { runtime: 'default' });
    const leased = await lease(hub.url, first, { limit: 1 });
    expect(leased).toHaveLength(1);
  }, 120_000);
});

describe('metric labels', () => {
  it('20,000 client-chosen runtime names keep /metrics small and health checks fast', async () => {
    const hub = await testHub({ leaseMs: 60_000 });
    // Workers offering many names too: a worker's runtimes are bounded by the series cap.
    for (let i = 0; i < 4; i++) {
      const runtimes = Array.from({ length: 64 }, (_, k) => `offered${i}x${k}`);
      await registerWorker(hub.url, { runtimes });
    }
    for (let batch = 0; batch < 2; batch++) {
      const jobs = Array.from({ length: 10_000 }, (_, i) => ({
        runtime: i < 256 && batch === 0 ? `offered${i >> 6}x${i & 63}` : `client${batch}x${i}`,
      }));
      const r = await api(hub.url, 'POST', '/api/v1/jobs/batch', { jobs });
      expect(r.status).toBe(201);
    }
    const scrape = async () => {
      const t0 = performance.now();
      const r = await fetch(`${hub.url}/metrics`);
      const text = await r.text();
      return { text, ms: performance.now() - t0 };
    };
    await scrape();
    const samples = [];
    for (let i = 0; i < 5; i++) samples.push(await scrape());
    const { text } = samples[0]!;
    expect(Buffer.byteLength(text)).toBeLessThan(256 * 1024);
    expect(text).not.toContain('client1x9999');
    expect(text).toMatch(/^jobhub_jobs\{runtime="other",state="queued"\} \d+$/m);
    expect(text).toMatch(/^jobhub_jobs_created_total\{runtime="other"\} \d+$/m);
    const created = text.split('\n').filter((l) => l.startsWith('jobhub_jobs_created_total{'));
    expect(created.length).toBeLessThanOrEqual(51);
    const sum = created.reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    expect(sum).toBe(20_000);
    const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
    console.log(`/metrics: ${Buffer.byteLength(text)} bytes, scrape median ${ms[2]!.toFixed(1)} ms`);
    // Generous (the goal is 50 ms; the machine is shared): before the bound it took seconds.
    expect(ms[2]).toBeLessThan(1_000);

    // Health checks while four clients scrape in a loop.
    let scraping = true;
    const loops = Array.from({ length: 4 }, async () => {
      while (scraping) await scrape();
    });
    const health: number[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        expect((await api(hub.url, 'GET', '/healthz')).status).toBe(200);
        health.push(performance.now() - t0);
        await sleep(50);
      }
    } finally {
      scraping = false;
      await Promise.all(loops);
    }
    health.sort((a, b) => a - b);
    console.log(
      `/healthz during scrapes: median ${health[10]!.toFixed(1)} ms, max ${health[19]!.toFixed(1)} ms`,
    );
    // Generous for a shared machine: before the bound, health checks waited 6 s.
    expect(health[10]).toBeLessThan(2_000);
  }, 120_000);
});
