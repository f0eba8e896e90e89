/** The agent loop: batch leasing, cancel, code cache, drain, reconnect and re-registration. */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { api, stopHub, testHub } from '../helpers/hub.js';
import { until } from '../helpers/worker.js';
import { final, fn, output, startAgent, submit } from './helpers.js';
import { scaled } from '../helpers/time.js';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

describe('agent', () => {
  // 12 jobs on 4 slots: three rounds of concurrent runs of one function, which is what the test is
  // about; more jobs would show nothing more (many more run in `npm run chaos`: engine-load).
  it('runs many jobs of one function concurrently, downloading its code once', async () => {
    const { url } = await testHub();
    const { agent } = await startAgent(url, ['dlabLua54'], { concurrency: 4 });
    const f = await fn(url, 'dlabLua54', 'return function(x) return "<" .. x .. ">" end');
    const r = await api(url, 'POST', '/api/v1/jobs/batch', {
      jobs: Array.from({ length: 12 }, (_, i) => ({ function: f, input: { text: String(i) } })),
    });
    expect(r.status).toBe(201);
    const jobs = await Promise.all((r.body.jobs as { id: string }[]).map((j) => final(url, j.id)));
    expect(jobs.filter((j) => j.state !== 'succeeded').map((j) => `${j.id}: ${j.error}`)).toEqual([]);
    expect((await output(url, jobs[7]!.id)).toString()).toBe('<7>');
    expect(agent.codeDownloads).toBe(1);
    expect(agent.stats.succeeded).toBe(12);
  });

  it('leases the next jobs with its completions, not with a lease request per job', async () => {
    const { url } = await testHub();
    const { agent } = await startAgent(url, ['dlabLua54'], { concurrency: 1 });
    let leaseCalls = 0;
    let viaCompletions = 0;
    const { lease, completeAndLease } = agent.api;
    Object.assign(agent.api, {
      lease: (...a: Parameters<typeof lease>) => (leaseCalls++, lease(...a)),
      completeAndLease: async (...a: Parameters<typeof completeAndLease>) => {
        const r = await completeAndLease(...a);
        viaCompletions += r.next?.jobs.length ?? 0;
        return r;
      },
    });
    const f = await fn(url, 'dlabLua54', 'return function(x) return x end');
    const r = await api(url, 'POST', '/api/v1/jobs/batch', {
      jobs: Array.from({ length: 30 }, (_, i) => ({ function: f, input: { text: String(i) } })),
    });
    const jobs = await Promise.all((r.body.jobs as { id: string }[]).map((j) => final(url, j.id)));
    expect(jobs.every((j) => j.state === 'succeeded')).toBe(true);
    // The hub records a completion before its reply reaches the agent.
    await until(async () => agent.stats.succeeded === 30);
    // Jobs came with the completions of earlier ones, so fewer lease requests than jobs were
    // made (how many of each depends on timing: the loop leases when no completion is waiting).
    expect(viaCompletions).toBeGreaterThan(0);
    expect(leaseCalls).toBeLessThan(30);
  });

  it('stops a job when the hub says cancel, and does not report it', async () => {
    const { url } = await testHub();
    const { agent } = await startAgent(url, ['dlabLua54']);
    const id = await submit(url, {
      function: await fn(url, 'dlabLua54', 'while true do end'),
      timeoutMs: 60_000,
    });
    await until(async () => agent.active === 1);
    const c = await api(url, 'POST', `/api/v1/jobs/${id}/cancel`);
    expect(c.body.state).toBe('canceled');
    await until(async () => agent.active === 0, scaled(3_000));
    expect(agent.stats.dropped).toBe(1);
    expect((await final(url, id)).state).toBe('canceled');
  });

  it('drain with no time left gives running jobs back; another worker runs them', async () => {
    const { url } = await testHub();
    const first = await startAgent(url, ['dlabLua54'], { concurrency: 2 });
    const slow = await fn(
      url,
      'dlabLua54',
      'local t = os.clock() while os.clock() - t < 0.5 do end io.write("done")',
    );
    const ids = [
      await submit(url, { function: slow, maxAttempts: 3 }),
      await submit(url, { function: slow, maxAttempts: 3 }),
    ];
    await until(async () => first.agent.active === 2);
    await first.agent.drain(0);
    expect(first.agent.stats.givenBack + first.agent.stats.succeeded).toBe(2);
    await startAgent(url, ['dlabLua54']);
    for (const id of ids) {
      const job = await final(url, id);
      expect(job.state).toBe('succeeded');
      expect((await output(url, id)).toString()).toBe('done');
    }
  });

  it('waits for an unreachable hub, and registers again when the hub forgot it', async () => {
    const port = await freePort();
    const agentUp = startAgent(`http://127.0.0.1:${port}`, ['dlabLua54']);
    await new Promise((r) => setTimeout(r, 500));
    const hub1 = await testHub({ port });
    const { agent } = await agentUp;
    const firstId = agent.workerId;
    const one = await submit(hub1.url, { function: await fn(hub1.url, 'dlabLua54', 'io.write("one")') });
    expect((await final(hub1.url, one)).state).toBe('succeeded');
    // A new hub with empty data on the same address: the old worker id means nothing there.
    await stopHub(hub1);
    await new Promise((r) => setTimeout(r, 300));
    const hub2 = await testHub({ port });
    const two = await submit(hub2.url, { function: await fn(hub2.url, 'dlabLua54', 'io.write("two")') });
    const job = await final(hub2.url, two, scaled(20_000));
    expect(job.state).toBe('succeeded');
    expect((await output(hub2.url, two)).toString()).toBe('two');
    expect(agent.workerId).not.toBeNull();
    expect(firstId).not.toBeNull();
  });
});
