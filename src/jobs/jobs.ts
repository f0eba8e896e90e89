/**
 * Job operations for requesters: create (single, batch, idempotent), read, list, wait, cancel,
 * explain. Each write is committed by the store before anything is announced or answered.
 */
import type { CancelSignal } from '../core/cancel.js';
import { HubError, notFound } from '../core/errors.js';
import { canonicalRuntime } from '../core/runtime.js';
import { isFinal, type JobState } from '../core/states.js';
import { firstRunAt } from '../core/run-at.js';
import { validateTags } from '../core/tags.js';
import { validateGroupName } from '../core/groups.js';
import type { Dispatcher, Waiter } from './dispatcher.js';
import type {
  BlobRecord,
  BulkAction,
  FunctionRecord,
  JobFilter,
  JobRecord,
  JobTemplate,
  NewJob,
} from '../store/store.js';
import type { Principal } from '../auth/auth.js';
import type { HubContext } from './context.js';
import type { LeaseService, WorkerRegistry } from './workers.js';
import { explainJob, type Explanation } from './explain.js';
import { createAndWait, smallOutput, type CreateWaitOptions } from './create-wait.js';

export type { JobFilter, JobRecord };

/** A job as a requester describes it (already shape-checked by the API face). */
export interface JobRequest {
  functionId?: string;
  runtime?: string;
  input?: { blobId: string } | { bytes: Buffer };
  tags?: string[];
  priority?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  team?: string;
  /** The job's group: fair dispatch among groups, and the group's limits (see groups.ts). */
  group?: string;
  idempotencyKey?: string;
  /** When the job may first run (ms since the epoch); or `delayMs` from now; not both. */
  runAt?: number;
  delayMs?: number;
  next?: Omit<JobRequest, 'input' | 'idempotencyKey' | 'next' | 'runAt' | 'delayMs'> & {
    next?: JobRequest['next'];
  };
}

export interface CreatedJob {
  job: JobRecord;
  created: boolean;
  /** Said at submit when no registered worker could take the job. */
  warnings: string[];
}

const MAX_PIPELINE_DEPTH = 16;
/** Jobs changed per commit by a bulk action. */
const BULK_CHUNK = 500;

/** `Dispatcher.handOff` for the jobs due now; delayed ones get no waiter. */
function handOffDue(dispatcher: Dispatcher, jobs: NewJob[]): (Waiter | null)[] {
  if (jobs.every((j) => j.runAt == null)) return dispatcher.handOff(jobs);
  const due = jobs.filter((j) => j.runAt == null);
  const picks = dispatcher.handOff(due);
  let k = 0;
  return jobs.map((j) => (j.runAt == null ? (picks[k++] ?? null) : null));
}

/**
 * Functions and input blobs read while resolving one create call, by id: a batch of 1,000 jobs
 * of one function is one read, not 1,000 (each a round trip on PostgreSQL).
 */
interface Lookups {
  functions: Map<string, Promise<FunctionRecord | null>>;
  blobs: Map<string, Promise<BlobRecord | null>>;
  /** The creator, when its blob access is to be checked (not for admins). */
  creator?: Principal;
}

function remember<T>(map: Map<string, Promise<T>>, id: string, read: () => Promise<T>): Promise<T> {
  let p = map.get(id);
  if (!p) map.set(id, (p = read()));
  return p;
}

export class JobService {
  constructor(
    private readonly ctx: HubContext,
    private readonly workers: WorkerRegistry,
    private readonly leases: LeaseService,
  ) {}

  private async template(
    req: Omit<JobRequest, 'input' | 'idempotencyKey' | 'runAt' | 'delayMs'>,
    owner: string | null,
    depth: number,
    seen: Lookups,
  ): Promise<JobTemplate> {
    if (depth > MAX_PIPELINE_DEPTH)
      throw new HubError('validation_failed', `pipelines nest at most ${MAX_PIPELINE_DEPTH} deep`);
    const { config, store } = this.ctx;
    let runtime = req.runtime;
    let tags = validateTags(req.tags ?? []);
    let timeoutMs = req.timeoutMs;
    let maxAttempts = req.maxAttempts;
    if (req.functionId !== undefined) {
      const id = req.functionId;
      const fn = await remember(seen.functions, id, () => store.functionGet({ id }));
      if (!fn) throw notFound('function', req.functionId);
      if (runtime !== undefined && canonicalRuntime(runtime) !== canonicalRuntime(fn.runtime)) {
        throw new HubError(
          'validation_failed',
          `runtime ${runtime} differs from function ${fn.id}'s runtime ${fn.runtime}`,
        );
      }
      runtime = fn.runtime;
      tags = [...new Set([...fn.tags, ...tags])];
      timeoutMs ??= fn.timeoutMs;
      maxAttempts ??= fn.maxAttempts;
    }
    if (runtime === undefined) throw new HubError('validation_failed', 'a job needs a function or a runtime');
    return {
      functionId: req.functionId ?? null,
      runtime: canonicalRuntime(runtime),
      inputBlobId: null,
      inputInline: null,
      tags,
      priority: req.priority ?? 0,
      maxAttempts: maxAttempts ?? config.maxAttempts,
      timeoutMs: timeoutMs ?? config.jobTimeoutMs,
      team: req.team ?? null,
      owner,
      group: req.group === undefined ? null : validateGroupName(req.group),
      next: req.next ? await this.template(req.next, owner, depth + 1, seen) : null,
    };
  }

  private async resolve(req: JobRequest, owner: string | null, seen: Lookups): Promise<NewJob> {
    const t = await this.template(req, owner, 0, seen);
    const input = req.input;
    if (input && 'blobId' in input) {
      const id = input.blobId;
      if (!(await remember(seen.blobs, id, () => this.readableBlob(id, seen.creator))))
        throw notFound('blob', id);
      t.inputBlobId = input.blobId;
    } else if (input) {
      if (input.bytes.length > this.ctx.config.inlineBytes) {
        throw new HubError(
          'payload_too_large',
          `inline input is ${input.bytes.length} bytes; above ${this.ctx.config.inlineBytes} upload it as a blob`,
        );
      }
      t.inputInline = input.bytes;
    }
    const runAt = firstRunAt({ runAt: req.runAt, delayMs: req.delayMs, now: this.ctx.clock() });
    return { ...t, idempotencyKey: req.idempotencyKey ?? null, parentId: null, runAt };
  }

  /**
   * Resolves a request as `create` would (function, runtime, input access, delay) without creating
   * anything: schedules check their job when they are made, and make it at each tick.
   */
  prepare(req: JobRequest, owner: string | null, creator?: Principal): Promise<NewJob> {
    return this.resolve(req, owner, { functions: new Map(), blobs: new Map(), creator });
  }

  /**
   * An input blob the creator may read: otherwise a job would be a way to reach another
   * tenant's bytes (the job's owner may read its input).
   */
  private async readableBlob(id: string, creator: Principal | undefined): Promise<BlobRecord | null> {
    const blob = await this.ctx.store.blobGet({ id });
    if (!blob || !creator || creator.role === 'admin') return blob;
    if (creator.tokenId === null) return null;
    const ok = await this.ctx.store.blobReadable({ id, token: creator.tokenId, now: this.ctx.clock() });
    return ok ? blob : null;
  }

  /**
   * Creates jobs in one commit (validation is all or nothing; idempotent per key). Jobs that a
   * parked worker can take are created already leased to it, in the same commit, and that
   * worker is answered at once: one durable write from enqueue to a worker holding the job.
   */
  async create(reqs: JobRequest[], owner: string | null, creator?: Principal): Promise<CreatedJob[]> {
    const { ctx } = this;
    const jobs: NewJob[] = [];
    const seen: Lookups = { functions: new Map(), blobs: new Map(), creator };
    for (const r of reqs) jobs.push(await this.resolve(r, owner, seen));
    // Delayed jobs are never handed to a parked worker: they wait in the store until due.
    const waiters = handOffDue(ctx.dispatcher, jobs);
    let results: { job: JobRecord; created: boolean }[];
    try {
      results = await ctx.store.jobInsertMany({
        jobs,
        now: ctx.clock(),
        leases: waiters.map((w) => w && { workerId: w.spec.workerId, leaseMs: w.spec.leaseMs }),
      });
    } catch (err) {
      ctx.dispatcher.release(waiters);
      throw err;
    }
    const handed = new Map<Waiter, JobRecord[]>();
    waiters.forEach((w) => w && handed.set(w, []));
    const queued: JobRecord[] = [];
    const delayed: JobRecord[] = [];
    const now = ctx.clock();
    results.forEach((r, i) => {
      if (!r.created) return;
      ctx.metrics.jobsCreated.inc({ runtime: this.runtimeLabel(r.job.runtime) });
      const w = waiters[i];
      if (w && r.job.state === 'running') handed.get(w)!.push(r.job);
      else if (r.job.runAt > now) delayed.push(r.job);
      else queued.push(r.job);
    });
    for (const [w, leased] of handed) ctx.dispatcher.deliver(w, leased);
    this.announced(queued, false);
    for (const job of delayed) {
      ctx.events.publish({ type: 'state', job });
      this.leases.announceWhenDue(job);
    }
    // The workers handed jobs are answered before the requester: their replies are on the path
    // from enqueue to work starting, the requester's is not. One loop turn lets a lease reply
    // be written first (it needs no I/O unless an input blob is inlined).
    if (handed.size > 0) await new Promise(setImmediate);
    return results.map((r) => ({ ...r, warnings: this.workers.eligibilityWarnings(r.job) }));
  }

  /** A job's runtime as a metric label: its own name only when a live worker offers it. */
  private runtimeLabel(runtime: string): string {
    return this.workers.offers(runtime) ? runtime : 'other';
  }

  /** Tells watchers and parked workers about jobs that were just committed as queued. */
  announced(jobs: JobRecord[], count = true): void {
    if (jobs.length === 0) return;
    for (const job of jobs) {
      if (count) this.ctx.metrics.jobsCreated.inc({ runtime: this.runtimeLabel(job.runtime) });
      this.ctx.events.publish({ type: 'state', job });
    }
    this.ctx.dispatcher.announce(jobs);
  }

  /** The job, or null when there is none with this id. */
  find(id: string): Promise<JobRecord | null> {
    return this.ctx.store.jobGet({ id });
  }

  /** Creates the jobs, then waits up to `o.waitMs` for them to be final (create-and-wait). */
  createAndWait(
    reqs: JobRequest[],
    owner: string | null,
    creator: Principal | undefined,
    o: CreateWaitOptions,
  ): Promise<CreatedJob[]> {
    return createAndWait(this.ctx, () => this.create(reqs, owner, creator), o);
  }

  /** The job's output bytes when at most `maxBytes`, else null (see create-wait.ts). */
  smallOutput(job: JobRecord, maxBytes: number): Promise<Buffer | null> {
    return smallOutput(this.ctx, job, maxBytes);
  }

  async get(id: string, owner?: string): Promise<JobRecord> {
    const job = await this.ctx.store.jobGet({ id });
    if (!job || (owner !== undefined && job.owner !== owner)) throw notFound('job', id);
    return job;
  }

  /** Why a job waits (or ran where it did), against the workers alive now. */
  async explain(jobId: string, owner?: string): Promise<Explanation> {
    const job = await this.get(jobId, owner);
    const group =
      job.group && job.state === 'queued'
        ? await this.ctx.store.groupGet({ name: job.group, now: this.ctx.clock() })
        : null;
    return explainJob(job, this.workers.alive(), this.ctx.clock(), group ?? undefined);
  }

  list(filter: JobFilter): Promise<JobRecord[]> {
    return this.ctx.store.jobList(filter);
  }

  /**
   * Resolves when the job is in one of `states`, or after `timeoutMs` with the job as it is then.
   * Subscribes before reading so that a change between the read and the subscription is not lost.
   */
  async wait(
    id: string,
    states: JobState[],
    timeoutMs: number,
    owner?: string,
    signal?: CancelSignal,
  ): Promise<JobRecord> {
    let wake!: (job: JobRecord | null) => void;
    const woken = new Promise<JobRecord | null>((r) => (wake = r));
    const unsubscribe = this.ctx.events.subscribe(id, (e) => {
      if (e.type === 'state' && states.includes(e.job.state)) wake(e.job);
    });
    const stop = () => wake(null);
    let timer: NodeJS.Timeout | undefined;
    try {
      const job = await this.get(id, owner);
      if (states.includes(job.state) || timeoutMs <= 0 || this.ctx.shutdown.aborted) return job;
      timer = setTimeout(stop, Math.min(timeoutMs, this.ctx.config.maxWaitMs));
      signal?.addEventListener('abort', stop, { once: true });
      this.ctx.shutdown.addEventListener('abort', stop, { once: true });
      return (await woken) ?? (await this.get(id, owner));
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      this.ctx.shutdown.removeEventListener('abort', stop);
      unsubscribe();
    }
  }

  async cancel(id: string, owner?: string): Promise<JobRecord> {
    await this.get(id, owner);
    const outcome = await this.ctx.store.jobCancel({ jobId: id, now: this.ctx.clock() });
    if (!outcome) throw notFound('job', id);
    if (outcome.changed) this.finished(outcome.job);
    return outcome.job;
  }

  /**
   * Puts a failed or canceled job back in the queue with a fresh attempt budget (its earlier
   * attempts stay in `errors`); a job in another state: `conflict` (409).
   */
  async retry(id: string, owner?: string): Promise<JobRecord> {
    await this.get(id, owner);
    const outcome = await this.ctx.store.jobRetry({ jobId: id, now: this.ctx.clock() });
    if (!outcome) throw notFound('job', id);
    if (!outcome.changed) {
      throw new HubError(
        'conflict',
        `job ${id} is ${outcome.job.state}; only failed or canceled jobs can be retried`,
      );
    }
    this.announced([outcome.job], false);
    return outcome.job;
  }

  /**
   * Retries or cancels every job matching the filter (a client's own jobs only: `owner`), in
   * commits of BULK_CHUNK jobs, and tells watchers and workers as `retry` and `cancel` do.
   * Returns how many jobs changed.
   */
  async bulk(action: BulkAction, filter: Omit<JobFilter, 'limit' | 'beforeId'>): Promise<number> {
    let count = 0;
    for (;;) {
      const changed = await this.ctx.store.jobBulk({
        action,
        filter,
        limit: BULK_CHUNK,
        now: this.ctx.clock(),
      });
      count += changed.length;
      if (action === 'retry') this.announced(changed, false);
      else for (const job of changed) this.finished(job);
      if (changed.length < BULK_CHUNK) return count;
    }
  }

  /** Publishes a job that reached a final state. */
  finished(job: JobRecord): void {
    if (isFinal(job.state)) this.ctx.metrics.jobsFinished.inc({ state: job.state });
    this.ctx.events.publish({ type: 'state', job });
    // A grouped job that stops running frees a place under its group's concurrency.
    if (job.group) this.ctx.dispatcher.announce([job]);
  }
}
