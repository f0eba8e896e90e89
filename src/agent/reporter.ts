/**
 * Reports outcomes to the hub. Completions are batched the way a group commit is: while one
 * `POST /api/v1/complete` is in flight the next ones queue, and go together in the following
 * request. A lone completion waits only for the current turn of the event loop. Reports are retried
 * while the hub is unreachable (both calls are idempotent for a token); `409 lease_stale` means
 * another attempt owns the job, and the report is dropped (protocol §11).
 */
import { isStale, retry, type RetryOptions } from './client.js';
import type { BatchResult, Completion, HubApi, LeasedJob, NextLease } from './hub-api.js';

export type ReportResult = 'ok' | 'stale';

interface Pending {
  item: Completion;
  resolve(r: ReportResult): void;
  reject(err: unknown): void;
}

/** Most items in one batch (the hub's limit is 1000). */
const BATCH = 500;

/**
 * Leasing with completions: asked at each flush whether the agent has free slots that no lease
 * request is in flight for; the jobs leased come back through `leased`.
 */
export interface LeaseWithReports {
  take(): NextLease | null;
  leased(jobs: LeasedJob[], asked: NextLease): void;
  /** The request failed: the slots asked for are free again. */
  failed(asked: NextLease): void;
}

export class Reporter {
  private queue: Pending[] = [];
  private flushing = false;
  private idleWaiters: (() => void)[] = [];
  /** Set by the agent: completions also lease for its free slots. */
  leaseWith: LeaseWithReports | null = null;

  constructor(
    private readonly api: HubApi,
    private readonly retryOptions: () => RetryOptions,
  ) {}

  complete(item: Completion): Promise<ReportResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.flushing) return;
      this.flushing = true;
      // After the current turn of the event loop: the jobs that finished together go together.
      setImmediate(() => void this.flush());
    });
  }

  async fail(
    jobId: string,
    body: { token: string; error: string; retryable: boolean; exitStatus?: number },
  ): Promise<ReportResult> {
    try {
      await retry(
        () => this.api.fail(jobId, { ...body, error: body.error.slice(0, 65_000) }),
        this.retryOptions(),
      );
      return 'ok';
    } catch (err) {
      if (isStale(err)) return 'stale';
      throw err;
    }
  }

  /** Completions queued and not yet in a request. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves when no completion is queued or in flight. */
  idle(): Promise<void> {
    if (!this.flushing && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** One completion request; the first try of a batch also leases for the agent's free slots. */
  private async send(items: Completion[]): Promise<BatchResult[]> {
    const next = this.leaseWith?.take() ?? null;
    if (!next) return this.api.completeBatch(items);
    try {
      const r = await this.api.completeAndLease(items, next);
      this.leaseWith!.leased(r.next?.jobs ?? [], next);
      return r.results;
    } catch (err) {
      this.leaseWith!.failed(next);
      throw err;
    }
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH);
      try {
        const items = batch.map((p) => p.item);
        const results = await retry(() => this.send(items), this.retryOptions());
        batch.forEach((p, i) => {
          const r = results[i];
          if (r?.ok) p.resolve('ok');
          else if (r?.error && (r.error.code === 'lease_stale' || r.error.code === 'not_found'))
            p.resolve('stale');
          else
            p.reject(
              new Error(`completion of job ${p.item.jobId} refused: ${r?.error?.message ?? 'no result'}`),
            );
        });
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.flushing = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
