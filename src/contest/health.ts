/**
 * Benchmarker health for the staff pages: per benchmarker its last dequeue, its running job, how
 * many jobs it took and how many ended aborted, and whether it is offline (no dequeue for the
 * `offline_after_s` setting). Staff take a benchmarker out of service and back: an out-of-service
 * benchmarker's dequeue answers "no job", exactly as for an empty queue, so benchmarkers written
 * for the old portals keep polling and pick up again when it is put back.
 *
 * Dequeues are counted in memory (the hot path writes nothing) and flushed to the store by the
 * portal's watch tick (about every second), so hubs sharing a database agree on "last dequeue".
 * The tick also raises the "offline" notification, claimed once in the store per silence (the key
 * names the last dequeue), so several hubs send it once.
 */
import { notFound } from '../core/errors.js';
import type { JobRecord } from '../store/store.js';
import { iso } from './contest.js';
import type { Notifier } from './notify.js';
import type { BenchmarkerJobStats, OrganiserStore } from './store/organisers.js';
import type { BenchmarkerRecord, PortalStore } from './store/store.js';
import { BENCH_RUNTIME } from './views.js';

export type BenchStatus = 'online' | 'offline' | 'never_seen' | 'out_of_service';

export interface BenchHealthView {
  id: number;
  name: string;
  ip: string;
  status: BenchStatus;
  out_of_service: boolean;
  offline: boolean;
  last_dequeue_at: string | null;
  seconds_since_dequeue: number | null;
  running_job: { id: number; team: { id: number; name: string } } | null;
  jobs: number;
  aborted: number;
}

export class BenchHealth {
  /** Benchmarker ids out of service (re-read every tick; changed at once here). */
  private outOfService = new Set<string>();
  /** This hub's latest dequeue per benchmarker, and what was last written. */
  private readonly seen = new Map<string, number>();
  private readonly written = new Map<string, number>();

  constructor(
    private readonly o: {
      portal: () => PortalStore;
      organisers: () => OrganiserStore;
      clock: () => number;
      notifier: Notifier;
      offlineAfterMs: () => Promise<number>;
      job: (id: string) => Promise<JobRecord | null>;
      teamName: (id: string | null) => string;
    },
  ) {}

  /** A dequeue by `b`: recorded; false when it is out of service (answer "no job"). */
  dequeued(b: BenchmarkerRecord): boolean {
    this.seen.set(b.id, this.o.clock());
    return !this.outOfService.has(b.id);
  }

  async setService(id: string, inService: boolean): Promise<BenchmarkerRecord> {
    const b = await this.o.portal().benchmarkerGet({ id });
    if (!b) throw notFound('benchmarker', id);
    await this.o.organisers().healthSetService({ benchmarkerId: b.id, outOfService: !inService });
    if (inService) this.outOfService.delete(b.id);
    else this.outOfService.add(b.id);
    return b;
  }

  /** Writes the dequeues seen since the last flush (one write per benchmarker that polled). */
  private async flush(): Promise<void> {
    const store = this.o.organisers();
    for (const [id, at] of this.seen) {
      if (this.written.get(id) === at) continue;
      await store.healthSeen({ benchmarkerId: id, at });
      this.written.set(id, at);
    }
  }

  /** The watch tick: flush, re-read the service states, notify benchmarkers that went silent. */
  async tick(): Promise<void> {
    await this.flush();
    const [list, health, offlineMs] = await Promise.all([
      this.o.portal().benchmarkerList(),
      this.o.organisers().healthList(),
      this.o.offlineAfterMs(),
    ]);
    this.outOfService = new Set(health.filter((h) => h.outOfService).map((h) => h.benchmarkerId));
    if (!(await this.o.notifier.hasTargets())) return;
    const now = this.o.clock();
    const byId = new Map(health.map((h) => [h.benchmarkerId, h]));
    for (const b of list) {
      const h = byId.get(b.id);
      if (!h || h.outOfService || h.lastDequeueAt === null || now - h.lastDequeueAt < offlineMs) continue;
      const key = `offline:${b.id}:${h.lastDequeueAt}`;
      if (!(await this.o.organisers().onceClaim({ key, now }))) continue;
      const silent = Math.round((now - h.lastDequeueAt) / 1000);
      this.o.notifier.send(
        'offline',
        `Benchmarker ${b.name} (${b.address}) is offline: no dequeue for ${silent} s (last at ${iso(h.lastDequeueAt)})`,
      );
    }
  }

  /** Every benchmarker's health, by id. */
  async list(): Promise<BenchHealthView[]> {
    await this.flush();
    const [list, health, stats, offlineMs] = await Promise.all([
      this.o.portal().benchmarkerList(),
      this.o.organisers().healthList(),
      this.o.organisers().benchmarkerJobStats({ runtime: BENCH_RUNTIME }),
      this.o.offlineAfterMs(),
    ]);
    const byId = new Map(health.map((h) => [h.benchmarkerId, h]));
    const byWorker = new Map<string, BenchmarkerJobStats>(stats.map((s) => [s.workerId, s]));
    const now = this.o.clock();
    return Promise.all(
      list.map(async (b) => {
        const h = byId.get(b.id);
        const s = b.workerId === null ? undefined : byWorker.get(b.workerId);
        const last = h?.lastDequeueAt ?? null;
        const offline = last === null || now - last >= offlineMs;
        const outOfService = h?.outOfService ?? false;
        const running = s?.runningJobId ? await this.o.job(s.runningJobId) : null;
        const status: BenchStatus = outOfService
          ? 'out_of_service'
          : last === null
            ? 'never_seen'
            : offline
              ? 'offline'
              : 'online';
        return {
          id: Number(b.id),
          name: b.name,
          ip: b.address,
          status,
          out_of_service: outOfService,
          offline,
          last_dequeue_at: iso(last),
          seconds_since_dequeue: last === null ? null : Math.max(0, Math.floor((now - last) / 1000)),
          running_job: running
            ? {
                id: Number(running.id),
                team: { id: Number(running.team ?? 0), name: this.o.teamName(running.team) },
              }
            : null,
          jobs: s?.jobs ?? 0,
          aborted: s?.aborted ?? 0,
        };
      }),
    );
  }
}
