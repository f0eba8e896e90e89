/**
 * `node --import tsx bench/agent.ts [--jobs=20000] [--concurrency=8]`: the worker agent's numbers.
 *
 * 1. End to end: a hub (`jobhub server`) and a worker (`jobhub worker --runtimes dlabLua54
 *    --concurrency 8`), each in its own process from the compiled build, default settings (SQLite
 *    WAL, fsync on every commit). This process creates no-op Lua jobs (`return function(x) return
 *    x end`, input "x") in batches of 1,000, four batches in flight, then polls until none is
 *    queued or running. The clock runs from the first create to that moment. Reported: jobs/s and
 *    the CPU each process used (cores).
 * 2. Per-job runtime overhead: `runtime.run()` of a no-op job called directly (no hub), one at a
 *    time, after 50 warm-up runs: Lua (thread hop, fresh Lua state, sandbox prelude, script) and
 *    exec in the bubblewrap sandbox (`#!/bin/sh` + `cat`: prlimit, bwrap, sh). p50/p90/p99 in ms.
 */
import { execSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DefaultRuntime } from '../src/agent/runtimes/default/runtime.js';
import { LuaRuntime } from '../src/agent/runtimes/lua/runtime.js';
import type { RunContext, Runtime } from '../src/agent/runtimes/runtime.js';
import { Client, numberArg, percentile, round, startHubProcess } from './lib.js';

const JOBS = numberArg('jobs', 20_000);
const CONCURRENCY = numberArg('concurrency', 8);
const ROOT = new URL('..', import.meta.url).pathname;

/** CPU seconds (user + system) a process has used. */
function cpuSecs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function endToEnd(): Promise<Record<string, number>> {
  const hub = await startHubProcess();
  const client = new Client(hub.url, 8);
  const worker = spawn(
    process.execPath,
    [
      // Node flags for the worker, e.g. WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
      ...(process.env.WORKER_NODE_ARGS ? process.env.WORKER_NODE_ARGS.split(' ') : []),
      join(ROOT, 'bin/jobhub.js'),
      'worker',
      '--hub',
      hub.url,
      '--runtimes',
      'dlabLua54',
      '--concurrency',
      String(CONCURRENCY),
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  try {
    const blob = await client.pool.request({
      method: 'POST',
      path: '/api/v1/blobs',
      body: 'return function(x) return x end',
    });
    const codeBlobId = ((await blob.body.json()) as { id: string }).id;
    const f = await client.json<{ id: string }>('POST', '/api/v1/functions', {
      runtime: 'dlabLua54',
      codeBlobId,
    });
    // The worker is up when it is listed.
    while ((await client.json<{ workers: unknown[] }>('GET', '/api/v1/workers')).body.workers.length === 0) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const cpu0 = { hub: cpuSecs(hub.pid), worker: cpuSecs(worker.pid!) };
    const t0 = performance.now();
    const batches: Promise<unknown>[] = [];
    for (let made = 0; made < JOBS; made += 1000) {
      const n = Math.min(1000, JOBS - made);
      batches.push(
        client.json('POST', '/api/v1/jobs/batch', {
          jobs: Array.from({ length: n }, () => ({ function: f.body.id, input: { text: 'x' } })),
        }),
      );
      if (batches.length >= 4) await batches.shift();
    }
    await Promise.all(batches);
    const created = performance.now();
    while (
      (await client.json<{ jobs: unknown[] }>('GET', '/api/v1/jobs?state=queued,running&limit=1')).body.jobs
        .length > 0
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const secs = (performance.now() - t0) / 1000;
    const failed = (await client.json<{ jobs: unknown[] }>('GET', '/api/v1/jobs?state=failed&limit=1000'))
      .body.jobs.length;
    return {
      jobs: JOBS,
      concurrency: CONCURRENCY,
      jobsPerSec: round(JOBS / secs, 0),
      enqueueSecs: round((created - t0) / 1000, 2),
      totalSecs: round(secs, 2),
      failed,
      hubCores: round((cpuSecs(hub.pid) - cpu0.hub) / secs, 2),
      workerCores: round((cpuSecs(worker.pid!) - cpu0.worker) / secs, 2),
    };
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
    runtime: 'x',
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

async function overhead(runtime: Runtime, code: string, n: number): Promise<Record<string, number>> {
  const bytes = Buffer.from(code);
  const prepared = await runtime.prepare({ sha256: createHash('sha256').update(bytes).digest('hex'), bytes });
  const input = Buffer.from('x');
  const times: number[] = [];
  for (let i = 0; i < n + 50; i++) {
    const t = performance.now();
    const r = await runtime.run(prepared, ctx(input));
    if (!r.ok) throw new Error(`bench job failed: ${r.failure.message}`);
    if (i >= 50) times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return {
    samples: n,
    p50ms: round(percentile(times, 50), 3),
    p90ms: round(percentile(times, 90), 3),
    p99ms: round(percentile(times, 99), 3),
  };
}

execSync('npm run build --silent', { cwd: ROOT, stdio: 'inherit' });
console.log('agent + hub, no-op Lua jobs:', JSON.stringify(await endToEnd()));
const lua = new LuaRuntime({ threads: 1 });
await lua.ready();
console.log(
  'Lua runtime overhead per job:',
  JSON.stringify(await overhead(lua, 'return function(x) return x end', 5_000)),
);
await lua.close();
const dir = mkdtempSync(join(tmpdir(), 'jobhub-bench-agent-'));
const exec = new DefaultRuntime({ workDir: dir });
if (exec.sandboxed)
  console.log(
    'sandboxed exec overhead per job:',
    JSON.stringify(await overhead(exec, '#!/bin/sh\ncat\n', 500)),
  );
else console.log('sandboxed exec: skipped,', exec.warning());
rmSync(dir, { recursive: true, force: true });
