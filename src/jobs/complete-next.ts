/**
 * Completing jobs and leasing the next ones in one request (protocol §9, "Complete and lease
 * the next"). A worker with one job in flight otherwise pays two round trips and two durable
 * commits per job: complete, then lease. Here both writes are started in the same turn of the
 * event loop, so on SQLite they land in one group commit (one fsync), and the reply carries the
 * completions' results and the new leases together.
 *
 * The lease is made whatever becomes of the completions: a stale token does not change the fact
 * that the worker has a free slot. That is also why only the batch completion takes `next`: its
 * reply is 200 with one result per item, so the leased jobs always reach the worker; a single
 * completion answers 409 on a stale token, and a job leased beside it would be lost until its
 * lease expired.
 */
import { HubError } from '../core/errors.js';
import type { JobRecord } from '../store/store.js';
import type { LeasedJob } from './leased.js';
import type { LeaseOptions, LeaseService } from './workers.js';

/** One success to report, its output already resolved and checked by the caller. */
export interface CompletionItem {
  jobId: string;
  token: string;
  output?: { blobId: string } | { bytes: Buffer };
  result?: unknown;
  exitStatus?: number | null;
}

export type CompletionResult =
  { jobId: string; ok: true; job: JobRecord } | { jobId: string; ok: false; error: HubError };

/** The lease to make with the completions: as a lease request of worker `workerId`. */
export interface NextLease extends LeaseOptions {
  workerId: string;
}

/**
 * Records each completion as if sent alone (same rules, same idempotence) and, with `next`,
 * leases for the worker in the same commit where the store groups writes. Resolves when the
 * completions are committed and the lease is answered (which may park up to `next.waitMs` when
 * no job matches: the completions are durable before that wait, only their reply waits).
 */
export async function completeAndLease(
  leases: LeaseService,
  items: readonly { jobId: string; item: CompletionItem | Promise<CompletionItem> }[],
  next?: NextLease,
): Promise<{ results: CompletionResult[]; leased: LeasedJob[] | null }> {
  const completing = Promise.all(
    items.map(async ({ jobId, item }): Promise<CompletionResult> => {
      try {
        return { jobId, ok: true, job: await leases.complete(await item) };
      } catch (err) {
        if (!(err instanceof HubError)) throw err;
        return { jobId, ok: false, error: err };
      }
    }),
  );
  // Started in the same turn as the completions' writes: one group commit for all of them.
  const leasing = next ? leases.leaseToRun(next.workerId, next) : null;
  const [results, leased] = await Promise.all([completing, leasing]);
  return { results, leased };
}
