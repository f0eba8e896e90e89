/**
 * Reports outcomes to the hub. Completions are batched the way a group commit is: while one
 * `POST /api/v1/complete` is in flight the next ones queue, and go together in the following
 * request. A lone completion waits only for the current turn of the event loop. Reports are retried
 * while the hub is unreachable (both calls are idempotent for a token); `409 lease_stale` means
 * another attempt owns the job, and the report is dropped (protocol §11).
 */
import { isStale, retry, type RetryOptions } from './client.js';
import type { Completion, HubApi } from './hub-api.js';

export type ReportResult = 'ok' | 'stale';

interface Pending {
  item: Completion;
  resolve(r: ReportResult): void;
  reject(err: unknown): void;
}

/** Most items in one batch (the hub's limit is 1000). */
const BATCH = 500;

export class Reporter {
  private queue: Pending[] = [];
  private flushing = false;
  private idleWaiters: (() => void)[] = [];

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

  /** Resolves when no completion is queued or in flight. */
  idle(): Promise<void> {
    if (!this.flushing && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH);
      try {
        const results = await retry(
          () => this.api.completeBatch(batch.map((p) => p.item)),
          this.retryOptions(),
        );
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
