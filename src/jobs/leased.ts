/**
 * What a worker needs to run a job it just leased: the job, its function, and its input, with the
 * bytes of a small input blob read here so that the worker need not fetch them. Every face that
 * hands jobs to workers running them (the native API) answers with this; faces whose clients
 * fetch everything themselves (Pleiades, the contest's benchmarkers) only translate the job.
 */
import type { FunctionRecord, JobRecord } from '../store/store.js';
import type { HubContext } from './context.js';

/** A leased job's input: inline bytes, or a blob (with its bytes when at most `inlineBytes`). */
export type LeasedInput =
  { inline: Buffer } | { blobId: string; size: number | null; sha256: string | null; bytes: Buffer | null };

export interface LeasedJob {
  job: JobRecord;
  fn: FunctionRecord | null;
  input: LeasedInput | null;
}

/** Adds function and input to each job; a function shared by several jobs is read once. */
export async function describeLeased(ctx: HubContext, jobs: JobRecord[]): Promise<LeasedJob[]> {
  const functions = new Map<string, Promise<FunctionRecord | null>>();
  const fnOf = (id: string) => {
    let fn = functions.get(id);
    if (!fn) functions.set(id, (fn = ctx.store.functionGet({ id })));
    return fn;
  };
  return Promise.all(
    jobs.map(async (job) => ({
      job,
      fn: job.functionId === null ? null : await fnOf(job.functionId),
      input: await inputOf(ctx, job),
    })),
  );
}

async function inputOf(ctx: HubContext, job: JobRecord): Promise<LeasedInput | null> {
  if (job.inputInline !== null) return { inline: job.inputInline };
  if (job.inputBlobId === null) return null;
  const blob = await ctx.store.blobGet({ id: job.inputBlobId });
  const small = blob !== null && blob.size <= ctx.config.inlineBytes;
  return {
    blobId: job.inputBlobId,
    size: blob?.size ?? null,
    sha256: blob?.sha256 ?? null,
    bytes: small ? await ctx.blobs.readAll(blob.sha256, ctx.config.inlineBytes) : null,
  };
}
