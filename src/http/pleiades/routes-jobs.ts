/**
 * Pleiades v0.5 jobs: create, read (optionally held until a state: `except` means "expect"), and
 * the worker's update. A Pleiades worker holds its job's lease without knowing a token, so the
 * update acts with the job's current lease, only on leases taken through this API, and only by
 * the token that registered the worker holding it: a worker acts on what it holds, nothing else.
 */
import { Readable } from 'node:stream';
import { HubError } from '../../core/errors.js';
import { pleiadesState, type JobState } from '../../core/states.js';
import type { Hub } from '../../app/hub.js';
import type { JobRecord } from '../../store/store.js';
import type { Router } from '../router.js';
import { NO_CODEX } from './routes-data.js';
import { idField, ok, pathId, readObject, secondsValue, stringArrayField, type Body } from './reply.js';

/**
 * `GET /job/{id}?except=…` with no timeout (or `timeout=`, as pypleiades sends by default)
 * answers at once with the current state: a client that names no wait gets none.
 */
export const DEFAULT_EXPECT_WAIT_S = 0;

const FINAL: JobState[] = ['succeeded', 'failed', 'canceled'];

/** Pleiades state names (any case) → the core states they show. */
const EXPECTABLE: Record<string, JobState[]> = {
  enqueued: ['queued'],
  // Pleiades' PreAssigned (picked for a worker, not started): a lease is both at once here.
  preassigned: ['running'],
  running: ['running'],
  // A failed job reads Finished on this face (see pleiadesState).
  finished: ['succeeded', 'failed'],
  cancelled: ['canceled'],
  canceled: ['canceled'],
};

type Update = 'finished' | 'cancelled';

export function jobRoutes(r: Router): void {
  r.on('POST', '/job', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'client');
    const body = await readObject(c, false);
    const lambda = idField(body, 'lambda', { required: true })!;
    const input = idField(body, 'input', { required: true })!;
    const tags = stringArrayField(body, 'tags') ?? [];
    const [created] = await c.hub.jobs.create(
      [{ functionId: lambda, input: { blobId: input }, tags }],
      p.tokenId,
      p,
    );
    ok(c.res, { message: 'Job created', id: created!.job.id });
  });

  r.on('GET', '/job/:id', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'client', 'worker');
    const id = pathId(c.params.id, 'job');
    const owner = c.hub.auth.ownerScope(p);
    const expect = c.query.get('except')?.trim();
    let job: JobRecord;
    if (expect) {
      const states = EXPECTABLE[expect.toLowerCase()];
      if (!states) {
        throw new HubError(
          'validation_failed',
          `except must be one of Enqueued, Running, Finished, Cancelled; got ${JSON.stringify(expect)}`,
        );
      }
      const seconds = secondsValue(c.query.get('timeout'), 'timeout') ?? DEFAULT_EXPECT_WAIT_S;
      // A final job never changes again: answer at once rather than hold a request in vain.
      const waitMs = Math.min(seconds * 1000, c.hub.ctx.config.pleiadesMaxWaitMs);
      job = await c.hub.jobs.wait(id, [...new Set([...states, ...FINAL])], waitMs, owner, c.signal);
    } else {
      job = await c.hub.jobs.get(id, owner);
    }
    ok(c.res, await jobContext(c.hub, job));
  });

  r.on('POST', '/job/:id', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'worker');
    const id = pathId(c.params.id, 'job');
    const body = await readObject(c, false);
    const update = parseUpdate(body);
    const output = idField(body, 'output', { zeroIsNone: true });
    const input = idField(body, 'input', { zeroIsNone: true });
    const job = await c.hub.jobs.get(id);
    if (job.state === 'running') {
      if (!(await c.hub.workers.holds(p, job.leaseWorkerId))) {
        throw new HubError(
          'forbidden',
          `job ${id} is held by another worker; a worker updates only its own jobs`,
        );
      }
      // Blobs handed on must be the worker's to give (its uploads, or the job's own).
      for (const blob of [output, input]) if (blob !== undefined) await c.hub.blobGet(blob, p);
      const token = await pleiadesLease(c.hub, job);
      if (update === 'finished') {
        await c.hub.leases.complete({
          jobId: id,
          token,
          output: output === undefined ? undefined : { blobId: output },
          nextInputBlobId: input,
        });
      } else {
        // Cancelled, as the worker said (not failed: a failed job reads Finished on this face).
        await c.hub.jobs.cancel(id);
      }
    } else if (job.state === 'queued') {
      if (update === 'finished') {
        throw new HubError(
          'job_not_running',
          `job ${id} is Enqueued, not running: contract it before finishing it`,
        );
      }
      // Nobody holds a queued job: only an admin may cancel it here (its owner: /api/v1).
      if (p.role !== 'admin') {
        throw new HubError('forbidden', `job ${id} is Enqueued: a worker may cancel only a job it holds`);
      }
      await c.hub.jobs.cancel(id);
    } else if (!isRepeat(job, update, output)) {
      throw new HubError(
        'job_not_running',
        `job ${id} is no longer running (it is ${pleiadesState(job.state)})`,
      );
    }
    ok(c.res, { message: 'Job found' });
  });
}

/** `status` or `state` (Python clients send both), matched without regard to case. */
function parseUpdate(body: Body): Update {
  const given = [body.state, body.status].filter((v) => v !== undefined && v !== null);
  if (given.length === 0)
    throw new HubError('validation_failed', 'state (or status) is required: "finished" or "cancelled"');
  const names = given.map((v) => {
    if (typeof v !== 'string')
      throw new HubError('validation_failed', `state must be a string, got ${JSON.stringify(v)}`);
    const s = v.trim().toLowerCase();
    if (s === 'finished') return 'finished';
    if (s === 'cancelled' || s === 'canceled') return 'cancelled';
    throw new HubError(
      'validation_failed',
      `state must be "finished" or "cancelled", got ${JSON.stringify(v)}`,
    );
  });
  if (names.some((n) => n !== names[0])) throw new HubError('validation_failed', 'state and status disagree');
  return names[0]!;
}

/** The token of a running job's lease, refusing leases held by native (token-carrying) workers. */
async function pleiadesLease(hub: Hub, job: JobRecord): Promise<string> {
  if (job.leaseToken === null) throw new HubError('conflict', `job ${job.id} has no lease`);
  if (job.leaseWorkerId !== null) {
    const w = await hub.workers.get(job.leaseWorkerId).catch(() => null);
    if (w && w.record.protocol !== 'v0.5') {
      throw new HubError(
        'conflict',
        `job ${job.id} is leased by a jobhub worker; it reports through /api/v1`,
      );
    }
  }
  return job.leaseToken;
}

/** The same update sent again (a retried request) is acknowledged, not refused. */
function isRepeat(job: JobRecord, update: Update, output: string | undefined): boolean {
  if (update === 'finished')
    return job.state === 'succeeded' && (output === undefined || output === job.outputBlobId);
  return job.state === 'failed' || job.state === 'canceled';
}

/**
 * Inline bytes (jobs from the native API) become a blob, so Pleiades clients can fetch them. The
 * blob is granted to the job's owner only: the owner reads it, and so does a worker while it
 * holds a lease on one of the owner's jobs; nobody else, whoever fetched the job.
 */
async function blobIdOf(
  hub: Hub,
  job: JobRecord,
  blobId: string | null,
  inline: Buffer | null,
): Promise<string | null> {
  if (blobId !== null) return blobId;
  if (inline === null) return null;
  return (await hub.blobUpload(Readable.from(inline.length ? [inline] : []), job.owner)).id;
}

/**
 * The output id clients read: the job's output, or for a job that ended without one (failed,
 * canceled, or finished with no output) an empty blob, so that `output.id` exists and downloads; "0" while there is none yet
 * (the seed sends a string, never null).
 */
async function outputIdOf(hub: Hub, job: JobRecord): Promise<string> {
  const id = await blobIdOf(hub, job, job.outputBlobId, job.outputInline);
  if (id !== null) return id;
  if (FINAL.includes(job.state)) return (await hub.blobUpload(Readable.from([]), job.owner)).id;
  return '0';
}

/** The job context clients read: the current format plus the flat legacy fields. */
export async function jobContext(hub: Hub, job: JobRecord): Promise<Record<string, unknown>> {
  const fn = job.functionId === null ? null : await hub.functionGet(job.functionId).catch(() => null);
  const inputId = await blobIdOf(hub, job, job.inputBlobId, job.inputInline);
  const outputId = await outputIdOf(hub, job);
  const state = pleiadesState(job.state);
  const lambda = {
    id: fn?.id ?? '0',
    codex: fn?.codeBlobId ?? NO_CODEX,
    runtime: fn?.runtime ?? job.runtime,
  };
  return {
    message: 'Job found',
    id: job.id,
    state,
    lambda,
    input: { id: inputId ?? '0' },
    ...(outputId === '0' ? {} : { output: { id: outputId } }),
    tags: job.tags,
    job_status: state,
    job_input_id: inputId,
    job_output_id: outputId,
    functio: lambda.id,
    runtime: lambda.runtime,
  };
}
