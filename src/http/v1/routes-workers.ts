/** Native API: the worker protocol (register, lease, heartbeat, complete, fail). See docs/protocol.md. */
import { HubError } from '../../core/errors.js';
import type { Principal } from '../../auth/auth.js';
import type { HubServices } from '../services.js';
import type { LeasedJob } from '../../jobs/leased.js';
import { readJson } from '../body.js';
import type { RequestContext } from '../router.js';
import { completeAndLease } from '../../jobs/complete-next.js';
import { sendJson, type Api } from './api.js';
import { inputFrom } from './convert.js';
import { Complete, CompleteBatch, Fail, Heartbeat, LeaseRequest, WorkerRegister } from './schemas.js';
import { iso, jobJson, workerJson } from './serialize.js';

const idOf = (c: RequestContext, name: string, what: string) => {
  const id = c.params[name]!;
  if (!/^\d{1,18}$/.test(id)) throw new HubError('not_found', `${what} ${id} not found`);
  return id;
};

async function asWorker(c: RequestContext): Promise<Principal> {
  const p = await c.principal();
  c.hub.auth.require(p, 'worker');
  return p;
}

/**
 * An output blob a worker reports must be one it may read (its own upload, or a blob of the job
 * it holds): otherwise completing a job would hand another tenant's blob to this job's owner.
 */
async function ownOutput(
  hub: HubServices,
  p: Principal,
  output: { blobId: string } | { bytes: Buffer } | undefined,
) {
  if (output && 'blobId' in output) await hub.blobs.get(output.blobId, p);
  return output;
}

/** A leased job as the native API shows it, small inputs inline as base64. */
function leasedJson({ job, fn, input }: LeasedJob) {
  let inputJson: Record<string, unknown> | null = null;
  if (input && 'inline' in input)
    inputJson = { size: input.inline.length, base64: input.inline.toString('base64') };
  else if (input) {
    inputJson = { blobId: input.blobId, size: input.size, sha256: input.sha256 };
    if (input.bytes) inputJson.base64 = input.bytes.toString('base64');
  }
  return {
    id: job.id,
    token: job.leaseToken,
    attempt: job.attempts,
    runtime: job.runtime,
    function: fn && { id: fn.id, name: fn.name, runtime: fn.runtime, codeBlobId: fn.codeBlobId },
    tags: job.tags,
    team: job.team,
    timeoutMs: job.timeoutMs,
    leaseExpiresAt: iso(job.leaseExpiresAt),
    input: inputJson,
  };
}

export function workerRoutes(api: Api): void {
  api.route(
    {
      method: 'POST',
      path: '/api/v1/workers',
      tag: 'workers',
      summary: 'Register a worker (once per process start)',
      body: WorkerRegister,
      responses: { 201: 'the worker and its lease settings' },
    },
    async (c) => {
      const p = await asWorker(c);
      const b = await readJson(c.req, WorkerRegister, c.hub.ctx.config.maxJsonBytes);
      const w = await c.hub.workers.register({
        name: b.name ?? null,
        runtimes: b.runtimes,
        tags: b.tags ?? [],
        capacity: b.capacity ?? 1,
        protocol: 'v1',
        owner: p.tokenId,
      });
      const leaseMs = c.hub.ctx.config.leaseMs;
      sendJson(c.res, 201, {
        ...workerJson(w.record),
        leaseMs,
        heartbeatMs: Math.floor(leaseMs / 3),
        maxWaitMs: c.hub.ctx.config.maxWaitMs,
        inlineBytes: c.hub.ctx.config.inlineBytes,
        // So that the agent sizes its heartbeats (log lines) to be accepted.
        maxJsonBytes: c.hub.ctx.config.maxJsonBytes,
      });
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/workers',
      tag: 'workers',
      summary: 'Workers seen recently',
      responses: { 200: '{workers}' },
    },
    async (c) => {
      c.hub.auth.require(await c.principal(), 'client', 'worker');
      sendJson(c.res, 200, {
        workers: c.hub.workers
          .alive()
          .map((w) => workerJson(w.record, { parked: w.parked, lastSeen: w.lastSeen })),
      });
    },
  );
  api.route(
    {
      method: 'POST',
      path: '/api/v1/workers/{id}/lease',
      tag: 'workers',
      summary: 'Lease up to `limit` jobs, waiting up to `waitMs` for one',
      body: LeaseRequest,
      responses: { 200: '{jobs: [...]} (empty when the wait ended)' },
    },
    async (c) => {
      const p = await asWorker(c);
      const b = await readJson(c.req, LeaseRequest, c.hub.ctx.config.maxJsonBytes, {});
      // Only the token that registered a worker leases as it: no taking another's jobs.
      const w = await c.hub.workers.actingAs(idOf(c, 'id', 'worker'), p);
      // Returned, not awaited: this frame is not kept suspended while the request is parked.
      return c.hub.leases
        .leaseToRun(w.record.id, {
          limit: b.limit ?? 1,
          waitMs: b.waitMs ?? 0,
          tags: b.tags,
          signal: c.signal,
        })
        .then((jobs) => sendJson(c.res, 200, { jobs: jobs.map(leasedJson) }));
    },
  );
  api.route(
    {
      method: 'POST',
      path: '/api/v1/jobs/{id}/heartbeat',
      tag: 'workers',
      summary: 'Extend the lease; the reply says whether to cancel',
      body: Heartbeat,
      responses: { 200: '{cancel, leaseExpiresAt}', 409: 'lease_stale' },
    },
    async (c) => {
      await asWorker(c);
      const b = await readJson(c.req, Heartbeat, c.hub.ctx.config.maxJsonBytes);
      const r = await c.hub.leases.heartbeat({
        jobId: idOf(c, 'id', 'job'),
        token: b.token,
        progress: b.progress,
        logs: b.logs,
      });
      sendJson(c.res, 200, { cancel: r.cancel, leaseExpiresAt: iso(r.leaseExpiresAt) });
    },
  );
  api.route(
    {
      method: 'POST',
      path: '/api/v1/jobs/{id}/complete',
      tag: 'workers',
      summary: 'Report success (idempotent for the same token)',
      body: Complete,
      responses: { 200: 'the job', 409: 'lease_stale' },
    },
    async (c) => {
      const p = await asWorker(c);
      const b = await readJson(c.req, Complete, c.hub.ctx.config.maxJsonBytes);
      const job = await c.hub.leases.complete({
        jobId: idOf(c, 'id', 'job'),
        token: b.token,
        output: await ownOutput(c.hub, p, inputFrom(b.output)),
        result: b.result,
        exitStatus: b.exitStatus,
      });
      sendJson(c.res, 200, jobJson(job));
    },
  );
  api.route(
    {
      method: 'POST',
      path: '/api/v1/complete',
      tag: 'workers',
      summary: 'Report many successes in one request; one result per item; optionally lease the next jobs',
      body: CompleteBatch,
      responses: { 200: '{results: [{jobId, ok, state | error}], next?: {jobs: [...]}}' },
    },
    async (c) => {
      const p = await asWorker(c);
      const b = await readJson(c.req, CompleteBatch, c.hub.ctx.config.maxJsonBytes);
      // Checked before anything is written: a bad worker id changes nothing.
      const worker = b.next && (await c.hub.workers.actingAs(b.next.workerId, p));
      const { results, leased } = await completeAndLease(
        c.hub.leases,
        b.completions.map((item) => ({
          jobId: item.jobId,
          item: ownOutput(c.hub, p, inputFrom(item.output)).then((output) => ({
            jobId: item.jobId,
            token: item.token,
            output,
            result: item.result,
            exitStatus: item.exitStatus,
          })),
        })),
        worker
          ? {
              workerId: worker.record.id,
              limit: b.next!.limit ?? 1,
              waitMs: b.next!.waitMs ?? 0,
              tags: b.next!.tags,
              signal: c.signal,
            }
          : undefined,
      );
      const reply: Record<string, unknown> = {
        results: results.map((r) =>
          r.ok
            ? { jobId: r.jobId, ok: true, state: r.job.state }
            : { jobId: r.jobId, ok: false, error: { code: r.error.code, message: r.error.message } },
        ),
      };
      if (leased) reply.next = { jobs: leased.map(leasedJson) };
      sendJson(c.res, 200, reply);
    },
  );
  api.route(
    {
      method: 'POST',
      path: '/api/v1/jobs/{id}/fail',
      tag: 'workers',
      summary: 'Report a failed attempt (retried when retryable and attempts are left)',
      body: Fail,
      responses: { 200: 'the job', 409: 'lease_stale' },
    },
    async (c) => {
      await asWorker(c);
      const b = await readJson(c.req, Fail, c.hub.ctx.config.maxJsonBytes);
      const job = await c.hub.leases.fail({
        jobId: idOf(c, 'id', 'job'),
        token: b.token,
        error: b.error,
        retryable: b.retryable ?? true,
        exitStatus: b.exitStatus,
        result: b.result,
      });
      sendJson(c.res, 200, jobJson(job));
    },
  );
}
