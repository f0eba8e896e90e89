/**
 * The contest portal's tables on the PostgreSQL store's pool. Multi-step changes run in one
 * transaction that first locks the team row (`FOR UPDATE`), so two hubs adding servers to one
 * team cannot both pass the limit check.
 */
import type pg from 'pg';
import type { PoolClient } from 'pg';
import { HubError, notFound } from '../../core/errors.js';
import {
  benchmarkerFromRow,
  bindingMap,
  checkServerSync,
  COLUMNS,
  TEAM_TABLES,
  contestFromRow,
  idNum,
  memberFromRow,
  scoreFromRow,
  serverFromRow,
  serverLimit,
  sessionFromRow,
  teamFromRow,
  uniqueConflict,
  type BenchmarkerRow,
  type ContestRow,
  type MemberRow,
  type ScoreRow,
  type ServerRow,
  type SessionRow,
  type TeamRow,
} from './rows.js';
import type { OrganiserStore } from './organisers.js';
import { SqlOrganiserStore } from './organisers-sql.js';
import type { BenchmarkerRecord, PortalStore, ServerFields, ServerRecord } from './store.js';

type Q = Pick<PoolClient, 'query'>;
const CLEAR_TARGET = 'UPDATE portal_servers SET is_bench_target = false WHERE team_id = $1';
/** A method's parameters, as the interface declares them. */
type P<K extends keyof PortalStore> = Parameters<PortalStore[K]>[0];

/** `a = $n, b = $n+1` for the fields given (undefined = keep), numbering after `args`. */
function assignments(map: Record<string, string>, p: Record<string, unknown>, args: unknown[]): string {
  const cols: string[] = [];
  for (const [key, col] of Object.entries(map)) {
    const v = p[key];
    if (v === undefined) continue;
    args.push(key === 'ownerId' && v !== null ? Number(v) : v);
    cols.push(`${col} = $${args.length}`);
  }
  return cols.join(', ');
}

function mapUnique(err: unknown): never {
  const e = err as { code?: string; constraint?: string; detail?: string };
  if (e.code === '23505') throw uniqueConflict(`${e.constraint ?? ''} ${e.detail ?? ''}`);
  throw err;
}

export class PostgresPortalStore implements PortalStore {
  private organiserStore: OrganiserStore | null = null;
  constructor(
    private readonly pool: pg.Pool,
    private readonly isClosed: () => boolean,
  ) {}

  private async rows<R>(sql: string, args: unknown[] = [], q: Q = this.pool): Promise<R[]> {
    if (this.isClosed()) throw new Error('store is closed');
    try {
      return (await q.query(sql, args)).rows as R[];
    } catch (err) {
      return mapUnique(err);
    }
  }

  /** Whether a DELETE removed a row. */
  private async deleted(sql: string, args: unknown[]): Promise<boolean> {
    return (await this.rows(`${sql} RETURNING 1`, args)).length > 0;
  }

  private async one<R>(sql: string, args: unknown[] = [], q: Q = this.pool): Promise<R | undefined> {
    return (await this.rows<R>(sql, args, q))[0];
  }

  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    if (this.isClosed()) throw new Error('store is closed');
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Locks the team row for the rest of the transaction; not_found if it does not exist. */
  private async lockTeam(c: Q, teamId: string): Promise<number> {
    const id = idNum(teamId);
    if (!(await this.one('SELECT id FROM portal_teams WHERE id = $1 FOR UPDATE', [id], c)))
      throw notFound('team', teamId);
    return id;
  }

  async contestGet() {
    return contestFromRow(await this.one<ContestRow>('SELECT * FROM portal_contest WHERE id = 1'));
  }
  async contestSet(p: P<'contestSet'>) {
    const row = await this.one<ContestRow>(
      `INSERT INTO portal_contest (id, starts_at, freezes_at, ends_at, allowed_target_cidrs, updated_at)
       VALUES (1, $1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET starts_at = excluded.starts_at, freezes_at = excluded.freezes_at,
         ends_at = excluded.ends_at, allowed_target_cidrs = excluded.allowed_target_cidrs,
         updated_at = excluded.updated_at RETURNING *`,
      [
        p.startsAt,
        p.freezesAt,
        p.endsAt,
        p.allowedTargetCidrs.length ? JSON.stringify(p.allowedTargetCidrs) : null,
        p.now,
      ],
    );
    return contestFromRow(row);
  }

  async teamInsert(p: P<'teamInsert'>) {
    const row = await this.one<TeamRow>(
      'INSERT INTO portal_teams (name, password_hash, invite_token, created_at) VALUES ($1, $2, $3, $4) RETURNING *',
      [p.name, p.passwordHash, p.inviteToken, p.now],
    );
    return teamFromRow(row!);
  }
  async teamUpdate(p: P<'teamUpdate'>) {
    const args: unknown[] = [];
    const set = assignments(COLUMNS.team, p, args);
    args.push(idNum(p.id));
    const sql = set
      ? `UPDATE portal_teams SET ${set} WHERE id = $${args.length} RETURNING *`
      : `SELECT * FROM portal_teams WHERE id = $${args.length}`;
    const row = await this.one<TeamRow>(sql, args);
    return row ? teamFromRow(row) : null;
  }
  async teamGet(p: P<'teamGet'>) {
    const row = await this.one<TeamRow>('SELECT * FROM portal_teams WHERE id = $1', [idNum(p.id)]);
    return row ? teamFromRow(row) : null;
  }
  async teamFindByName(p: P<'teamFindByName'>) {
    const row = await this.one<TeamRow>('SELECT * FROM portal_teams WHERE name = $1', [p.name]);
    return row ? teamFromRow(row) : null;
  }
  async teamFindByInvite(p: P<'teamFindByInvite'>) {
    const row = await this.one<TeamRow>('SELECT * FROM portal_teams WHERE invite_token = $1', [
      p.inviteToken,
    ]);
    return row ? teamFromRow(row) : null;
  }
  async teamList() {
    return (await this.rows<TeamRow>('SELECT * FROM portal_teams ORDER BY id')).map(teamFromRow);
  }
  teamDelete(p: P<'teamDelete'>) {
    return this.tx(async (c) => {
      const id = idNum(p.id);
      // The team row first, like every other writer of a team's rows: no lock-order deadlock.
      if (!(await this.one('SELECT id FROM portal_teams WHERE id = $1 FOR UPDATE', [id], c))) return false;
      for (const table of TEAM_TABLES) await c.query(`DELETE FROM ${table} WHERE team_id = $1`, [id]);
      return ((await c.query('DELETE FROM portal_teams WHERE id = $1', [id])).rowCount ?? 0) > 0;
    });
  }

  async memberUpsert(p: P<'memberUpsert'>) {
    return this.tx(async (c) => {
      const teamId = await this.lockTeam(c, p.teamId);
      const row = await this.one<MemberRow>(
        `INSERT INTO portal_members (team_id, name, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (team_id, name) DO UPDATE SET name = excluded.name RETURNING *`,
        [teamId, p.name, p.now],
        c,
      );
      return memberFromRow(row!);
    });
  }
  async memberList(p: P<'memberList'>) {
    const rows = await this.rows<MemberRow>('SELECT * FROM portal_members WHERE team_id = $1 ORDER BY id', [
      idNum(p.teamId),
    ]);
    return rows.map(memberFromRow);
  }
  async memberDelete(p: P<'memberDelete'>) {
    return this.deleted('DELETE FROM portal_members WHERE team_id = $1 AND id = $2', [
      idNum(p.teamId),
      idNum(p.id),
    ]);
  }

  private async insertServer(c: Q, teamId: number, f: ServerFields, now: number): Promise<ServerRecord> {
    if (f.isBenchTarget) await c.query(CLEAR_TARGET, [teamId]);
    const row = await this.one<ServerRow>(
      `INSERT INTO portal_servers (team_id, hostname, global_ip, private_ip, is_bench_target, created_at)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
      [teamId, f.hostname, f.globalIp, f.privateIp, f.isBenchTarget, now],
      c,
    );
    return serverFromRow(row!);
  }

  private async updateServer(c: Q, id: number, teamId: number, f: Partial<ServerFields>): Promise<void> {
    if (f.isBenchTarget) await c.query(CLEAR_TARGET, [teamId]);
    const args: unknown[] = [];
    const set = assignments(COLUMNS.server, f, args);
    if (!set) return;
    args.push(id, teamId);
    await this.rows(
      `UPDATE portal_servers SET ${set} WHERE id = $${args.length - 1} AND team_id = $${args.length}`,
      args,
      c,
    );
  }

  serverInsert(p: P<'serverInsert'>) {
    return this.tx(async (c) => {
      const teamId = await this.lockTeam(c, p.teamId);
      const { n } = (await this.one<{ n: number }>(
        'SELECT count(*)::int AS n FROM portal_servers WHERE team_id = $1',
        [teamId],
        c,
      ))!;
      if (n >= p.maxPerTeam) throw serverLimit(p.maxPerTeam);
      return this.insertServer(c, teamId, p, p.now);
    });
  }
  serverUpdate(p: P<'serverUpdate'>) {
    return this.tx(async (c) => {
      const [id, teamId] = [idNum(p.id), idNum(p.teamId)];
      if (!(await this.one('SELECT id FROM portal_teams WHERE id = $1 FOR UPDATE', [teamId], c))) return null;
      if (!(await this.one('SELECT id FROM portal_servers WHERE id = $1 AND team_id = $2', [id, teamId], c)))
        return null;
      await this.updateServer(c, id, teamId, p);
      const row = await this.one<ServerRow>('SELECT * FROM portal_servers WHERE id = $1', [id], c);
      return serverFromRow(row!);
    });
  }
  async serverDelete(p: P<'serverDelete'>) {
    return this.deleted('DELETE FROM portal_servers WHERE id = $1 AND team_id = $2', [
      idNum(p.id),
      idNum(p.teamId),
    ]);
  }
  async serverList(p: P<'serverList'>, q: Q = this.pool) {
    const rows = await this.rows<ServerRow>(
      'SELECT * FROM portal_servers WHERE team_id = $1 ORDER BY id',
      [idNum(p.teamId)],
      q,
    );
    return rows.map(serverFromRow);
  }
  async serverSync(p: P<'serverSync'>) {
    checkServerSync(p.teams, p.maxPerTeam);
    return this.tx(async (c) => {
      // Teams locked in id order: two loads naming the same teams cannot deadlock.
      const byId = [...p.teams].sort((a, b) => idNum(a.teamId) - idNum(b.teamId));
      for (const t of byId) await this.lockTeam(c, t.teamId);
      const teams = [];
      for (const t of p.teams) {
        const teamId = idNum(t.teamId);
        const rows = await this.rows<ServerRow>(
          'SELECT * FROM portal_servers WHERE team_id = $1',
          [teamId],
          c,
        );
        teams.push({ teamId, servers: t.servers, existing: new Map(rows.map((r) => [r.hostname, r])) });
      }
      // Every team first drops the servers it no longer lists and parks the addresses that change
      // on a unique placeholder, so that no update collides with a row updated after it: s1 X→Y and
      // s2 Y→X in one team, or X passing from one team to another.
      const gone: number[] = [];
      const moving: number[] = [];
      for (const t of teams) {
        const wanted = new Set(t.servers.map((s) => s.hostname));
        for (const [hostname, row] of t.existing) if (!wanted.has(hostname)) gone.push(row.id);
        for (const f of t.servers) {
          const row = t.existing.get(f.hostname);
          if (row && row.global_ip !== f.globalIp) moving.push(row.id);
        }
      }
      if (gone.length) await c.query('DELETE FROM portal_servers WHERE id = ANY($1::bigint[])', [gone]);
      if (moving.length)
        await c.query(`UPDATE portal_servers SET global_ip = 'moving:' || id WHERE id = ANY($1::bigint[])`, [
          moving,
        ]);
      for (const t of teams) {
        await c.query(CLEAR_TARGET, [t.teamId]);
        for (const f of t.servers) {
          const row = t.existing.get(f.hostname);
          if (row) await this.updateServer(c, row.id, t.teamId, f);
          else await this.insertServer(c, t.teamId, f, p.now);
        }
      }
      const out: ServerRecord[][] = [];
      for (const t of p.teams) out.push(await this.serverList(t, c));
      return out;
    });
  }

  private async bench(id: number, q: Q = this.pool): Promise<BenchmarkerRecord | null> {
    const row = await this.one<BenchmarkerRow>('SELECT * FROM portal_benchmarkers WHERE id = $1', [id], q);
    if (!row) return null;
    const bindings = await this.rows<{ benchmarker_id: number; team_id: number }>(
      'SELECT * FROM portal_bindings WHERE benchmarker_id = $1',
      [id],
      q,
    );
    return benchmarkerFromRow(row, bindingMap(bindings).get(id) ?? []);
  }

  async benchmarkerInsert(p: P<'benchmarkerInsert'>) {
    const row = await this.one<BenchmarkerRow>(
      'INSERT INTO portal_benchmarkers (name, address, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING *',
      [p.name, p.address, p.tokenHash, p.now],
    );
    return benchmarkerFromRow(row!, []);
  }
  async benchmarkerUpdate(p: P<'benchmarkerUpdate'>) {
    const args: unknown[] = [];
    const set = assignments(COLUMNS.benchmarker, p, args);
    if (set) {
      args.push(idNum(p.id));
      await this.rows(`UPDATE portal_benchmarkers SET ${set} WHERE id = $${args.length}`, args);
    }
    return this.bench(idNum(p.id));
  }
  benchmarkerGet(p: P<'benchmarkerGet'>) {
    return this.bench(idNum(p.id));
  }
  async benchmarkerFindByName(p: P<'benchmarkerFindByName'>) {
    const row = await this.one<{ id: number }>('SELECT id FROM portal_benchmarkers WHERE name = $1', [
      p.name,
    ]);
    return row ? this.bench(row.id) : null;
  }
  async benchmarkerList() {
    const [rows, bindings] = await Promise.all([
      this.rows<BenchmarkerRow>('SELECT * FROM portal_benchmarkers ORDER BY id'),
      this.rows<{ benchmarker_id: number; team_id: number }>('SELECT * FROM portal_bindings'),
    ]);
    const map = bindingMap(bindings);
    return rows.map((r) => benchmarkerFromRow(r, map.get(r.id) ?? []));
  }
  benchmarkerDelete(p: P<'benchmarkerDelete'>) {
    return this.tx(async (c) => {
      await c.query('DELETE FROM portal_bindings WHERE benchmarker_id = $1', [idNum(p.id)]);
      return (
        ((await c.query('DELETE FROM portal_benchmarkers WHERE id = $1', [idNum(p.id)])).rowCount ?? 0) > 0
      );
    });
  }
  async benchmarkerSetWorker(p: P<'benchmarkerSetWorker'>) {
    await this.rows(
      'UPDATE portal_benchmarkers SET worker_id = $1 WHERE id = $2 AND worker_id IS NOT DISTINCT FROM $3',
      [Number(p.workerId), idNum(p.id), p.previous === null ? null : Number(p.previous)],
    );
    const row = await this.one<{ worker_id: number | null }>(
      'SELECT worker_id FROM portal_benchmarkers WHERE id = $1',
      [idNum(p.id)],
    );
    return row?.worker_id === null || row?.worker_id === undefined ? null : String(row.worker_id);
  }
  bindingSet(p: P<'bindingSet'>) {
    return this.tx(async (c) => {
      const id = idNum(p.benchmarkerId);
      if (!(await this.one('SELECT id FROM portal_benchmarkers WHERE id = $1 FOR UPDATE', [id], c)))
        return null;
      const teams = [...new Set(p.teamIds.map(idNum))];
      const found = await this.rows<{ id: number }>(
        'SELECT id FROM portal_teams WHERE id = ANY($1::bigint[])',
        [teams],
        c,
      );
      const missing = p.teamIds.find((t) => !found.some((r) => r.id === idNum(t)));
      if (missing !== undefined) throw notFound('team', missing);
      await c.query('DELETE FROM portal_bindings WHERE benchmarker_id = $1', [id]);
      await c.query(
        'INSERT INTO portal_bindings (benchmarker_id, team_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING',
        [id, teams],
      );
      return this.bench(id, c);
    });
  }

  async sessionInsert(p: P<'sessionInsert'>) {
    const row = await this.one<SessionRow>(
      `INSERT INTO portal_sessions (token_hash, team_id, member_id, created_at, expires_at)
       SELECT $1, id, $3, $4, $5 FROM portal_teams WHERE id = $2 RETURNING *`,
      [p.tokenHash, idNum(p.teamId), p.memberId === null ? null : idNum(p.memberId), p.now, p.expiresAt],
    );
    if (!row) throw notFound('team', p.teamId);
    return sessionFromRow(row);
  }
  async sessionGet(p: P<'sessionGet'>) {
    const row = await this.one<SessionRow>(
      'SELECT * FROM portal_sessions WHERE token_hash = $1 AND expires_at > $2',
      [p.tokenHash, p.now],
    );
    return row ? sessionFromRow(row) : null;
  }
  async sessionDelete(p: P<'sessionDelete'>) {
    await this.rows('DELETE FROM portal_sessions WHERE token_hash = $1', [p.tokenHash]);
  }
  async sessionDeleteTeam(p: P<'sessionDeleteTeam'>) {
    await this.rows('DELETE FROM portal_sessions WHERE team_id = $1 OR expires_at <= $2', [
      idNum(p.teamId),
      p.now,
    ]);
  }

  async scoreInsert(p: P<'scoreInsert'>) {
    if (!/^\d{1,15}$/.test(p.jobId) || !/^\d{1,15}$/.test(p.teamId)) {
      throw new HubError('validation_failed', 'score job and team ids must be integers');
    }
    const rows = await this.rows(
      `INSERT INTO portal_scores (job_id, team_id, score, passed, finished_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (job_id) DO NOTHING RETURNING seq`,
      [Number(p.jobId), Number(p.teamId), p.score, p.passed, p.finishedAt],
    );
    return rows.length > 0;
  }
  async scoreRecordJob(p: P<'scoreRecordJob'>) {
    const row = await this.one<ScoreRow>(
      `INSERT INTO portal_scores (job_id, team_id, score, passed, finished_at)
       SELECT id, team::bigint,
         CASE WHEN jsonb_typeof(result->'score') = 'number' THEN trunc((result->>'score')::numeric)::bigint ELSE 0 END,
         coalesce(result->'is_passed' = 'true'::jsonb, false),
         finished_at
       FROM jobs WHERE id = $1 AND runtime = $2 AND state = 'succeeded' AND finished_at IS NOT NULL
         AND team ~ '^[0-9]{1,15}$'
       ON CONFLICT (job_id) DO NOTHING RETURNING *`,
      [idNum(p.jobId), p.runtime],
    );
    return row ? scoreFromRow(row) : null;
  }
  async scoreList(p: P<'scoreList'>) {
    return (
      await this.rows<ScoreRow>('SELECT * FROM portal_scores WHERE seq > $1 ORDER BY seq LIMIT $2', [
        p.afterSeq,
        p.limit,
      ])
    ).map(scoreFromRow);
  }

  organisers(): OrganiserStore {
    // `?` placeholders become $1, $2, … (the shared SQL has no `?` inside literals).
    const numbered = (sql: string) => {
      let n = 0;
      return sql.replace(/\?/g, () => `$${++n}`);
    };
    return (this.organiserStore ??= new SqlOrganiserStore({
      read: (sql, args = []) => this.rows(numbered(sql), args),
      write: (sql, args = []) => this.rows(numbered(sql), args),
    }));
  }
}
