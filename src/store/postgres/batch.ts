/**
 * Set-based statements for the hot path: one round trip for many rows (arrays bound with unnest)
 * instead of one per job. Round trips, not rows, are what a PostgreSQL queue pays for.
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { leaseExpiry, timeoutGraceSql } from '../../core/lease.js';
import { jobFromRow, templateToJson, type JobRow } from '../rows.js';
import type { CompleteParams, DirectLease, JobRecord, NewJob } from '../store.js';

type Q = Pick<PoolClient, 'query'>;
const id = (v: string | null) => (v === null ? null : Number(v));

/** The lease columns of a job inserted already leased: token, worker, expiry, start. */
export function directLease(
  lease: DirectLease | null | undefined,
  timeoutMs: number,
  now: number,
): [string, number, number, number] | [null, null, null, null] {
  if (!lease) return [null, null, null, null];
  const expires = leaseExpiry({ now, leaseMs: lease.leaseMs, startedAt: now, timeoutMs });
  return [lease.token ?? randomUUID(), Number(lease.workerId), expires, now];
}

/**
 * Inserts jobs that carry neither an idempotency key nor a team (the common case: nothing can
 * conflict) in one statement; returns them in input order (ids follow insertion order).
 */
export async function insertPlain(
  q: Q,
  jobs: NewJob[],
  now: number,
  leases?: (DirectLease | null)[],
): Promise<JobRecord[]> {
  // Jobs handed to parked workers are inserted already leased (token non-NULL), in the same row.
  const lease = jobs.map((j, i) => directLease(leases?.[i], j.timeoutMs, now));
  const { rows } = await q.query<JobRow>(
    `INSERT INTO jobs (function_id, runtime, input_blob_id, input_inline, tags, priority, owner, state,
       max_attempts, timeout_ms, run_at, next, parent_id, created_at,
       attempts, lease_token, lease_worker_id, lease_expires_at, started_at, group_name)
     SELECT f, r, ib, ii, t::jsonb, pr, ow, CASE WHEN tok IS NULL THEN 'queued' ELSE 'running' END,
       ma, tmo, coalesce(ra, $1), nx::jsonb, pa, $1, CASE WHEN tok IS NULL THEN 0 ELSE 1 END, tok, wk, ex, CASE WHEN tok IS NULL THEN NULL ELSE $1::bigint END, gr
     FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bytea[], $6::text[], $7::int[], $8::text[],
                 $9::int[], $10::bigint[], $11::text[], $12::bigint[], $13::text[], $14::bigint[], $15::bigint[], $16::text[],
                 $17::bigint[])
          WITH ORDINALITY AS u(f, r, ib, ii, t, pr, ow, ma, tmo, nx, pa, tok, wk, ex, gr, ra, ord)
     ORDER BY ord
     RETURNING *`,
    [
      now,
      jobs.map((j) => id(j.functionId)),
      jobs.map((j) => j.runtime),
      jobs.map((j) => id(j.inputBlobId)),
      jobs.map((j) => j.inputInline),
      jobs.map((j) => JSON.stringify(j.tags)),
      jobs.map((j) => j.priority),
      jobs.map((j) => j.owner),
      jobs.map((j) => j.maxAttempts),
      jobs.map((j) => j.timeoutMs),
      jobs.map((j) => templateToJson(j.next)),
      jobs.map((j) => id(j.parentId)),
      lease.map((l) => l[0]),
      lease.map((l) => l[1]),
      lease.map((l) => l[2]),
      jobs.map((j) => j.group ?? null),
      jobs.map((j) => j.runAt ?? null),
    ],
  );
  return rows.sort((a, b) => a.id - b.id).map(jobFromRow);
}

/** Claims the given queued jobs for one worker in one statement; returns those it got. */
export async function claimMany(
  q: Q,
  ids: number[],
  p: { workerId: string; leaseMs: number; now: number },
): Promise<JobRecord[]> {
  if (ids.length === 0) return [];
  const { rows } = await q.query<JobRow>(
    `UPDATE jobs j SET state = 'running', attempts = attempts + 1, lease_token = u.token, lease_worker_id = $2,
       lease_expires_at = least($3::bigint + $4::bigint, $3::bigint + j.timeout_ms + ${timeoutGraceSql('$4')}), started_at = $3, progress = NULL
     FROM unnest($1::bigint[], $5::text[]) AS u(id, token)
     WHERE j.id = u.id AND j.state = 'queued'
     RETURNING j.*`,
    [ids, Number(p.workerId), p.now, p.leaseMs, ids.map(() => randomUUID())],
  );
  const order = new Map(ids.map((v, i) => [v, i]));
  return rows.sort((a, b) => order.get(a.id)! - order.get(b.id)!).map(jobFromRow);
}

/**
 * Completes many leases in one statement. Returns, per input, the job row when that completion
 * took effect; null where the token did not match a running job (the caller classifies those).
 */
export async function completeMany(q: Q, items: CompleteParams[]): Promise<(JobRecord | null)[]> {
  const { rows } = await q.query<JobRow>(
    `UPDATE jobs j SET state = 'succeeded', output_blob_id = u.ob, output_inline = u.oi, result = u.res::jsonb,
       exit_status = u.ex, finished_at = u.at, lease_expires_at = NULL
     FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bytea[], $5::text[], $6::int[], $7::bigint[])
          AS u(id, token, ob, oi, res, ex, at)
     WHERE j.id = u.id AND j.lease_token = u.token AND j.state = 'running'
     RETURNING j.*`,
    [
      items.map((p) => Number(p.jobId)),
      items.map((p) => p.token),
      items.map((p) => id(p.outputBlobId)),
      items.map((p) => p.outputInline),
      items.map((p) => (p.result === undefined || p.result === null ? null : JSON.stringify(p.result))),
      items.map((p) => p.exitStatus),
      items.map((p) => p.now),
    ],
  );
  const byId = new Map(rows.map((r) => [String(r.id), r]));
  return items.map((p) => {
    const row = byId.get(p.jobId);
    // A job named twice in one batch is updated once: the first item takes it.
    if (!row || row.lease_token !== p.token) return null;
    byId.delete(p.jobId);
    return jobFromRow(row);
  });
}
