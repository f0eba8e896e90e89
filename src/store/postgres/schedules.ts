/**
 * The schedule half of the PostgreSQL store. Many hubs run the same schedules: a tick is claimed
 * by `UPDATE … SET next_run_at = <next> WHERE next_run_at = <tick>`, which only one transaction
 * can win (the others wait for its row lock, then find next_run_at moved and update nothing), and
 * the job is inserted in that same transaction, so a tick makes exactly one job.
 */
import type { PoolClient } from 'pg';
import { HubError } from '../../core/errors.js';
import { scheduleFromRow, scheduleNameTaken, type ScheduleRow } from '../schedule-rows.js';
import type { JobRecord, NewJob, ScheduleFireOutcome, ScheduleRecord } from '../store.js';
import * as jobs from './jobs.js';

type Q = Pick<PoolClient, 'query'>;

export async function insert(
  q: Q,
  p: Omit<ScheduleRecord, 'id' | 'lastRunAt' | 'lastJobId' | 'paused'>,
): Promise<ScheduleRecord> {
  try {
    const { rows } = await q.query<ScheduleRow>(
      `INSERT INTO schedules (name, cron, timezone, job, overlap, owner, next_run_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [p.name, p.cron, p.timezone, JSON.stringify(p.job), p.overlap, p.owner, p.nextRunAt, p.createdAt],
    );
    return scheduleFromRow(rows[0]!);
  } catch (err) {
    if ((err as { constraint?: string }).constraint === 'schedules_name') {
      const { code, message } = scheduleNameTaken(p.name);
      throw new HubError(code, message);
    }
    throw err;
  }
}

export async function get(q: Q, id: string): Promise<ScheduleRecord | null> {
  const { rows } = await q.query<ScheduleRow>('SELECT * FROM schedules WHERE id = $1', [Number(id)]);
  return rows[0] ? scheduleFromRow(rows[0]) : null;
}

export async function list(
  q: Q,
  p: { owner?: string; afterId?: string; limit: number },
): Promise<ScheduleRecord[]> {
  const { rows } = await q.query<ScheduleRow>(
    `SELECT * FROM schedules WHERE ($1::text IS NULL OR owner = $1) AND id > $2 ORDER BY id LIMIT $3`,
    [p.owner ?? null, Number(p.afterId ?? 0), p.limit],
  );
  return rows.map(scheduleFromRow);
}

export async function remove(q: Q, id: string): Promise<boolean> {
  const { rowCount } = await q.query('DELETE FROM schedules WHERE id = $1', [Number(id)]);
  return rowCount === 1;
}

export async function setPaused(
  q: Q,
  p: { id: string; paused: boolean; nextRunAt?: number },
): Promise<ScheduleRecord | null> {
  const { rows } = p.paused
    ? await q.query<ScheduleRow>('UPDATE schedules SET paused = TRUE WHERE id = $1 RETURNING *', [
        Number(p.id),
      ])
    : await q.query<ScheduleRow>(
        'UPDATE schedules SET paused = FALSE, next_run_at = $2 WHERE id = $1 RETURNING *',
        [Number(p.id), p.nextRunAt],
      );
  return rows[0] ? scheduleFromRow(rows[0]) : null;
}

export async function due(q: Q, now: number, limit: number): Promise<ScheduleRecord[]> {
  const { rows } = await q.query<ScheduleRow>(
    'SELECT * FROM schedules WHERE NOT paused AND next_run_at <= $1 ORDER BY next_run_at LIMIT $2',
    [now, limit],
  );
  return rows.map(scheduleFromRow);
}

export async function nextRunAt(q: Q): Promise<number | null> {
  const { rows } = await q.query<{ at: number | null }>(
    'SELECT min(next_run_at) AS at FROM schedules WHERE NOT paused',
  );
  return rows[0]?.at === null || rows[0]?.at === undefined ? null : Number(rows[0].at);
}

/** Runs inside a transaction: see Store.scheduleFire. */
export async function fire(
  q: Q,
  p: { id: string; tick: number; nextRunAt: number; job: NewJob | null; skipIfActive: boolean; now: number },
): Promise<ScheduleFireOutcome> {
  const claimed = await q.query<{ last_job_id: number | null }>(
    `UPDATE schedules SET next_run_at = $1, last_run_at = $2
     WHERE id = $3 AND next_run_at = $2 AND NOT paused RETURNING last_job_id`,
    [p.nextRunAt, p.tick, Number(p.id)],
  );
  const row = claimed.rows[0];
  if (!row) return { claimed: false };
  if (p.job === null) return { claimed: true, job: null };
  if (p.skipIfActive && row.last_job_id !== null) {
    const last = await q.query<{ state: string }>('SELECT state FROM jobs WHERE id = $1', [row.last_job_id]);
    const state = last.rows[0]?.state;
    if (state === 'queued' || state === 'running') return { claimed: true, job: null };
  }
  const [created] = await jobs.insertMany(q, [p.job], p.now);
  const job: JobRecord = created!.job;
  await q.query('UPDATE schedules SET last_job_id = $1 WHERE id = $2', [Number(job.id), Number(p.id)]);
  return { claimed: true, job };
}
