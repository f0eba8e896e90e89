/**
 * Job groups in the PostgreSQL store. Several hubs lease at once, so a group's limits are kept
 * by its settings row: a lease locks the rows of the groups it draws from (`FOR UPDATE SKIP
 * LOCKED`: a group another hub is serving right now is skipped this round, nobody waits), and
 * only then counts the group's running jobs and recent starts. Jobs of a group start only in a
 * transaction holding its row, so those counts cannot change under the lease before it commits
 * (finishing jobs only lower them): no group exceeds its concurrency or rate across hubs.
 */
import type { PoolClient } from 'pg';
import {
  groupAllowance,
  pickFair,
  rateWindow,
  type GroupSettings,
  type GroupUsage,
  type Lane,
} from '../../core/groups.js';
import { preferenceScore } from '../../core/tags.js';
import { groupFromRow, type GroupRow, type JobRow } from '../rows.js';
import type { GroupRecord, JobRecord, LeaseRequest } from '../store.js';
import { claimMany } from './batch.js';

type Q = Pick<PoolClient, 'query'>;

/** Groups one lease looks at, least recently served first. */
const GROUP_LANES_MAX = 256;
/** How often a hub that has seen no group looks again (another hub may have made one). */
const RECHECK_MS = 1000;

/** A job's +tags must all be in the worker's tags ($3), its -tags none of them. */
const ELIGIBLE = `(NOT jobs.has_rules OR NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(jobs.tags) AS t(tag)
  WHERE (left(t.tag, 1) = '+' AND NOT (substr(t.tag, 2) = ANY($3::text[])))
     OR (left(t.tag, 1) = '-' AND substr(t.tag, 2) = ANY($3::text[]))))`;
/** Team rules (parameters `only`, `exclude`), as on the plain path. */
const teams = (only: string, exclude: string) => `(${only}::text[] IS NULL OR team = ANY(${only}::text[]))
  AND (${exclude}::text[] IS NULL OR team IS NULL OR NOT (team = ANY(${exclude}::text[])))`;

const COUNTS = `(SELECT count(*) FROM jobs WHERE group_name = g.name AND state = 'queued')::int AS queued,
  (SELECT count(*) FROM jobs WHERE group_name = g.name AND state = 'running')::int AS running`;

/** Whether any group exists, as far as this process knows (groups are never deleted). */
export class GroupPresence {
  private known = false;
  private checkedAt = 0;

  saw(): void {
    this.known = true;
  }

  async active(q: Q): Promise<boolean> {
    if (this.known) return true;
    const wall = Date.now();
    if (wall - this.checkedAt < RECHECK_MS) return false;
    this.checkedAt = wall;
    const { rows } = await q.query<{ n: boolean }>('SELECT EXISTS (SELECT 1 FROM job_groups) AS n');
    return (this.known = rows[0]!.n);
  }
}

/** Gives the named groups a row (a job may name a group nobody configured). */
export async function ensureGroups(q: Q, names: string[], now: number): Promise<void> {
  if (names.length === 0) return;
  await q.query(
    `INSERT INTO job_groups (name, created_at, updated_at) SELECT DISTINCT unnest($1::text[]), $2::bigint, $2::bigint
     ON CONFLICT DO NOTHING`,
    [names, now],
  );
}

export async function upsertGroup(
  q: Q,
  name: string,
  s: Partial<GroupSettings>,
  now: number,
): Promise<GroupRecord> {
  await q.query(
    `INSERT INTO job_groups (name, concurrency, per_second, paused, created_at, updated_at)
       VALUES ($1, $2, $3, coalesce($4, false), $7, $7)
     ON CONFLICT (name) DO UPDATE SET
       concurrency = CASE WHEN $5 THEN $2 ELSE job_groups.concurrency END,
       per_second = CASE WHEN $6 THEN $3 ELSE job_groups.per_second END,
       paused = coalesce($4, job_groups.paused), updated_at = $7`,
    [
      name,
      s.concurrency ?? null,
      s.perSecond ?? null,
      s.paused ?? null,
      s.concurrency !== undefined,
      s.perSecond !== undefined,
      now,
    ],
  );
  return (await getGroup(q, name, now))!;
}

export async function listGroups(q: Q, after: string | undefined, limit: number): Promise<GroupRecord[]> {
  const { rows } = await q.query<GroupRow>(
    `SELECT g.*, ${COUNTS} FROM job_groups g WHERE name > $1 ORDER BY name LIMIT $2`,
    [after ?? '', limit],
  );
  return rows.map(groupFromRow);
}

export async function getGroup(
  q: Q,
  name: string,
  now: number,
): Promise<(GroupRecord & { usage: GroupUsage }) | null> {
  const { rows } = await q.query<GroupRow>(`SELECT g.*, ${COUNTS} FROM job_groups g WHERE name = $1`, [name]);
  if (!rows[0]) return null;
  const group = groupFromRow(rows[0]);
  const [usage] = await usages(q, [group], now);
  return { ...group, usage: usage! };
}

/** Running jobs and starts within the rate window, per group, in one round trip. */
async function usages(
  q: Q,
  groups: (GroupSettings & { name: string })[],
  now: number,
): Promise<GroupUsage[]> {
  const { rows } = await q.query<{ name: string; running: number; recent: number }>(
    `SELECT u.name,
       (SELECT count(*) FROM jobs WHERE group_name = u.name AND state = 'running')::int AS running,
       CASE WHEN u.since IS NULL THEN 0
         ELSE (SELECT count(*) FROM jobs WHERE group_name = u.name AND started_at > u.since)::int END AS recent
     FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS u(name, since, ord) ORDER BY ord`,
    [
      groups.map((g) => g.name),
      groups.map((g) => (g.perSecond === null ? null : now - rateWindow(g.perSecond).windowMs)),
    ],
  );
  return rows.map((r) => ({ running: r.running, recentStarts: r.recent }));
}

interface LaneRow {
  name: string;
  concurrency: number | null;
  per_second: number | null;
  served_at: string | number;
}

/**
 * A lease when groups exist, inside a transaction: the ungrouped jobs are one lane, each group
 * with due work and room under its limits another, and the lease takes from them round-robin
 * (core/groups.ts pickFair). Returns null when no group has anything for this worker: the
 * caller then takes the plain path.
 */
export async function leaseFair(
  q: Q,
  p: LeaseRequest,
  plain: { servedAt: number },
): Promise<JobRecord[] | null> {
  const { rows: locked } = await q.query<LaneRow>(
    `SELECT name, concurrency, per_second, served_at FROM job_groups g WHERE NOT paused
       AND EXISTS (SELECT 1 FROM jobs WHERE group_name = g.name AND state = 'queued'
         AND runtime = ANY($1::text[]) AND run_at <= $2)
     ORDER BY served_at, name LIMIT ${GROUP_LANES_MAX} FOR UPDATE SKIP LOCKED`,
    [p.runtimes, p.now],
  );
  if (locked.length === 0) return null;
  const settings = locked.map((g) => ({
    name: g.name,
    concurrency: g.concurrency,
    perSecond: g.per_second === null ? null : Number(g.per_second),
    paused: false,
  }));
  const used = await usages(q, settings, p.now);
  const open = settings
    .map((g, i) => ({
      g,
      servedAt: Number(locked[i]!.served_at),
      allowance: Math.min(p.limit, groupAllowance(g, used[i]!)),
    }))
    .filter((l) => l.allowance > 0);
  if (open.length === 0) return null;
  const only = p.teams?.only ?? null;
  const exclude = p.teams?.exclude ?? null;
  const { rows: heads } = await q.query<JobRow>(
    `SELECT j.* FROM unnest($4::text[], $5::int[]) AS u(name, lim) CROSS JOIN LATERAL (
       SELECT * FROM jobs WHERE group_name = u.name AND state = 'queued' AND runtime = ANY($1::text[])
         AND run_at <= $2 AND ${ELIGIBLE} AND ${teams('$6', '$7')}
       ORDER BY priority DESC, id LIMIT u.lim) j`,
    [p.runtimes, p.now, p.tags, open.map((l) => l.g.name), open.map((l) => l.allowance), only, exclude],
  );
  const { rows: plainRows } = await q.query<JobRow>(
    `SELECT * FROM jobs WHERE state = 'queued' AND group_name IS NULL AND runtime = ANY($1::text[])
       AND run_at <= $2 AND ${ELIGIBLE} AND ${teams('$5', '$6')}
     ORDER BY priority DESC, id LIMIT $4`,
    [p.runtimes, p.now, p.tags, p.limit * 4 + 16, only, exclude],
  );
  const workerTags = new Set(p.tags);
  const ranked = plainRows
    .map((row) => ({ row, pref: preferenceScore(JSON.parse(row.tags) as string[], workerTags) }))
    .sort((a, b) => b.row.priority - a.row.priority || b.pref - a.pref || a.row.id - b.row.id)
    .map((c) => c.row);
  type Lanes = Lane<JobRow> & { name: string | null };
  const lanes: Lanes[] = [
    { name: null, jobs: ranked, servedAt: plain.servedAt, allowance: Infinity },
    ...open.map((l) => ({
      name: l.g.name,
      jobs: heads.filter((h) => h.group_name === l.g.name),
      servedAt: l.servedAt,
      allowance: l.allowance,
    })),
  ];
  const before = lanes.map((l) => l.servedAt);
  const chosen = pickFair(lanes, p.limit, Math.max(p.now * 1000, ...before));
  // Ungrouped jobs are not covered by a group's row: skip those another hub holds right now.
  const plainIds = chosen.filter((r) => r.group_name === null).map((r) => r.id);
  const free = new Set(
    plainIds.length === 0
      ? []
      : (
          await q.query<{ id: number }>(
            `SELECT id FROM jobs WHERE id = ANY($1::bigint[]) AND state = 'queued' FOR UPDATE SKIP LOCKED`,
            [plainIds],
          )
        ).rows.map((r) => Number(r.id)),
  );
  const ids = chosen.filter((r) => r.group_name !== null || free.has(r.id)).map((r) => r.id);
  const served = lanes.filter((l, i) => l.servedAt !== before[i]);
  for (const l of served) if (l.name === null) plain.servedAt = l.servedAt;
  const groupsServed = served.filter((l) => l.name !== null);
  if (groupsServed.length > 0) {
    await q.query(
      `UPDATE job_groups g SET served_at = u.at FROM unnest($1::text[], $2::bigint[]) AS u(name, at)
       WHERE g.name = u.name`,
      [groupsServed.map((l) => l.name), groupsServed.map((l) => l.servedAt)],
    );
  }
  return claimMany(q, ids, p);
}
