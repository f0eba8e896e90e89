/**
 * Cron schedules: a job created at each tick of a cron expression, in a time zone.
 *
 * Every hub runs every schedule: a timer wakes it at the earliest next tick (and at least every
 * POLL_MS, to see schedules made on other hubs), and it asks the store to run each due tick. The
 * store runs a tick only for the first caller (Store.scheduleFire: a conditional UPDATE of the
 * next tick in the same commit as the job), so a tick makes one job however many hubs run.
 *
 * Missed ticks: a hub that runs tick T sets the next tick to the first one after
 * max(T, now - CATCH_UP_MS). Ticks a busy hub is a little late for still run, each; after
 * downtime, the stored tick runs once for all the ticks missed, and the schedule goes on from now.
 */
import { HubError, notFound } from '../core/errors.js';
import { checkCron, nextTick } from '../core/cron.js';
import type { Principal } from '../auth/auth.js';
import type { HubContext } from '../jobs/context.js';
import type { JobRequest, JobService } from '../jobs/jobs.js';
import type { ScheduleRecord } from '../store/store.js';

/** How often a hub looks for schedules made elsewhere (and for its own, as a safety net). */
const POLL_MS = 5_000;
/** Ticks later than this when their hub gets to them are missed: they run once, together. */
export const CATCH_UP_MS = 5_000;
/** Schedules run per store read. */
const DUE_BATCH = 100;

export interface ScheduleRequest {
  name: string;
  cron: string;
  timezone?: string;
  job: JobRequest;
  overlap?: 'skip' | 'allow';
}

/** A job request as kept in the store: JSON, with inline input bytes as base64. */
type StoredJob = Omit<JobRequest, 'input'> & { input?: { blobId: string } | { base64: string } };

function toStored(req: JobRequest): StoredJob {
  const { input, ...rest } = req;
  if (!input) return rest;
  return { ...rest, input: 'blobId' in input ? input : { base64: input.bytes.toString('base64') } };
}

export function fromStored(job: unknown): JobRequest {
  const { input, ...rest } = job as StoredJob;
  if (!input) return rest;
  return { ...rest, input: 'blobId' in input ? input : { bytes: Buffer.from(input.base64, 'base64') } };
}

export class ScheduleService {
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly ctx: HubContext,
    private readonly jobs: JobService,
  ) {}

  async create(req: ScheduleRequest, creator: Principal): Promise<ScheduleRecord> {
    const timezone = req.timezone ?? 'UTC';
    checkCron(req.cron, timezone);
    if (
      req.job.idempotencyKey !== undefined ||
      req.job.runAt !== undefined ||
      req.job.delayMs !== undefined
    ) {
      throw new HubError(
        'validation_failed',
        'a scheduled job takes no idempotencyKey, runAt or delayMs: its schedule says when it runs',
      );
    }
    // The job is checked now (function, runtime, input), so that a bad one is refused here
    // rather than failing at every tick.
    await this.jobs.prepare(req.job, creator.tokenId, creator);
    const now = this.ctx.clock();
    const next = nextTick(req.cron, timezone, now);
    if (next === null) throw new HubError('validation_failed', `cron "${req.cron}" has no next tick`);
    const schedule = await this.ctx.store.scheduleInsert({
      name: req.name,
      cron: req.cron,
      timezone,
      job: toStored(req.job),
      overlap: req.overlap ?? 'allow',
      owner: creator.tokenId,
      nextRunAt: next,
      createdAt: now,
    });
    this.arm(next);
    return schedule;
  }

  /** A schedule the caller may see: its own (clients), any (admins); others are not found. */
  async get(id: string, owner?: string): Promise<ScheduleRecord> {
    const s = /^\d{1,18}$/.test(id) ? await this.ctx.store.scheduleGet({ id }) : null;
    if (!s || (owner !== undefined && s.owner !== owner)) throw notFound('schedule', id);
    return s;
  }

  list(p: { owner?: string; afterId?: string; limit: number }): Promise<ScheduleRecord[]> {
    return this.ctx.store.scheduleList(p);
  }

  async delete(id: string, owner?: string): Promise<void> {
    await this.get(id, owner);
    await this.ctx.store.scheduleDelete({ id });
  }

  async pause(id: string, owner?: string): Promise<ScheduleRecord> {
    await this.get(id, owner);
    return (await this.ctx.store.scheduleSetPaused({ id, paused: true })) ?? notFoundAfter(id);
  }

  /** Resumes from now: ticks that passed while paused do not run. */
  async resume(id: string, owner?: string): Promise<ScheduleRecord> {
    const s = await this.get(id, owner);
    const next = nextTick(s.cron, s.timezone, this.ctx.clock());
    if (next === null) throw new HubError('conflict', `schedule ${id} has no next tick`);
    const resumed =
      (await this.ctx.store.scheduleSetPaused({ id, paused: false, nextRunAt: next })) ?? notFoundAfter(id);
    this.arm(next);
    return resumed;
  }

  /** Starts the timer loop (the hub calls this at start). */
  start(): void {
    this.arm(this.ctx.clock());
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Wakes at `at` (or sooner, if already set sooner; at most POLL_MS from now). */
  private arm(at: number): void {
    if (this.closed) return;
    const now = this.ctx.clock();
    const when = Math.min(at, now + POLL_MS);
    if (this.timer && this.timerAt <= when) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = when;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        void this.runDue()
          .catch((err: unknown) => this.ctx.log.error({ err }, 'running schedules failed'))
          .finally(() => void this.rearm());
      },
      Math.max(0, when - now),
    );
    this.timer.unref();
  }

  private async rearm(): Promise<void> {
    if (this.closed) return;
    const next = await this.ctx.store.scheduleNextRunAt().catch(() => null);
    this.arm(next ?? Infinity);
  }

  /** Runs every due tick once (the store arbitrates between hubs); resolves when done. */
  runDue(): Promise<void> {
    this.running ??= this.runDueOnce().finally(() => (this.running = null));
    return this.running;
  }

  private async runDueOnce(): Promise<void> {
    for (;;) {
      const due = await this.ctx.store.scheduleListDue({ now: this.ctx.clock(), limit: DUE_BATCH });
      for (const s of due) await this.fire(s);
      if (due.length < DUE_BATCH || this.closed) return;
    }
  }

  /** Runs the schedule's stored tick, if no other hub did. */
  private async fire(s: ScheduleRecord): Promise<void> {
    const { ctx } = this;
    const now = ctx.clock();
    const tick = s.nextRunAt;
    // A tick that cannot come again (the expression ran out) parks the schedule far away.
    const next = nextTick(s.cron, s.timezone, Math.max(tick, now - CATCH_UP_MS)) ?? Number.MAX_SAFE_INTEGER;
    let job = null;
    try {
      // The job runs from its tick: its runAt says which tick made it.
      job = { ...(await this.jobs.prepare(fromStored(s.job), s.owner)), runAt: tick };
    } catch (err) {
      // The function or input went away: the tick is used up without a job, and said in the log.
      ctx.log.warn({ err, scheduleId: s.id, tick }, 'a scheduled job could not be made');
    }
    const outcome = await ctx.store.scheduleFire({
      id: s.id,
      tick,
      nextRunAt: next,
      job,
      skipIfActive: s.overlap === 'skip',
      now,
    });
    if (outcome.claimed && outcome.job) this.jobs.announced([outcome.job]);
  }
}

function notFoundAfter(id: string): never {
  throw notFound('schedule', id);
}
