/**
 * kill -9 of the hub under load: one hub on SQLite (once, and repeatedly), and each of three hubs
 * sharing PostgreSQL in turn. Producers create jobs with idempotency keys and retry until they
 * are acknowledged; simulated workers lease, heartbeat and complete. The killed hub is restarted
 * on the same port at once; recovery_s runs from the kill until every hub serves a job end to
 * end again (create, lease, complete), restart included.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  Ledger,
  freePort,
  kill9,
  produce,
  recoveredAfter,
  roundRobin,
  settle,
  simWorker,
  skipped,
  sleep,
  startHub,
  stopHub,
  tempDir,
  withSchema,
  fixed,
  round,
  type HubProc,
  type Scenario,
} from '../lib.js';

const LEASE_MS = 1000;

async function sqliteKills(
  ctx: Parameters<Scenario['run']>[0],
  name: string,
  kills: number,
  gapMs: number,
): ReturnType<Scenario['run']> {
  const dir = tempDir();
  const port = await freePort();
  const logFile = join(ctx.runDir, `${name}.log`);
  let hub = await startHub({ dataDir: dir, port, logFile, leaseMs: LEASE_MS });
  const base = hub.url;
  const ledger = new Ledger();
  const runtime = 'k9';
  const workers = Array.from({ length: 4 }, (_, i) =>
    simWorker(fixed(base), ledger, { runtime, leaseMs: LEASE_MS, workMs: [0, 40], limit: 8, name: `w${i}` }),
  );
  const load = produce(fixed(base), ledger, { runtime, rate: ctx.quick ? 200 : 400, batch: 10 });
  const recoveries: number[] = [];
  const before: number[] = [];
  try {
    for (let k = 0; k < kills; k++) {
      await sleep(gapMs);
      before.push(ledger.created.size);
      const t0 = Date.now();
      await kill9(hub);
      hub = await startHub({ dataDir: dir, port, logFile, leaseMs: LEASE_MS });
      recoveries.push(await recoveredAfter(() => [base], t0));
      ctx.log(`  kill ${k + 1}/${kills}: recovered in ${round(recoveries[k]!)} s`);
    }
    await sleep(1000);
    await load.stop();
    const f = await settle(() => [base], runtime, ledger, workers);
    return {
      jobs_lost: f.jobs_lost,
      completed_twice: f.completed_twice,
      recovery_s: round(Math.max(...recoveries)),
      created: f.created,
      completed: f.completed,
      checks: [
        {
          name: 'the load ran before every kill',
          ok: before.every((n, i) => n > (i + 1) * 20),
          detail: before.join(','),
        },
        { name: 'queue drained after the last restart', ok: f.drained },
      ],
      extra: {
        kills,
        recovery_mean_s: round(recoveries.reduce((a, b) => a + b, 0) / recoveries.length),
        stale_refused: ledger.stale,
        leases: [...ledger.leases.values()].reduce((a, b) => a + b, 0),
      },
      details: f.details,
    };
  } finally {
    await load.stop();
    await Promise.all(workers.map((w) => w.stop()));
    await stopHub(hub);
    rmSync(dir, { recursive: true, force: true });
  }
}

export const kill9Sqlite: Scenario = {
  name: 'kill9',
  store: 'sqlite',
  what: 'kill -9 of the hub under load, restarted at once on the same data directory',
  run: (ctx) => sqliteKills(ctx, 'kill9-sqlite', 1, ctx.quick ? 1500 : 3000),
};

export const kill9Repeated: Scenario = {
  name: 'kill9-repeated',
  store: 'sqlite',
  what: 'kill -9 again and again under load (3 quick / 8 full), each as soon as the hub is back',
  run: (ctx) => sqliteKills(ctx, 'kill9-repeated-sqlite', ctx.quick ? 3 : 8, 800),
};

export const kill9Postgres: Scenario = {
  name: 'kill9-3hubs',
  store: 'postgres',
  what: 'three hubs on one PostgreSQL; each in turn is killed -9 under load and restarted',
  async run(ctx) {
    if (!ctx.pg) return skipped(`no private PostgreSQL: ${ctx.pgProblem}`);
    const database = withSchema(ctx.pg.url, 'chaos_k9');
    const logFile = join(ctx.runDir, 'kill9-3hubs-postgres.log');
    const dirs = [tempDir(), tempDir(), tempDir()];
    const ports = await Promise.all(dirs.map(() => freePort()));
    const start = (i: number) =>
      startHub({ dataDir: dirs[i]!, port: ports[i], database, logFile, leaseMs: LEASE_MS });
    const hubs: HubProc[] = [];
    for (let i = 0; i < 3; i++) hubs.push(await start(i));
    const urls = hubs.map((h) => h.url);
    const alive = () => hubs.filter((h) => h.alive).map((h) => h.url);
    const ledger = new Ledger();
    const runtime = 'k9pg';
    // Every client goes round the hubs and fails over to the next on an error.
    const targets = roundRobin(() => urls);
    const workers = Array.from({ length: 6 }, (_, i) =>
      simWorker(targets, ledger, { runtime, leaseMs: LEASE_MS, workMs: [0, 40], limit: 8, name: `w${i}` }),
    );
    const load = produce(targets, ledger, { runtime, rate: ctx.quick ? 200 : 400, batch: 10 });
    const recoveries: number[] = [];
    const failovers: number[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        await sleep(ctx.quick ? 1500 : 3000);
        const t0 = Date.now();
        await kill9(hubs[i]!);
        // The survivors serve on: a job goes end to end through each of them.
        failovers.push(await recoveredAfter(alive, t0));
        hubs[i] = await start(i);
        recoveries.push(await recoveredAfter(() => urls, t0));
        ctx.log(
          `  hub ${i} killed: survivors served after ${round(failovers[i]!)} s, all three after ${round(recoveries[i]!)} s`,
        );
      }
      await sleep(1000);
      await load.stop();
      const f = await settle(() => urls, runtime, ledger, workers);
      return {
        jobs_lost: f.jobs_lost,
        completed_twice: f.completed_twice,
        recovery_s: round(Math.max(...recoveries)),
        created: f.created,
        completed: f.completed,
        checks: [{ name: 'queue drained after the last restart', ok: f.drained }],
        extra: {
          failover_max_s: round(Math.max(...failovers)),
          stale_refused: ledger.stale,
        },
        details: f.details,
      };
    } finally {
      await load.stop();
      await Promise.all(workers.map((w) => w.stop()));
      await Promise.all(hubs.map((h) => stopHub(h)));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  },
};
