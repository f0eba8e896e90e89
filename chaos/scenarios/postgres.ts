/**
 * PostgreSQL faults under load, on a private cluster (nobody else's database is touched): the
 * server restarted cleanly (`pg_ctl restart -m fast`) or crashed (`-m immediate`, WAL recovery at
 * start), and every hub connection terminated again and again (`pg_terminate_backend`). Two hubs
 * share the database; clients fail over between them. recovery_s runs from the fault until both
 * hubs serve a job end to end again, with no manual action.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  Ledger,
  freePort,
  produce,
  recoveredAfter,
  round,
  roundRobin,
  settle,
  simWorker,
  skipped,
  sleep,
  startHub,
  stopHub,
  tempDir,
  withSchema,
  type HubProc,
  type Scenario,
  type ScenarioContext,
} from '../lib.js';

const LEASE_MS = 1000;

async function twoHubs(ctx: ScenarioContext, name: string) {
  const database = withSchema(ctx.pg!.url, `chaos_${name.replace(/-/g, '_')}`);
  const dirs = [tempDir(), tempDir()];
  const logFile = join(ctx.runDir, `${name}-postgres.log`);
  const hubs: HubProc[] = [];
  for (const d of dirs)
    hubs.push(await startHub({ dataDir: d, port: await freePort(), database, logFile, leaseMs: LEASE_MS }));
  const urls = hubs.map((h) => h.url);
  const ledger = new Ledger();
  const runtime = 'pgf';
  const targets = roundRobin(() => urls);
  const workers = Array.from({ length: 4 }, (_, i) =>
    simWorker(targets, ledger, { runtime, leaseMs: LEASE_MS, workMs: [0, 40], limit: 8, name: `w${i}` }),
  );
  const load = produce(targets, ledger, { runtime, rate: ctx.quick ? 150 : 300, batch: 10 });
  return {
    hubs,
    urls,
    ledger,
    runtime,
    workers,
    load,
    async cleanup() {
      await load.stop();
      await Promise.all(workers.map((w) => w.stop()));
      await Promise.all(hubs.map((h) => stopHub(h)));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

export function pgRestart(mode: 'fast' | 'immediate'): Scenario {
  const name = mode === 'fast' ? 'pg-restart' : 'pg-crash';
  return {
    name,
    store: 'postgres',
    what:
      mode === 'fast'
        ? 'PostgreSQL restarted (pg_ctl restart -m fast) under load'
        : 'PostgreSQL crashed and restarted (pg_ctl restart -m immediate: crash recovery) under load',
    async run(ctx) {
      if (!ctx.pg) return skipped(`no private PostgreSQL: ${ctx.pgProblem}`);
      const s = await twoHubs(ctx, name);
      try {
        await sleep(ctx.quick ? 1500 : 3000);
        const before = s.ledger.created.size;
        const t0 = Date.now();
        await ctx.pg.restart(mode);
        const restartS = (Date.now() - t0) / 1000;
        const recovery = await recoveredAfter(() => s.urls, t0);
        ctx.log(`  database back after ${round(restartS)} s; both hubs serving after ${round(recovery)} s`);
        await sleep(ctx.quick ? 1500 : 3000);
        const after = s.ledger.created.size;
        await s.load.stop();
        const f = await settle(() => s.urls, s.runtime, s.ledger, s.workers);
        const alive = s.hubs.every((h) => h.alive);
        return {
          jobs_lost: f.jobs_lost,
          completed_twice: f.completed_twice,
          recovery_s: round(recovery),
          created: f.created,
          completed: f.completed,
          checks: [
            { name: 'both hub processes survived', ok: alive },
            {
              name: 'jobs were created before and after the restart',
              ok: before > 20 && after > before + 20,
              detail: `${before} → ${after}`,
            },
            { name: 'queue drained', ok: f.drained },
          ],
          extra: {
            restart_s: round(restartS),
            refused_requests: s.ledger.refused,
            stale_refused: s.ledger.stale,
          },
          details: f.details,
        };
      } finally {
        await s.cleanup();
      }
    },
  };
}

export const pgTerminate: Scenario = {
  name: 'pg-terminate',
  store: 'postgres',
  what: 'every hub connection to PostgreSQL terminated (pg_terminate_backend) 15 (quick) / 40 times, 50-300 ms apart, under load',
  async run(ctx) {
    if (!ctx.pg) return skipped(`no private PostgreSQL: ${ctx.pgProblem}`);
    const s = await twoHubs(ctx, 'pg-terminate');
    try {
      await sleep(ctx.quick ? 1500 : 3000);
      let terminated = 0;
      const rounds = ctx.quick ? 15 : 40;
      for (let i = 0; i < rounds && s.hubs.every((h) => h.alive); i++) {
        terminated += await ctx.pg.terminateBackends();
        // Irregular gaps: some land while connections are being re-opened.
        if (i < rounds - 1) await sleep(50 + Math.random() * 250);
      }
      const t0 = Date.now();
      const recovery = await recoveredAfter(() => s.urls, t0);
      ctx.log(
        `  ${terminated} connections terminated; both hubs serving ${round(recovery)} s after the last`,
      );
      const before = s.ledger.created.size;
      await sleep(ctx.quick ? 1500 : 3000);
      const after = s.ledger.created.size;
      await s.load.stop();
      const f = await settle(() => s.urls, s.runtime, s.ledger, s.workers);
      return {
        jobs_lost: f.jobs_lost,
        completed_twice: f.completed_twice,
        recovery_s: round(recovery),
        created: f.created,
        completed: f.completed,
        checks: [
          { name: 'both hub processes survived', ok: s.hubs.every((h) => h.alive) },
          { name: 'connections were terminated', ok: terminated > 0, detail: String(terminated) },
          {
            name: 'jobs kept being created afterwards',
            ok: after > before + 20,
            detail: `${before} → ${after}`,
          },
          { name: 'queue drained', ok: f.drained },
        ],
        extra: { terminated, refused_requests: s.ledger.refused, stale_refused: s.ledger.stale },
        details: f.details,
      };
    } finally {
      await s.cleanup();
    }
  },
};
