/** Native API: jobs for requesters (create, batch, get, list, wait, cancel, events, explain, output). */
import { HubError } from '../../core/errors.js';
import { JOB_STATES, isJobState, type JobState } from '../../core/states.js';
import type { JobRecord } from '../../jobs/jobs.js';
import { readJson } from '../body.js';
import { sendBlob } from '../blob-transfer.js';
import type { RequestContext } from '../router.js';
import { sendJson, type Api } from './api.js';
import { bulkFilterFrom, jobRequestFrom } from './convert.js';
import { JobBatchCreate, JobBulk, JobCreate } from './schemas.js';
import { intParam } from './params.js';
import { jobJson } from './serialize.js';
import type { Principal } from '../../auth/auth.js';
import type { CreatedJob, JobRequest } from '../../jobs/jobs.js';

const FINAL: JobState[] = ['succeeded', 'failed', 'canceled'];

function statesParam(raw: string | null, fallback: JobState[]): JobState[] {
  if (raw === null || raw === '') return fallback;
  const states = raw.split(',').map((s) => s.trim().toLowerCase());
  for (const s of states) {
    if (!isJobState(s))
      throw new HubError('validation_failed', `unknown state ${s}; states are ${JOB_STATES.join(', ')}`);
  }
  return states as JobState[];
}

function idParam(c: RequestContext, name = 'id'): string {
  const id = c.params[name]!;
  if (!/^\d{1,18}$/.test(id))
    throw new HubError('not_found', `${name === 'id' ? 'job' : name} ${id} not found`);
  return id;
}

/** Requesters read through this: clients see only their own jobs; staff also see bench stderr. */
async function scope(
  c: RequestContext,
  ...roles: ('client' | 'worker')[]
): Promise<{ owner: string | undefined; staff: boolean }> {
  const p = await c.principal();
  c.hub.auth.require(p, ...roles);
  return { owner: c.hub.auth.ownerScope(p), staff: p.role === 'admin' };
}

const WAIT_DOC =
  'wait up to this many ms (capped by the server) for the jobs to be final; outputs up to `inlineBytes` come inline';
/** Bytes of outputs one create-and-wait reply carries inline; the rest are referenced by blob id. */
const REPLY_INLINE_BYTES = 8 * 1024 ** 2;

/** Creates jobs; with the `waitMs` query parameter, waits for them to be final (create-and-wait). */
function createJobs(c: RequestContext, p: Principal, reqs: JobRequest[]): Promise<CreatedJob[]> {
  if (c.query.get('waitMs') === null) return c.hub.jobs.create(reqs, p.tokenId, p);
  const waitMs = intParam(c, 'waitMs', 0, 0, 3_600_000);
  return c.hub.jobs.createAndWait(reqs, p.tokenId, p, { waitMs, signal: c.signal });
}

/** For create-and-wait: each final job's small output (null where none or too large), else undefined. */
async function outputsOf(c: RequestContext, results: CreatedJob[]): Promise<(Buffer | null)[] | undefined> {
  if (c.query.get('waitMs') === null) return undefined;
  let budget = REPLY_INLINE_BYTES;
  const out: (Buffer | null)[] = [];
  for (const r of results) {
    const bytes = await c.hub.jobs.smallOutput(r.job, Math.min(budget, c.hub.ctx.config.inlineBytes));
    if (bytes) budget -= bytes.length;
    out.push(bytes);
  }
  return out;
}

/** The job's JSON with its output's bytes inline (`{blobId?, size, base64}`) when they are known. */
function withOutput<T extends { output: unknown }>(json: T, bytes: Buffer | null | undefined): T {
  if (!bytes) return json;
  return {
    ...json,
    output: { ...(json.output as object), size: bytes.length, base64: bytes.toString('base64') },
  };
}

export function jobRoutes(api: Api): void {
  api.route(
    {
      method: 'POST',
      path: '/api/v1/jobs',
      tag: 'jobs',
      summary: 'Create a job; with `waitMs`, answer once it is final, its small output inline',
      body: JobCreate,
      query: { waitMs: WAIT_DOC },
      responses: { 201: 'created', 200: 'an existing job with the same idempotency key' },
    },
    async (c) => {
      const p = await c.principal();
      c.hub.auth.require(p, 'client');
      const body = await readJson(c.req, JobCreate, c.hub.ctx.config.maxJsonBytes);
      const header = c.req.headers['idempotency-key'];
      const [r] = await createJobs(c, p, [
        jobRequestFrom(body, typeof header === 'string' ? header : undefined),
      ]);
      const outputs = await outputsOf(c, [r!]);
      sendJson(c.res, r!.created ? 201 : 200, {
        ...withOutput(jobJson(r!.job, p.role === 'admin'), outputs?.[0]),
        warnings: r!.warnings,
      });
    },
  );
  api.route(
    {
      method: 'POST',
      path: '/api/v1/jobs/batch',
      tag: 'jobs',
      summary: 'Create many jobs in one commit; with `waitMs`, answer once all are final',
      body: JobBatchCreate,
      query: { waitMs: WAIT_DOC },
      responses: {
        201: 'created; with `Prefer: return=minimal` each job is only {id, state, created, warnings}',
      },
    },
    async (c) => {
      const p = await c.principal();
      c.hub.auth.require(p, 'client');
      const body = await readJson(c.req, JobBatchCreate, c.hub.ctx.config.maxJsonBytes);
      const results = await createJobs(
        c,
        p,
        body.jobs.map((j) => jobRequestFrom(j)),
      );
      const outputs = await outputsOf(c, results);
      // RFC 7240: a bulk producer that keeps only the ids asks for the short form, which saves
      // the hub serialising (and the client parsing) every job in full.
      if (prefersMinimal(c.req.headers.prefer)) {
        c.res.setHeader('preference-applied', 'return=minimal');
        sendJson(c.res, 201, {
          jobs: results.map((r, i) => {
            const short = { id: r.job.id, state: r.job.state, created: r.created, warnings: r.warnings };
            // Waited for: what the requester waited for, the output and the error, ride along.
            if (!outputs) return short;
            const full = withOutput(jobJson(r.job), outputs[i]);
            return { ...short, output: full.output, error: full.error };
          }),
        });
        return;
      }
      sendJson(c.res, 201, {
        jobs: results.map((r, i) => ({
          ...withOutput(jobJson(r.job, p.role === 'admin'), outputs?.[i]),
          created: r.created,
          warnings: r.warnings,
        })),
      });
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/jobs',
      tag: 'jobs',
      summary: 'List jobs, newest first',
      query: {
        state: 'comma-separated states',
        runtime: 'runtime',
        function: 'function id',
        tag: 'a tag',
        group: 'a group',
        before: 'page: ids below this',
        limit: '1-1000, default 100',
      },
      responses: { 200: '{jobs, next}' },
    },
    async (c) => {
      const { owner, staff } = await scope(c, 'client', 'worker');
      const before = c.query.get('before');
      if (before !== null && !/^\d{1,18}$/.test(before))
        throw new HubError('validation_failed', 'query before must be a job id');
      const fn = c.query.get('function');
      if (fn !== null && !/^\d{1,18}$/.test(fn))
        throw new HubError('validation_failed', 'query function must be a function id');
      const limit = intParam(c, 'limit', 100, 1, 1000);
      const jobs = await c.hub.jobs.list({
        states: statesParam(c.query.get('state'), []),
        runtime: c.query.get('runtime') ?? undefined,
        functionId: fn ?? undefined,
        tag: c.query.get('tag') ?? undefined,
        group: c.query.get('group') ?? undefined,
        owner,
        beforeId: before ?? undefined,
        limit,
      });
      sendJson(c.res, 200, {
        jobs: jobs.map((j) => jobJson(j, staff)),
        next: jobs.length === limit ? jobs[jobs.length - 1]!.id : null,
      });
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/jobs/{id}',
      tag: 'jobs',
      summary: 'Get a job',
      responses: { 200: 'the job', 404: 'not_found' },
    },
    async (c) => {
      const { owner, staff } = await scope(c, 'client', 'worker');
      sendJson(c.res, 200, jobJson(await c.hub.jobs.get(idParam(c), owner), staff));
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/jobs/{id}/wait',
      tag: 'jobs',
      summary: 'Long-poll until the job is in one of the states (default: any final state)',
      query: { state: 'comma-separated states', timeoutMs: 'at most the server cap (default 30000)' },
      responses: { 200: 'the job (check its state: the wait may have timed out)' },
    },
    async (c) => {
      const { owner, staff } = await scope(c, 'client', 'worker');
      const states = statesParam(c.query.get('state'), FINAL);
      const timeoutMs = intParam(c, 'timeoutMs', 30_000, 0, 3_600_000);
      const job = await c.hub.jobs.wait(idParam(c), states, timeoutMs, owner, c.signal);
      sendJson(c.res, 200, jobJson(job, staff));
    },
  );
  api.route(
    {
      method: 'POST',
      path: '/api/v1/jobs/{id}/cancel',
      tag: 'jobs',
      summary: 'Cancel a queued or running job',
      responses: { 200: 'the job' },
    },
    async (c) => {
      const { owner, staff } = await scope(c, 'client');
      sendJson(c.res, 200, jobJson(await c.hub.jobs.cancel(idParam(c), owner), staff));
    },
  );
  api.route(
    {
      method: 'POST',
      path: '/api/v1/jobs/{id}/retry',
      tag: 'jobs',
      summary: 'Put a failed or canceled job back in the queue with a fresh attempt budget',
      responses: { 200: 'the job, queued', 409: 'conflict: the job is not failed or canceled' },
    },
    async (c) => {
      const { owner, staff } = await scope(c, 'client');
      c.req.resume();
      sendJson(c.res, 200, jobJson(await c.hub.jobs.retry(idParam(c), owner), staff));
    },
  );
  api.route(
    {
      method: 'POST',
      path: '/api/v1/jobs/bulk',
      tag: 'jobs',
      summary: 'Retry or cancel every job matching a filter (a client: its own jobs)',
      body: JobBulk,
      responses: { 200: '{count}: how many jobs changed' },
    },
    async (c) => {
      const { owner } = await scope(c, 'client');
      const body = await readJson(c.req, JobBulk, c.hub.ctx.config.maxJsonBytes);
      const count = await c.hub.jobs.bulk(body.action, { ...bulkFilterFrom(body.filter), owner });
      sendJson(c.res, 200, { count });
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/jobs/{id}/explain',
      tag: 'jobs',
      summary: 'Why the job is (not) running',
      responses: { 200: 'explanation' },
    },
    async (c) =>
      sendJson(c.res, 200, await c.hub.jobs.explain(idParam(c), (await scope(c, 'client', 'worker')).owner)),
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/jobs/{id}/output',
      tag: 'jobs',
      summary: "The job's output bytes",
      responses: { 200: 'application/octet-stream', 404: 'no output (yet)' },
    },
    async (c) => {
      const p = await c.principal();
      const job = await c.hub.jobs.get(idParam(c), (await scope(c, 'client', 'worker')).owner);
      // A blob output is read like any blob: its owner (the job's), the worker that made it.
      if (job.outputBlobId !== null)
        return sendBlob(c.hub, await c.hub.blobs.get(job.outputBlobId, p), c.req, c.res);
      if (job.outputInline === null)
        throw new HubError('not_found', `job ${job.id} has no output (state ${job.state})`);
      c.res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': job.outputInline.length,
      });
      c.res.end(job.outputInline);
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/jobs/{id}/events',
      tag: 'jobs',
      summary: 'Server-sent events: state, progress, log',
      responses: { 200: 'text/event-stream' },
    },
    (c) => streamEvents(c),
  );
}

/** Bytes of events an event stream may have waiting for a slow reader. */
const SSE_BUFFER_BYTES = 1024 * 1024;

/** SSE: the current state first, then every change until the job is final and the client leaves. */
async function streamEvents(c: RequestContext): Promise<void> {
  const { owner, staff } = await scope(c, 'client', 'worker');
  const id = idParam(c);
  const send = (event: string, data: unknown) => {
    // A watcher that does not read would have every event buffered in the hub: past the bound
    // its stream is cut (it may reconnect and get the current state and log tail again).
    if (c.res.writableLength > SSE_BUFFER_BYTES) return void c.res.destroy();
    c.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const queue: (() => void)[] = [];
  let ready = false;
  const unsubscribe = c.hub.ctx.events.subscribe(id, (e) => {
    const write = () => {
      if (e.type === 'state') {
        send('state', jobJson(e.job, staff));
        if (FINAL.includes(e.job.state)) c.res.end();
      } else if (e.type === 'progress') send('progress', { jobId: id, progress: e.progress });
      else send('log', { jobId: id, lines: e.lines });
    };
    if (ready) write();
    else queue.push(write);
  });
  let job: JobRecord;
  try {
    job = await c.hub.jobs.get(id, owner);
  } catch (err) {
    unsubscribe();
    throw err;
  }
  c.res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  if (c.req.method === 'HEAD') {
    // No body, so no stream: answer the headers now rather than hold the request until the job ends.
    unsubscribe();
    c.res.end();
    return;
  }
  send('state', jobJson(job, staff));
  const tail = c.hub.ctx.events.logTail(id);
  if (tail.length) send('log', { jobId: id, lines: tail });
  if (FINAL.includes(job.state)) {
    unsubscribe();
    c.res.end();
    return;
  }
  ready = true;
  for (const write of queue) write();
  const ping = setInterval(() => c.res.write(': keep-alive\n\n'), 15_000);
  const shutdown = c.hub.ctx.shutdown;
  const stop = () => c.res.end();
  shutdown.addEventListener('abort', stop, { once: true });
  await new Promise<void>((resolve) => c.res.on('close', resolve));
  shutdown.removeEventListener('abort', stop);
  clearInterval(ping);
  unsubscribe();
}

/**
 * Whether `Prefer` asks for `return=minimal` (RFC 7240): preferences are comma-separated, each
 * `name [= value]` with optional `;` parameters; values may be quoted; the first `return` wins.
 */
export function prefersMinimal(header: string | string[] | undefined): boolean {
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  for (const pref of values.join(',').split(',')) {
    const [name = '', value = ''] = pref
      .split(';')[0]!
      .split('=')
      .map((x) => x.trim());
    if (name.toLowerCase() !== 'return') continue;
    return value.replace(/^"(.*)"$/, '$1').toLowerCase() === 'minimal';
  }
  return false;
}
