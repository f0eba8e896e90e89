/**
 * The worker side of the hub: registration, leasing (with the long-poll), heartbeats,
 * completion and failure. Every side effect of an attempt carries the lease token; the store
 * refuses stale ones and this layer turns that into `lease_stale` (HTTP 409).
 */
import type { CancelSignal } from '../core/cancel.js';
import { HubError, notFound } from '../core/errors.js';
import { backoffDelay } from '../core/lease.js';
import { acceptedRuntimes, canonicalRuntime, parseRuntime } from '../core/runtime.js';
import { normalizeWorkerTags, tagsAllow } from '../core/tags.js';
import type { JobRecord, LeaseCheck, LeaseRequest, WorkerRecord } from '../store/store.js';
import type { Principal } from '../auth/auth.js';
import type { HubContext } from './context.js';
import { describeLeased, type LeasedJob } from './leased.js';
import { ParkedLease } from './parked-lease.js';

export type { JobRecord, WorkerRecord };

export interface LiveWorker {
  record: WorkerRecord;
  /** Shared between workers offering the same runtimes: never changed. */
  accepted: string[];
  tags: ReadonlySet<string>;
  lastSeen: number;
  /** Lease requests of this worker parked right now. */
  parked: number;
}

/** Most job runtimes one worker may accept (a runtime with n features accepts 2^n). */
const MAX_ACCEPTED = 1024;
/** Most runtime names `offers` looks at. */
const MAX_OFFERED = 10_000;
/**
 * Most workers kept in memory. Each registration adds one, so a worker token could grow the map
 * without end within the hour it keeps them; past this the least recently registered or loaded
 * workers that are not parked are forgotten (the store still has them: `get` loads them again).
 */
const MAX_LIVE_WORKERS = 10_000;

/** The tags of a worker without tags, shared (never changed). */
const NO_TAGS: ReadonlySet<string> = new Set();

/** Workers known to this hub process, loaded from the store on first use after a restart. */
export class WorkerRegistry {
  private readonly live = new Map<string, LiveWorker>();
  private readonly touched = new Set<string>();
  private readonly reserved = new Map<string, { protocol: WorkerRecord['protocol']; why: string }>();

  constructor(private readonly ctx: HubContext) {}

  /**
   * Keeps a runtime base for workers registered with `protocol` (a module that hands out its
   * jobs by its own rules, such as the contest's benchmarkers); `why` ends the refusal others get.
   */
  reserveRuntime(base: string, protocol: WorkerRecord['protocol'], why: string): void {
    this.reserved.set(base, { protocol, why });
  }

  async register(p: {
    name: string | null;
    runtimes: string[];
    tags: string[];
    capacity: number;
    protocol: WorkerRecord['protocol'];
    /** The registering token: only it (or an admin) may lease as this worker. */
    owner?: string | null;
  }): Promise<LiveWorker> {
    const runtimes = [...new Set(p.runtimes.map(canonicalRuntime))];
    if (runtimes.length === 0) throw new HubError('validation_failed', 'a worker needs at least one runtime');
    // Each runtime of n features accepts 2^n job runtimes, all held in memory and sent to the store
    // with every lease: 64 runtimes of 8 features would be 16,384 names per worker.
    const accepted = runtimes.reduce((n, r) => n + 2 ** parseRuntime(r).features.length, 0);
    if (accepted > MAX_ACCEPTED) {
      throw new HubError(
        'validation_failed',
        `these runtimes accept ${accepted} job runtimes (each feature doubles them); at most ${MAX_ACCEPTED}`,
      );
    }
    for (const r of runtimes) {
      const reserved = this.reserved.get(parseRuntime(r).base);
      if (reserved && reserved.protocol !== p.protocol) {
        throw new HubError(
          'validation_failed',
          `runtime ${parseRuntime(r).base} is reserved ${reserved.why}`,
        );
      }
    }
    const now = this.ctx.clock();
    const record = await this.ctx.store.workerInsert({
      name: p.name,
      runtimes,
      tags: normalizeWorkerTags(p.tags),
      capacity: p.capacity,
      protocol: p.protocol,
      createdAt: now,
      lastSeenAt: now,
      owner: p.owner ?? null,
    });
    return this.remember(record);
  }

  /**
   * Accepted runtimes by offered runtimes, shared by the workers that offer the same (most do):
   * 10,000 idle workers need not hold 10,000 copies. Never changed once made.
   */
  private readonly acceptedByOffer = new Map<string, string[]>();

  private acceptedFor(runtimes: string[]): string[] {
    const key = runtimes.join('\n');
    let accepted = this.acceptedByOffer.get(key);
    if (!accepted) {
      if (this.acceptedByOffer.size >= MAX_LIVE_WORKERS) this.acceptedByOffer.clear();
      this.acceptedByOffer.set(key, (accepted = acceptedRuntimes(runtimes)));
    }
    return accepted;
  }

  private remember(record: WorkerRecord): LiveWorker {
    const w: LiveWorker = {
      record,
      accepted: this.acceptedFor(record.runtimes),
      tags: record.tags.length ? new Set(record.tags) : NO_TAGS,
      lastSeen: record.lastSeenAt,
      parked: 0,
    };
    this.live.set(record.id, w);
    if (this.live.size > MAX_LIVE_WORKERS) {
      for (const [id, other] of this.live) {
        if (this.live.size <= MAX_LIVE_WORKERS) break;
        if (other !== w && other.parked === 0) this.live.delete(id);
      }
    }
    return w;
  }

  /** Workers held in memory now. */
  get size(): number {
    return this.live.size;
  }

  async get(id: string): Promise<LiveWorker> {
    const known = this.live.get(id);
    if (known) return known;
    if (!/^\d{1,18}$/.test(id)) throw notFound('worker', id);
    const record = await this.ctx.store.workerGet({ id });
    if (!record) throw notFound('worker', id);
    return this.remember(record);
  }

  /**
   * A worker the caller may act as: one its token registered (admins: any). Another token's
   * worker is as unknown as a missing one, so ids cannot be probed.
   */
  async actingAs(id: string, p: Principal): Promise<LiveWorker> {
    const w = await this.get(id);
    if (p.role !== 'admin' && (w.record.owner === null || w.record.owner !== p.tokenId)) {
      throw notFound('worker', id);
    }
    return w;
  }

  /** Whether the caller may act on a lease held by worker `workerId` (its own worker's lease). */
  async holds(p: Principal, workerId: string | null): Promise<boolean> {
    if (p.role === 'admin') return true;
    if (workerId === null) return false;
    const w = await this.get(workerId).catch(() => null);
    return w !== null && w.record.owner !== null && w.record.owner === p.tokenId;
  }

  /** Notes that a worker was seen; written to the store in batches by `flushSeen`. */
  seen(w: LiveWorker): void {
    w.lastSeen = this.ctx.clock();
    this.touched.add(w.record.id);
  }

  async flushSeen(): Promise<void> {
    // Forget workers gone for an hour (a restarted worker registers a new identity anyway).
    const forgetBefore = this.ctx.clock() - 3600_000;
    for (const [id, w] of this.live) if (w.lastSeen < forgetBefore && w.parked === 0) this.live.delete(id);
    if (this.touched.size === 0) return;
    const ids = [...this.touched];
    this.touched.clear();
    await this.ctx.store.workerTouch({ ids, now: this.ctx.clock() });
  }

  /** Workers seen recently enough to count as alive (three lease lengths). */
  alive(): LiveWorker[] {
    const since = this.ctx.clock() - 3 * this.ctx.config.leaseMs;
    return [...this.live.values()].filter((w) => w.lastSeen >= since || w.parked > 0);
  }

  private offered: { at: number; runtimes: Set<string> } | null = null;

  /**
   * Whether a live worker accepts this job runtime: the bounded set a metric label may take its
   * value from (job runtimes are the client's choice). Rebuilt at most once a second.
   */
  offers(runtime: string): boolean {
    const now = this.ctx.clock();
    if (!this.offered || now - this.offered.at > 1000) {
      // Bounded too: workers may offer many names (64 runtimes of 8 features: 16,384 each).
      const runtimes = new Set<string>();
      fill: for (const w of this.alive()) {
        for (const r of w.accepted) {
          if (runtimes.size >= MAX_OFFERED) break fill;
          runtimes.add(r);
        }
      }
      this.offered = { at: now, runtimes };
    }
    return this.offered.runtimes.has(runtime);
  }

  /** Why a queued job might wait forever, said when it is submitted. */
  eligibilityWarnings(job: JobRecord): string[] {
    if (job.state !== 'queued') return [];
    const alive = this.alive();
    const byRuntime = alive.filter((w) => w.accepted.includes(job.runtime));
    if (byRuntime.length === 0)
      return [`no live worker offers runtime ${job.runtime}; the job waits until one registers`];
    if (!byRuntime.some((w) => tagsAllow(job.tags, w.tags))) {
      return [`workers offer runtime ${job.runtime}, but none has the tags ${job.tags.join(' ')} require`];
    }
    return [];
  }
}

export interface LeaseOptions {
  limit: number;
  waitMs: number;
  /** Tags for this request only, added to the worker's registered tags. */
  tags?: string[];
  /** Lease length; default the hub's; clients that never heartbeat pass the job timeout. */
  leaseMs?: number;
  signal?: CancelSignal;
  /**
   * Team rules, tried in order until one finds a job (the contest: the benchmarker's own teams,
   * then teams nobody is bound to). Parked waiters are handed jobs without team rules, so a
   * request with them never parks: it needs `waitMs` 0.
   */
  teams?: TeamFilter[];
  /**
   * For clients that cannot be told about a job after they hung up (they never heartbeat): jobs
   * leased after `signal` aborted are given back at once, as a retryable failure, rather than
   * held by nobody until their timeout.
   */
  giveBackIfGone?: boolean;
}

export type TeamFilter = NonNullable<LeaseRequest['teams']>;

export { UNTIL_TIMEOUT } from '../core/lease.js';

export class LeaseService {
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** Set on shutdown: parked lease requests answer with no job instead of parking again. */
  closing = false;

  constructor(
    private readonly ctx: HubContext,
    private readonly workers: WorkerRegistry,
    private readonly onReleased: (jobs: JobRecord[]) => void,
    private readonly onFinished: (job: JobRecord) => void,
  ) {}

  /**
   * The one lease path of every face: claims up to `o.limit` jobs for the worker, parking up to
   * `o.waitMs` (capped by the hub) for one when none matches now. Faces only translate the reply.
   */
  lease(workerId: string, o: LeaseOptions): Promise<JobRecord[]> {
    // Plain promise chains rather than async functions: a parked request keeps every suspended
    // frame above it alive (see parked-lease.ts).
    const claimed = this.claim(workerId, o);
    return o.giveBackIfGone ? claimed.then((jobs) => this.giveBackIfGone(jobs, o.signal)) : claimed;
  }

  /** The client hung up while the jobs were being handed over: they go back to the queue. */
  private async giveBackIfGone(jobs: JobRecord[], signal: CancelSignal | undefined): Promise<JobRecord[]> {
    if (jobs.length === 0 || !signal?.aborted) return jobs;
    for (const job of jobs) {
      await this.fail({
        jobId: job.id,
        token: job.leaseToken!,
        error: 'the worker went away before the job was handed over',
        retryable: true,
      });
    }
    return [];
  }

  /** `lease`, each job with what a worker needs to run it (function, small input bytes). */
  leaseToRun(workerId: string, o: LeaseOptions): Promise<LeasedJob[]> {
    return this.lease(workerId, o).then(this.describe);
  }

  private readonly describe = (jobs: JobRecord[]) => describeLeased(this.ctx, jobs);

  private claim(workerId: string, o: LeaseOptions): Promise<JobRecord[]> {
    if (o.teams) return this.claimForTeams(workerId, o.teams, o);
    // One promise for the whole request, settled by its ParkedLease: no promise adopting another
    // stays behind while the request waits.
    return new Promise<JobRecord[]>((resolve, reject) => {
      this.workers
        .get(workerId)
        .then((w) => {
          const { spec, deadline, next } = this.claimParts(w, o);
          new ParkedLease(this.ctx, this, w, spec, deadline, o.signal, next, resolve, reject).claim();
        })
        .catch(reject);
    });
  }

  /** The contest's lease: team rules tried in order, never a wait. */
  private async claimForTeams(workerId: string, teams: TeamFilter[], o: LeaseOptions): Promise<JobRecord[]> {
    if (o.waitMs > 0) throw new Error('a lease with team rules cannot wait');
    const { next } = this.claimParts(await this.workers.get(workerId), o);
    for (const rule of teams) {
      const jobs = await next(rule);
      if (jobs.length > 0) return this.granted(jobs);
    }
    return [];
  }

  /** What a lease of `w` asks the store and waits with. */
  private claimParts(w: LiveWorker, o: LeaseOptions) {
    const { ctx } = this;
    const tags = o.tags?.length ? new Set([...w.tags, ...normalizeWorkerTags(o.tags)]) : w.tags;
    const deadline = ctx.clock() + Math.min(o.waitMs, ctx.config.maxWaitMs);
    this.workers.seen(w);
    const leaseMs = o.leaseMs ?? ctx.config.leaseMs;
    const next = (teams?: TeamFilter) =>
      ctx.store.jobLeaseNext({
        workerId: w.record.id,
        runtimes: w.accepted,
        tags: [...tags],
        limit: o.limit,
        leaseMs,
        now: ctx.clock(),
        ...(teams && { teams }),
      });
    const spec = { workerId: w.record.id, accepted: w.accepted, tags, limit: o.limit, leaseMs };
    return { spec, deadline, next };
  }

  /** Records leases that were just committed. */
  granted(jobs: JobRecord[]): JobRecord[] {
    const now = this.ctx.clock();
    for (const job of jobs) {
      this.ctx.metrics.leasesGranted.inc();
      this.ctx.metrics.queueWaitSeconds.observe(Math.max(0, now - Math.max(job.createdAt, job.runAt)) / 1000);
      this.ctx.events.publish({ type: 'state', job });
    }
    return jobs;
  }

  /** Marks a worker as seen now (a parked lease, when its wait ends). */
  seen(w: LiveWorker): void {
    this.workers.seen(w);
  }

  private leaseError(check: Exclude<LeaseCheck, { ok: true }>, jobId: string): HubError {
    if (check.reason === 'not_found') return notFound('job', jobId);
    if (check.reason === 'canceled')
      return new HubError('lease_stale', `job ${jobId} was canceled; stop working on it`);
    if (check.reason === 'expired') {
      return new HubError(
        'lease_stale',
        `the lease of job ${jobId} expired (timeout or missed heartbeats); stop working on it`,
      );
    }
    return new HubError('lease_stale', `the lease token is not the current lease of job ${jobId}`);
  }

  async heartbeat(p: {
    jobId: string;
    token: string;
    progress?: unknown;
    logs?: string[];
    leaseMs?: number;
  }): Promise<{ cancel: boolean; leaseExpiresAt: number | null }> {
    const { ctx } = this;
    const check = await ctx.store.leaseExtend({
      jobId: p.jobId,
      token: p.token,
      leaseMs: p.leaseMs ?? ctx.config.leaseMs,
      progress: p.progress,
      now: ctx.clock(),
    });
    if (!check.ok) {
      if (check.reason === 'canceled') return { cancel: true, leaseExpiresAt: null };
      throw this.leaseError(check, p.jobId);
    }
    if (check.job.leaseWorkerId) {
      const w = await this.workers.get(check.job.leaseWorkerId).catch(() => null);
      if (w) this.workers.seen(w);
    }
    if (p.progress !== undefined)
      ctx.events.publish({ type: 'progress', jobId: p.jobId, progress: p.progress });
    if (p.logs?.length) ctx.events.publish({ type: 'log', jobId: p.jobId, lines: p.logs });
    return { cancel: false, leaseExpiresAt: check.job.leaseExpiresAt };
  }

  async complete(p: {
    jobId: string;
    token: string;
    output?: { blobId: string } | { bytes: Buffer };
    result?: unknown;
    exitStatus?: number | null;
    nextInputBlobId?: string;
  }): Promise<JobRecord> {
    const { ctx } = this;
    let outputBlobId: string | null = null;
    let outputInline: Buffer | null = null;
    if (p.output && 'blobId' in p.output) {
      if (!(await ctx.store.blobGet({ id: p.output.blobId }))) throw notFound('blob', p.output.blobId);
      outputBlobId = p.output.blobId;
    } else if (p.output) {
      if (p.output.bytes.length > ctx.config.inlineBytes) {
        throw new HubError(
          'payload_too_large',
          `inline output above ${ctx.config.inlineBytes} bytes: upload it as a blob`,
        );
      }
      outputInline = p.output.bytes;
    }
    if (p.nextInputBlobId !== undefined && !(await ctx.store.blobGet({ id: p.nextInputBlobId }))) {
      throw notFound('blob', p.nextInputBlobId);
    }
    const outcome = await ctx.store.jobComplete({
      jobId: p.jobId,
      token: p.token,
      outputBlobId,
      outputInline,
      result: p.result ?? null,
      exitStatus: p.exitStatus ?? null,
      nextInputBlobId: p.nextInputBlobId ?? null,
      now: ctx.clock(),
    });
    if (!outcome.ok) throw this.leaseError(outcome, p.jobId);
    if (outcome.repeat) return outcome.job;
    this.onFinished(outcome.job);
    this.onReleased(outcome.created);
    return outcome.job;
  }

  async fail(p: {
    jobId: string;
    token: string;
    error: string;
    retryable: boolean;
    exitStatus?: number | null;
    result?: unknown;
  }): Promise<JobRecord> {
    const { ctx } = this;
    const current = await ctx.store.jobGet({ id: p.jobId });
    const attempt = current?.attempts ?? 1;
    const check = await ctx.store.jobFail({
      jobId: p.jobId,
      token: p.token,
      error: p.error,
      retryable: p.retryable,
      exitStatus: p.exitStatus ?? null,
      result: p.result ?? null,
      retryDelayMs: backoffDelay(attempt, { baseMs: ctx.config.retryBaseMs, maxMs: ctx.config.retryMaxMs }),
      now: ctx.clock(),
    });
    if (!check.ok) throw this.leaseError(check, p.jobId);
    ctx.metrics.attemptsFailed.inc();
    this.settled(check.job);
    return check.job;
  }

  /** A job left its lease: announce it when it may run again, or publish its end. */
  settled(job: JobRecord): void {
    if (job.state !== 'queued') return this.onFinished(job);
    this.ctx.events.publish({ type: 'state', job });
    // Announce only: the state event is published above, and a retry is not a created job.
    this.announceWhenDue(job);
  }

  /**
   * Wakes a parked worker for a queued job when its `runAt` comes (a retry's backoff, a delayed
   * job): at once when it is due already.
   */
  announceWhenDue(job: JobRecord): void {
    const delay = job.runAt - this.ctx.clock();
    if (delay <= 0) return this.ctx.dispatcher.announce([job]);
    // Its group has a free place now, though the job itself waits out its backoff.
    if (job.group) this.ctx.dispatcher.announce([job]);
    const arm = (ms: number) => {
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        if (this.closing) return;
        // Timers may fire a millisecond before the clock reaches runAt; a worker woken then finds
        // nothing due and parks again with no further announcement, so wait out the rest.
        const left = job.runAt - this.ctx.clock();
        if (left > 0) return arm(left);
        this.ctx.dispatcher.announce([job]);
      }, ms);
      timer.unref();
      this.retryTimers.add(timer);
    };
    arm(delay);
  }

  /**
   * After a restart the hub does not know which queued jobs wait out a backoff: ask the store for
   * the earliest, wake every parked worker to look when it is due, and repeat.
   */
  async scheduleDelayed(): Promise<void> {
    if (this.closing) return;
    const at = await this.ctx.store.jobNextRunAt({ now: this.ctx.clock() });
    if (at === null) return;
    const timer = setTimeout(
      () => {
        this.retryTimers.delete(timer);
        this.ctx.dispatcher.wakeAll();
        void this.scheduleDelayed().catch((err: unknown) =>
          this.ctx.log.error({ err }, 'scheduling delayed jobs failed'),
        );
      },
      Math.max(0, at - this.ctx.clock()),
    );
    timer.unref();
    this.retryTimers.add(timer);
  }

  close(): void {
    this.closing = true;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.ctx.dispatcher.wakeAll();
  }
}
