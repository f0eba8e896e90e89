/**
 * Soak: many simulated workers and steady job traffic against one hub process for a long time,
 * watching what must stay flat: the hub's memory (RSS), its p99 lease latency (a job's create
 * sent → a parked worker holding it), and its open file descriptors (back to the baseline once
 * the workers leave).
 *
 *   npm run soak                              1,000 workers, 10 minutes, SQLite
 *   npm run soak -- --workers=200 --minutes=1 --rate=100 --store=postgres [--database=postgres://…]
 *
 * With --store=postgres and no --database, a private PostgreSQL cluster is made for the run.
 *
 * Writes chaos/results/soak-<date>.json and exits 1 when a bound is broken. `runSoak` is also
 * the `soak-short` scenario of `npm run chaos` (chaos/scenarios/soak.ts).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { Agent, setGlobalDispatcher } from 'undici';
import {
  ROOT,
  build,
  killChildren,
  startPrivatePostgres,
  type PrivatePostgres,
  percentile,
  processStats,
  round,
  sleep,
  startHub,
  stopHub,
  tempDir,
  tryHttp,
  withSchema,
} from './lib.js';

export interface SoakOptions {
  workers: number;
  durationMs: number;
  /** Jobs created per second, in total. */
  rate: number;
  database?: string;
  /** Dropped from the "flat" comparisons (start-up, JIT, caches filling). */
  warmupMs?: number;
  windows?: number;
  log?: (line: string) => void;
}

export interface SoakWindow {
  /** Seconds since the start. */
  t: number;
  leases: number;
  p50_ms: number;
  p99_ms: number;
  rss_mb: number;
  fds: number;
}

export interface SoakResult {
  options: Omit<SoakOptions, 'log'>;
  windows: SoakWindow[];
  created: number;
  completed: number;
  jobs_lost: number;
  /** Acknowledged completions of a job already completed (none expected). */
  completed_twice: number;
  rss_start_mb: number;
  rss_end_mb: number;
  rss_growth_mb: number;
  rss_slope_mb_per_min: number;
  p99_first_ms: number;
  p99_last_ms: number;
  fds_baseline: number;
  fds_peak: number;
  fds_after: number;
  /** Requests without an answer or with an unexpected status (none expected). */
  errors: number;
  error_kinds: Record<string, number>;
  checks: { name: string; ok: boolean; detail: string }[];
}

/** Drops the schema a `?schema=` URL names. */
async function dropSchema(url: string): Promise<void> {
  const u = new URL(url);
  const schema = u.searchParams.get('schema');
  u.searchParams.delete('schema');
  if (!schema) return;
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  const num = points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0);
  const den = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const log = o.log ?? (() => undefined);
  const warmupMs = o.warmupMs ?? Math.min(60_000, o.durationMs / 5);
  const windows = o.windows ?? 10;
  // One connection per parked worker, plus the producer's.
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  setGlobalDispatcher(agent);
  const dir = tempDir('jobhub-soak-');
  const database = o.database ? withSchema(o.database, 'soak') : undefined;
  const hub = await startHub({
    dataDir: dir,
    database,
    leaseMs: 15_000,
    extra: ['--max-wait-ms', '10000'],
    logFile: join(dir, 'hub.log'),
  });
  const base = hub.url;
  await sleep(500);
  const baseline = processStats(hub.pid)!;
  const t0 = Date.now();
  let running = true;
  const samples: { at: number; rss: number; fds: number }[] = [];
  const latencies: { at: number; ms: number }[] = [];
  const createdIds = new Set<string>();
  const completedIds = new Set<string>();
  let created = 0;
  let completed = 0;
  let errors = 0;
  /** What failed, by kind: `create 0` = a create without an answer (timeout or reset), etc. */
  const errorKinds = new Map<string, number>();
  const failed = (what: string, status: number | undefined, at = Date.now()) => {
    errors++;
    const k = `${what} ${status ?? 0} @${Math.floor((at - t0) / 10_000) * 10}s`;
    errorKinds.set(k, (errorKinds.get(k) ?? 0) + 1);
  };

  const sampler = setInterval(() => {
    const s = processStats(hub.pid);
    if (s) samples.push({ at: Date.now(), ...s });
  }, 1000);

  const worker = async () => {
    let id: string | null = null;
    while (running && !id) {
      const r = await tryHttp(base, 'POST', '/api/v1/workers', { runtimes: ['soak'] });
      if (r?.status === 201) id = r.body.id as string;
      else {
        failed('register', r?.status);
        await sleep(200);
      }
    }
    while (running) {
      // Long-polls of different lengths, as workers that did not all start in the same second.
      const waitMs = 5_000 + Math.floor(Math.random() * 5_000);
      const r = await tryHttp(
        base,
        'POST',
        `/api/v1/workers/${id}/lease`,
        { limit: 1, waitMs },
        { timeoutMs: 30_000 },
      );
      if (!r || r.status !== 200) {
        failed('lease', r?.status);
        await sleep(100);
        continue;
      }
      for (const j of r.body.jobs as { id: string; token: string; input: { base64: string } }[]) {
        const sent = Number(Buffer.from(j.input.base64, 'base64').toString());
        latencies.push({ at: Date.now(), ms: Date.now() - sent });
        const c = await tryHttp(
          base,
          'POST',
          `/api/v1/jobs/${j.id}/complete`,
          { token: j.token },
          { timeoutMs: 30_000 },
        );
        if (c?.status === 200) {
          completed++;
          completedIds.add(j.id);
        } else failed('complete', c?.status);
      }
    }
  };
  const workers = Array.from({ length: o.workers }, () => worker());
  await sleep(Math.min(5000, 500 + o.workers * 5)); // let them register and park

  // Steady traffic: one create every 1/rate s, not waiting for the previous reply.
  const producer = (async () => {
    const every = 1000 / o.rate;
    let next = Date.now();
    const inflight = new Set<Promise<void>>();
    while (Date.now() - t0 < o.durationMs) {
      const sent = Date.now();
      const body = { runtime: 'soak', input: { text: String(sent) } };
      const p = tryHttp(base, 'POST', '/api/v1/jobs', body, { timeoutMs: 30_000 }).then((r) => {
        if (r?.status === 201) created++;
        else errors++;
        inflight.delete(p);
      });
      inflight.add(p);
      next += every;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      if (inflight.size > 200) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  })();

  const progress = setInterval(
    () => {
      const s = samples[samples.length - 1];
      log(
        `  ${Math.round((Date.now() - t0) / 1000)} s: ${created} created, ${completed} completed, ` +
          `rss ${s ? round(s.rss / 1024 ** 2, 1) : '?'} MB, fds ${s?.fds ?? '?'}, errors ${errors}`,
      );
    },
    Math.max(5000, o.durationMs / 20),
  );

  await producer;
  // Drain: every created job completed (or give up after 30 s).
  const pending = () => [...createdIds].filter((id) => !completedIds.has(id)).length;
  for (let i = 0; i < 300 && pending() > 0; i++) await sleep(100);
  const peak = processStats(hub.pid)!;
  running = false;
  await Promise.all(workers); // the parked long-polls end within the hub's 10 s cap
  clearInterval(progress);
  // Our idle keep-alive connections go, so that what stays open is the hub's own doing.
  setGlobalDispatcher(new Agent());
  await agent.destroy();
  // Sockets close as the hub finishes what it was answering; a leak never does.
  let after = processStats(hub.pid)!;
  for (let i = 0; i < 150 && after.fds > baseline.fds + 10; i++) {
    await sleep(100);
    after = processStats(hub.pid)!;
  }
  clearInterval(sampler);
  await stopHub(hub);
  rmSync(dir, { recursive: true, force: true });
  if (database) await dropSchema(database);

  // Windows after the warm-up.
  const start = t0 + warmupMs;
  const end = t0 + o.durationMs;
  const width = (end - start) / windows;
  const out: SoakWindow[] = [];
  for (let w = 0; w < windows; w++) {
    const a = start + w * width;
    const b = a + width;
    const lat = latencies.filter((l) => l.at >= a && l.at < b).map((l) => l.ms);
    const ss = samples.filter((s) => s.at >= a && s.at < b);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : NaN);
    out.push({
      t: round((b - t0) / 1000, 1),
      leases: lat.length,
      p50_ms: round(percentile(lat, 50), 1),
      p99_ms: round(percentile(lat, 99), 1),
      rss_mb: round(mean(ss.map((s) => s.rss)) / 1024 ** 2, 1),
      fds: Math.max(0, ...ss.map((s) => s.fds)),
    });
  }
  const steady = samples.filter((s) => s.at >= start && s.at <= end);
  const rssSlope = slope(steady.map((s) => [(s.at - start) / 60_000, s.rss / 1024 ** 2]));
  const firstRss = out[0]!.rss_mb;
  const lastRss = out[out.length - 1]!.rss_mb;
  // p99 of the first and the last third of the steady run, pooled: one noisy window (the
  // machine is shared) does not decide, a trend does.
  const third = (end - start) / 3;
  const pooled = (a: number, b: number) =>
    round(
      percentile(
        latencies.filter((l) => l.at >= a && l.at < b).map((l) => l.ms),
        99,
      ),
      1,
    );
  const p99First = pooled(start, start + third);
  const p99Last = pooled(end - third, end + 1);
  const fdsPeak = Math.max(...samples.map((s) => s.fds));
  const result: SoakResult = {
    options: {
      workers: o.workers,
      durationMs: o.durationMs,
      rate: o.rate,
      database: o.database ? 'postgres' : undefined,
      warmupMs,
      windows,
    },
    windows: out,
    created,
    completed,
    jobs_lost: pending(),
    completed_twice: completed - completedIds.size,
    rss_start_mb: firstRss,
    rss_end_mb: lastRss,
    rss_growth_mb: round(lastRss - firstRss, 1),
    rss_slope_mb_per_min: round(rssSlope, 2),
    p99_first_ms: p99First,
    p99_last_ms: p99Last,
    fds_baseline: baseline.fds,
    fds_peak: fdsPeak,
    fds_after: after.fds,
    errors,
    error_kinds: Object.fromEntries(errorKinds),
    checks: [],
  };
  // The bounds: generous, because a shared 2-core machine is noisy; a leak breaks them anyway.
  const rssBound = Math.max(40, firstRss * 0.25);
  result.checks.push(
    {
      name: 'every job whose creation was acknowledged was completed',
      ok: result.jobs_lost === 0,
      detail: `${created} acknowledged, ${completed} completions, ${result.jobs_lost} not completed`,
    },
    {
      name: 'hub memory flat',
      ok: lastRss - firstRss <= rssBound,
      detail: `${firstRss} → ${lastRss} MB (bound +${round(rssBound, 1)} MB), slope ${result.rss_slope_mb_per_min} MB/min`,
    },
    {
      name: 'p99 lease latency flat',
      ok: p99Last <= Math.max(3 * p99First, p99First + 250),
      detail: `${p99First} → ${p99Last} ms (first and last third of the run)`,
    },
    {
      name: 'no leaked file descriptors',
      ok: after.fds <= baseline.fds + 10,
      detail: `baseline ${baseline.fds}, peak ${fdsPeak} with ${o.workers} workers connected, ${after.fds} after they left`,
    },
  );
  result.checks.push({
    name: 'no request failed',
    ok: errors === 0,
    detail: `${errors} errors ${JSON.stringify(result.error_kinds)}`,
  });
  void peak;
  return result;
}

// ---------------------------------------------------------------------------------------------

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const workers = Number(flag('workers') ?? 1000);
  const minutes = Number(flag('minutes') ?? 10);
  const rate = Number(flag('rate') ?? 200);
  const store = flag('store') ?? 'sqlite';
  if (!args.includes('--no-build')) build();
  // PostgreSQL: the given database, else a private cluster (a shared server's other load would
  // be measured too).
  let privatePg: PrivatePostgres | null = null;
  let database = store === 'postgres' ? flag('database') : undefined;
  if (store === 'postgres' && !database) {
    privatePg = await startPrivatePostgres();
    database = privatePg.url;
  }
  const quit = () =>
    void killChildren()
      .then(() => privatePg?.stop())
      .then(() => process.exit(130));
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  console.log(`soak: ${workers} workers, ${rate} jobs/s, ${minutes} min, ${store}`);
  const r = await runSoak({
    workers,
    durationMs: minutes * 60_000,
    rate,
    database,
    log: (l) => console.log(l),
  });
  console.log('\nwindow  leases  p50_ms  p99_ms  rss_mb  fds');
  for (const w of r.windows) {
    console.log(
      `${String(w.t).padEnd(8)}${String(w.leases).padEnd(8)}${String(w.p50_ms).padEnd(8)}${String(w.p99_ms).padEnd(8)}${String(w.rss_mb).padEnd(8)}${w.fds}`,
    );
  }
  for (const c of r.checks) console.log(`${c.ok ? 'ok ' : 'FAILED'} ${c.name}: ${c.detail}`);
  const report = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      memGiB: Math.round(totalmem() / 1024 ** 3),
      node: process.version,
    },
    store,
    ...r,
  };
  const dir = join(ROOT, 'chaos/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `soak-${report.date.slice(0, 10)}-${store}-${workers}w-${minutes}m.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  console.log(`results: ${file}`);
  process.exit(r.checks.every((c) => c.ok) ? 0 : 1);
}
