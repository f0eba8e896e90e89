/**
 * The benchmarker side of the portal (the seed's internal API): who is asking (source address,
 * optional token), which job it may take (its own teams first, then teams nobody is bound to;
 * a shared benchmarker only the latter), and what it reports.
 *
 * Each benchmarker is a hub worker (registered on its first dequeue; the id is kept in the portal
 * store) and a dequeue is a core lease of at most one `isucon-bench` job with the team rules, so
 * the claim is the store's atomic claim. Leases last until the job's timeout: the reaper turns a
 * benchmark without a report into a failed job ("Benchmark timeout").
 */
import { HubError } from '../core/errors.js';
import { isFinal } from '../core/states.js';
import type { HubContext } from '../jobs/context.js';
import { UNTIL_TIMEOUT, type LeaseService, type WorkerRegistry } from '../jobs/workers.js';
import type { JobRecord } from '../store/store.js';
import { blockContains, parseBlock, parseIp, type Block } from './net.js';
import { sha256 } from './secrets.js';
import type { BenchmarkerRecord, PortalStore } from './store/store.js';
import { BENCH_RUNTIME, tail, type BenchResult } from './views.js';

/** How long a benchmarker directory read is reused (bindings are re-read at least this often). */
const DIRECTORY_TTL_MS = 1_000;
/** Logs kept per job from a report (the tail). */
const MAX_LOG_BYTES = 256 * 1024;

interface Directory {
  at: number;
  exact: Map<string, BenchmarkerRecord>;
  blocks: { block: Block; b: BenchmarkerRecord }[];
  /** Every team that has a benchmarker bound. */
  bound: string[];
  byWorker: Map<string, BenchmarkerRecord>;
}

export type Identity =
  { ok: true; benchmarker: BenchmarkerRecord } | { ok: false; reason: 'unknown_ip' | 'bad_token' };

export type ReportOutcome = 'ok' | 'not_found' | 'not_running';

export interface ReportInput extends BenchResult {
  status: 'done' | 'aborted';
}

export class Dispatch {
  private dir: Directory | null = null;
  private loading: Promise<Directory> | null = null;
  private readonly registering = new Map<string, Promise<string>>();
  /** Asked first on every dequeue: false = answer "no job" (a benchmarker out of service). */
  gate: (b: BenchmarkerRecord) => boolean = () => true;

  constructor(
    private readonly ctx: HubContext,
    private readonly workers: WorkerRegistry,
    private readonly leases: LeaseService,
    private readonly store: () => PortalStore,
    /** Records a finished job's score (idempotent); resolves when the leaderboard has it. */
    private readonly record: (jobId: string) => Promise<void>,
  ) {}

  /** Forget the cached directory (benchmarkers or bindings changed here). */
  invalidate(): void {
    this.dir = null;
  }

  private async directory(): Promise<Directory> {
    const now = performance.now();
    if (this.dir && now - this.dir.at < DIRECTORY_TTL_MS) return this.dir;
    this.loading ??= (async () => {
      try {
        const list = await this.store().benchmarkerList();
        const d: Directory = { at: now, exact: new Map(), blocks: [], bound: [], byWorker: new Map() };
        const bound = new Set<string>();
        for (const b of list) {
          const block = parseBlock(b.address);
          if (!block) continue;
          if (block.prefix === (block.family === 4 ? 32 : 128)) d.exact.set(b.address, b);
          else d.blocks.push({ block, b });
          for (const t of b.teamIds) bound.add(t);
          if (b.workerId) d.byWorker.set(b.workerId, b);
        }
        // Most specific block first.
        d.blocks.sort((x, y) => y.block.prefix - x.block.prefix);
        d.bound = [...bound];
        this.dir = d;
        return d;
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /** The benchmarker at `address` (exact address first, then the most specific block). */
  async identify(address: string | null, token: string | null): Promise<Identity> {
    if (address === null) return { ok: false, reason: 'unknown_ip' };
    const d = await this.directory();
    let b = d.exact.get(address) ?? null;
    if (!b) {
      const ip = parseIp(address);
      b = (ip && d.blocks.find((x) => blockContains(x.block, ip))?.b) ?? null;
    }
    if (!b) return { ok: false, reason: 'unknown_ip' };
    if (b.tokenHash !== null && (token === null || sha256(token) !== b.tokenHash))
      return { ok: false, reason: 'bad_token' };
    return { ok: true, benchmarker: b };
  }

  /** The benchmarker's hub worker, registered on first use. */
  async workerId(b: BenchmarkerRecord): Promise<string> {
    if (b.workerId) {
      const known = await this.workers.get(b.workerId).catch(() => null);
      if (known) return b.workerId;
    }
    let pending = this.registering.get(b.id);
    if (!pending) {
      pending = (async () => {
        const w = await this.workers.register({
          name: `benchmarker:${b.name}`,
          runtimes: [BENCH_RUNTIME],
          tags: [],
          capacity: 1,
          protocol: 'portal',
        });
        // Another hub may have registered one at the same time: the first recorded wins.
        const recorded = await this.store().benchmarkerSetWorker({
          id: b.id,
          workerId: w.record.id,
          previous: b.workerId,
        });
        b.workerId = recorded ?? w.record.id;
        this.invalidate();
        return b.workerId;
      })().finally(() => this.registering.delete(b.id));
      this.registering.set(b.id, pending);
    }
    return pending;
  }

  /** Claims the next job this benchmarker may run, or null. Bindings are read now. */
  async dequeue(b: BenchmarkerRecord): Promise<JobRecord | null> {
    if (!this.gate(b)) return null;
    const workerId = await this.workerId(b);
    const w = await this.workers.get(workerId);
    this.workers.seen(w);
    const d = await this.directory();
    const own = b.teamIds;
    const lease = (teams: { only?: string[]; exclude?: string[] }) =>
      this.ctx.store.jobLeaseNext({
        workerId,
        runtimes: [BENCH_RUNTIME],
        tags: [],
        limit: 1,
        leaseMs: UNTIL_TIMEOUT,
        now: this.ctx.clock(),
        teams,
      });
    let jobs = own.length ? await lease({ only: own }) : [];
    if (jobs.length === 0) jobs = await lease({ exclude: d.bound });
    if (jobs.length === 0) return null;
    this.leases.granted(jobs);
    return jobs[0]!;
  }

  private async heldJob(
    b: BenchmarkerRecord,
    jobId: string,
  ): Promise<{ job: JobRecord | null; held: boolean }> {
    const job = /^\d{1,15}$/.test(jobId) ? await this.ctx.store.jobGet({ id: jobId }) : null;
    if (!job || job.runtime !== BENCH_RUNTIME) return { job: null, held: false };
    if (job.state !== 'running') return { job, held: false };
    if (b.workerId !== null && job.leaseWorkerId === b.workerId) return { job, held: true };
    // The directory may predate the benchmarker's registration (another hub took the job): re-read.
    const fresh = await this.store().benchmarkerGet({ id: b.id });
    if (fresh?.workerId) b.workerId = fresh.workerId;
    return { job, held: fresh?.workerId != null && job.leaseWorkerId === fresh.workerId };
  }

  /**
   * Records a benchmarker's report. Only the benchmarker holding a running job may report it;
   * a report for a job that is no longer running changes nothing (the same report sent again
   * after a lost answer is acknowledged again).
   */
  async report(b: BenchmarkerRecord, jobId: string, r: ReportInput): Promise<ReportOutcome> {
    const { job, held } = await this.heldJob(b, jobId);
    if (!job) return 'not_found';
    const result: BenchResult = {
      score: r.score,
      is_passed: r.is_passed,
      reason: r.reason,
      stdout: tail(r.stdout, MAX_LOG_BYTES),
      stderr: tail(r.stderr, MAX_LOG_BYTES),
    };
    if (!held) return isRepeat(job, b, r.status, result) ? 'ok' : 'not_running';
    try {
      const token = job.leaseToken!;
      if (r.status === 'aborted') {
        const error = result.reason || 'aborted by the benchmarker';
        await this.leases.fail({ jobId, token, error, retryable: false, result });
        return 'ok';
      }
      const completion = this.leases.complete({ jobId, token, result, exitStatus: null });
      // SQLite: the score row is written in the same group commit, right behind the completion.
      const early = this.ctx.store.dialect === 'sqlite' ? this.record(jobId) : null;
      await completion;
      await early;
      await this.record(jobId);
      return 'ok';
    } catch (err) {
      // Canceled or timed out between our read and the write: the store refused it.
      if (err instanceof HubError && (err.code === 'lease_stale' || err.code === 'not_found'))
        return 'not_running';
      throw err;
    }
  }

  /** A running score (and a message) from the benchmarker, shown to the team while it runs. */
  async progress(
    b: BenchmarkerRecord,
    jobId: string,
    p: { score: number | null; message: string | null },
  ): Promise<ReportOutcome> {
    const { job, held } = await this.heldJob(b, jobId);
    if (!job) return 'not_found';
    if (!held) return 'not_running';
    try {
      const beat = await this.leases.heartbeat({
        jobId,
        token: job.leaseToken!,
        progress: { score: p.score, message: p.message === null ? null : tail(p.message, 4096) },
        leaseMs: UNTIL_TIMEOUT,
      });
      return beat.cancel ? 'not_running' : 'ok';
    } catch (err) {
      if (err instanceof HubError && (err.code === 'lease_stale' || err.code === 'not_found'))
        return 'not_running';
      throw err;
    }
  }

  /** The benchmarker that holds (or held) a job, by its worker. */
  async nameOfWorker(workerId: string | null): Promise<string | null> {
    if (workerId === null) return null;
    return (await this.directory()).byWorker.get(workerId)?.name ?? null;
  }
}

function isRepeat(
  job: JobRecord,
  b: BenchmarkerRecord,
  status: ReportInput['status'],
  result: BenchResult,
): boolean {
  if (!isFinal(job.state) || b.workerId === null || job.leaseWorkerId !== b.workerId) return false;
  const expected = status === 'done' ? 'succeeded' : 'failed';
  const kept = (job.result ?? {}) as Partial<BenchResult>;
  return (
    job.state === expected &&
    (Object.keys(result) as (keyof BenchResult)[]).every((k) => kept[k] === result[k])
  );
}
