/**
 * The seed's internal API between the portal and its benchmarkers (seeds/004, reference
 * isucon-portal.md), byte-compatible with benchmarkers written for the old portals:
 *
 *   POST /internal/job/dequeue/      200 Job JSON | 204 | 400 {"error":"Unknown IP Address"}
 *   POST /internal/job/:id/report/   200 | 400 {"error":"Invalid format"} | 404
 *   POST /internal/job/:id/progress/ 200 | 400 | 404   (ours: a running score while it runs)
 *
 * The benchmarker is the request's source address (X-Forwarded-For only from a trusted proxy),
 * plus its token (`Authorization: Bearer`, or a `/t/<token>/` base URL) when one is configured.
 */
import type { ServerResponse } from 'node:http';
import { HubError } from '../../core/errors.js';
import type { BenchmarkerRecord } from '../../contest/store/store.js';
import { clientAddress } from '../../contest/net.js';
import { seedJob } from '../../contest/views.js';
import type { ReportInput } from '../../contest/dispatch.js';
import { parseJson, readBody } from '../body.js';
import { Router, type RequestContext } from '../router.js';
import type { Face } from '../server.js';
import { sendJson } from '../v1/api.js';

const UNKNOWN_IP = 'Unknown IP Address';
const INVALID_FORMAT = 'Invalid format';
const NOT_RUNNING = 'Job is not running';
const NOT_FOUND = 'Job not found';

/** A refusal already in this face's wire format. */
class Reply extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
  ) {
    super(error);
  }
}

async function benchmarker(c: RequestContext): Promise<BenchmarkerRecord> {
  const portal = c.hub.portal;
  const address = clientAddress(c.req.socket.remoteAddress, c.req.headers['x-forwarded-for'], portal.trusted);
  const who = await portal.dispatch.identify(address, c.token);
  if (!who.ok)
    throw who.reason === 'unknown_ip'
      ? new Reply(400, UNKNOWN_IP)
      : new Reply(403, 'Invalid benchmarker token');
  return who.benchmarker;
}

function jobId(c: RequestContext): string {
  const id = c.params.id!;
  if (!/^\d{1,15}$/.test(id)) throw new Reply(404, NOT_FOUND);
  return id;
}

/** The request body as a JSON object, or 400 Invalid format. */
async function body(c: RequestContext): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = parseJson(await readBody(c.req, c.hub.ctx.config.maxJsonBytes));
  } catch (err) {
    if (err instanceof HubError && err.code === 'payload_too_large') throw err;
    throw new Reply(400, INVALID_FORMAT);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Reply(400, INVALID_FORMAT);
  return value as Record<string, unknown>;
}

/**
 * The seed's Result: `score` (integer) and `status` ("done" | "aborted") are required; a missing
 * `is_passed` is false, missing reason/stdout/stderr are "" (null too, as Go would decode it).
 */
export function parseReport(v: Record<string, unknown>): ReportInput {
  const text = (x: unknown) => {
    if (x === undefined || x === null) return '';
    if (typeof x !== 'string') throw new Reply(400, INVALID_FORMAT);
    return x;
  };
  if (typeof v.score !== 'number' || !Number.isSafeInteger(v.score)) throw new Reply(400, INVALID_FORMAT);
  if (v.status !== 'done' && v.status !== 'aborted') throw new Reply(400, INVALID_FORMAT);
  if (v.is_passed !== undefined && v.is_passed !== null && typeof v.is_passed !== 'boolean') {
    throw new Reply(400, INVALID_FORMAT);
  }
  if (v.id !== undefined && v.id !== null && (typeof v.id !== 'number' || !Number.isSafeInteger(v.id))) {
    throw new Reply(400, INVALID_FORMAT);
  }
  return {
    status: v.status,
    score: v.score,
    is_passed: v.is_passed === true,
    reason: text(v.reason),
    stdout: text(v.stdout),
    stderr: text(v.stderr),
  };
}

function answer(res: ServerResponse, outcome: 'ok' | 'not_found' | 'not_running'): void {
  if (outcome === 'ok') sendJson(res, 200, {});
  else if (outcome === 'not_found') throw new Reply(404, NOT_FOUND);
  else throw new Reply(400, NOT_RUNNING);
}

async function guard(c: RequestContext, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof Reply)) throw err;
    // Whatever the client still sends is read and dropped, so the connection stays usable.
    c.req.resume();
    sendJson(c.res, err.status, { error: err.error });
  }
}

export function internalFace(): Face {
  const router = new Router();
  router.on('POST', '/internal/job/dequeue/', (c) =>
    guard(c, async () => {
      const b = await benchmarker(c);
      c.req.resume();
      const job = await c.hub.portal.dispatch.dequeue(b);
      if (!job) {
        c.res.writeHead(204);
        c.res.end();
        return;
      }
      const { team, servers } = await c.hub.portal.target(job.team);
      sendJson(c.res, 200, seedJob(job, team, servers));
    }),
  );
  router.on('POST', '/internal/job/:id/report/', (c) =>
    guard(c, async () => {
      const b = await benchmarker(c);
      const id = jobId(c);
      const report = parseReport(await body(c));
      answer(c.res, await c.hub.portal.dispatch.report(b, id, report));
    }),
  );
  router.on('POST', '/internal/job/:id/progress/', (c) =>
    guard(c, async () => {
      const b = await benchmarker(c);
      const id = jobId(c);
      const v = await body(c);
      const score = typeof v.score === 'number' && Number.isFinite(v.score) ? Math.trunc(v.score) : null;
      const message =
        typeof v.message === 'string' ? v.message : typeof v.reason === 'string' ? v.reason : null;
      answer(c.res, await c.hub.portal.dispatch.progress(b, id, { score, message }));
    }),
  );
  return {
    name: 'internal',
    router,
    sendError(res, err) {
      sendJson(res, err.status, { error: err.status === 404 ? 'Not Found' : err.message });
    },
  };
}
