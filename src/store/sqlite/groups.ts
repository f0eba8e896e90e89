/**
 * Job groups in the SQLite store: the settings table, the counts a lease checks, and the lanes
 * a lease draws from. SQLite has one writer, so the counts read inside the lease transaction
 * cannot change before its claims commit: no group exceeds its limits without any row lock.
 */
import type { Database, Statement } from 'better-sqlite3';
import { groupAllowance, rateWindow, type GroupSettings, type GroupUsage } from '../../core/groups.js';
import { groupFromRow, type GroupRow, type JobRow } from '../rows.js';
import type { GroupRecord, LeaseRequest } from '../store.js';
import { rowFromArray } from './job-rows.js';

/** Groups a lease looks at, least recently served first. */
export const GROUP_LANES_MAX = 256;
/** Rows of one group's queue a lease reads looking for jobs the worker's tags allow. */
const GROUP_SCAN_LIMIT = 1024;

interface SettingsRow {
  name: string;
  concurrency: number | null;
  per_second: number | null;
  paused: number;
  served_at: number;
}

/** A group that may give jobs to this lease: its queue head and its allowance. */
export interface GroupLane {
  name: string;
  servedAt: number;
  allowance: number;
  rows: JobRow[];
}

const COUNTS = `(SELECT count(*) FROM jobs WHERE group_name = g.name AND state = 'queued') AS queued,
  (SELECT count(*) FROM jobs WHERE group_name = g.name AND state = 'running') AS running`;

export class SqliteGroups {
  private readonly s: Record<string, Statement>;
  /** Whether any group exists: until one does, leases take the plain path only. */
  private known: boolean;

  constructor(private readonly db: Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      ensure: p(
        `INSERT INTO job_groups (name, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      upsert: p(`INSERT INTO job_groups (name, concurrency, per_second, paused, created_at, updated_at)
          VALUES (@name, @concurrency, @perSecond, coalesce(@paused, 0), @now, @now)
        ON CONFLICT (name) DO UPDATE SET
          concurrency = CASE WHEN @setConcurrency THEN @concurrency ELSE concurrency END,
          per_second = CASE WHEN @setPerSecond THEN @perSecond ELSE per_second END,
          paused = coalesce(@paused, paused), updated_at = @now`),
      get: p(`SELECT g.*, ${COUNTS} FROM job_groups g WHERE name = ?`),
      list: p(`SELECT g.*, ${COUNTS} FROM job_groups g WHERE name > ? ORDER BY name LIMIT ? + 0`),
      // Groups with due queued work of these runtimes, least recently served first.
      lanes: p(`SELECT name, concurrency, per_second, paused, served_at FROM job_groups g WHERE paused = 0
          AND EXISTS (SELECT 1 FROM jobs WHERE group_name = g.name AND state = 'queued'
            AND runtime IN (SELECT value FROM json_each(@runtimes)) AND run_at <= @now)
        ORDER BY served_at, name LIMIT ${GROUP_LANES_MAX}`),
      running: p(`SELECT count(*) AS n FROM jobs WHERE group_name = ? AND state = 'running'`),
      started: p(`SELECT count(*) AS n FROM jobs WHERE group_name = ? AND started_at > ?`),
      queue: p(`SELECT * FROM jobs WHERE group_name = @group AND state = 'queued'
          AND runtime IN (SELECT value FROM json_each(@runtimes)) AND run_at <= @now
          AND (@only IS NULL OR team IN (SELECT value FROM json_each(@only)))
          AND (@exclude IS NULL OR team IS NULL OR team NOT IN (SELECT value FROM json_each(@exclude)))
        ORDER BY priority DESC, id LIMIT ${GROUP_SCAN_LIMIT}`).raw(true),
      served: p(`UPDATE job_groups SET served_at = ? WHERE name = ?`),
      any: p(`SELECT EXISTS (SELECT 1 FROM job_groups) AS n`),
    };
    this.known = (this.s.any!.get() as { n: number }).n === 1;
  }

  get active(): boolean {
    return this.known;
  }

  /** Makes sure the named groups have a row (jobs name groups without configuring them). */
  ensure(names: Iterable<string>, now: number): void {
    for (const name of names) {
      this.s.ensure!.run(name, now, now);
      this.known = true;
    }
  }

  upsert(name: string, settings: Partial<GroupSettings>, now: number): GroupRecord {
    this.s.upsert!.run({
      name,
      concurrency: settings.concurrency ?? null,
      perSecond: settings.perSecond ?? null,
      paused: settings.paused === undefined ? null : Number(settings.paused),
      setConcurrency: Number(settings.concurrency !== undefined),
      setPerSecond: Number(settings.perSecond !== undefined),
      now,
    });
    this.known = true;
    return groupFromRow(this.s.get!.get(name) as GroupRow);
  }

  list(after: string | undefined, limit: number): GroupRecord[] {
    return (this.s.list!.all(after ?? '', limit) as GroupRow[]).map(groupFromRow);
  }

  get(name: string, now: number): (GroupRecord & { usage: GroupUsage }) | null {
    const row = this.s.get!.get(name) as GroupRow | undefined;
    if (!row) return null;
    const group = groupFromRow(row);
    return { ...group, usage: this.usage(group, now) };
  }

  private usage(g: GroupSettings & { name: string }, now: number): GroupUsage {
    const running = (this.s.running!.get(g.name) as { n: number }).n;
    const recentStarts =
      g.perSecond === null
        ? 0
        : (this.s.started!.get(g.name, now - rateWindow(g.perSecond).windowMs) as { n: number }).n;
    return { running, recentStarts };
  }

  /**
   * The groups that may give this lease jobs, each with its allowance and the first jobs of its
   * queue that `allow` accepts (the worker's tags), up to that allowance (read lazily: a group
   * with a long queue costs what its head costs).
   */
  lanes(p: LeaseRequest, allow: (row: JobRow) => boolean): GroupLane[] {
    const runtimes = JSON.stringify(p.runtimes);
    const only = p.teams?.only ? JSON.stringify(p.teams.only) : null;
    const exclude = p.teams?.exclude ? JSON.stringify(p.teams.exclude) : null;
    const out: GroupLane[] = [];
    for (const g of this.s.lanes!.all({ runtimes, now: p.now }) as SettingsRow[]) {
      const settings = { name: g.name, concurrency: g.concurrency, perSecond: g.per_second, paused: false };
      const allowance = Math.min(p.limit, groupAllowance(settings, this.usage(settings, p.now)));
      if (allowance <= 0) continue;
      const rows: JobRow[] = [];
      const it = this.s.queue!.iterate({ group: g.name, runtimes, now: p.now, only, exclude });
      for (const a of it as Iterable<unknown[]>) {
        const row = rowFromArray(a);
        if (!allow(row)) continue;
        rows.push(row);
        if (rows.length >= allowance) break;
      }
      if (rows.length === 0) continue;
      out.push({ name: g.name, servedAt: g.served_at, allowance, rows });
    }
    return out;
  }

  served(name: string, at: number): void {
    this.s.served!.run(at, name);
  }
}
