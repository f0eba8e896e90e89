/**
 * Pleiades v0.5 workers: register, read, and contract (a long-poll for one job). Pleiades workers
 * never heartbeat, so a contracted job's lease is its own timeout.
 */
import { UNTIL_TIMEOUT } from '../../jobs/workers.js';
import type { Router } from '../router.js';
import { CODE_NO_JOB, idField, ok, pathId, readObject, secondsValue, stringArrayField } from './reply.js';

/** How long a contract waits when the worker names no timeout (capped by pleiadesMaxWaitMs). */
export const DEFAULT_CONTRACT_WAIT_S = 20;

export function workerRoutes(r: Router): void {
  r.on('POST', '/worker', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'worker');
    const body = await readObject(c, true);
    const given = stringArrayField(body, 'runtime', 32);
    const runtimes = given?.length ? given : ['default'];
    const w = await c.hub.workers.register({
      protocol: 'v0.5',
      capacity: 1,
      tags: [],
      name: null,
      runtimes,
      owner: p.tokenId,
    });
    ok(c.res, { message: 'Worker registered', id: w.record.id, runtime: runtimes });
  });

  r.on('GET', '/worker/:id', async (c) => {
    c.hub.auth.require(await c.principal(), 'client', 'worker');
    const w = await c.hub.workers.get(pathId(c.params.id, 'worker'));
    ok(c.res, { message: 'Worker found', id: w.record.id, runtime: w.record.runtimes });
  });

  r.on('POST', '/worker/:id/contract', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'worker');
    // Only the token that registered the worker contracts as it (another's is Object Not Found).
    const workerId = (await c.hub.workers.actingAs(pathId(c.params.id, 'worker'), p)).record.id;
    const body = await readObject(c, true);
    // The body repeats the worker id (Go: `id,string,omitempty`); the path is what counts.
    idField(body, 'id', { zeroIsNone: true });
    const tags = stringArrayField(body, 'tags') ?? [];
    const seconds = secondsValue(body.timeout, 'timeout') ?? DEFAULT_CONTRACT_WAIT_S;
    const [job] = await c.hub.leases.lease(workerId, {
      limit: 1,
      waitMs: Math.min(Math.round(seconds * 1000), c.hub.ctx.config.pleiadesMaxWaitMs),
      tags,
      leaseMs: UNTIL_TIMEOUT,
      signal: c.signal,
    });
    if (!job) {
      ok(c.res, { code: CODE_NO_JOB, message: 'no job' });
      return;
    }
    if (c.signal.aborted) {
      // The worker hung up while the job was being handed over: give it back at once rather
      // than leave it leased to nobody until its timeout.
      await c.hub.leases.fail({
        jobId: job.id,
        token: job.leaseToken!,
        error: 'the worker went away before the job was handed over',
        retryable: true,
      });
      return;
    }
    ok(c.res, { job: job.id, id: job.id });
  });
}
