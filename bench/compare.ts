/**
 * Side-by-side scenarios: jobhub (SQLite and PostgreSQL) against BullMQ, pg-boss and Graphile
 * Worker on the same machine in the same run. Each round runs every queue once, in a rotated
 * order, so drift on a shared machine spreads over all of them; results keep every round and the
 * median, min and max. Method: bench/README.md.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Pool } from 'undici';
import { barChart, latencyHistogram, type Rgb } from './charts.js';
import type { Floor } from './floors.js';
import { agentAvailable, JobhubQueue } from './jobhub-adapter.js';
import { percentile, round, rssMiB } from './lib.js';
import { BullmqQueue } from './peers/bullmq.js';
import { GraphileQueue } from './peers/graphile.js';
import {
  cpuSeconds,
  ResourceSampler,
  sleep,
  waitForCount,
  type JobHandler,
  type QueueUnderTest,
} from './peers/peer.js';
import { PgbossQueue } from './peers/pgboss.js';

export const PEER_IDS = ['bullmq', 'bullmq-durable', 'pgboss', 'graphile'] as const;
export const JOBHUB_IDS = ['jobhub-sqlite', 'jobhub-pg'] as const;
export const CONCURRENCY = 50;

export interface Spread {
  median: number;
  min: number;
  max: number;
  rounds: number[];
}
export type Metrics = Record<string, number>;
export type Aggregated = Record<string, Spread>;

export function spread(xs: number[]): Spread {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const med =
    s.length === 0
      ? NaN
      : s.length % 2
        ? s[(s.length - 1) / 2]!
        : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median: med, min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, rounds: xs };
}

function aggregate(rows: Metrics[]): Aggregated {
  const out: Aggregated = {};
  for (const key of Object.keys(rows[0] ?? {})) out[key] = spread(rows.map((r) => r[key]!));
  return out;
}

/** Simulated jobhub workers: BENCH_JOBHUB_WORKERS × BENCH_JOBHUB_PREFETCH override the tuned 4 × 250. */
const envInt = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
const SIM = { workers: envInt('BENCH_JOBHUB_WORKERS'), prefetch: envInt('BENCH_JOBHUB_PREFETCH') };

export function makeQueue(id: string): QueueUnderTest {
  switch (id) {
    case 'bullmq':
      return new BullmqQueue();
    case 'bullmq-durable':
      return new BullmqQueue({ durable: true });
    case 'pgboss':
      return new PgbossQueue();
    case 'graphile':
      return new GraphileQueue();
    case 'jobhub-sqlite':
      return new JobhubQueue({ store: 'sqlite', ...SIM });
    case 'jobhub-pg':
      return new JobhubQueue({ store: 'pg', ...SIM });
    case 'jobhub-sqlite-relaxed':
      return new JobhubQueue({ store: 'sqlite', ...SIM, durability: 'relaxed' });
    case 'jobhub-pg-relaxed':
      return new JobhubQueue({ store: 'pg', ...SIM, durability: 'relaxed' });
    case 'jobhub-sqlite-agent':
      return new JobhubQueue({ store: 'sqlite', agent: true });
    case 'jobhub-pg-agent':
      return new JobhubQueue({ store: 'pg', agent: true });
    default:
      throw new Error(`unknown queue ${id}`);
  }
}

const rotate = <T>(xs: T[], by: number) => xs.map((_, i) => xs[(i + by) % xs.length]!);
const log = (...a: unknown[]) => console.log(...a);

/** Runs `fn` for every queue, `rounds` times, each round in a rotated order. */
async function rounds<T extends Metrics>(
  name: string,
  ids: string[],
  n: number,
  fn: (q: QueueUnderTest, round: number) => Promise<T>,
): Promise<Record<string, Aggregated>> {
  const rows: Record<string, Metrics[]> = Object.fromEntries(ids.map((id) => [id, []]));
  for (let r = 0; r < n; r++) {
    for (const id of rotate(ids, r)) {
      const q = makeQueue(id);
      const t0 = performance.now();
      const m = await fn(q, r);
      rows[id]!.push(m);
      log(
        `  ${name} round ${r + 1} ${id.padEnd(20)} ${fmtMetrics(m)}  (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
    }
  }
  return Object.fromEntries(ids.map((id) => [id, aggregate(rows[id]!)]));
}

function fmtMetrics(m: Metrics): string {
  return Object.entries(m)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(2)}`)
    .join(' ');
}

/** P producers each adding batches of `batch` until `n` jobs are added. */
async function produce(
  q: QueueUnderTest,
  n: number,
  batch = 1000,
  producers = 4,
  input?: (i: number) => Buffer,
): Promise<void> {
  let next = 0;
  const one = async () => {
    while (next < n) {
      const start = next;
      const k = Math.min(batch, n - start);
      next += k;
      await q.enqueueBatch(k, input && ((i) => input(start + i)));
    }
  };
  await Promise.all(Array.from({ length: producers }, one));
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond() && Date.now() < until) await sleep(5);
}

// ---------------------------------------------------------------------------------------------
// 1. Throughput

export interface ThroughputOptions {
  jobs: number;
  rounds: number;
  ids: string[];
}

/**
 * Burn-down: N no-op jobs are added (4 producers × bulk calls of 1,000), then the workers start
 * and drain them; the clock runs from starting the workers until the store says all N are done.
 * Steady: the workers wait first; the clock runs from the first add until the store says all N
 * are done while producers keep adding.
 */
async function throughputOnce(q: QueueUnderTest, jobs: number, mode: 'burn' | 'steady'): Promise<Metrics> {
  await q.setup();
  try {
    let handled = 0;
    let allHandled: () => void = () => {};
    const handledAll = new Promise<void>((r) => (allHandled = r));
    const handler: JobHandler = () => {
      if (++handled === jobs) allHandled();
    };
    const sampler = new ResourceSampler(() => q.serverProcesses(), 100);
    let enqueueSeconds: number;
    let t0: number;
    if (mode === 'burn') {
      const e0 = performance.now();
      await produce(q, jobs);
      enqueueSeconds = (performance.now() - e0) / 1000;
      sampler.start();
      t0 = performance.now();
      await q.startWorkers(CONCURRENCY, handler, 'throughput');
      if (q.workersReadyAt !== undefined) t0 = Math.max(t0, q.workersReadyAt);
    } else {
      await q.startWorkers(CONCURRENCY, handler, 'throughput');
      sampler.start();
      t0 = performance.now();
      await produce(q, jobs);
      enqueueSeconds = (performance.now() - t0) / 1000;
    }
    // Agent workers run in their own process: only the store's count exists.
    const agents = q instanceof JobhubQueue ? q.agentPids() : [];
    const agentCpu0 = agents.reduce((s, pid) => s + cpuSeconds(pid), 0);
    const timeoutMs = Math.max(120_000, jobs * 2);
    if (!(q instanceof JobhubQueue && q.useAgent)) await Promise.race([handledAll, sleep(timeoutMs)]);
    await waitForCount(() => q.doneCount(), jobs, timeoutMs, 2);
    const seconds = (performance.now() - t0) / 1000;
    const res = sampler.stop();
    const agentCores = (agents.reduce((s, pid) => s + cpuSeconds(pid), 0) - agentCpu0) / seconds;
    await q.stopWorkers();
    return {
      ...(agents.length ? { agentCores: round(agentCores, 2) } : {}),
      jobsPerSecond: Math.round(jobs / seconds),
      enqueuePerSecond: Math.round(jobs / enqueueSeconds),
      seconds: round(seconds, 3),
      serverCores: round(res.serverCores, 2),
      clientCores: round(res.clientCores, 2),
      serverPeakMiB: round(res.serverPeakMiB, 1),
    };
  } finally {
    await q.teardown();
  }
}

export async function throughput(o: ThroughputOptions) {
  log(`throughput: ${o.jobs} no-op jobs, concurrency ${CONCURRENCY}, ${o.rounds} round(s)`);
  const burn = await rounds('burn-down', o.ids, o.rounds, (q) => throughputOnce(q, o.jobs, 'burn'));
  const steady = await rounds('steady', o.ids, o.rounds, (q) => throughputOnce(q, o.jobs, 'steady'));
  return { jobs: o.jobs, concurrency: CONCURRENCY, burn, steady };
}

// ---------------------------------------------------------------------------------------------
// 2. Latency

export const HISTOGRAM_EDGES_MS = (() => {
  // Log-spaced bins from 0.1 ms to 10 s, 10 per decade.
  const edges: number[] = [];
  for (let i = -10; i <= 40; i++) edges.push(10 ** (i / 10));
  return edges;
})();

function histogram(samples: number[]): number[] {
  const counts = new Array<number>(HISTOGRAM_EDGES_MS.length - 1).fill(0);
  for (const s of samples) {
    let i = Math.floor(Math.log10(Math.max(s, 0.1)) * 10) + 10;
    i = Math.min(counts.length - 1, Math.max(0, i));
    counts[i]!++;
  }
  return counts;
}

/**
 * Enqueue → handler start with idle workers waiting (concurrency N). One job at a time: the
 * clock starts right before the add call and stops when the handler starts; the next sample
 * starts after the store has recorded the completion and 5 ms have passed (the workers are idle
 * again), plus a random part of the polling interval for queues that poll. Samples stop at
 * `samples` or after `budgetMs` (pg-boss polls: ~0.25 s each). Before them, a burst of jobs warms
 * up the JIT, then `warmup` samples settle the idle rhythm; neither is measured.
 */
async function latencyOnce(
  q: QueueUnderTest,
  samples: number,
  warmup: number,
  warmupJobs: number,
  budgetMs: number,
) {
  await q.setup();
  try {
    let started: (t: number) => void = () => {};
    await q.startWorkers(CONCURRENCY, () => started(performance.now()), 'latency');
    const out: number[] = [];
    let done = 0;
    // JIT warm-up: the JavaScript on the path (jobhub's hub, every client library and worker in
    // this process) runs optimised only after some thousands of calls, as it does in a server that
    // has been up for a minute. Every queue gets the same: `warmupJobs` jobs one after another, each
    // waiting for its handler like a sample but with no idle time, or 5 s, whichever ends first.
    /** One job: enqueue → handler start (the sample), then wait until the store recorded it. */
    const oneJob = async () => {
      const handlerStarted = new Promise<number>((r) => (started = r));
      const s0 = performance.now();
      const added = q.enqueueOne();
      const s1 = await handlerStarted;
      await added;
      await waitForCount(() => q.doneCount(), ++done, 30_000, 1);
      return s1 - s0;
    };
    const j0 = Date.now();
    for (let i = 0; i < warmupJobs && Date.now() - j0 < 5_000; i++) await oneJob();
    // Warm-up: `warmup` samples or one second, whichever ends first; then `samples`, or fewer
    // (at least 20) when the budget runs out.
    const w0 = Date.now();
    let t0 = 0;
    for (let i = 0, measured = false; out.length < samples; i++) {
      if (!measured && (i >= warmup || Date.now() - w0 > 1000)) {
        measured = true;
        t0 = Date.now();
      }
      if (measured && out.length >= 20 && Date.now() - t0 > budgetMs) break;
      await sleep(5 + Math.random() * (q.pollIntervalMs ?? 0));
      const ms = await oneJob();
      if (measured) out.push(ms);
    }
    await q.stopWorkers();
    return out;
  } finally {
    await q.teardown();
  }
}

export async function latency(o: {
  samples: number;
  warmup: number;
  warmupJobs: number;
  budgetMs: number;
  rounds: number;
  ids: string[];
}) {
  log(
    `latency: enqueue → handler start, ${o.samples} samples after ${o.warmupJobs} warm-up jobs, ${o.rounds} round(s)`,
  );
  const all: Record<string, number[]> = Object.fromEntries(o.ids.map((id) => [id, []]));
  const result = await rounds('latency', o.ids, o.rounds, async (q) => {
    const s = await latencyOnce(q, o.samples, o.warmup, o.warmupJobs, o.budgetMs);
    all[q.id]!.push(...s);
    s.sort((a, b) => a - b);
    return {
      samples: s.length,
      p50Ms: round(percentile(s, 50), 3),
      p95Ms: round(percentile(s, 95), 3),
      p99Ms: round(percentile(s, 99), 3),
      maxMs: round(s[s.length - 1]!, 3),
    };
  });
  const histograms = Object.fromEntries(o.ids.map((id) => [id, histogram(all[id]!)]));
  return {
    concurrency: CONCURRENCY,
    warmupJobs: o.warmupJobs,
    byQueue: result,
    histogramEdgesMs: HISTOGRAM_EDGES_MS.map((x) => round(x, 4)),
    histograms,
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Payloads

export interface PayloadSize {
  label: string;
  bytes: number;
  jobs: number;
}

/**
 * K jobs, each with its own input of S bytes (random, so nothing compresses or deduplicates);
 * the handler returns an output of S bytes (the input); the client then reads every output back
 * from the store. Clock: first add → last output read. Memory: peak of the serving processes
 * (hub; Redis; PostgreSQL, private memory) and of this process, sampled every 20 ms.
 */
async function payloadOnce(q: QueueUnderTest, size: PayloadSize): Promise<Metrics> {
  const base = randomBytes(size.bytes);
  const input = (i: number) => {
    const b = Buffer.from(base);
    b.writeUInt32BE(i, 0);
    return b;
  };
  await q.setup();
  try {
    await q.startWorkers(CONCURRENCY, (x) => x, 'throughput');
    const sampler = new ResourceSampler(() => q.serverProcesses(), 20);
    sampler.start();
    const t0 = performance.now();
    let ids: string[] = [];
    if (size.bytes <= 64 * 1024) {
      for (let i = 0; i < size.jobs; i += 1000)
        ids.push(...(await q.enqueueBatch(Math.min(1000, size.jobs - i), (j) => input(i + j))));
    } else {
      ids = new Array<string>(size.jobs);
      let next = 0;
      const one = async () => {
        while (next < size.jobs) {
          const i = next++;
          ids[i] = await q.enqueueOne(input(i));
        }
      };
      await Promise.all(Array.from({ length: Math.min(4, size.jobs) }, one));
    }
    await waitForCount(() => q.doneCount(), size.jobs, 600_000, 2);
    let next = 0;
    let bad = 0;
    const read = async () => {
      while (next < ids.length) {
        const i = next++;
        const out = await q.output(ids[i]!);
        if (!out || out.length !== size.bytes || out.readUInt32BE(0) !== i) bad++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, ids.length) }, read));
    const seconds = (performance.now() - t0) / 1000;
    const res = sampler.stop();
    if (bad) throw new Error(`${q.id}: ${bad} outputs missing or wrong`);
    await q.stopWorkers();
    return {
      jobs: size.jobs,
      seconds: round(seconds, 3),
      msPerJob: round((seconds * 1000) / size.jobs, 2),
      MBps: round((2 * size.jobs * size.bytes) / 1e6 / seconds, 1),
      serverPeakMiB: round(res.serverPeakMiB, 1),
      serverGrowthMiB: round(res.serverGrowthMiB, 1),
      clientGrowthMiB: round(res.clientGrowthMiB, 1),
    };
  } finally {
    await q.teardown();
  }
}

export async function payloads(o: { sizes: PayloadSize[]; rounds: number; ids: string[] }) {
  log(`payloads: ${o.sizes.map((s) => `${s.jobs} × ${s.label}`).join(', ')}, ${o.rounds} round(s)`);
  const bySize: Record<string, Record<string, Aggregated>> = {};
  for (const size of o.sizes)
    bySize[size.label] = await rounds(`payload ${size.label}`, o.ids, o.rounds, (q) => payloadOnce(q, size));
  return { sizes: o.sizes, bySize };
}

// ---------------------------------------------------------------------------------------------
// 4. Scale

/**
 * W idle workers, each registered and parked on a lease long-poll (its own keep-alive
 * connection). Measured once all are parked: the hub's RSS and CPU over a quiet window, then the
 * time from creating a job to one of them holding it.
 */
async function parkedOnce(store: 'sqlite' | 'pg', workers: number, windowMs: number): Promise<Metrics> {
  // Long-polls that outlast the parking of all workers: on a loaded machine parking 10,000 took
  // more than the default 30 s cap, and the first ones ended before the last ones parked.
  // Room for every parked worker's connection and the benchmark's own.
  const q = new JobhubQueue({ store, maxWaitMs: 600_000, maxConnections: workers + 1_000 });
  await q.setup();
  const pool = new Pool(q.url, {
    connections: workers + 16,
    pipelining: 1,
    keepAliveTimeout: 120_000,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const abort = new AbortController();
  setMaxListeners(Infinity, abort.signal); // one listener per parked request
  const post = async (path: string, body: unknown) => {
    const res = await pool.request({
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: abort.signal,
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`${path}: ${res.statusCode} ${text.slice(0, 200)}`);
    return JSON.parse(text);
  };
  try {
    const idleRss = rssMiB(q.hub!.pid);
    let got: (t: number) => void = () => {};
    const ids: string[] = [];
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < workers) {
          next++;
          ids.push((await post('/api/v1/workers', { runtimes: ['noop'], capacity: 1 })).id);
        }
      }),
    );
    const registerSeconds = (performance.now() - t0) / 1000;
    const loops = ids.map(async (id) => {
      while (!abort.signal.aborted) {
        try {
          const r = await post(`/api/v1/workers/${id}/lease`, { limit: 1, waitMs: 600_000 });
          const job = r.jobs[0];
          if (!job) continue;
          got(performance.now());
          await post(`/api/v1/jobs/${job.id}/complete`, { token: job.token });
        } catch {
          if (abort.signal.aborted) return;
          await sleep(100);
        }
      }
    });
    await q.waitParked(workers, 600_000);
    const parkSeconds = (performance.now() - t0) / 1000;
    await sleep(1000);
    const cpu0 = cpuSeconds(q.hub!.pid);
    const w0 = performance.now();
    await sleep(windowMs);
    const idleCores = (cpuSeconds(q.hub!.pid) - cpu0) / ((performance.now() - w0) / 1000);
    const parkedRss = rssMiB(q.hub!.pid);
    // A job to one of the 10,000: create → a worker holds it.
    const lat: number[] = [];
    for (let i = 0; i < 30; i++) {
      const holds = new Promise<number>((r) => (got = r));
      const s0 = performance.now();
      await q.enqueueOne();
      lat.push((await holds) - s0);
      await q.waitParked(workers, 30_000);
    }
    lat.sort((a, b) => a - b);
    abort.abort();
    await pool.destroy();
    await Promise.allSettled(loops);
    return {
      workers,
      registerPerSecond: Math.round(workers / registerSeconds),
      secondsToPark: round(parkSeconds, 2),
      hubIdleRssMiB: round(idleRss, 1),
      hubParkedRssMiB: round(parkedRss, 1),
      // The figure of the 10,000-parked-workers target: hub RSS with all parked, less idle.
      hubAboveIdleMiB: round(parkedRss - idleRss, 1),
      kibPerParkedWorker: round(((parkedRss - idleRss) * 1024) / workers, 2),
      hubCpuPctParked: round(idleCores * 100, 2),
      hubPeakRssMiB: round(q.hubPeakMiB(), 1),
      jobToParkedP50Ms: round(percentile(lat, 50), 2),
    };
  } finally {
    abort.abort();
    await pool.destroy().catch(() => {});
    await q.teardown();
  }
}

/**
 * Cycle time under a backlog: Q jobs queued, then one worker with one job in flight takes them
 * one by one; the sample is the time between two handler starts (report the previous job +
 * dequeue the next). Compared at Q = 1,000 and Q = 1,000,000. Before the samples, the same
 * worker runs up to `BACKLOG_WARM_UP` cycles (at most 5 s) on jobs queued beyond Q, for every queue
 * alike: with 20, a JIT-compiled server (jobhub's hub) was measured mostly unoptimised, 1.26 ms
 * against 0.5 ms once warm, while the peers' servers are C.
 */
/** Cycles run before the backlog samples (see backlogOnce). */
const BACKLOG_WARM_UP = 1_000;

async function backlogOnce(
  q: QueueUnderTest,
  queued: number,
  samples: number,
  budgetMs: number,
): Promise<Metrics> {
  await q.setup();
  try {
    const e0 = performance.now();
    await produce(q, queued);
    const enqueueSeconds = (performance.now() - e0) / 1000;
    await produce(q, BACKLOG_WARM_UP);
    const serverAfterEnqueue = new ResourceSampler(() => q.serverProcesses());
    serverAfterEnqueue.start();
    const serverMiB = serverAfterEnqueue.stop().serverPeakMiB;
    const starts: number[] = [];
    let enough: () => void = () => {};
    const gotEnough = new Promise<void>((r) => (enough = r));
    // Starts of the warm-up: up to BACKLOG_WARM_UP cycles or 5 s, whichever ends first.
    let warm = Infinity;
    await q.startWorkers(
      1,
      () => {
        const now = performance.now();
        starts.push(now);
        if (warm === Infinity && (starts.length >= BACKLOG_WARM_UP || now - starts[0]! > 5_000))
          warm = starts.length;
        if (starts.length === warm + samples + 1) enough();
      },
      'serial',
    );
    // Slow queues (pg-boss under a big backlog) stop at the time budget, with at least 10 cycles.
    await Promise.race([
      gotEnough,
      waitUntil(() => warm !== Infinity, 120_000)
        .then(() => sleep(budgetMs))
        .then(() => waitUntil(() => starts.length >= warm + 11, 120_000)),
    ]);
    await q.stopWorkers();
    const cycles = starts
      .slice(warm, warm + samples + 1)
      .map((t, i, a) => (i === 0 ? NaN : t - a[i - 1]!))
      .slice(1);
    cycles.sort((a, b) => a - b);
    return {
      queued,
      enqueuePerSecond: Math.round(queued / enqueueSeconds),
      serverMiBQueued: round(serverMiB, 1),
      cycleP50Ms: round(percentile(cycles, 50), 3),
      cycleP99Ms: round(percentile(cycles, 99), 3),
      cycles: cycles.length,
      cyclesPerSecond: Math.round(1000 / (cycles.reduce((s, x) => s + x, 0) / cycles.length)),
    };
  } finally {
    await q.teardown();
  }
}

export async function scale(o: {
  parkedWorkers: number;
  windowMs: number;
  stores: ('sqlite' | 'pg')[];
  backlog: number[];
  samples: number;
  budgetMs: number;
  ids: string[];
}) {
  log(`scale: ${o.parkedWorkers} parked workers; backlogs ${o.backlog.join(', ')}`);
  const parked: Record<string, Metrics> = {};
  for (const store of o.stores) {
    const t0 = performance.now();
    parked[`jobhub-${store}`] = await parkedOnce(store, o.parkedWorkers, o.windowMs);
    log(
      `  parked jobhub-${store} ${fmtMetrics(parked[`jobhub-${store}`]!)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
  const backlog: Record<string, Record<string, Metrics>> = {};
  for (const queued of o.backlog) {
    const r = await rounds(`backlog ${queued}`, o.ids, 1, (q) =>
      backlogOnce(q, queued, o.samples, o.budgetMs),
    );
    backlog[String(queued)] = Object.fromEntries(
      Object.entries(r).map(([id, agg]) => [
        id,
        Object.fromEntries(Object.entries(agg).map(([k, s]) => [k, s.median])),
      ]),
    );
  }
  return { parked, backlog, backlogSizes: o.backlog, samples: o.samples };
}

// ---------------------------------------------------------------------------------------------
// 5. Contest (portal)

/** Whether the portal's benchmarker endpoint (/internal/job/dequeue/) exists in this build. */
export function contestAvailable(): boolean {
  const dir = new URL('../src/http/internal/', import.meta.url).pathname;
  if (!existsSync(dir) || !existsSync(new URL('./portal.ts', import.meta.url).pathname)) return false;
  return readdirSync(dir).some(
    (f) => f.endsWith('.ts') && readFileSync(dir + f, 'utf8').includes('/internal/job/dequeue'),
  );
}

/**
 * The contest scenario is bench/portal.ts (the portal's own benchmark: a hub with 500 teams and
 * 50 benchmarkers on their own loopback addresses, dequeue → report cycles, the leaderboard read
 * at 20 requests/s meanwhile). It runs as a child process; its closing JSON is the result.
 */
export async function contest(o: { seconds: number }): Promise<Record<string, unknown>> {
  log(`contest: bench/portal.ts --seconds ${o.seconds}`);
  const script = new URL('./portal.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--seconds', String(o.seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const start = out.search(/^\{/m);
  if (code !== 0 || start < 0) throw new Error(`bench/portal.ts exited with ${code}: ${out.slice(-500)}`);
  const result = JSON.parse(out.slice(start)) as Record<string, unknown>;
  log(`  ${JSON.stringify(result)}`);
  return result;
}

export { agentAvailable };

// ---------------------------------------------------------------------------------------------
// The report: docs/benchmarks.md (between the generated markers) and docs/img/bench-*.png

const COLORS: Record<string, Rgb> = {
  'jobhub-sqlite': [31, 119, 180],
  'jobhub-pg': [23, 190, 207],
  'jobhub-sqlite-agent': [94, 60, 153],
  'jobhub-pg-agent': [140, 200, 230],
  'jobhub-sqlite-relaxed': [120, 160, 200],
  'jobhub-pg-relaxed': [120, 210, 215],
  bullmq: [214, 39, 40],
  'bullmq-durable': [227, 119, 194],
  pgboss: [255, 127, 14],
  graphile: [44, 160, 44],
};

export function labelOf(id: string): string {
  return makeQueue(id).label;
}

const BEGIN = '<!-- generated by `npm run bench`: begin -->';
const END = '<!-- generated by `npm run bench`: end -->';

const n0 = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? '–' : Math.round(x).toLocaleString('en-US');
const n2 = (x: number | undefined) => {
  if (x === undefined || !Number.isFinite(x)) return '–';
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
};
/** "median (min–max)" or just the value for one round. */
function sp(s: Spread | undefined, f = n0): string {
  if (!s) return '–';
  if (s.rounds.length < 2 || s.min === s.max) return f(s.median);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

const isJobhub = (id: string) => id.startsWith('jobhub');

/** Writes the charts and the generated part of docs/benchmarks.md; returns the report's path. */
export function writeReport(r: Record<string, any>, resultsFile: string): string {
  mkdirSync('docs/img', { recursive: true });
  const md: string[] = [];
  const colorOf = (label: string, id: string) => [label, COLORS[id] ?? ([120, 120, 120] as Rgb)] as const;
  const m = r.machine;
  md.push(
    `Run: \`${r.command}\` on ${r.date.slice(0, 16).replace('T', ' ')} UTC, ${r.seconds} s; results in \`${resultsFile}\`.`,
    `Machine: ${m.cpus} × ${m.cpu}, ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}; Redis ${m.redis} (no persistence), PostgreSQL ${m.postgres} (stock settings, durable commits).`,
    `Versions: ${Object.entries(r.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}. Build: ${r.build}.`,
    `Rounds: ${r.rounds} for throughput and latency${r.quick ? ' (quick run: fewer jobs and samples)' : ''}; every round runs each queue once, in a rotated order. Tables give the median and (min–max) over the rounds.`,
    '',
  );
  const inter = Object.entries(r.interference ?? {}) as [string, any][];
  if (inter.length) {
    md.push(
      'Other processes on the machine during the run (CPU not used by the benchmark, Redis or PostgreSQL):',
      '',
      '| scenario | seconds | other processes, cores on average | highest 1-min load average | busiest |',
      '|---|---|---|---|---|',
      ...inter.map(
        ([k, v]) =>
          `| ${k} | ${v.seconds} | ${v.otherCores} | ${v.maxLoadAvg} | ${v.top.map((t: any) => `\`${t.command.replace(/\|/g, '/')}\` ${t.cpuSeconds} s`).join('; ') || '–'} |`,
      ),
      '',
    );
  }
  md.push(
    `Real agent: ${r.agent.used ? 'used for the throughput scenario (`jobhub (…, agent)` rows)' : r.agent.available ? 'available but not used (--no-agent)' : 'not in this build (`jobhub worker` is missing), so jobhub workers are simulated over HTTP with the native worker protocol in every scenario'}.`,
    '',
  );

  // --- Targets
  const t = r.throughput;
  const l = r.latency;
  if (t || l) {
    md.push('### Targets: jobhub against the best peer of the same run', '');
    md.push(
      '| jobhub on | burn-down jobs/s (best peer) | × | steady jobs/s (best peer) | × | latency p50 ms (best peer) | × |',
      '|---|---|---|---|---|---|---|',
    );
    const rowsOf = [
      ['sqlite', 'jobhub-sqlite', 'SQLite'],
      ['pg', 'jobhub-pg', 'PostgreSQL'],
      ['sqlite', 'jobhub-sqlite-agent', 'SQLite, real agent (Lua no-op)'],
      ['pg', 'jobhub-pg-agent', 'PostgreSQL, real agent (Lua no-op)'],
      ['sqlite', 'jobhub-sqlite-relaxed', 'SQLite, `--durability relaxed`'],
      ['pg', 'jobhub-pg-relaxed', 'PostgreSQL, `--durability relaxed`'],
    ] as const;
    for (const [, id, storeLabel] of rowsOf) {
      const agentRow = id.endsWith('-agent');
      const tt = agentRow ? t?.agent : t;
      if (!tt?.burn?.[id] && (agentRow || !l?.byQueue?.[id])) continue;
      const best = (mode: 'burn' | 'steady') => {
        const peers = Object.keys(t?.[mode] ?? {}).filter((x) => !isJobhub(x));
        let bestId = '';
        let bestV = -1;
        for (const p of peers)
          if (t[mode][p].jobsPerSecond.median > bestV) [bestId, bestV] = [p, t[mode][p].jobsPerSecond.median];
        return { id: bestId, v: bestV };
      };
      const cell = (mode: 'burn' | 'steady') => {
        const ours = tt?.[mode]?.[id]?.jobsPerSecond.median;
        const b = best(mode);
        if (ours === undefined || !b.id) return ['–', '–'];
        const ratio = ours / b.v;
        return [
          `${n0(ours)} (${labelOf(b.id)} ${n0(b.v)})`,
          `${ratio.toFixed(2)}× ${ratio >= 1 ? '✅' : '❌'}`,
        ];
      };
      let lat = ['–', '–'];
      if (!agentRow && l?.byQueue?.[id]) {
        const peers = Object.keys(l.byQueue).filter((x) => !isJobhub(x));
        const bid = peers.sort((a, b) => l.byQueue[a].p50Ms.median - l.byQueue[b].p50Ms.median)[0];
        if (bid) {
          const ours = l.byQueue[id].p50Ms.median;
          const theirs = l.byQueue[bid].p50Ms.median;
          lat = [
            `${n2(ours)} (${labelOf(bid)} ${n2(theirs)})`,
            `${(ours / theirs).toFixed(2)}× ${ours <= theirs ? '✅' : '❌'}`,
          ];
        }
      }
      md.push(
        `| ${storeLabel} | ${cell('burn').join(' | ')} | ${cell('steady').join(' | ')} | ${lat.join(' | ')} |`,
      );
    }
    md.push('', "Throughput targets: ≥ 1.0× the best peer; latency: ≤ 1.0× the best peer's p50.", '');
  }

  // --- Throughput
  if (t) {
    const a = t.agent as
      | { jobs: number; rounds: number; burn: Record<string, Aggregated>; steady: Record<string, Aggregated> }
      | undefined;
    const both = {
      burn: { ...t.burn, ...(a?.burn ?? {}) },
      steady: { ...t.steady, ...(a?.steady ?? {}) },
    } as Record<'burn' | 'steady', Record<string, Aggregated>>;
    const ids = Object.keys(both.burn);
    md.push(`### 1. Throughput: ${n0(t.jobs)} no-op jobs, concurrency ${t.concurrency}`, '');
    md.push('![throughput](img/bench-throughput.png)', '');
    md.push(
      '| queue | burn-down jobs/s | steady jobs/s | bulk enqueue jobs/s (burn-down) | server cores (burn / steady) | client cores (burn / steady) | server peak MiB |',
      '|---|---|---|---|---|---|---|',
    );
    for (const id of ids) {
      const b = both.burn[id]!;
      const s = both.steady[id];
      const agentNote = a?.burn[id] ? ` ¹` : '';
      const client = b.agentCores
        ? `${n2(b.clientCores?.median)} + agent ${n2(b.agentCores.median)} / ${n2(s?.clientCores?.median)} + agent ${n2(s?.agentCores?.median)}`
        : `${n2(b.clientCores?.median)} / ${n2(s?.clientCores?.median)}`;
      md.push(
        `| ${labelOf(id)}${agentNote} | ${sp(b.jobsPerSecond)} | ${sp(s?.jobsPerSecond)} | ${sp(b.enqueuePerSecond)} | ${n2(b.serverCores?.median)} / ${n2(s?.serverCores?.median)} | ${client} | ${n0(Math.max(b.serverPeakMiB!.median, s?.serverPeakMiB?.median ?? 0))} |`,
      );
    }
    md.push(
      '',
      "Server: the hub process (plus every PostgreSQL process for jobhub on PostgreSQL), Redis, or every PostgreSQL process; client: this benchmark process (producers, and the peers' worker libraries or jobhub's simulated workers); agent: the `jobhub worker` process. 1.0 core = one CPU fully busy.",
      '',
    );
    if (a)
      md.push(
        `¹ The real agent, \`jobhub worker --runtimes dlabLua54 --concurrency ${t.concurrency}\`, running the Lua no-op in its sandbox: ${n0(a.jobs)} jobs, ${a.rounds} round(s), because it is about ten times slower than the hub.`,
        '',
      );
    writeFileSync(
      'docs/img/bench-throughput.png',
      barChart({
        title: `Throughput: ${n0(t.jobs)} no-op jobs, concurrency ${t.concurrency}`,
        note: `jobs/s, median of ${r.rounds} round(s), whiskers min-max; higher is better`,
        unit: 'jobs/s',
        colors: Object.fromEntries(ids.map((id) => colorOf(labelOf(id), id))),
        groups: (['burn', 'steady'] as const).map((mode) => ({
          label: mode === 'burn' ? 'burn-down' : 'steady',
          bars: ids.map((id) => {
            const s = both[mode][id]?.jobsPerSecond as Spread | undefined;
            return { series: labelOf(id), value: s?.median ?? NaN, min: s?.min, max: s?.max };
          }),
        })),
      }),
    );
  }

  // --- Latency
  if (l) {
    const ids = Object.keys(l.byQueue);
    md.push(
      `### 2. Latency: enqueue → handler start, idle workers waiting (concurrency ${l.concurrency})`,
      '',
    );
    if (l.warmupJobs)
      md.push(
        `Each queue ran ${n0(l.warmupJobs)} jobs back to back (or 5 s) before its samples, so that the JavaScript on the path runs optimised, as in a server that has been up for a minute.`,
        '',
      );
    md.push(
      '![latency histogram](img/bench-latency.png)',
      '',
      '![latency percentiles](img/bench-latency-pct.png)',
      '',
    );
    md.push('| queue | samples per round | p50 ms | p95 ms | p99 ms | max ms |', '|---|---|---|---|---|---|');
    for (const id of ids) {
      const q = l.byQueue[id];
      md.push(
        `| ${labelOf(id)} | ${n0(q.samples.median)} | ${sp(q.p50Ms, n2)} | ${sp(q.p95Ms, n2)} | ${sp(q.p99Ms, n2)} | ${sp(q.maxMs, n2)} |`,
      );
    }
    md.push('');
    const f = l.floors as
      | { idleMs: number; samples: number; durableWrite?: Floor; redisPing?: Floor; httpRoundTrip?: Floor }
      | undefined;
    if (f) {
      const row = (what: string, x: Floor | undefined) =>
        x ? [`| ${what} | ${n2(x.p10Ms)} | ${n2(x.p50Ms)} | ${n2(x.p90Ms)} |`] : [];
      md.push(
        `What the machine charges for the pieces, measured in this run the same way (one at a time after ${f.idleMs} ms idle, ${f.samples} samples; \`bench/floors.ts\`):`,
        '',
        '| operation | p10 ms | p50 ms | p90 ms |',
        '|---|---|---|---|',
        ...row("4 KiB write + `fdatasync` in the hubs' data directory (one durable commit)", f.durableWrite),
        ...row("Redis `PING` round trip (the unit of BullMQ's protocol)", f.redisPing),
        ...row("HTTP round trip, HubClient → bare node:http server (the unit of jobhub's)", f.httpRoundTrip),
        '',
      );
    }
    writeFileSync(
      'docs/img/bench-latency.png',
      latencyHistogram({
        title: 'Latency: enqueue -> handler start, idle workers waiting',
        note: `all rounds' samples; dashed line: p50 (median of rounds); further left is better`,
        edges: l.histogramEdgesMs,
        series: ids.map((id) => ({
          name: labelOf(id),
          color: COLORS[id] ?? [120, 120, 120],
          counts: l.histograms[id],
          p50: l.byQueue[id].p50Ms.median,
        })),
      }),
    );
    writeFileSync(
      'docs/img/bench-latency-pct.png',
      barChart({
        title: 'Latency percentiles: enqueue -> handler start',
        note: 'ms, log scale, median of the rounds, whiskers min-max; lower is better',
        unit: 'ms (log scale)',
        log: true,
        colors: Object.fromEntries(ids.map((id) => colorOf(labelOf(id), id))),
        groups: (['p50Ms', 'p95Ms', 'p99Ms'] as const).map((k) => ({
          label: k.slice(0, 3),
          bars: ids.map((id) => ({
            series: labelOf(id),
            value: l.byQueue[id][k].median,
            min: l.byQueue[id][k].min,
            max: l.byQueue[id][k].max,
          })),
        })),
      }),
    );
  }

  // --- Payloads
  const p = r.payloads;
  if (p) {
    const labels = p.sizes.map((s: PayloadSize) => s.label) as string[];
    const ids = Object.keys(p.bySize[labels[0]!]);
    md.push('### 3. Payloads: input and output of the same size, end to end', '');
    md.push(
      '![payload time](img/bench-payloads-time.png)',
      '',
      '![payload memory](img/bench-payloads-memory.png)',
      '',
    );
    md.push(
      '| size × jobs | queue | ms per job | MB/s (in + out) | server peak MiB | server growth MiB | client growth MiB |',
      '|---|---|---|---|---|---|---|',
    );
    for (const size of p.sizes as PayloadSize[]) {
      for (const id of ids) {
        const q = p.bySize[size.label][id];
        md.push(
          `| ${size.label} × ${size.jobs} | ${labelOf(id)} | ${sp(q.msPerJob, n2)} | ${sp(q.MBps, n2)} | ${sp(q.serverPeakMiB)} | ${sp(q.serverGrowthMiB)} | ${sp(q.clientGrowthMiB)} |`,
        );
      }
    }
    md.push(
      '',
      "Server peak: the hub's resident memory; Redis's resident memory; for PostgreSQL, the private memory of all its processes (shared buffers are not counted). Growth: peak minus the value when the scenario started.",
      '',
    );
    const bars = (key: string) =>
      labels.map((label) => ({
        label,
        bars: ids.map((id) => {
          const s = p.bySize[label][id]?.[key] as Spread | undefined;
          return { series: labelOf(id), value: s?.median ?? NaN, min: s?.min, max: s?.max };
        }),
      }));
    const colors = Object.fromEntries(ids.map((id) => colorOf(labelOf(id), id)));
    writeFileSync(
      'docs/img/bench-payloads-time.png',
      barChart({
        title: 'Payloads: time per job, enqueue to output read back',
        note: 'ms per job, log scale; lower is better',
        unit: 'ms per job (log scale)',
        log: true,
        colors,
        groups: bars('msPerJob'),
      }),
    );
    writeFileSync(
      'docs/img/bench-payloads-memory.png',
      barChart({
        title: 'Payloads: peak memory of the serving processes',
        note: 'MiB (hub RSS; Redis RSS; PostgreSQL private memory), log scale; lower is better',
        unit: 'MiB (log scale)',
        log: true,
        colors,
        groups: bars('serverPeakMiB'),
      }),
    );
  }

  // --- Scale
  const s = r.scale;
  if (s) {
    md.push('### 4. Scale', '');
    const parked = Object.entries(s.parked) as [string, Metrics][];
    if (parked.length) {
      md.push(`#### ${n0(parked[0]![1].workers)} idle workers parked on a lease long-poll (jobhub only)`, '');
      md.push(
        '| hub | register workers/s | seconds until all parked | hub RSS idle → parked MiB | above idle MiB | KiB per parked worker | hub CPU while parked | hub peak MiB | new job → a parked worker holds it, p50 ms |',
        '|---|---|---|---|---|---|---|---|---|',
      );
      for (const [id, v] of parked) {
        md.push(
          `| ${labelOf(id)} | ${n0(v.registerPerSecond)} | ${n2(v.secondsToPark)} | ${n2(v.hubIdleRssMiB)} → ${n2(v.hubParkedRssMiB)} | ${n2(v.hubAboveIdleMiB ?? v.hubParkedRssMiB! - v.hubIdleRssMiB!)} | ${n2(v.kibPerParkedWorker)} | ${n2(v.hubCpuPctParked)}% | ${n2(v.hubPeakRssMiB)} | ${n2(v.jobToParkedP50Ms)} |`,
        );
      }
      md.push(
        '',
        'The peers have no equivalent: their workers are concurrency slots inside one process sharing one connection or poll loop, so 10,000 idle workers there means 10,000 database connections (BullMQ: one blocking Redis connection each) or 10,000 pollers (pg-boss: 20,000 queries/s at its 0.5 s minimum interval).',
        '',
      );
    }
    const sizes = (s.backlogSizes as number[]).map(String);
    if (sizes.length) {
      const ids = Object.keys(s.backlog[sizes[0]!]);
      md.push(
        `#### Cycle time under a backlog: ${sizes.map((x) => n0(Number(x))).join(' vs ')} jobs queued`,
        '',
      );
      md.push('![backlog](img/bench-backlog.png)', '');
      md.push(
        `One worker with one job in flight takes ${s.samples} jobs; a cycle is the time between two handler starts (report the previous job + dequeue the next).`,
        '',
      );
      md.push(
        `| queue | ${sizes.map((x) => `${n0(Number(x))} queued: cycle p50 / p99 ms`).join(' | ')} | bulk enqueue of ${n0(Number(sizes[sizes.length - 1]))}, jobs/s | server MiB with ${n0(Number(sizes[sizes.length - 1]))} queued |`,
      );
      md.push(`|---|${sizes.map(() => '---|').join('')}---|---|`);
      for (const id of ids) {
        const last = s.backlog[sizes[sizes.length - 1]!][id];
        md.push(
          `| ${labelOf(id)} | ${sizes.map((x) => `${n2(s.backlog[x][id]?.cycleP50Ms)} / ${n2(s.backlog[x][id]?.cycleP99Ms)}`).join(' | ')} | ${n0(last?.enqueuePerSecond)} | ${n0(last?.serverMiBQueued)} |`,
        );
      }
      md.push('');
      writeFileSync(
        'docs/img/bench-backlog.png',
        barChart({
          title: 'Cycle time (report + dequeue, one job in flight) by backlog',
          note: 'p50 ms, log scale; lower is better',
          unit: 'ms (log scale)',
          log: true,
          colors: Object.fromEntries(ids.map((id) => colorOf(labelOf(id), id))),
          groups: sizes.map((x) => ({
            label: `${n0(Number(x))} queued`,
            bars: ids.map((id) => ({ series: labelOf(id), value: s.backlog[x][id]?.cycleP50Ms ?? NaN })),
          })),
        }),
      );
    }
  }

  // --- Contest
  const k = r.contest;
  if (k?.todo) md.push('### 5. Contest (portal)', '', `**${k.todo}**`, '');
  else if (k) {
    const lb = (x: any) => (x ? `${n2(x.p50)} / ${n2(x.p99)} / ${n2(x.max)}` : '–');
    md.push(
      `### 5. Contest (portal): ${n0(k.teams)} teams, ${n0(k.benchmarkers)} benchmarkers (jobhub only, SQLite)`,
      '',
      `Benchmarkers loop \`POST /internal/job/dequeue/\` → \`POST /internal/job/{id}/report/\` from their own loopback addresses; each reported team enqueues again; the leaderboard is read at ${n0(k.leaderboardRate)} requests/s meanwhile (half with a team session). Source: \`bench/portal.ts\`.`,
      '',
      '| phase | seconds | dequeue + report cycles/s | empty dequeues | leaderboard p50 / p99 / max ms |',
      '|---|---|---|---|---|',
      `| saturated (benchmark takes 0 s) | ${n2(k.saturated?.seconds)} | ${n2(k.saturated?.cyclesPerSecond)} | ${n0(k.saturated?.emptyDequeues)} | ${lb(k.saturated?.leaderboard)} |`,
      `| contest-like (benchmark takes 1 s) | ${n2(k.contestLike?.seconds)} | ${n2(k.contestLike?.cyclesPerSecond)} | ${n0(k.contestLike?.emptyDequeues)} | ${lb(k.contestLike?.leaderboard)} |`,
      `| idle (no benchmarkers) | – | – | – | ${lb(k.leaderboardIdle)} |`,
      '',
      "The peers have no counterpart (a contest portal is jobhub's own feature), so this scenario runs jobhub alone.",
      '',
    );
  }

  // --- Settings
  if (r.settings) {
    md.push(
      '### Settings used',
      '',
      '| queue | throughput | latency | backlog (one job in flight) |',
      '|---|---|---|---|',
    );
    for (const [id, v] of Object.entries(r.settings) as [string, Record<string, string>][])
      md.push(`| ${labelOf(id)} | ${v.throughput} | ${v.latency} | ${v.serial} |`);
    md.push('');
  }

  const generated = `${BEGIN}\n${md.join('\n')}\n${END}`;
  const path = 'docs/benchmarks.md';
  let doc = existsSync(path) ? readFileSync(path, 'utf8') : '';
  if (doc.includes(BEGIN) && doc.includes(END))
    doc = doc.slice(0, doc.indexOf(BEGIN)) + generated + doc.slice(doc.indexOf(END) + END.length);
  else
    doc = `# Benchmarks: jobhub, BullMQ, pg-boss and Graphile Worker\n\nMethod: [bench/README.md](../bench/README.md).\n\n## Results\n\n${generated}\n`;
  writeFileSync(path, doc);
  return path;
}
