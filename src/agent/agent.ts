/**
 * The worker agent: registers (a fresh identity per process start), then loops leasing up to its
 * free capacity with a long-poll, runs each job in its runtime (see JobRun), and drains on
 * request: stop leasing, let running jobs finish for a while, give back the rest as retryable
 * failures, report everything, stop. When the hub is unreachable it retries with jittered
 * backoff; when the hub no longer knows it (a wiped hub), it registers again.
 */
import { parseRuntime } from '../core/runtime.js';
import { CodeCache } from './code-cache.js';
import {
  HubClient,
  HubHttpError,
  backoffMs,
  isTransient,
  retry,
  sleep,
  type RetryOptions,
} from './client.js';
import { hubApi, type HubApi, type LeasedJob, type NextLease, type Registration } from './hub-api.js';
import { JobRun, type AgentLog, type JobEnd, type JobLimits } from './job-run.js';
import { Reporter } from './reporter.js';
import type { Runtime } from './runtimes/runtime.js';

export interface AgentOptions {
  hub: string;
  token?: string;
  name?: string;
  tags?: string[];
  runtimes: Runtime[];
  /** Jobs run at once. */
  concurrency: number;
  /** Long-poll length asked for (the hub caps it). */
  leaseWaitMs?: number;
  limits: JobLimits;
  /** How long a drain waits for running jobs before giving them back. */
  drainTimeoutMs?: number;
  /** How long reports are retried while the hub is unreachable. */
  reportRetryMs?: number;
  codeCacheBytes?: number;
  log: AgentLog;
}

export interface AgentStats {
  leased: number;
  succeeded: number;
  failed: number;
  dropped: number;
  givenBack: number;
}

const NOOP = () => {};
/** Longest wait for more free slots before leasing for the few that are free. */
const COALESCE_MS = 2;
/** Jobs that run shorter than this on average are leased ahead of free slots. */
const PREFETCH_BELOW_MS = 20;
/**
 * How many slots' worth of short jobs are held ahead (times `concurrency`). One batch ahead left a
 * 50-slot worker of no-op JS jobs waiting on its lease round trips at 3,500–4,300 jobs/s with both
 * cores part idle; three ahead ran 5,100–5,300 jobs/s and cost less CPU per job (bigger batches).
 * At most 3 × 20 ms of work waits per slot, far inside any job's timeout.
 */
const PREFETCH_AHEAD = 3;
/** Jobs done running whose reports are not yet acknowledged, at most (times `concurrency`). */
const REPORTING_MAX = 2;

/** A counting semaphore: at most `size` jobs in their runtimes at once, FIFO. */
class Slots {
  private used = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly size: number) {}
  acquire(): Promise<void> {
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((r) => this.queue.push(r));
  }
  release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.used--;
  }
}

export class Agent {
  readonly client: HubClient;
  readonly api: HubApi;
  readonly stats: AgentStats = { leased: 0, succeeded: 0, failed: 0, dropped: 0, givenBack: 0 };
  private readonly reporter: Reporter;
  private readonly cache: CodeCache;
  private registration: Registration | null = null;
  /** Jobs leased and not yet reported. */
  private readonly running = new Map<string, { run: JobRun; done: Promise<JobEnd> }>();
  /** Of those, jobs not yet done running (waiting for a slot or in their runtime). */
  private pending = 0;
  private readonly slots: Slots;
  /** Moving average of how long jobs run (ms): short jobs are leased ahead (prefetch). */
  private avgRunMs = Infinity;
  private readonly stopLeasing = new AbortController();
  /** A lease request of the lease loop is in flight (completions then lease nothing). */
  private leaseInFlight = false;
  /** Slots asked for by completions in flight (`next`), not yet answered. */
  private reserved = 0;
  private slotFreed: () => void = NOOP;
  private loop: Promise<void> | null = null;
  private draining: Promise<void> | null = null;

  constructor(private readonly o: AgentOptions) {
    this.client = new HubClient({
      url: o.hub,
      token: o.token,
      connections: Math.max(8, o.concurrency * 2 + 4),
    });
    this.api = hubApi(this.client);
    this.reporter = new Reporter(this.api, () => this.retryOptions(o.reportRetryMs ?? 600_000));
    this.cache = new CodeCache(this.api, o.codeCacheBytes);
    this.slots = new Slots(o.concurrency);
    this.reporter.leaseWith = {
      take: () => this.leaseWithReports(),
      leased: (jobs, asked) => {
        this.reserved -= asked.limit;
        for (const job of jobs) this.startJob(job);
        this.slotFreed();
      },
      failed: (asked) => {
        this.reserved -= asked.limit;
        this.slotFreed();
      },
    };
  }

  /** Free slots to lease with a completion request, when the lease loop is not leasing already. */
  private free(): number {
    const c = this.o.concurrency;
    // Jobs that run for milliseconds are leased ahead, so that a lease request carries many
    // jobs (each request is a commit in the hub) and slots never wait for one.
    // Long jobs are not: a prefetched job would wait for a slot while its timeout runs.
    const target = this.pendingTarget();
    // A job's slot frees when its runtime is done; its report goes on in the background, but
    // the reports pending are bounded too.
    return Math.min(target - this.pending, target + REPORTING_MAX * c - this.running.size) - this.reserved;
  }

  /** Jobs to hold that have not finished running: the slots, and for short jobs those ahead. */
  private pendingTarget(): number {
    const c = this.o.concurrency;
    return this.avgRunMs < PREFETCH_BELOW_MS ? (1 + PREFETCH_AHEAD) * c : c;
  }

  private leaseWithReports(): NextLease | null {
    if (this.leaseInFlight || this.stopLeasing.signal.aborted || !this.registration) return null;
    const free = Math.min(1000, this.free());
    if (free <= 0) return null;
    this.reserved += free;
    // No waiting: the completions' reply must not be held back; the lease loop long-polls.
    return { workerId: this.registration.id, limit: free, waitMs: 0 };
  }

  /** The names registered: each runtime as `base+feature...`. */
  get runtimeNames(): string[] {
    return this.o.runtimes.map((r) => [r.base, ...r.features].join('+'));
  }

  get workerId(): string | null {
    return this.registration?.id ?? null;
  }

  /** Code blobs downloaded so far (a hot function is downloaded once). */
  get codeDownloads(): number {
    return this.cache.downloads;
  }

  /** Jobs running now. */
  get active(): number {
    return this.running.size;
  }

  /** Registers (retrying while the hub is unreachable) and starts leasing. */
  async start(): Promise<void> {
    for (const r of this.o.runtimes) {
      const w = r.warning?.();
      if (w) this.o.log.warn({ runtime: r.base }, w);
    }
    await this.register();
    this.loop = this.leaseLoop();
  }

  /** Stops leasing, waits for running jobs (up to the drain timeout), gives back the rest. */
  drain(timeoutMs = this.o.drainTimeoutMs ?? 60_000): Promise<void> {
    this.draining ??= this.doDrain(timeoutMs);
    return this.draining;
  }

  get isDraining(): boolean {
    return this.draining !== null;
  }

  /** Stops every running job now and reports it as given back (retryable). */
  giveBack(): void {
    for (const r of this.running.values()) r.run.stop('give_back');
  }

  private async doDrain(timeoutMs: number): Promise<void> {
    this.stopLeasing.abort();
    this.slotFreed();
    await this.loop?.catch(() => {});
    // Until none runs: jobs leased by a completion in flight may still arrive.
    const all = async () => {
      while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.done));
    };
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    await Promise.race([all(), new Promise((r) => deadline.signal.addEventListener('abort', r))]);
    clearTimeout(timer);
    if (this.running.size > 0) {
      this.o.log.warn({ jobs: [...this.running.keys()] }, 'drain timeout: giving running jobs back');
      this.giveBack();
      await all();
    }
    await this.reporter.idle();
    await this.client.close();
  }

  private async register(): Promise<void> {
    const body = {
      name: this.o.name,
      runtimes: this.runtimeNames,
      tags: this.o.tags,
      capacity: this.o.concurrency,
    };
    let warned = false;
    this.registration = await retry(() => this.api.register(body), {
      signal: this.stopLeasing.signal,
      onRetry: (err) => {
        if (!warned)
          this.o.log.warn({ hub: this.o.hub, err: String(err) }, 'hub unreachable; retrying registration');
        warned = true;
      },
    });
    this.o.log.info(
      { workerId: this.registration.id, runtimes: body.runtimes, concurrency: this.o.concurrency },
      'worker registered',
    );
  }

  private async leaseLoop(): Promise<void> {
    let failures = 0;
    const signal = this.stopLeasing.signal;
    let coalesceUntil = 0;
    let yielded = false;
    while (!signal.aborted) {
      const target = this.pendingTarget();
      const free = this.free();
      // Short jobs end close together: when few are free and jobs still run, wait a moment for
      // more, so that one lease request carries several jobs.
      const now = performance.now();
      if (free > 0 && free < target / 2 && this.pending > 0) coalesceUntil ||= now + COALESCE_MS;
      else coalesceUntil = 0;
      if (free > 0 && !(coalesceUntil && now < coalesceUntil) && this.running.size > 0) {
        // A slot freed by a job that is about to report: let this turn's completions queue, and
        // when some wait to be sent, let their request lease for the free slots (protocol §9,
        // `next`): one request and one commit in the hub instead of two.
        if (!yielded) {
          yielded = true;
          await new Promise<void>((r) => setImmediate(r));
          continue;
        }
        if (this.reporter.waiting > 0) coalesceUntil = Infinity;
      }
      yielded = false;
      if (free <= 0 || (coalesceUntil && now < coalesceUntil)) {
        await new Promise<void>((r) => {
          this.slotFreed = r;
          if (free > 0 && coalesceUntil !== Infinity) setTimeout(r, coalesceUntil - now);
        });
        this.slotFreed = NOOP;
        if (coalesceUntil === Infinity) coalesceUntil = 0;
        continue;
      }
      coalesceUntil = 0;
      let jobs: LeasedJob[];
      try {
        const waitMs = Math.min(this.o.leaseWaitMs ?? 20_000, this.registration!.maxWaitMs);
        this.leaseInFlight = true;
        jobs = await this.api
          .lease(this.registration!.id, { limit: Math.min(free, 1000), waitMs }, signal)
          .finally(() => (this.leaseInFlight = false));
        if (failures > 0) this.o.log.info('hub reachable again');
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof HubHttpError && err.status === 404) {
          // The hub does not know us (its data was reset): a new identity.
          this.o.log.warn('the hub no longer knows this worker; registering again');
          this.cache.forgetIds();
          await this.register().catch(() => {});
          continue;
        }
        const delay = backoffMs(failures++, 200, 10_000);
        if (failures === 1 || !isTransient(err))
          this.o.log.warn({ err: String(err), retryInMs: Math.round(delay) }, 'lease failed; retrying');
        await sleep(delay, signal);
        continue;
      }
      for (const job of jobs) this.startJob(job);
    }
  }

  private startJob(job: LeasedJob): void {
    this.stats.leased++;
    const runtime = this.runtimeFor(job.runtime);
    const run = new JobRun(job, runtime ?? missingRuntime(job.runtime), {
      api: this.api,
      cache: this.cache,
      reporter: this.reporter,
      registration: this.registration!,
      limits: this.o.limits,
      log: this.o.log,
      retryOptions: () => this.retryOptions(this.o.reportRetryMs ?? 600_000),
      acquireSlot: () => this.slots.acquire(),
      releaseSlot: (ranMs) => {
        this.slots.release();
        if (ranMs > 0) this.avgRunMs = this.avgRunMs === Infinity ? ranMs : 0.9 * this.avgRunMs + 0.1 * ranMs;
      },
      onExecuted: () => {
        this.pending--;
        this.slotFreed();
      },
    });
    this.pending++;
    const done = run.run().then(
      (end) => this.finished(job, end),
      (err: unknown) => {
        this.o.log.error({ jobId: job.id, err }, 'job run failed');
        return this.finished(job, 'dropped');
      },
    );
    this.running.set(job.id, { run, done });
  }

  private finished(job: LeasedJob, end: JobEnd): JobEnd {
    this.running.delete(job.id);
    if (end === 'succeeded') this.stats.succeeded++;
    else if (end === 'failed') this.stats.failed++;
    else if (end === 'given_back') this.stats.givenBack++;
    else this.stats.dropped++;
    this.o.log.debug({ jobId: job.id, end }, 'job finished');
    this.slotFreed();
    return end;
  }

  /** The local runtime for a job runtime `B+F...`: same base, offering every feature asked for. */
  private runtimeFor(name: string): Runtime | undefined {
    const want = parseRuntime(name);
    return this.o.runtimes.find(
      (r) => r.base === want.base && want.features.every((f) => r.features.includes(f)),
    );
  }

  private retryOptions(forMs: number): RetryOptions {
    return { until: Date.now() + forMs };
  }
}

/** A job for a runtime we did not register (should not happen): fail it for another worker. */
function missingRuntime(name: string): Runtime {
  return {
    base: name,
    features: [],
    prepare: async () => null,
    run: async () => ({
      ok: false,
      failure: { kind: 'refused', message: `this worker has no runtime ${name}`, retryable: true },
    }),
    close: async () => {},
  };
}
