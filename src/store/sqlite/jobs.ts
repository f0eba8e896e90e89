/**
 * The job half of the SQLite store: every method here runs synchronously inside a group-commit
 * transaction (writes) or directly (reads). SQLite has one writer, so a claim needs no row locks:
 * the select and the update happen in the same transaction.
 */
import type { Database, Statement } from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { teamBusy } from '../store.js';
import { afterFailedAttempt } from '../../core/states.js';
import { expiryReason, leaseExpiry } from '../../core/lease.js';
import { preferenceScore, tagsAllow } from '../../core/tags.js';
import type { JobState } from '../../core/states.js';
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
import { jobFromRow, templateToJson, type JobRow } from '../rows.js';
import { checkJobColumns, rowFromArray } from './job-rows.js';
import { SqliteGroups } from './groups.js';
import { pickFair, type Lane } from '../../core/groups.js';

/** Stop scanning a runtime's queue after this many rows the worker's tags refuse. */
const LEASE_SCAN_LIMIT = 4096;
/** Rows of the same priority read past the `limit`-th eligible job, looking for more preference matches. */
const PREFERENCE_LOOKAHEAD = 128;

export class SqliteJobs {
  private readonly s: Record<string, Statement>;
  readonly groups: SqliteGroups;
  /** When a lease last took an ungrouped job: that lane's turn among the groups (see pickFair). */
  private plainServedAt = 0;

  constructor(private readonly db: Database) {
    checkJobColumns(db);
    this.groups = new SqliteGroups(db);
    // Statements that return job rows return them as arrays (see job-rows.ts).
    const p = (sql: string) => {
      const st = db.prepare(sql);
      return st.reader && /^\s*(SELECT \*|[\s\S]*RETURNING \*)/.test(sql) ? st.raw(true) : st;
    };
    this.s = {
      // No RETURNING: the new row is known without reading it back.
      insert: p(`INSERT INTO jobs (function_id, runtime, input_blob_id, input_inline, tags, priority, team,
          owner, state, max_attempts, timeout_ms, run_at, idempotency_key, next, parent_id, created_at, group_name)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)`),
      byIdempotency: p(
        "SELECT * FROM jobs WHERE coalesce(owner, '') = coalesce(?, '') AND idempotency_key = ?",
      ),
      get: p('SELECT * FROM jobs WHERE id = ?'),
      // One runtime's queue of ungrouped jobs in order, read lazily (iterate) so the walk stops
      // when it has enough (grouped jobs: groups.ts). Team rules (contest benchmarkers) are JSON
      // arrays, or NULL for no rule.
      queueScan:
        p(`SELECT * FROM jobs WHERE state = 'queued' AND group_name IS NULL AND runtime = @runtime AND run_at <= @now
          AND (@only IS NULL OR team IN (SELECT value FROM json_each(@only)))
          AND (@exclude IS NULL OR team IS NULL OR team NOT IN (SELECT value FROM json_each(@exclude)))
        ORDER BY priority DESC, id LIMIT ${LEASE_SCAN_LIMIT}`),
      // No RETURNING either: the claimed row is the queued one with these changes.
      claim:
        p(`UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = ?, lease_worker_id = ?,
          lease_expires_at = ?, started_at = ?, progress = NULL
        WHERE id = ? AND state = 'queued'`),
      extend: p(`UPDATE jobs SET lease_expires_at = ?, progress = coalesce(?, progress)
        WHERE id = ? AND lease_token = ? AND state = 'running' RETURNING *`),
      complete: p(`UPDATE jobs SET state = 'succeeded', output_blob_id = ?, output_inline = ?, result = ?,
          exit_status = ?, finished_at = ?, lease_expires_at = NULL
        WHERE id = ? AND lease_token = ? AND state = 'running' RETURNING *`),
      requeue: p(`UPDATE jobs SET state = 'queued', run_at = ?, lease_token = NULL, lease_worker_id = NULL,
          lease_expires_at = NULL, error = ?, errors = ?, exit_status = ?, result = ?
        WHERE id = ? RETURNING *`),
      fail: p(`UPDATE jobs SET state = 'failed', finished_at = ?, lease_expires_at = NULL, error = ?, errors = ?,
          exit_status = ?, result = ?
        WHERE id = ? RETURNING *`),
      retry: p(`UPDATE jobs SET ${RETRY_SET} WHERE id = ? AND state IN ('failed', 'canceled') RETURNING *`),
      cancel: p(`UPDATE jobs SET state = 'canceled', finished_at = ?, lease_expires_at = NULL,
          error = 'canceled by the requester'
        WHERE id = ? AND state IN ('queued', 'running') RETURNING *`),
      expired: p(`SELECT * FROM jobs WHERE state = 'running' AND lease_expires_at < ?
        ORDER BY lease_expires_at LIMIT ? + 0`),
      nextRunAt: p(`SELECT min(run_at) AS at FROM jobs WHERE state = 'queued' AND run_at > ?`),
      stats: p(`SELECT state, runtime, count(*) AS count, min(created_at) AS oldest FROM jobs
        WHERE state IN ('queued', 'running') GROUP BY state, runtime`),
      deleteFinished: p(`DELETE FROM jobs WHERE id IN (SELECT id FROM jobs
        WHERE finished_at IS NOT NULL AND finished_at < ? AND state IN ('succeeded', 'failed', 'canceled')
        ORDER BY finished_at LIMIT ? + 0)`),
    };
  }

  insertMany(
    jobs: NewJob[],
    now: number,
    leases?: (DirectLease | null)[],
  ): { job: JobRecord; created: boolean }[] {
    const groups = jobs.flatMap((j) => (j.group ? [j.group] : []));
    if (groups.length > 0) this.groups.ensure(new Set(groups), now);
    return jobs.map((j, i) => {
      if (j.idempotencyKey !== null) {
        const existing = this.one(this.s.byIdempotency!, j.owner, j.idempotencyKey);
        if (existing) return { job: jobFromRow(existing), created: false };
      }
      const job = this.insertOne(j, now);
      const lease = leases?.[i];
      return {
        job: lease ? this.claim(job, lease.workerId, lease.leaseMs, now)! : job,
        created: true,
      };
    });
  }

  private one(st: Statement, ...args: unknown[]): JobRow | undefined {
    const a = st.get(...args) as unknown[] | undefined;
    return a && rowFromArray(a);
  }

  private many(st: Statement, ...args: unknown[]): JobRow[] {
    return (st.all(...args) as unknown[][]).map(rowFromArray);
  }

  /** Leases a queued job (read in this transaction) to a worker; null if it is no longer queued. */
  private claim(job: JobRecord, workerId: string, leaseMs: number, now: number): JobRecord | null {
    const expires = leaseExpiry({ now, leaseMs, startedAt: now, timeoutMs: job.timeoutMs });
    const token = randomUUID();
    const worker = Number(workerId);
    if (this.s.claim!.run(token, worker, expires, now, Number(job.id)).changes !== 1) return null;
    return {
      ...job,
      state: 'running',
      attempts: job.attempts + 1,
      leaseToken: token,
      leaseWorkerId: String(worker),
      leaseExpiresAt: expires,
      startedAt: now,
      progress: null,
    };
  }

  insertOne(j: NewJob, now: number): JobRecord {
    try {
      return this.insertRow(j, now);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' && /jobs\.team/.test(String(err))) {
        throw teamBusy(j.team);
      }
      throw err;
    }
  }

  private insertRow(j: NewJob, now: number): JobRecord {
    const row: JobRow = {
      id: 0,
      function_id: j.functionId === null ? null : Number(j.functionId),
      runtime: j.runtime,
      input_blob_id: j.inputBlobId === null ? null : Number(j.inputBlobId),
      input_inline: j.inputInline,
      tags: JSON.stringify(j.tags),
      priority: j.priority,
      team: j.team,
      owner: j.owner,
      state: 'queued',
      attempts: 0,
      max_attempts: j.maxAttempts,
      timeout_ms: j.timeoutMs,
      run_at: j.runAt ?? now,
      lease_token: null,
      lease_worker_id: null,
      lease_expires_at: null,
      progress: null,
      output_blob_id: null,
      output_inline: null,
      exit_status: null,
      error: null,
      result: null,
      errors: '[]',
      idempotency_key: j.idempotencyKey,
      next: templateToJson(j.next),
      parent_id: j.parentId === null ? null : Number(j.parentId),
      created_at: now,
      started_at: null,
      finished_at: null,
      group_name: j.group ?? null,
    };
    const info = this.s.insert!.run(
      row.function_id,
      row.runtime,
      row.input_blob_id,
      row.input_inline,
      row.tags,
      row.priority,
      row.team,
      row.owner,
      row.max_attempts,
      row.timeout_ms,
      row.run_at,
      row.idempotency_key,
      row.next,
      row.parent_id,
      now,
      row.group_name,
    );
    row.id = Number(info.lastInsertRowid);
    return jobFromRow(row);
  }

  get(id: string): JobRecord | null {
    const row = this.one(this.s.get!, Number(id));
    return row ? jobFromRow(row) : null;
  }

  list(f: JobFilter): JobRecord[] {
    const { where, args } = filterSql(f);
    if (f.beforeId !== undefined) {
      where.push('id < ?');
      args.push(Number(f.beforeId));
    }
    const sql = `SELECT * FROM jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ? + 0`;
    return this.many(this.db.prepare(sql).raw(true), ...args, f.limit).map(jobFromRow);
  }

  retry(jobId: string, now: number): { job: JobRecord; changed: boolean } | null {
    let row: JobRow | undefined;
    try {
      row = this.one(this.s.retry!, now, Number(jobId));
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' && /jobs\.team/.test(String(err)))
        throw teamBusy(this.get(jobId)!.team);
      throw err;
    }
    if (row) return { job: jobFromRow(row), changed: true };
    const job = this.get(jobId);
    return job ? { job, changed: false } : null;
  }

  bulk(p: {
    action: BulkAction;
    filter: Omit<JobFilter, 'limit' | 'beforeId'>;
    limit: number;
    now: number;
  }): JobRecord[] {
    const allowed = BULK_STATES[p.action];
    const states = p.filter.states?.length ? p.filter.states.filter((s) => allowed.includes(s)) : allowed;
    if (states.length === 0) return [];
    const { where, args } = filterSql({ ...p.filter, states });
    if (p.action === 'retry') where.push('team IS NULL');
    const set =
      p.action === 'retry'
        ? RETRY_SET
        : "state = 'canceled', finished_at = ?, lease_expires_at = NULL, error = 'canceled by the requester'";
    const sql = `UPDATE jobs SET ${set} WHERE id IN (SELECT id FROM jobs WHERE ${where.join(' AND ')}
      ORDER BY id LIMIT ? + 0) RETURNING *`;
    return this.many(this.db.prepare(sql).raw(true), p.now, ...args, p.limit).map(jobFromRow);
  }

  leaseNext(p: LeaseRequest): JobRecord[] {
    const workerTags = new Set(p.tags);
    const only = p.teams?.only ? JSON.stringify(p.teams.only) : null;
    const exclude = p.teams?.exclude ? JSON.stringify(p.teams.exclude) : null;
    const eligible: { row: JobRow; pref: number }[] = [];
    for (const runtime of p.runtimes) {
      // Walk this runtime's queue in order until `limit` jobs the tags allow are found. A worker
      // with tags reads a little further within that priority: a later job may match more
      // preferences (bounded, so that a long queue does not slow every lease down).
      let found = 0;
      let floor: number | null = null;
      let lookahead = 0;
      if (p.limit <= 0) break;
      for (const a of this.s.queueScan!.iterate({
        runtime,
        now: p.now,
        only,
        exclude,
      }) as Iterable<unknown[]>) {
        const row = rowFromArray(a);
        if (floor !== null && (row.priority < floor || ++lookahead > PREFERENCE_LOOKAHEAD)) break;
        const tags = JSON.parse(row.tags) as string[];
        if (!tagsAllow(tags, workerTags)) continue;
        eligible.push({ row, pref: preferenceScore(tags, workerTags) });
        if (++found === p.limit) {
          if (workerTags.size === 0) break;
          floor = row.priority;
        }
      }
    }
    eligible.sort((a, b) => b.row.priority - a.row.priority || b.pref - a.pref || a.row.id - b.row.id);
    const chosen = this.groups.active
      ? this.fairAmongGroups(
          p,
          workerTags,
          eligible.map((e) => e.row),
        )
      : eligible.slice(0, p.limit).map((e) => e.row);
    const leased: JobRecord[] = [];
    for (const row of chosen) {
      const claimed = this.claim(jobFromRow(row), p.workerId, p.leaseMs, p.now);
      if (claimed) leased.push(claimed);
    }
    return leased;
  }

  /**
   * With groups: the ungrouped jobs (already ranked) are one lane, each group with work and room
   * under its limits another; the lease takes from them round-robin (core/groups.ts pickFair)
   * and records which lanes it served.
   */
  private fairAmongGroups(p: LeaseRequest, workerTags: Set<string>, plain: JobRow[]): JobRow[] {
    const groupLanes = this.groups.lanes(p, (row) => tagsAllow(JSON.parse(row.tags) as string[], workerTags));
    if (groupLanes.length === 0) return plain.slice(0, p.limit);
    type Lanes = Lane<JobRow> & { name: string | null };
    const lanes: Lanes[] = [
      { name: null, jobs: plain, servedAt: this.plainServedAt, allowance: Infinity },
      ...groupLanes.map((g) => ({
        name: g.name,
        jobs: g.rows,
        servedAt: g.servedAt,
        allowance: g.allowance,
      })),
    ];
    const before = lanes.map((l) => l.servedAt);
    const base = Math.max(p.now * 1000, ...before);
    const chosen = pickFair(lanes, p.limit, base);
    lanes.forEach((l, i) => {
      if (l.servedAt === before[i]) return;
      if (l.name === null) this.plainServedAt = l.servedAt;
      else this.groups.served(l.name, l.servedAt);
    });
    return chosen;
  }

  /** Classifies a token that did not match a running job's lease. */
  private check(jobId: string, token: string, now?: number): Exclude<LeaseCheck, { ok: true }> {
    const job = this.get(jobId);
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

  extend(p: { jobId: string; token: string; leaseMs: number; progress?: unknown; now: number }): LeaseCheck {
    const job = this.get(p.jobId);
    if (
      !job ||
      job.state !== 'running' ||
      job.leaseToken !== p.token ||
      (job.leaseExpiresAt ?? p.now) < p.now
    ) {
      return this.check(p.jobId, p.token, p.now);
    }
    const expires = leaseExpiry({
      now: p.now,
      leaseMs: p.leaseMs,
      startedAt: job.startedAt ?? p.now,
      timeoutMs: job.timeoutMs,
    });
    const progress = p.progress === undefined ? null : JSON.stringify(p.progress);
    const row = this.one(this.s.extend!, expires, progress, Number(p.jobId), p.token)!;
    return { ok: true, job: jobFromRow(row) };
  }

  complete(p: CompleteParams): CompleteOutcome {
    const row = this.one(
      this.s.complete!,
      p.outputBlobId === null ? null : Number(p.outputBlobId),
      p.outputInline,
      p.result === undefined || p.result === null ? null : JSON.stringify(p.result),
      p.exitStatus,
      p.now,
      Number(p.jobId),
      p.token,
    );
    if (!row) {
      const job = this.get(p.jobId);
      // The same completion sent twice (a retried request) is acknowledged again, unchanged.
      if (job && job.state === 'succeeded' && job.leaseToken === p.token)
        return { ok: true, job, created: [], repeat: true };
      return this.check(p.jobId, p.token);
    }
    const job = jobFromRow(row);
    const created: JobRecord[] = [];
    if (job.next) {
      const nextInput = p.nextInputBlobId ?? job.outputBlobId;
      created.push(
        this.insertOne(
          {
            ...job.next,
            inputBlobId: nextInput,
            inputInline: p.nextInputBlobId ? null : job.outputInline,
            idempotencyKey: null,
            parentId: job.id,
          },
          p.now,
        ),
      );
    }
    return { ok: true, job, created, repeat: false };
  }

  fail(p: FailParams): LeaseCheck {
    const job = this.get(p.jobId);
    if (!job || job.state !== 'running' || job.leaseToken !== p.token) return this.check(p.jobId, p.token);
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
    const row = (
      next === 'queued'
        ? this.one(
            this.s.requeue!,
            p.now + p.retryDelayMs,
            p.error,
            JSON.stringify(errors),
            p.exitStatus,
            result,
            job.id,
          )
        : this.one(this.s.fail!, p.now, p.error, JSON.stringify(errors), p.exitStatus, result, job.id)
    )!;
    return { ok: true, job: jobFromRow(row) };
  }

  cancel(jobId: string, now: number): { job: JobRecord; changed: boolean } | null {
    const row = this.one(this.s.cancel!, now, Number(jobId));
    if (row) return { job: jobFromRow(row), changed: true };
    const job = this.get(jobId);
    return job ? { job, changed: false } : null;
  }

  reapExpired(p: { now: number; limit: number; retryDelayMs: (attempt: number) => number }): JobRecord[] {
    const rows = this.many(this.s.expired!, p.now, p.limit);
    return rows.map((r) => {
      const job = jobFromRow(r);
      const message = expiryReason({
        now: p.now,
        startedAt: job.startedAt ?? p.now,
        timeoutMs: job.timeoutMs,
      });
      const errors = JSON.stringify([
        ...job.errors,
        { at: p.now, attempt: job.attempts, type: 'expired', message } satisfies AttemptError,
      ]);
      const next = afterFailedAttempt({
        attempts: job.attempts,
        maxAttempts: job.maxAttempts,
        retryable: true,
      });
      const row = (
        next === 'queued'
          ? this.one(this.s.requeue!, p.now + p.retryDelayMs(job.attempts), message, errors, null, null, r.id)
          : this.one(this.s.fail!, p.now, message, errors, null, null, r.id)
      )!;
      return jobFromRow(row);
    });
  }

  nextRunAt(now: number): number | null {
    return (this.s.nextRunAt!.get(now) as { at: number | null }).at;
  }

  stats(): QueueStat[] {
    return (
      this.s.stats!.all() as {
        state: QueueStat['state'];
        runtime: string;
        count: number;
        oldest: number | null;
      }[]
    ).map((r) => ({ state: r.state, runtime: r.runtime, count: r.count, oldestCreatedAt: r.oldest }));
  }

  deleteFinished(before: number, limit: number): number {
    return this.s.deleteFinished!.run(before, limit).changes;
  }
}

/** The states each bulk action applies to. */
export const BULK_STATES: Record<BulkAction, JobState[]> = {
  retry: ['failed', 'canceled'],
  cancel: ['queued', 'running'],
};

/** A retried job: queued, due at ? (now), a fresh attempt budget; `errors` keeps the history. */
export const RETRY_SET = `state = 'queued', run_at = ?, attempts = 0, lease_token = NULL,
  lease_worker_id = NULL, lease_expires_at = NULL, started_at = NULL, finished_at = NULL, error = NULL,
  exit_status = NULL, result = NULL, output_blob_id = NULL, output_inline = NULL, progress = NULL`;

/** WHERE terms of a job filter (without paging), with their `?` arguments in order. */
function filterSql(f: Omit<JobFilter, 'limit'>): { where: string[]; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.states?.length) {
    where.push(`state IN (${f.states.map(() => '?').join(',')})`);
    args.push(...f.states);
  }
  const eq = (col: string, v: string | undefined) => {
    if (v !== undefined) {
      where.push(`${col} = ?`);
      args.push(v);
    }
  };
  eq('runtime', f.runtime);
  eq('function_id', f.functionId);
  eq('owner', f.owner);
  eq('team', f.team);
  eq('group_name', f.group);
  if (f.tag !== undefined) {
    where.push('EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?)');
    args.push(f.tag);
  }
  if (f.createdBefore !== undefined) {
    where.push('created_at < ?');
    args.push(f.createdBefore);
  }
  return { where, args };
}
