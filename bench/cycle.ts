/**
 * `node --import tsx bench/cycle.ts [--store=sqlite|pg] [--queued=10000] [--cycles=5000]`: where
 * one worker's cycle goes under a backlog (the backlog scenario of `npm run bench`, jobhub alone).
 *
 * The hub (`jobhub server`, compiled build, default durability) gets `--queued` no-op jobs; then
 * one simulated worker takes them one at a time exactly as the scenario's does: `POST
 * /api/v1/complete` of the job it holds with `next` (lease the following one in the same request),
 * repeat. Reported: the cycle p50/p90 (one request), the hub's CPU per cycle and the client's
 * (this process: HubClient, JSON), and their sum against the cycle: what is left is waiting
 * (the `fdatasync` of each commit, the kernel's socket hops, scheduling).
 *
 * `HUB_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR"` profiles the hub; `HUB_ARGS` passes it flags
 * (e.g. `--durability relaxed`).
 */
import { HubClient } from '../src/agent/client.js';
import { argValue, numberArg, percentile, round, startHubProcess } from './lib.js';
import { cpuSeconds } from './peers/peer.js';

const QUEUED = numberArg('queued', 10_000);
const CYCLES = numberArg('cycles', 5_000);
const STORE = argValue('store') ?? 'sqlite';
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Leased {
  id: string;
  token: string;
}

const schema = `bench_cycle_${process.pid}`;
const hub = await startHubProcess(STORE === 'pg' ? ['--database', `${PG_URL}?schema=${schema}`] : []);
const http = new HubClient({ url: hub.url, connections: 4 });
try {
  for (let made = 0; made < QUEUED; made += 1000) {
    const jobs = Array.from({ length: Math.min(1000, QUEUED - made) }, () => ({ runtime: 'noop' }));
    await http.json('POST', '/api/v1/jobs/batch', { json: { jobs }, headers: { prefer: 'return=minimal' } });
  }
  const w = await http.json<{ id: string }>('POST', '/api/v1/workers', {
    json: { runtimes: ['noop'], capacity: 1 },
  });
  const next = { workerId: w.id, limit: 1, waitMs: 200 };
  let job = (
    await http.json<{ jobs: Leased[] }>('POST', `/api/v1/workers/${w.id}/lease`, { json: { limit: 1 } })
  ).jobs[0];
  const cycle = async () => {
    const r = await http.json<{ next: { jobs: Leased[] } }>('POST', '/api/v1/complete', {
      json: { completions: [{ jobId: job!.id, token: job!.token }], next },
    });
    job = r.next.jobs[0];
    if (!job) throw new Error('the backlog ran out: raise --queued');
  };
  // Warm-up, as the backlog scenario has (1,000 cycles): the JIT compiles the hub's path first.
  for (let i = 0; i < Math.min(1000, QUEUED / 10); i++) await cycle();
  const times: number[] = [];
  const hub0 = cpuSeconds(hub.pid);
  const me0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < CYCLES; i++) {
    const t = performance.now();
    await cycle();
    times.push(performance.now() - t);
  }
  const wallMs = performance.now() - t0;
  const me = process.cpuUsage(me0);
  const hubMs = ((cpuSeconds(hub.pid) - hub0) * 1000) / CYCLES;
  const clientMs = (me.user + me.system) / 1000 / CYCLES;
  times.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      store: STORE,
      queued: QUEUED,
      cycles: CYCLES,
      cycleP50Ms: round(percentile(times, 50), 3),
      cycleP90Ms: round(percentile(times, 90), 3),
      cycleMeanMs: round(wallMs / CYCLES, 3),
      hubCpuMs: round(hubMs, 3),
      clientCpuMs: round(clientMs, 3),
      waitingMs: round(wallMs / CYCLES - hubMs - clientMs, 3),
    }),
  );
} finally {
  await http.close();
  await hub.stop();
  if (STORE === 'pg') {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  }
}
