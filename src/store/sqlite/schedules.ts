/**
 * The schedule half of the SQLite store. Each method runs synchronously inside a group-commit
 * transaction (writes) or directly (reads); SQLite has one writer, so the tick claim in
 * `fire` cannot race within the database file.
 */
import type { Database, Statement } from 'better-sqlite3';
import { HubError } from '../../core/errors.js';
import { scheduleFromRow, scheduleNameTaken, type ScheduleRow } from '../schedule-rows.js';
import type { JobRecord, NewJob, ScheduleFireOutcome, ScheduleRecord } from '../store.js';

export class SqliteSchedules {
  private readonly s: Record<string, Statement>;

  constructor(
    db: Database,
    /** Inserts one job in the current transaction (the job half of the store). */
    private readonly insertJob: (job: NewJob, now: number) => JobRecord,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insert: p(`INSERT INTO schedules (name, cron, timezone, job, overlap, owner, next_run_at, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`),
      get: p('SELECT * FROM schedules WHERE id = ?'),
      list: p(`SELECT * FROM schedules WHERE (? IS NULL OR owner = ?) AND id > ? ORDER BY id LIMIT ? + 0`),
      delete: p('DELETE FROM schedules WHERE id = ?'),
      pause: p('UPDATE schedules SET paused = 1 WHERE id = ? RETURNING *'),
      resume: p('UPDATE schedules SET paused = 0, next_run_at = ? WHERE id = ? RETURNING *'),
      due: p(
        `SELECT * FROM schedules WHERE paused = 0 AND next_run_at <= ? ORDER BY next_run_at LIMIT ? + 0`,
      ),
      nextRunAt: p('SELECT min(next_run_at) AS at FROM schedules WHERE paused = 0'),
      claim: p(`UPDATE schedules SET next_run_at = ?, last_run_at = ?
        WHERE id = ? AND next_run_at = ? AND paused = 0 RETURNING last_job_id`),
      jobState: p('SELECT state FROM jobs WHERE id = ?'),
      setLastJob: p('UPDATE schedules SET last_job_id = ? WHERE id = ?'),
    };
  }

  insert(p: Omit<ScheduleRecord, 'id' | 'lastRunAt' | 'lastJobId' | 'paused'>): ScheduleRecord {
    try {
      const row = this.s.insert!.get(
        p.name,
        p.cron,
        p.timezone,
        JSON.stringify(p.job),
        p.overlap,
        p.owner,
        p.nextRunAt,
        p.createdAt,
      ) as ScheduleRow;
      return scheduleFromRow(row);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        const { code, message } = scheduleNameTaken(p.name);
        throw new HubError(code, message);
      }
      throw err;
    }
  }

  get(id: string): ScheduleRecord | null {
    const row = this.s.get!.get(Number(id)) as ScheduleRow | undefined;
    return row ? scheduleFromRow(row) : null;
  }

  list(p: { owner?: string; afterId?: string; limit: number }): ScheduleRecord[] {
    const owner = p.owner ?? null;
    return (this.s.list!.all(owner, owner, Number(p.afterId ?? 0), p.limit) as ScheduleRow[]).map(
      scheduleFromRow,
    );
  }

  delete(id: string): boolean {
    return this.s.delete!.run(Number(id)).changes === 1;
  }

  setPaused(p: { id: string; paused: boolean; nextRunAt?: number }): ScheduleRecord | null {
    const row = (
      p.paused ? this.s.pause!.get(Number(p.id)) : this.s.resume!.get(p.nextRunAt, Number(p.id))
    ) as ScheduleRow | undefined;
    return row ? scheduleFromRow(row) : null;
  }

  due(now: number, limit: number): ScheduleRecord[] {
    return (this.s.due!.all(now, limit) as ScheduleRow[]).map(scheduleFromRow);
  }

  nextRunAt(): number | null {
    return (this.s.nextRunAt!.get() as { at: number | null }).at;
  }

  fire(p: {
    id: string;
    tick: number;
    nextRunAt: number;
    job: NewJob | null;
    skipIfActive: boolean;
    now: number;
  }): ScheduleFireOutcome {
    const claimed = this.s.claim!.get(p.nextRunAt, p.tick, Number(p.id), p.tick) as
      { last_job_id: number | null } | undefined;
    if (!claimed) return { claimed: false };
    if (p.job === null) return { claimed: true, job: null };
    if (p.skipIfActive && claimed.last_job_id !== null) {
      const last = this.s.jobState!.get(claimed.last_job_id) as { state: string } | undefined;
      if (last && (last.state === 'queued' || last.state === 'running')) return { claimed: true, job: null };
    }
    const job = this.insertJob(p.job, p.now);
    this.s.setLastJob!.run(Number(job.id), Number(p.id));
    return { claimed: true, job };
  }
}
