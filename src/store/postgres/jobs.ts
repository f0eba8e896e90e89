/**
 * The job half of the PostgreSQL store. Claims lock candidate rows with `FOR UPDATE SKIP LOCKED`
 * so that hubs sharing the database never hand out the same job and never wait on each other;
 * tag eligibility is decided in SQL, preference order among the candidates in code.
 */
import type { PoolClient } from 'pg';
import { expiryReason, timeoutGraceSql } from '../../core/lease.js';
import { teamBusy } from '../../core/errors.js';
import { afterFailedAttempt } from '../../core/states.js';
import { preferenceScore } from '../../core/tags.js';
import { jobFromRow, templateToJson, type JobRow } from '../rows.js';
import { claimMany, completeMany, directLease, insertPlain } from './batch.js';
import type { JobState } from '../../core/states.js';
import { ensureGroups } from './groups.js';
import type {
  AttemptError,
  BulkAction,
  CompleteOutcome,
  CompleteParams,
  DirectLease,
  FailParams,
  JobFilter,
  JobRecord,
  LeaseCheck,
  LeaseRequest,
  NewJob,
  QueueStat,
} from '../store.js';

type Q = Pick<PoolClient, 'query'>;

/**
 * A job handed to a parked worker is inserted already leased to it ($15–$18; NULLs when queued).
 * $19: when a delayed job may first run (NULL: at once, $11).
 */
const INSERT = `INSERT INTO jobs (function_id, runtime, input_blob_id, input_inline, tags, priority, team, owner,
    state, max_attempts, timeout_ms, run_at, idempotency_key, next, parent_id, created_at,
    attempts, lease_token, lease_worker_id, lease_expires_at, started_at, group_name)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $15::text IS NULL THEN 'queued' ELSE 'running' END,
    $9, $10, coalesce($20::bigint, $11), $12, $13, $14, $11,
    CASE WHEN $15::text IS NULL THEN 0 ELSE 1 END, $15, $16, $17, $18, $19)
  ON CONFLICT (coalesce(owner, ''), idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING *`;

/** A job's +tags must all be in the worker's tags, its -tags none of them. */
/**
 * `runtime = ANY(array)` cannot walk the (runtime, priority, id) index in order, so PostgreSQL
 * would sort the whole queue; a worker offering one runtime (the usual case) gets a plain
 * equality, which reads only the head of that runtime's queue.
 */
const runtimeMatch = (runtimes: string[]) =>
  runtimes.length === 1 ? 'runtime = ($1::text[])[1]' : 'runtime = ANY($1::text[])';

const ELIGIBLE = `(NOT jobs.has_rules OR NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(jobs.tags) AS t(tag)
  WHERE (left(t.tag, 1) = '+' AND NOT (substr(t.tag, 2) = ANY($3::text[])))
     OR (left(t.tag, 1) = '-' AND substr(t.tag, 2) = ANY($3::text[]))))`;

const id = (v: string | null) => (v === null ? null : Number(v));

export async function insertMany(
  q: Q,
  jobs: NewJob[],
  now: number,
  leases?: (DirectLease | null)[],
): Promise<{ job: JobRecord; created: boolean }[]> {
  await ensureGroups(
    q,
    jobs.flatMap((j) => (j.group ? [j.group] : [])),
    now,
  );
  if (jobs.length > 1 && jobs.every((j) => j.idempotencyKey === null && j.team === null)) {
    const inserted = await insertPlain(q, jobs, now, leases);
    return inserted.map((job) => ({ job, created: true }));
  }
  const out: { job: JobRecord; created: boolean }[] = [];
  for (const [i, j] of jobs.entries()) {
    const { rows } = await insertRow(q, j, [
      id(j.functionId),
      j.runtime,
      id(j.inputBlobId),
      j.inputInline,
      JSON.stringify(j.tags),
      j.priority,
      j.team,
      j.owner,
      j.maxAttempts,
      j.timeoutMs,
      now,
      j.idempotencyKey,
      templateToJson(j.next),
      id(j.parentId),
      ...directLease(leases?.[i], j.timeoutMs, now),
      j.group ?? null,
      j.runAt ?? null,
    ]);
    if (rows[0] === undefined) {
      const existing = await q.query<JobRow>(
        `SELECT * FROM jobs WHERE coalesce(owner, '') = coalesce($1, '') AND idempotency_key = $2`,
        [j.owner, j.idempotencyKey],
      );
      out.push({ job: jobFromRow(existing.rows[0]!), created: false });
      continue;
    }
    out.push({ job: jobFromRow(rows[0]), created: true });
  }
  return out;
}

async function insertRow(q: Q, j: NewJob, args: unknown[]): Promise<{ rows: JobRow[] }> {
  try {
    // Named: each connection parses and plans the statement once, not on every job.
    return await q.query<JobRow>({ name: 'jobhub_job_insert', text: INSERT, values: args });
  } catch (err) {
    if ((err as { code?: string; constraint?: string }).constraint === 'jobs_team_active')
      throw teamBusy(j.team);
    throw err;
  }
}

export async function get(q: Q, jobId: string): Promise<JobRecord | null> {
  const { rows } = await q.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [Number(jobId)]);
  return rows[0] ? jobFromRow(rows[0]) : null;
}

/** WHERE terms of a job filter, numbered from $`first`; `add` appends more. */
function filterSql(f: Omit<JobFilter, 'limit'>, first = 1) {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    args.push(v);
    where.push(sql.replace('?', `$${args.length + first - 1}`));
  };
  if (f.states?.length) add('state = ANY(?::text[])', f.states);
  if (f.runtime !== undefined) add('runtime = ?', f.runtime);
  if (f.functionId !== undefined) add('function_id = ?', Number(f.functionId));
  if (f.owner !== undefined) add('owner = ?', f.owner);
  if (f.team !== undefined) add('team = ?', f.team);
  if (f.group !== undefined) add('group_name = ?', f.group);
  if (f.tag !== undefined) add('tags @> jsonb_build_array(?::text)', f.tag);
  if (f.createdBefore !== undefined) add('created_at < ?', f.createdBefore);
  if (f.beforeId !== undefined) add('id < ?', Number(f.beforeId));
  return { where, args, add };
}

export async function list(q: Q, f: JobFilter): Promise<JobRecord[]> {
  const { where, args } = filterSql(f);
  args.push(f.limit);
  const sql = `SELECT * FROM jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT $${args.length}`;
  return (await q.query<JobRow>(sql, args)).rows.map(jobFromRow);
}

/** A retried job: queued, due at $1, a fresh attempt budget; `errors` keeps the history. */
const RETRY_SET = `state = 'queued', run_at = $1, attempts = 0, lease_token = NULL, lease_worker_id = NULL,
  lease_expires_at = NULL, started_at = NULL, finished_at = NULL, error = NULL, exit_status = NULL,
  result = NULL, output_blob_id = NULL, output_inline = NULL, progress = NULL`;

export async function retry(
  q: Q,
  jobId: string,
  now: number,
): Promise<{ job: JobRecord; changed: boolean } | null> {
  const { rows } = await q.query<JobRow>('SELECT * FROM jobs WHERE id = $1 FOR UPDATE', [Number(jobId)]);
  if (!rows[0]) return null;
  const job = jobFromRow(rows[0]);
  if (job.state !== 'failed' && job.state !== 'canceled') return { job, changed: false };
  try {
    const updated = await q.query<JobRow>(`UPDATE jobs SET ${RETRY_SET} WHERE id = $2 RETURNING *`, [
      now,
      Number(jobId),
    ]);
    return { job: jobFromRow(updated.rows[0]!), changed: true };
  } catch (err) {
    if ((err as { constraint?: string }).constraint === 'jobs_team_active') throw teamBusy(job.team);
    throw err;
  }
}

const BULK_STATES: Record<BulkAction, JobState[]> = {
  retry: ['failed', 'canceled'],
  cancel: ['queued', 'running'],
};

/** Runs inside a transaction: see Store.jobBulk. */
export async function bulk(
  q: Q,
  p: { action: BulkAction; filter: Omit<JobFilter, 'limit' | 'beforeId'>; limit: number; now: number },
): Promise<JobRecord[]> {
  const allowed = BULK_STATES[p.action];
  const states = p.filter.states?.length ? p.filter.states.filter((s) => allowed.includes(s)) : allowed;
  if (states.length === 0) return [];
  // $1 is now (run_at or finished_at), $2 the limit; the filter's arguments follow.
  const { where, args } = filterSql({ ...p.filter, states }, 3);
  if (p.action === 'retry') where.push('team IS NULL');
  const set =
    p.action === 'retry'
      ? RETRY_SET
      : "state = 'canceled', finished_at = $1, lease_expires_at = NULL, error = 'canceled by the requester'";
  const { rows } = await q.query<JobRow>(
    `UPDATE jobs SET ${set} WHERE id IN (SELECT id FROM jobs WHERE ${where.join(' AND ')}
       ORDER BY id LIMIT $2 FOR UPDATE) RETURNING *`,
    [p.now, p.limit, ...args],
  );
  return rows.sort((a, b) => a.id - b.id).map(jobFromRow);
}

/** Rows read past the `limit`-th candidate when the worker has tags: a later job may match more preferences. */
const PREFERENCE_LOOKAHEAD = 128;

/**
 * Runs inside a transaction. Reads a window of eligible candidates without locks and ranks them
 * (priority, preference, FIFO); then locks, in rank order, the first rows nobody else holds
 * (SKIP LOCKED), no more than it needs. Concurrent callers ranking the same window thus take
 * different jobs in the same round instead of queueing on each other's locks.
 */
export async function leaseNext(q: Q, p: LeaseRequest): Promise<JobRecord[]> {
  if (p.tags.length === 0) return leaseInOrder(q, p);
  const window = p.limit * 4 + 16 + (p.tags.length > 0 ? PREFERENCE_LOOKAHEAD : 0);
  const workerTags = new Set(p.tags);
  const tried: number[] = [];
  const leased: JobRecord[] = [];
  for (let round = 0; round < 8 && leased.length < p.limit; round++) {
    const { rows } = await q.query<JobRow>(
      `SELECT * FROM jobs WHERE state = 'queued' AND group_name IS NULL AND ${runtimeMatch(p.runtimes)} AND run_at <= $2 AND ${ELIGIBLE}
         AND NOT (id = ANY($5::bigint[]))
         AND ($6::text[] IS NULL OR team = ANY($6::text[]))
         AND ($7::text[] IS NULL OR team IS NULL OR NOT (team = ANY($7::text[])))
       ORDER BY priority DESC, id LIMIT $4`,
      [p.runtimes, p.now, p.tags, window, tried, p.teams?.only ?? null, p.teams?.exclude ?? null],
    );
    if (rows.length === 0) break;
    const ranked = rows
      .map((row) => ({ row, pref: preferenceScore(JSON.parse(row.tags) as string[], workerTags) }))
      .sort((a, b) => b.row.priority - a.row.priority || b.pref - a.pref || a.row.id - b.row.id)
      .map((c) => c.row);
    const order = ranked.map((r) => r.id);
    tried.push(...order);
    const locked = await q.query<{ id: number }>(
      `SELECT id FROM jobs WHERE id = ANY($1::bigint[]) AND state = 'queued'
       ORDER BY array_position($1::bigint[], id) LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [order, p.limit - leased.length],
    );
    leased.push(
      ...(await claimMany(
        q,
        locked.rows.map((r) => r.id),
        p,
      )),
    );
  }
  return leased;
}

/**
 * A worker without tags has no preferences, so queue order is the answer: lock and claim the
 * first eligible jobs in one statement (one round trip, no transaction needed around it).
 */
export async function leaseInOrder(q: Q, p: LeaseRequest): Promise<JobRecord[]> {
  const { rows } = await q.query<JobRow>(
    `WITH c AS (
       SELECT id FROM jobs WHERE state = 'queued' AND group_name IS NULL AND ${runtimeMatch(p.runtimes)} AND run_at <= $2 AND ${ELIGIBLE}
         AND ($6::text[] IS NULL OR team = ANY($6::text[]))
         AND ($7::text[] IS NULL OR team IS NULL OR NOT (team = ANY($7::text[])))
       ORDER BY priority DESC, id LIMIT $4 FOR UPDATE SKIP LOCKED)
     UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, lease_token = gen_random_uuid()::text,
       lease_worker_id = $5, lease_expires_at = least($2::bigint + $8::bigint, $2::bigint + j.timeout_ms + ${timeoutGraceSql('$8')}),
       started_at = $2, progress = NULL
     FROM c WHERE j.id = c.id
     RETURNING j.*`,
    [
      p.runtimes,
      p.now,
      p.tags,
      p.limit,
      Number(p.workerId),
      p.teams?.only ?? null,
      p.teams?.exclude ?? null,
      p.leaseMs,
    ],
  );
  return rows.sort((a, b) => b.priority - a.priority || a.id - b.id).map(jobFromRow);
}

async function check(
  q: Q,
  jobId: string,
  token: string,
  now?: number,
): Promise<Exclude<LeaseCheck, { ok: true }>> {
  const job = await get(q, jobId);
  if (!job) return { ok: false, reason: 'not_found' };
  if (
    now !== undefined &&
    job.state === 'running' &&
    job.leaseToken === token &&
    (job.leaseExpiresAt ?? now) < now
  ) {
    return { ok: false, reason: 'expired' };
  }
  if (job.state === 'canceled' && job.leaseToken === token) return { ok: false, reason: 'canceled' };
  return { ok: false, reason: 'stale' };
}

export async function extend(
  q: Q,
  p: { jobId: string; token: string; leaseMs: number; progress?: unknown; now: number },
): Promise<LeaseCheck> {
  const { rows } = await q.query<JobRow>(
    `UPDATE jobs SET lease_expires_at = least($1::bigint + $2::bigint, started_at + timeout_ms + ${timeoutGraceSql('$2')}),
       progress = coalesce($3::jsonb, progress)
     WHERE id = $4 AND lease_token = $5 AND state = 'running' AND lease_expires_at >= $1 RETURNING *`,
    [
      p.now,
      p.leaseMs,
      p.progress === undefined ? null : JSON.stringify(p.progress),
      Number(p.jobId),
      p.token,
    ],
  );
  return rows[0] ? { ok: true, job: jobFromRow(rows[0]) } : check(q, p.jobId, p.token, p.now);
}

/**
 * Completes many leases in one statement (the store batches concurrent completions): creates the
 * pipeline's next jobs for those that took effect, and classifies the rest (repeat or refused).
 */
export async function completeBatch(q: Q, items: CompleteParams[]): Promise<CompleteOutcome[]> {
  const done = await completeMany(q, items);
  const out: CompleteOutcome[] = [];
  for (const [i, p] of items.entries()) {
    const job = done[i];
    if (!job) {
      const current = await get(q, p.jobId);
      if (current && current.state === 'succeeded' && current.leaseToken === p.token) {
        out.push({ ok: true, job: current, created: [], repeat: true });
      } else out.push(await check(q, p.jobId, p.token));
      continue;
    }
    const created: JobRecord[] = [];
    if (job.next) {
      const [child] = await insertMany(
        q,
        [
          {
            ...job.next,
            inputBlobId: p.nextInputBlobId ?? job.outputBlobId,
            inputInline: p.nextInputBlobId ? null : job.outputInline,
            idempotencyKey: null,
            parentId: job.id,
          },
        ],
        p.now,
      );
      created.push(child!.job);
    }
    out.push({ ok: true, job, created, repeat: false });
  }
  return out;
}

const REQUEUE = `UPDATE jobs SET state = 'queued', run_at = $1, lease_token = NULL, lease_worker_id = NULL,
    lease_expires_at = NULL, error = $2, errors = $3, exit_status = $4, result = $5
  WHERE id = $6 RETURNING *`;
const FAIL = `UPDATE jobs SET state = 'failed', finished_at = $1, lease_expires_at = NULL, error = $2, errors = $3,
    exit_status = $4, result = $5
  WHERE id = $6 RETURNING *`;

export async function fail(q: Q, p: FailParams): Promise<LeaseCheck> {
  const { rows } = await q.query<JobRow>(
    `SELECT * FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'running' FOR UPDATE`,
    [Number(p.jobId), p.token],
  );
  if (!rows[0]) return check(q, p.jobId, p.token);
  const job = jobFromRow(rows[0]);
  const errors: AttemptError[] = [
    ...job.errors,
    { at: p.now, attempt: job.attempts, type: 'failed', message: p.error },
  ];
  const next = afterFailedAttempt({
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    retryable: p.retryable,
  });
  const result = p.result === undefined || p.result === null ? null : JSON.stringify(p.result);
  const args = [p.error, JSON.stringify(errors), p.exitStatus, result, Number(job.id)];
  const updated =
    next === 'queued'
      ? await q.query<JobRow>(REQUEUE, [p.now + p.retryDelayMs, ...args])
      : await q.query<JobRow>(FAIL, [p.now, ...args]);
  return { ok: true, job: jobFromRow(updated.rows[0]!) };
}

export async function cancel(
  q: Q,
  jobId: string,
  now: number,
): Promise<{ job: JobRecord; changed: boolean } | null> {
  const { rows } = await q.query<JobRow>(
    `UPDATE jobs SET state = 'canceled', finished_at = $1, lease_expires_at = NULL,
       error = 'canceled by the requester'
     WHERE id = $2 AND state IN ('queued', 'running') RETURNING *`,
    [now, Number(jobId)],
  );
  if (rows[0]) return { job: jobFromRow(rows[0]), changed: true };
  const job = await get(q, jobId);
  return job ? { job, changed: false } : null;
}

/** Runs inside a transaction; SKIP LOCKED makes each expired lease reaped by exactly one hub. */
export async function reapExpired(
  q: Q,
  p: { now: number; limit: number; retryDelayMs: (attempt: number) => number },
): Promise<JobRecord[]> {
  const { rows } = await q.query<JobRow>(
    `SELECT * FROM jobs WHERE state = 'running' AND lease_expires_at < $1
     ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [p.now, p.limit],
  );
  const out: JobRecord[] = [];
  for (const r of rows) {
    const job = jobFromRow(r);
    const message = expiryReason({ now: p.now, startedAt: job.startedAt ?? p.now, timeoutMs: job.timeoutMs });
    const errors = JSON.stringify([
      ...job.errors,
      { at: p.now, attempt: job.attempts, type: 'expired', message },
    ]);
    const next = afterFailedAttempt({
      attempts: job.attempts,
      maxAttempts: job.maxAttempts,
      retryable: true,
    });
    const args = [message, errors, null, null, r.id];
    const updated =
      next === 'queued'
        ? await q.query<JobRow>(REQUEUE, [p.now + p.retryDelayMs(job.attempts), ...args])
        : await q.query<JobRow>(FAIL, [p.now, ...args]);
    out.push(jobFromRow(updated.rows[0]!));
  }
  return out;
}

export async function nextRunAt(q: Q, now: number): Promise<number | null> {
  const { rows } = await q.query<{ at: number | null }>(
    `SELECT min(run_at) AS at FROM jobs WHERE state = 'queued' AND run_at > $1`,
    [now],
  );
  return rows[0]?.at ?? null;
}

export async function stats(q: Q): Promise<QueueStat[]> {
  const { rows } = await q.query<{
    state: QueueStat['state'];
    runtime: string;
    count: number;
    oldest: number | null;
  }>(
    `SELECT state, runtime, count(*)::int AS count, min(created_at) AS oldest FROM jobs
     WHERE state IN ('queued', 'running') GROUP BY state, runtime`,
  );
  return rows.map((r) => ({ state: r.state, runtime: r.runtime, count: r.count, oldestCreatedAt: r.oldest }));
}

export async function deleteFinished(q: Q, before: number, limit: number): Promise<number> {
  const { rowCount } = await q.query(
    `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs
       WHERE finished_at IS NOT NULL AND finished_at < $1 AND state IN ('succeeded', 'failed', 'canceled')
       ORDER BY finished_at LIMIT $2)`,
    [before, limit],
  );
  return rowCount ?? 0;
}
