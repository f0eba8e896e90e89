/**
 * `node --import tsx bench/js.ts [--jobs=20000] [--concurrency=50]`: the `js` runtime's numbers.
 *
 * 1. No-op throughput: a hub (`jobhub server`, SQLite, defaults) and a worker (`jobhub worker
 *    --runtimes js --concurrency N`), each in its own process from the compiled build. No-op JS
 *    jobs (`export default async function fetch(input) { return input; }`, input "x") are created
 *    in batches of 1,000, four in flight; the clock runs from the first create until none is
 *    queued or running.
 * 2. Fresh context cost: `JsRuntime.run()` of the no-op called directly (no hub), one at a time,
 *    after 50 warm-up runs; the engine thread's own measure of each job's new QuickJS runtime,
 *    context and sandbox prelude (p50/p90), and the whole run() round trip.
 *    With `--compare-lua`, the same for the Lua no-op, as a baseline taken at the same moment.
 * 3. Cooperative awaits: 200 jobs of `await sleep(1000)` on a worker with `--concurrency 200`
 *    (engine threads: one per core, here 2): seconds from the first create until all are done.
 *
 * Runs through the agent also report CPU per job (ms) of the worker, the hub, this process (the
 * client creating the jobs), and each of the worker's threads (from /proc): where the cores went,
 * with no profiler in the way.
 * `HUB_ARGS='--durability relaxed'` passes flags to `jobhub server`.
 * `--only=noop,context,sleep` picks measures; `--profile=DIR` runs the worker with `--cpu-prof`
 * (a profile per thread); `--timeline` prints when jobs were created, leased and finished.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { JsRuntime } from '../src/agent/runtimes/js/runtime.js';
import type { RunContext } from '../src/agent/runtimes/runtime.js';
import { argValue, Client, numberArg, percentile, round, startHubProcess } from './lib.js';
import { cpuSeconds } from './peers/peer.js';

const JOBS = numberArg('jobs', 20_000);
const CONCURRENCY = numberArg('concurrency', 50);
const ROOT = new URL('..', import.meta.url).pathname;
const NOOP = 'export default async function fetch(input) { return input; }\n';
/** `--profile=DIR`: the worker runs with `--cpu-prof` into DIR (one profile per thread). */
const PROFILE_DIR = argValue('profile');
/** `--timeline`: when the jobs were created, leased and finished, on stderr. */
const TIMELINE = process.argv.includes('--timeline');
/** `--only=noop,context,sleep`: a subset of the three measures. */
const ONLY = new Set((argValue('only') ?? 'noop,context,sleep').split(','));

function startWorker(hub: string, concurrency: number, runtime: string): ChildProcess {
  return spawn(
    process.execPath,
    [
      ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
      join(ROOT, 'bin/jobhub.js'),
      'worker',
      '--hub',
      hub,
      '--runtimes',
      runtime,
      '--concurrency',
      String(concurrency),
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
}

const sumCpu = (u: NodeJS.CpuUsage) => u.user + u.system;

/** CPU seconds of each thread of process `pid`, by thread id. */
function threadCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    out.set(Number(tid), (Number(f[11]) + Number(f[12])) / 100);
  }
  return out;
}

/** When the jobs were created, leased and finished (first, median, last), ms after the first create. */
async function timeline(client: Client) {
  type Times = { createdAt: string; startedAt: string; finishedAt: string };
  const all = (await client.json<{ jobs: Times[] }>('GET', '/api/v1/jobs?limit=1000')).body.jobs;
  const base = Math.min(...all.map((j) => Date.parse(j.createdAt)));
  const at = (k: keyof Times) => {
    const xs = all.map((j) => Date.parse(j[k]) - base).sort((a, b) => a - b);
    return [xs[0], xs[Math.floor(xs.length / 2)], xs[xs.length - 1]];
  };
  return { created: at('createdAt'), started: at('startedAt'), finished: at('finishedAt') };
}

/** Creates `n` jobs of `code` and waits until none is queued or running; returns seconds. */
async function runJobs(concurrency: number, code: string, n: number, batch: number, runtime = 'js') {
  const hub = await startHubProcess();
  const client = new Client(hub.url, 8);
  const worker = startWorker(hub.url, concurrency, runtime);
  try {
    const blob = await client.pool.request({ method: 'POST', path: '/api/v1/blobs', body: code });
    const codeBlobId = ((await blob.body.json()) as { id: string }).id;
    const f = await client.json<{ id: string }>('POST', '/api/v1/functions', { runtime, codeBlobId });
    while ((await client.json<{ workers: unknown[] }>('GET', '/api/v1/workers')).body.workers.length === 0)
      await new Promise((r) => setTimeout(r, 50));
    // Let the engine threads start before the clock does.
    await new Promise((r) => setTimeout(r, 1_000));
    const t0 = performance.now();
    const cpu0 = { worker: cpuSeconds(worker.pid!), hub: cpuSeconds(hub.pid), client: process.cpuUsage() };
    const threads0 = threadCpu(worker.pid!);
    const batches: Promise<unknown>[] = [];
    for (let made = 0; made < n; made += batch) {
      const k = Math.min(batch, n - made);
      batches.push(
        client.json('POST', '/api/v1/jobs/batch', {
          jobs: Array.from({ length: k }, () => ({ function: f.body.id, input: { text: 'x' } })),
        }),
      );
      if (batches.length >= 4) await batches.shift();
    }
    await Promise.all(batches);
    while (
      (await client.json<{ jobs: unknown[] }>('GET', '/api/v1/jobs?state=queued,running&limit=1')).body.jobs
        .length > 0
    )
      await new Promise((r) => setTimeout(r, 10));
    const secs = (performance.now() - t0) / 1000;
    if (TIMELINE) console.error(JSON.stringify({ timeline: await timeline(client) }));
    // CPU per job, in ms: where the machine's two cores went.
    const cpuMsPerJob = {
      worker: round(((cpuSeconds(worker.pid!) - cpu0.worker) * 1000) / n, 3),
      hub: round(((cpuSeconds(hub.pid) - cpu0.hub) * 1000) / n, 3),
      // This process: creating the jobs over HTTP and polling for the end (the machine's third user).
      client: round(sumCpu(process.cpuUsage(cpu0.client)) / 1000 / n, 3),
      // The worker's threads: its main thread, then the others (engine threads, V8's helpers),
      // busiest first.
      workerThreads: [...threadCpu(worker.pid!)]
        .map(([tid, s]) => [tid, round(((s - (threads0.get(tid) ?? 0)) * 1000) / n, 3)] as const)
        .filter(([, ms]) => ms >= 0.005)
        .sort((x, y) => (x[0] === worker.pid ? -1 : y[0] === worker.pid ? 1 : y[1] - x[1]))
        .map(([, ms]) => ms),
    };
    const failed = (await client.json<{ jobs: unknown[] }>('GET', '/api/v1/jobs?state=failed&limit=1000'))
      .body.jobs.length;
    return { secs, failed, cpuMsPerJob };
  } finally {
    const exited = new Promise((r) => worker.once('exit', r));
    worker.kill('SIGTERM');
    await exited;
    await client.close();
    await hub.stop();
  }
}

function ctx(input: Buffer): RunContext {
  return {
    jobId: 'bench',
    runtime: 'js',
    input: { size: input.length, bytes: async () => input, stream: async () => Readable.from([input]) },
    limits: {
      timeoutMs: 10_000,
      wallMs: 10_000,
      cpuMs: 10_000,
      memoryBytes: 256 * 1024 ** 2,
      outputBytes: 1024 ** 2,
    },
    signal: new AbortController().signal,
    log: () => {},
    progress: () => {},
    blobs: { get: async () => Buffer.alloc(0), put: async () => '0' },
  };
}

async function contextCost(n: number) {
  const rt = new JsRuntime({ threads: 1, memoryBytes: 256 * 1024 ** 2 });
  await rt.ready();
  const prepared = await rt.prepare({ sha256: 'noop', bytes: Buffer.from(NOOP) });
  const times: number[] = [];
  for (let i = 0; i < n + 50; i++) {
    const t = performance.now();
    const r = await rt.run(prepared, ctx(Buffer.from('x')));
    if (!r.ok) throw new Error(JSON.stringify(r));
    if (i >= 50) times.push(performance.now() - t);
  }
  const context = rt.contextUs.slice(-n).map((us) => us / 1000);
  await rt.close();
  const ms = (xs: number[], p: number) =>
    round(
      percentile(
        [...xs].sort((a, b) => a - b),
        p,
      ),
      3,
    );
  return {
    contextP50Ms: ms(context, 50),
    contextP90Ms: ms(context, 90),
    runP50Ms: ms(times, 50),
    runP90Ms: ms(times, 90),
  };
}

if (ONLY.has('noop')) {
  const noop = await runJobs(CONCURRENCY, NOOP, JOBS, 1000);
  console.log(
    JSON.stringify({
      scenario: 'js no-op through the agent (SQLite)',
      jobs: JOBS,
      concurrency: CONCURRENCY,
      jobsPerSec: round(JOBS / noop.secs, 0),
      failed: noop.failed,
      cpuMsPerJob: noop.cpuMsPerJob,
    }),
  );
}
if (process.argv.includes('--compare-lua')) {
  // The same path with the Lua no-op, for a baseline on the same machine at the same moment.
  const lua = await runJobs(CONCURRENCY, 'return function(x) return x end', JOBS, 1000, 'dlabLua54');
  console.log(
    JSON.stringify({
      scenario: 'Lua no-op through the agent (SQLite)',
      jobsPerSec: round(JOBS / lua.secs, 0),
      cpuMsPerJob: lua.cpuMsPerJob,
    }),
  );
}
if (ONLY.has('context'))
  console.log(
    JSON.stringify({ scenario: 'js fresh context, direct', runs: 500, ...(await contextCost(500)) }),
  );
if (ONLY.has('sleep')) {
  const sleepy = await runJobs(
    200,
    'export default async function fetch() { await sleep(1000); }\n',
    200,
    200,
  );
  console.log(
    JSON.stringify({
      scenario: '200 x await sleep(1000), --concurrency 200',
      secs: round(sleepy.secs, 2),
      failed: sleepy.failed,
    }),
  );
}
