/**
 * The network between a worker and the hub is cut for longer than a lease. Worker A talks to the
 * hub through a TCP proxy that black-holes both directions (nothing passes, nothing is refused:
 * requests just hang, as in a partition); workers B and C talk to it directly. While A is cut
 * off its leases expire, the reaper re-queues its jobs and B or C finish them; when the network
 * heals, A's late heartbeats and completions must be refused (409), and A must get back to work.
 * recovery_s runs from the heal until A completes a job again.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  CutProxy,
  Ledger,
  fixed,
  produce,
  round,
  settle,
  simWorker,
  skipped,
  sleep,
  startHub,
  stopHub,
  tempDir,
  withSchema,
  type Scenario,
  type StoreKind,
  type WorkerEvent,
} from '../lib.js';

const LEASE_MS = 1000;

export function netCut(store: StoreKind): Scenario {
  return {
    name: 'net-cut',
    store,
    what: 'the network between one worker and the hub black-holed for 3 (quick) / 6 s, three leases and more',
    async run(ctx) {
      if (store === 'postgres' && !ctx.pg) return skipped(`no private PostgreSQL: ${ctx.pgProblem}`);
      const dir = tempDir();
      const hub = await startHub({
        dataDir: dir,
        database: store === 'postgres' ? withSchema(ctx.pg!.url, 'chaos_net') : undefined,
        logFile: join(ctx.runDir, `net-cut-${store}.log`),
        leaseMs: LEASE_MS,
      });
      const proxy = new CutProxy({ host: '127.0.0.1', port: hub.port });
      await proxy.start();
      const ledger = new Ledger();
      const runtime = 'net';
      const holding = new Map<string, number>();
      const aEvents: WorkerEvent[] = [];
      const onA = (e: WorkerEvent) => {
        aEvents.push(e);
        if (e.type === 'leased') holding.set(e.jobId, e.at);
        else if (e.type === 'completed' || e.type === 'stale') holding.delete(e.jobId);
      };
      const common = {
        runtime,
        leaseMs: LEASE_MS,
        workMs: [300, 800] as [number, number],
        limit: 2,
        timeoutMs: 1500,
      };
      const a = simWorker(fixed(proxy.url), ledger, { ...common, name: 'A', onEvent: onA });
      const others = ['B', 'C'].map((name) => simWorker(fixed(hub.url), ledger, { ...common, name }));
      const load = produce(fixed(hub.url), ledger, { runtime, rate: 20, producers: 2 });
      const cutMs = ctx.quick ? 3000 : 6000;
      try {
        await sleep(1500);
        for (let i = 0; i < 50 && holding.size === 0; i++) await sleep(100);
        const held = [...holding.keys()];
        const cutAt = Date.now();
        proxy.cut();
        await sleep(cutMs);
        proxy.heal();
        const healedAt = Date.now();
        let recovery = Infinity;
        for (let i = 0; i < 300; i++) {
          const back = aEvents.find((e) => e.type === 'completed' && e.at > healedAt);
          if (back) {
            recovery = (back.at - healedAt) / 1000;
            break;
          }
          await sleep(100);
        }
        ctx.log(`  A held ${held.length} job(s) when cut; back at work ${round(recovery)} s after the heal`);
        await sleep(1000);
        await load.stop();
        const f = await settle(() => [hub.url], runtime, ledger, [a, ...others]);
        const aStale = aEvents
          .filter((e) => e.type === 'stale' && e.at > cutAt)
          .map((e) => (e as { jobId: string }).jobId);
        const finishedByOthers = held.filter((id) =>
          (ledger.completions.get(id) ?? []).some((c) => c.worker !== a.id()),
        );
        return {
          jobs_lost: f.jobs_lost,
          completed_twice: f.completed_twice,
          recovery_s: round(recovery),
          created: f.created,
          completed: f.completed,
          checks: [
            {
              name: 'the cut worker held jobs when the network was cut',
              ok: held.length > 0,
              detail: held.join(','),
            },
            {
              name: 'every job it held was finished by another worker',
              ok: finishedByOthers.length === held.length,
              detail: `${finishedByOthers.length}/${held.length}`,
            },
            {
              name: "the cut worker's late reports were refused (fencing)",
              ok: held.every((id) => aStale.includes(id)),
              detail: `stale: ${aStale.join(',')}`,
            },
            { name: 'queue drained', ok: f.drained },
          ],
          extra: { cut_s: cutMs / 1000, held_when_cut: held.length, stale_refused: ledger.stale },
          details: f.details,
        };
      } finally {
        proxy.heal();
        await load.stop();
        await Promise.all([a, ...others].map((w) => w.stop()));
        await proxy.close();
        await stopHub(hub);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
