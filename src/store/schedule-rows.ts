/** Row shape of the schedules table and its mapping to ScheduleRecord, shared by both dialects. */
import type { ScheduleRecord } from './store.js';

export interface ScheduleRow {
  id: number;
  name: string;
  cron: string;
  timezone: string;
  job: string;
  overlap: ScheduleRecord['overlap'];
  owner: string | null;
  /** SQLite: 0/1; PostgreSQL: boolean. */
  paused: number | boolean;
  next_run_at: number;
  last_run_at: number | null;
  last_job_id: number | null;
  created_at: number;
}

export const scheduleFromRow = (r: ScheduleRow): ScheduleRecord => ({
  id: String(r.id),
  name: r.name,
  cron: r.cron,
  timezone: r.timezone,
  job: JSON.parse(r.job) as unknown,
  overlap: r.overlap,
  owner: r.owner,
  paused: r.paused === true || r.paused === 1,
  nextRunAt: Number(r.next_run_at),
  lastRunAt: r.last_run_at === null ? null : Number(r.last_run_at),
  lastJobId: r.last_job_id === null ? null : String(r.last_job_id),
  createdAt: Number(r.created_at),
});

/** The refusal for a second schedule of one owner with the same name. */
export const scheduleNameTaken = (name: string) => ({
  code: 'conflict' as const,
  message: `a schedule named ${name} exists already; delete it first or choose another name`,
});
