/**
 * Workers killed mid-job: simulated workers run as separate processes (chaos/sim-worker.ts),
 * each job takes 200-600 ms with heartbeats, and every round two workers that hold jobs are
 * killed with SIGKILL and replaced. Their leases expire, the reaper re-queues the jobs, others
 * finish them. recovery_s is the longest time from a kill until every job the dead worker held
 * was completed by someone else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  Ledger,
  ROOT,
  fixed,
  tryHttp,
  produce,
  round,
  settle,
  skipped,
  sleep,
  startHub,
  stopHub,
  tempDir,
  withSchema,
  type LoadHandle,
  type Scenario,
  type StoreKind,
  type WorkerEvent,
} from '../lib.js';

const LEASE_MS = 1000;

interface Proc {
  child: ChildProcess;
  name: string;
  /** Jobs leased and not yet completed or given up, by job id → token. */
  holding: Map<string, string>;
  exited: Promise<void>;
}

export function workerKill(store: StoreKind): Scenario {
  return {
    name: 'worker-kill',
    store,
    what: 'worker processes killed -9 mid-job (two per round) and replaced',
    async run(ctx) {
      if (store === 'postgres' && !ctx.pg) return skipped(`no private PostgreSQL: ${ctx.pgProblem}`);
      const dir = tempDir();
      const hub = await startHub({
        dataDir: dir,
        database: store === 'postgres' ? withSchema(ctx.pg!.url, 'chaos_wk') : undefined,
        logFile: join(ctx.runDir, `worker-kill-${store}.log`),
        leaseMs: LEASE_MS,
      });
      const ledger = new Ledger();
      const runtime = 'wk';
      const procs = new Set<Proc>();
      let seq = 0;
      /** Job id → kill time, for jobs held by a worker when it was killed. */
      const orphaned = new Map<string, number>();
      const recovered = new Map<string, number>();
      const watches: Promise<void>[] = [];
      /** Waits (long-poll) until an orphaned job succeeded; its completion may also be the dead
       * worker's own, committed just before it died with the reply still on the wire. */
      const watch = (jobId: string, killedAt: number) =>
        watches.push(
          (async () => {
            for (let i = 0; i < 12 && !recovered.has(jobId); i++) {
              const r = await tryHttp(
                hub.url,
                'GET',
                `/api/v1/jobs/${jobId}/wait?state=succeeded&timeoutMs=5000`,
                undefined,
                {
                  timeoutMs: 10_000,
                },
              );
              if (r?.body?.state === 'succeeded')
                recovered.set(jobId, Date.parse(r.body.finishedAt as string) - killedAt);
            }
          })(),
        );

      const registered = new Set<string>();
      const onEvent = (p: Proc, e: WorkerEvent) => {
        if (e.type === 'registered') registered.add(p.name);
        else if (e.type === 'leased') {
          ledger.leased(e.jobId);
          p.holding.set(e.jobId, e.token);
        } else if (e.type === 'completed') {
          p.holding.delete(e.jobId);
          ledger.acknowledgeComplete(e.jobId, e);
        } else if (e.type === 'stale') {
          p.holding.delete(e.jobId);
          ledger.stale++;
        }
      };
      const spawnWorker = (): Proc => {
        const name = `p${seq++}`;
        const options = { hubs: [hub.url], runtime, leaseMs: LEASE_MS, workMs: [200, 600], limit: 2, name };
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', join(ROOT, 'chaos/sim-worker.ts'), JSON.stringify(options)],
          {
            cwd: ROOT,
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        const p: Proc = {
          child,
          name,
          holding: new Map(),
          exited: new Promise((r) => child.once('exit', () => r())),
        };
        let buf = '';
        child.stdout!.setEncoding('utf8');
        child.stdout!.on('data', (chunk: string) => {
          buf += chunk;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            try {
              onEvent(p, JSON.parse(line) as WorkerEvent);
            } catch {
              // not an event
            }
          }
        });
        procs.add(p);
        return p;
      };

      for (let i = 0; i < 6; i++) spawnWorker();
      const load = produce(fixed(hub.url), ledger, { runtime, rate: 25, producers: 2 });
      const rounds = ctx.quick ? 3 : 8;
      let killedWhileHolding = 0;
      try {
        // The workers start (tsx) and take jobs.
        for (let i = 0; i < 200 && registered.size < 6; i++) await sleep(50);
        for (let r = 0; r < rounds; r++) {
          await sleep(1500);
          let victims: Proc[] = [];
          for (let i = 0; i < 60 && victims.length < 2; i++) {
            victims = [...procs].filter((p) => p.holding.size > 0).slice(0, 2);
            if (victims.length < 2) await sleep(50);
          }
          for (const v of victims) {
            const holdingNow = v.holding.size;
            const at = Date.now();
            for (const jobId of v.holding.keys()) {
              orphaned.set(jobId, at);
              watch(jobId, at);
            }
            killedWhileHolding += holdingNow;
            v.child.kill('SIGKILL');
            await v.exited;
            procs.delete(v);
            spawnWorker();
          }
          ctx.log(`  round ${r + 1}/${rounds}: killed ${victims.map((v) => v.name).join(', ')}`);
        }
        await sleep(1000);
        await load.stop();
        await Promise.all(watches);
        const stopAll: LoadHandle = {
          async stop() {
            for (const p of procs) p.child.kill('SIGTERM');
            await Promise.all([...procs].map((p) => p.exited));
          },
        };
        const f = await settle(() => [hub.url], runtime, ledger, [stopAll]);
        const notRecovered = [...orphaned.keys()].filter((id) => !recovered.has(id));
        const times = [...recovered.values()].map((ms) => ms / 1000);
        return {
          jobs_lost: f.jobs_lost,
          completed_twice: f.completed_twice,
          recovery_s: notRecovered.length ? Infinity : round(Math.max(0, ...times)),
          created: f.created,
          completed: f.completed,
          checks: [
            {
              name: 'workers were killed while holding jobs',
              ok: killedWhileHolding > 0,
              detail: String(killedWhileHolding),
            },
            {
              name: 'every job held by a killed worker ended succeeded',
              ok: notRecovered.length === 0,
              detail: notRecovered.slice(0, 10).join(','),
            },
            { name: 'queue drained', ok: f.drained },
          ],
          extra: { killed_holding_jobs: killedWhileHolding, rounds, stale_refused: ledger.stale },
          details: f.details,
        };
      } finally {
        await load.stop();
        for (const p of procs) p.child.kill('SIGKILL');
        await Promise.all([...procs].map((p) => p.exited));
        await stopHub(hub);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
