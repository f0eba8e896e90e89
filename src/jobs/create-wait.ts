/**
 * Create and wait: a requester that wants a small job's output creates the job and gets its
 * final state, output included, in the same request (protocol §14, `waitMs`), instead of
 * create, wait, then read the output: three round trips become one.
 *
 * The race it must not lose: a job may finish between its commit and the moment we subscribe to
 * it. So a listener on every job's events is installed before the create and collects final
 * states until the per-job subscriptions are in place; no store read is needed to close the gap.
 */
import type { CancelSignal } from '../core/cancel.js';
import { isFinal } from '../core/states.js';
import type { JobRecord } from '../store/store.js';
import type { HubContext } from './context.js';

export interface CreateWaitOptions {
  /** How long to wait for every job to be final (capped by the hub's `maxWaitMs`). */
  waitMs: number;
  signal?: CancelSignal;
}

/**
 * Creates the jobs as `JobService.create` does, then resolves when all of them are final or the
 * wait ends, with each job as it is then (not final ones still queued or running).
 */
export async function createAndWait<C extends { job: JobRecord }>(
  ctx: HubContext,
  create: () => Promise<C[]>,
  o: CreateWaitOptions,
): Promise<C[]> {
  const early = new Map<string, JobRecord>();
  const stopEarly = ctx.events.subscribeAll((e) => {
    if (e.type === 'state' && isFinal(e.job.state)) early.set(e.job.id, e.job);
  });
  let created: C[];
  try {
    created = await create();
  } finally {
    stopEarly();
  }
  const open = new Map<string, number>();
  created.forEach((r, i) => {
    const done = early.get(r.job.id);
    if (done) created[i] = { ...r, job: done };
    else if (!isFinal(r.job.state)) open.set(r.job.id, i);
  });
  if (open.size === 0 || o.waitMs <= 0 || ctx.shutdown.aborted) return created;

  const unsubscribe: (() => void)[] = [];
  let allDone!: () => void;
  const finished = new Promise<void>((r) => (allDone = r));
  for (const [id, i] of open) {
    unsubscribe.push(
      ctx.events.subscribe(id, (e) => {
        if (e.type !== 'state' || !isFinal(e.job.state) || !open.has(id)) return;
        created[i] = { ...created[i]!, job: e.job };
        open.delete(id);
        if (open.size === 0) allDone();
      }),
    );
  }
  const timer = setTimeout(allDone, Math.min(o.waitMs, ctx.config.maxWaitMs));
  o.signal?.addEventListener('abort', allDone, { once: true });
  ctx.shutdown.addEventListener('abort', allDone, { once: true });
  try {
    await finished;
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', allDone);
    ctx.shutdown.removeEventListener('abort', allDone);
    for (const u of unsubscribe) u();
  }
  // Jobs finished by another hub process on the same database publish nothing here: read the
  // ones still open once, as `wait` does when its time is up.
  for (const [id, i] of open) {
    const job = await ctx.store.jobGet({ id });
    if (job) created[i] = { ...created[i]!, job };
  }
  return created;
}

/**
 * A job's output bytes when they are at most `maxBytes` (inline, or a small blob read back),
 * else null: what create-and-wait puts in its reply so that no second request is needed.
 */
export async function smallOutput(ctx: HubContext, job: JobRecord, maxBytes: number): Promise<Buffer | null> {
  if (job.outputInline !== null) return job.outputInline.length <= maxBytes ? job.outputInline : null;
  if (job.outputBlobId === null) return null;
  const blob = await ctx.store.blobGet({ id: job.outputBlobId });
  if (!blob || blob.size > maxBytes) return null;
  return ctx.blobs.readAll(blob.sha256, maxBytes);
}
