/**
 * The hub service: wires store, blobs, dispatch and events together and runs the background
 * loops (lease reaper, retention). API faces call into it; it knows nothing of HTTP.
 */
import { setMaxListeners } from 'node:events';
import { mkdirSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.js';
import type { HubConfig } from '../config/config.js';
import { backoffDelay } from '../core/lease.js';
import { Dispatcher } from '../jobs/dispatcher.js';
import { JobEvents } from '../jobs/job-events.js';
import { Portal } from '../contest/portal.js';
import type { PortalStore } from '../contest/store/store.js';
import { openBlobs, openContestStore, openStore } from './drivers.js';
import type { Store } from '../store/store.js';
import { AuthService } from '../auth/auth.js';
import { WATCH_INTERVAL_MS as PORTAL_WATCH_MS } from '../contest/organisers.js';
import { createMetrics, RUNTIME_SERIES, type Clock, type HubContext } from '../jobs/context.js';
import { topN } from '../metrics/registry.js';
import { BlobService } from '../jobs/blobs.js';
import { FunctionService } from '../jobs/functions.js';
import { KvService } from '../kv/kv.js';
import type { HubServices } from '../http/services.js';
import { JobService } from '../jobs/jobs.js';
import { GroupService } from '../jobs/groups.js';
import { LeaseService, WorkerRegistry } from '../jobs/workers.js';
import { ScheduleService } from '../schedules/schedules.js';
import { WebhookService } from '../webhooks/webhooks.js';

/** How often the "last used" times of tokens are written (one batch each time). */
const TOKEN_USE_FLUSH_MS = 5_000;

export interface HubDeps {
  clock?: Clock;
  log?: Logger;
  store?: Store;
  blobs?: BlobStore;
}

export class Hub implements HubServices {
  readonly ctx: HubContext;
  readonly jobs: JobService;
  readonly workers: WorkerRegistry;
  readonly leases: LeaseService;
  readonly groups: GroupService;
  readonly auth: AuthService;
  readonly blobs: BlobService;
  readonly functions: FunctionService;
  readonly kv: KvService;
  readonly schedules: ScheduleService;
  readonly webhooks: WebhookService;
  /** The contest portal (benchmark jobs, teams, leaderboard). */
  readonly portal: Portal;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  private unsubscribe: (() => void) | undefined;

  private constructor(
    ctx: HubContext,
    private readonly stopping: AbortController,
    portalStore: PortalStore | null,
  ) {
    this.ctx = ctx;
    this.workers = new WorkerRegistry(ctx);
    this.leases = new LeaseService(
      ctx,
      this.workers,
      (jobs) => this.jobs.announced(jobs),
      (job) => this.jobs.finished(job),
    );
    this.jobs = new JobService(ctx, this.workers, this.leases);
    this.schedules = new ScheduleService(ctx, this.jobs);
    this.webhooks = new WebhookService(ctx);
    this.groups = new GroupService(ctx);
    this.auth = new AuthService(ctx);
    this.blobs = new BlobService(ctx);
    this.functions = new FunctionService(ctx, this.blobs);
    this.kv = new KvService(ctx);
    this.portal = new Portal(this, portalStore);
    this.registerGauges();
  }

  /** Opens the embedded store and blob directory under `config.dataDir` (unless given). */
  static async open(config: HubConfig, deps: HubDeps = {}): Promise<Hub> {
    mkdirSync(config.dataDir, { recursive: true });
    const log = deps.log ?? pino({ level: config.logLevel, base: { service: 'jobhub' } });
    const store = deps.store ?? (await openStore(config, log));
    const blobs = deps.blobs ?? (await openBlobs(config));
    const portalStore = await openContestStore(store);
    const stopping = new AbortController();
    // Every parked wait and event stream listens for the shutdown: no listener cap.
    setMaxListeners(0, stopping.signal);
    const ctx: HubContext = {
      config,
      store,
      blobs,
      dispatcher: new Dispatcher(),
      events: new JobEvents({ perJob: config.logTailBytes, total: config.logTailTotalBytes }),
      clock: deps.clock ?? Date.now,
      log,
      metrics: createMetrics(),
      shutdown: stopping.signal,
    };
    return new Hub(ctx, stopping, portalStore);
  }

  /** Starts the background loops. */
  async start(): Promise<void> {
    const every = (ms: number, name: string, fn: () => Promise<unknown>) => {
      let running = false;
      const t = setInterval(() => {
        if (running || this.closed) return;
        running = true;
        fn()
          .catch((err: unknown) => this.ctx.log.error({ err }, `${name} failed`))
          .finally(() => (running = false));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.ctx.config.reapIntervalMs, 'lease reaper', () => this.reapOnce());
    const { store, dispatcher } = this.ctx;
    if (store.onJobsAvailable) {
      // Shared store: other hubs make jobs runnable too. Wake on their notifications, and poll
      // slowly as a safety net because notifications can be lost.
      this.unsubscribe = store.onJobsAvailable((e) => {
        if ('resync' in e) return void this.safetyPoll();
        for (const r of e.runtimes) this.announceLater(r.runtime, r.count, r.at);
      });
      every(this.ctx.config.safetyPollMs, 'safety poll', () =>
        dispatcher.parked ? this.safetyPoll() : Promise.resolve(),
      );
    }
    every(this.ctx.config.retentionIntervalMs, 'retention', () => this.retainOnce());
    this.groups.start();
    // The contest organisers' duties: benchmarker health, freeze/end notices, publication.
    every(PORTAL_WATCH_MS, 'portal watch', () => this.portal.watch());
    // "Last used" of tokens: one batched write every few seconds, whatever the request rate.
    every(TOKEN_USE_FLUSH_MS, 'token use', () => this.auth.flushUsed());
    await this.leases.scheduleDelayed();
    this.schedules.start();
    this.webhooks.start();
  }

  /** Answers every long-poll now (lease, wait, contract) and ends event streams. */
  beginShutdown(): void {
    this.schedules.close();
    this.webhooks.close();
    this.leases.close();
    this.stopping.abort();
  }

  /** Wakes up to `count` parked workers for `runtime` when `at` (ms) comes. */
  private announceLater(runtime: string, count: number, at: number): void {
    const signals = Array.from({ length: Math.min(count, 1000) }, () => ({ runtime, tags: [] }));
    const delay = at - this.ctx.clock();
    if (delay <= 0) return this.ctx.dispatcher.announce(signals);
    const t = setTimeout(() => this.ctx.dispatcher.announce(signals), delay);
    t.unref();
  }

  /** Looks at what is queued in the shared store and wakes parked workers for it. */
  async safetyPoll(): Promise<void> {
    const now = this.ctx.clock();
    for (const s of await this.ctx.store.queueStats()) {
      if (s.state === 'queued') this.announceLater(s.runtime, s.count, now);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    for (const t of this.timers) clearInterval(t);
    this.groups.close();
    this.portal.close();
    this.beginShutdown();
    await this.workers.flushSeen().catch(() => undefined);
    await this.auth.flushUsed().catch(() => undefined);
    await this.ctx.store.close();
  }

  /** Turns expired leases into retries or failures; returns how many it handled. */
  async reapOnce(): Promise<number> {
    const { ctx } = this;
    let total = 0;
    for (;;) {
      const jobs = await ctx.store.leaseReapExpired({
        now: ctx.clock(),
        limit: 500,
        retryDelayMs: (attempt) =>
          backoffDelay(attempt, { baseMs: ctx.config.retryBaseMs, maxMs: ctx.config.retryMaxMs }),
      });
      for (const job of jobs) {
        ctx.metrics.leaseExpiries.inc();
        ctx.log.info({ jobId: job.id, state: job.state, error: job.error }, 'lease expired');
        this.leases.settled(job);
      }
      total += jobs.length;
      if (jobs.length < 500) break;
    }
    await this.workers.flushSeen();
    return total;
  }

  /**
   * Removes finished jobs, unreferenced blobs and done webhook deliveries older than the
   * retention, in small batches.
   */
  async retainOnce(): Promise<{ jobs: number; blobs: number; deliveries: number }> {
    const { ctx } = this;
    const before = ctx.clock() - ctx.config.retentionMs;
    let jobs = 0;
    // Small batches, each its own commit, so retention never holds the writer for long.
    for (;;) {
      const n = await ctx.store.jobDeleteFinished({ before, limit: 500 });
      jobs += n;
      if (n < 500 || jobs >= 10_000) break;
    }
    const candidates = await ctx.store.blobListUnreferenced({ before, limit: 200 });
    const deleted = candidates.length
      ? await ctx.store.blobDelete({ ids: candidates.map((b) => b.id), before })
      : [];
    for (const b of deleted) await ctx.blobs.delete(b.sha256);
    const deliveries = await this.webhooks.prune(ctx.config.retentionMs);
    if (jobs || deleted.length || deliveries)
      ctx.log.info({ jobs, blobs: deleted.length, deliveries }, 'retention removed old data');
    return { jobs, blobs: deleted.length, deliveries };
  }

  /** Whether the store answers. */
  async ready(): Promise<boolean> {
    return this.ctx.store.ping().catch(() => false);
  }

  private registerGauges(): void {
    const { registry } = this.ctx.metrics;
    type Sample = { labels: Record<string, string>; value: number };
    let cache: { at: number; folded: Promise<{ jobs: Sample[]; oldest: Sample[] }> } | null = null;
    // One store query at most every second, shared by the gauges below and by concurrent scrapes
    // (the promise is cached, not its result: parallel scrapes must not each run the query), and
    // folded once. Job runtimes are chosen by clients: the RUNTIME_SERIES runtimes with the most
    // jobs keep their label, the rest are summed as runtime="other" (the oldest: the earliest).
    const folded = () => {
      const now = this.ctx.clock();
      if (!cache || now - cache.at > 1000) {
        const query = this.ctx.store.queueStats().then((stats) => ({
          jobs: topN(
            stats.map((s) => ({ labels: { state: s.state, runtime: s.runtime }, value: s.count })),
            'runtime',
            RUNTIME_SERIES,
          ),
          // Ages as of the query: the gauge adds the time since.
          oldest: topN(
            stats
              .filter((s) => s.state === 'queued' && s.oldestCreatedAt !== null)
              .map((s) => ({ labels: { runtime: s.runtime }, value: now - s.oldestCreatedAt! })),
            'runtime',
            RUNTIME_SERIES,
            Math.max,
          ),
        }));
        cache = { at: now, folded: query };
        query.catch(() => {
          if (cache?.folded === query) cache = null;
        });
      }
      return cache;
    };
    registry.gauge(
      'jobhub_jobs',
      'Jobs queued or running, by state and runtime.',
      async () => (await folded().folded).jobs,
    );
    registry.gauge(
      'jobhub_oldest_queued_age_seconds',
      'Age of the oldest queued job, by runtime.',
      async () => {
        const c = folded();
        const since = this.ctx.clock() - c.at;
        return (await c.folded).oldest.map((s) => ({ labels: s.labels, value: (s.value + since) / 1000 }));
      },
    );
    registry.gauge('jobhub_parked_lease_requests', 'Lease long-polls waiting for a job.', () => [
      { labels: {}, value: this.ctx.dispatcher.parked },
    ]);
    registry.gauge(
      'jobhub_live_log_bytes',
      'Bytes of live log lines kept for watchers of running jobs.',
      () => [{ labels: {}, value: this.ctx.events.logBytes }],
    );
    registry.gauge('jobhub_workers_alive', 'Workers seen within three lease lengths.', () => [
      { labels: {}, value: this.workers.alive().length },
    ]);
  }
}
