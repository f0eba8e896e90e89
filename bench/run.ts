/**
 * `npm run bench [-- options]`: jobhub side by side with BullMQ, pg-boss and Graphile Worker on
 * this machine, in one run (method: bench/README.md). Writes bench/results/<date>[-quick].json
 * and, for a complete full run or with --report, docs/benchmarks.md with its charts in docs/img/.
 *
 *   --quick              short run (under ~3 minutes)
 *   --check              regression gate: quick comparison with the last committed results; exits 1
 *                        on a large drop (writes no files under bench/ or docs/)
 *   --only=a,b           scenarios: throughput, latency, payloads, scale, contest, js, blobs
 *   --peers=a,b          peers to run (bullmq, bullmq-durable, pgboss, graphile; default all); --no-peers for none
 *   --stores=sqlite,pg   jobhub stores (default both)
 *   --agent / --no-agent use the real worker agent for throughput when the build has it (default: yes)
 *   --rounds=N           rounds per scenario (default 3, quick 2)
 *   --report / --no-report   write docs/benchmarks.md and the charts
 *   --no-build           use the current dist/ as it is
 */
import { execSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { check } from './check.js';
import {
  agentAvailable,
  contest,
  contestAvailable,
  latency,
  makeQueue,
  PEER_IDS,
  payloads,
  scale,
  throughput,
  writeReport,
  type PayloadSize,
} from './compare.js';
import { floors } from './floors.js';
import { blobs } from './scenarios.js';
import { snapshotBuild } from './jobhub-adapter.js';
import { OtherLoad, PG_URL, REDIS } from './peers/peer.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const list = (name: string) =>
  value(name)
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const checkMode = flag('check');
const quick = flag('quick') || checkMode;
const ALL = ['throughput', 'latency', 'payloads', 'scale', 'contest', 'js'];
const only = new Set(list('only') ?? (checkMode ? ['throughput', 'latency'] : ALL));
for (const s of only)
  if (![...ALL, 'blobs'].includes(s))
    throw new Error(`unknown scenario ${s}; scenarios: ${[...ALL, 'blobs'].join(', ')}`);
const peers = flag('no-peers') ? [] : (list('peers') ?? [...PEER_IDS]);
for (const p of peers)
  if (!(PEER_IDS as readonly string[]).includes(p))
    throw new Error(`unknown peer ${p}; peers: ${PEER_IDS.join(', ')}`);
const stores = (list('stores') ?? ['sqlite', 'pg']) as ('sqlite' | 'pg')[];
const rounds = Number(value('rounds') ?? (quick ? 2 : 3));

// Build the hub; a failing type check elsewhere in the tree still emits JavaScript, so the run
// goes on with what was emitted and says so.
let build = 'ok';
if (!flag('no-build')) {
  try {
    execSync('npm run build --silent', { stdio: 'inherit' });
  } catch {
    build = 'failed: `npm run build` reported errors; the run used the JavaScript tsc emitted anyway';
    console.warn(`\nWARNING: build ${build}\n`);
  }
} else build = 'skipped (--no-build)';

// Hubs and agents start from a private copy of this build (see jobhub-adapter.ts).
const snapshot = snapshotBuild();
process.env.BENCH_HUB_ROOT = snapshot.root;
process.once('exit', () => snapshot.remove());

async function servicesUp(): Promise<void> {
  if (peers.includes('bullmq')) {
    const r = new Redis({ ...REDIS, lazyConnect: true, maxRetriesPerRequest: 1 });
    await r
      .connect()
      .catch((e: Error) =>
        Promise.reject(new Error(`Redis at ${REDIS.host}:${REDIS.port} is needed for BullMQ: ${e.message}`)),
      );
    await r.quit();
  }
  if (peers.includes('bullmq-durable') && spawnSync('redis-server', ['--version']).status !== 0)
    throw new Error('redis-server is needed for bullmq-durable (it runs its own, with appendfsync always)');
  if (peers.some((p) => !p.startsWith('bullmq')) || stores.includes('pg')) {
    const c = new pg.Client({ connectionString: PG_URL });
    await c
      .connect()
      .catch((e: Error) => Promise.reject(new Error(`PostgreSQL at ${PG_URL} is needed: ${e.message}`)));
    await c.end();
  }
}
await servicesUp();

const useAgent = !flag('no-agent') && agentAvailable();
const jobhubIds = stores.map((s) => `jobhub-${s}`);
const ids = [...jobhubIds, ...peers];
// The real agent drives the throughput scenario too when the build has it, as
// jobhub-<store>-agent; the simulated workers stay for the comparison at full speed.
const agentIds = useAgent ? stores.map((s) => `jobhub-${s}-agent`) : [];
const throughputIds = [...ids, ...agentIds];
// Latency also runs jobhub with `--durability relaxed` (no flush on the reply's path), the setting
// closest to a Redis that keeps nothing on disk; the targets compare the default, full durability.
const latencyIds = [...ids, ...stores.map((s) => `jobhub-${s}-relaxed`)];

function pgVersion(): string {
  try {
    return execSync(`psql "${PG_URL}" -Atc "select current_setting('server_version')"`, {
      encoding: 'utf8',
    }).trim();
  } catch {
    return 'unknown';
  }
}
function redisVersion(): string {
  try {
    return (
      /redis_version:(\S+)/.exec(execSync('redis-cli -h 127.0.0.1 info server', { encoding: 'utf8' }))?.[1] ??
      'unknown'
    );
  } catch {
    return 'unknown';
  }
}
const pkgVersion = (name: string) => {
  try {
    return (
      JSON.parse(
        execSync(`node -p "JSON.stringify(require('${name}/package.json'))"`, { encoding: 'utf8' }),
      ) as { version: string }
    ).version;
  } catch {
    return 'unknown';
  }
};

const started = new Date();
const report: Record<string, any> = {
  date: started.toISOString(),
  command: `npm run bench${args.length ? ' -- ' + args.join(' ') : ''}`,
  quick,
  rounds,
  build,
  machine: {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    node: process.version,
    redis: redisVersion(),
    postgres: pgVersion(),
    loadAvgAtStart: loadavg()[0],
  },
  versions: Object.fromEntries(
    ['bullmq', 'ioredis', 'pg-boss', 'graphile-worker', 'pg', 'undici'].map((n) => [n, pkgVersion(n)]),
  ),
  agent: { available: agentAvailable(), used: useAgent },
  interference: {} as Record<string, unknown>,
  settings: Object.fromEntries(
    [...new Set([...throughputIds, ...latencyIds])].map((id) => {
      const q = makeQueue(id);
      return [
        id,
        {
          throughput: q.settings('throughput'),
          latency: q.settings('latency'),
          serial: q.settings('serial'),
        },
      ];
    }),
  ),
};

/** Scenarios that threw. */
const failed: string[] = [];

async function scenario<T>(name: string, fn: () => Promise<T>): Promise<void> {
  if (!only.has(name)) return;
  const load = new OtherLoad();
  load.start();
  const t0 = performance.now();
  try {
    report[name] = await fn();
  } catch (err) {
    // One scenario's failure does not cost the others' numbers: the run goes on, is written as
    // partial (it never replaces a complete results file or the report) and exits with 1.
    failed.push(name);
    report.failed = { ...report.failed, [name]: err instanceof Error ? err.message : String(err) };
    console.error(`${name} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
  const seconds = (performance.now() - t0) / 1000;
  const other = load.stop();
  if (seconds >= 2) report.interference[name] = { ...other, seconds: Math.round(seconds) };
  if (seconds >= 2)
    console.log(
      `${name} done in ${Math.round(seconds)} s; other processes used ${other.otherCores} cores on average\n`,
    );
}

const mk = (label: string, bytes: number, jobs: number): PayloadSize => ({ label, bytes, jobs });
await scenario('throughput', async () => {
  const main = await throughput({ jobs: quick ? 10_000 : 100_000, rounds, ids });
  // The real agent runs a sandboxed Lua no-op per job and is far slower than the hub, so its
  // rows use fewer jobs and rounds to keep the run short; jobs/s is a rate all the same.
  const agent = agentIds.length
    ? await throughput({ jobs: quick ? 3_000 : 10_000, rounds: 1, ids: agentIds })
    : undefined;
  return { ...main, agent: agent && { ...agent, rounds: 1 } };
});
await scenario('latency', async () => ({
  ...(await latency({
    samples: quick ? 150 : 1000,
    warmup: 20,
    warmupJobs: quick ? 1_000 : 3_000,
    budgetMs: quick ? 5_000 : 20_000,
    rounds,
    ids: latencyIds,
  })),
  // What the machine charges for a durable write and for one round trip of each protocol.
  floors: await floors({ samples: quick ? 100 : 300, redis: peers.some((p) => p.startsWith('bullmq')) }),
}));
await scenario('payloads', () =>
  payloads({
    // A quick run stops at 10 MiB: one 100 MiB job takes the peers about 15 s each.
    sizes: quick
      ? [mk('1 KiB', 1024, 200), mk('1 MiB', 1024 ** 2, 10), mk('10 MiB', 10 * 1024 ** 2, 2)]
      : [mk('1 KiB', 1024, 1000), mk('1 MiB', 1024 ** 2, 50), mk('100 MiB', 100 * 1024 ** 2, 1)],
    rounds: quick ? 1 : 2,
    ids,
  }),
);
await scenario('scale', () =>
  scale({
    parkedWorkers: 10_000,
    windowMs: quick ? 3000 : 10_000,
    stores: quick ? stores.slice(0, 1) : stores,
    backlog: quick ? [1000, 50_000] : [1000, 1_000_000],
    samples: quick ? 100 : 500,
    budgetMs: quick ? 2000 : 10_000,
    ids,
  }),
);
await scenario('contest', async () =>
  contestAvailable()
    ? contest({ seconds: quick ? 3 : 20 })
    : {
        todo: 'TODO: the portal (src/portal, src/http/internal) has no /internal/job/dequeue/ endpoint in this build; dequeue/report cycles with 50 benchmarkers and the leaderboard under 500 teams are not measured yet',
      },
);
// The js runtime's own targets (bench/js.ts, its own processes): one JSON line per measure.
await scenario('js', async () => {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'bench/js.ts', `--jobs=${quick ? 3_000 : 20_000}`, '--compare-lua'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (r.status !== 0) throw new Error(`bench/js.ts failed with status ${r.status}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as unknown);
});
await scenario('blobs', async () => ({
  median: await blobs({ bytes: quick ? 256 * 1024 ** 2 : 1024 ** 3 }),
}));
report.seconds = Math.round((Date.now() - started.getTime()) / 1000);

// A run limited to some scenarios, peers or stores gets a name of its own, so that it never
// replaces a complete results file (the gate compares with complete ones).
const partial =
  value('only') !== undefined ||
  value('peers') !== undefined ||
  flag('no-peers') ||
  value('stores') !== undefined ||
  failed.length > 0;
const name = `${report.date.slice(0, 10)}${quick ? '-quick' : ''}${partial ? '-partial' : ''}.json`;
// Only a complete run rewrites docs/benchmarks.md unless --report asks for it: a partial run's
// report would drop every scenario and queue it left out.
const writeDocs = !checkMode && (flag('report') || (!quick && !partial && !flag('no-report')));
const file = checkMode ? join(tmpdir(), `jobhub-bench-check-${name}`) : `bench/results/${name}`;
mkdirSync('bench/results', { recursive: true });
writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
console.log(`results: ${file} (${report.seconds} s)`);
if (writeDocs) console.log(`report: ${writeReport(report, file)}`);
if (checkMode) process.exitCode = check(report) && failed.length === 0 ? 0 : 1;
process.exit(process.exitCode ?? 0);
