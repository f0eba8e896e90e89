/**
 * The contest portal's tables on the SQLite store's connection. Writes run through the store's
 * group commit (`write`), reads directly (`read`); every multi-step change (server limit, bench
 * target swap, bindings) happens inside one write, so SQLite's single writer makes it atomic.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { SqliteShared } from '../../store/sqlite/store.js';
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
import type { BenchmarkerRecord, PortalStore, ServerFields, ServerRecord, TeamRecord } from './store.js';

/** A method's parameters, as the interface declares them. */
type P<K extends keyof PortalStore> = PortalStore[K] extends (p: infer A) => unknown ? A : never;

/** Turns SQLite's unique violations into `conflict`. */
function unique<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw uniqueConflict(String(err));
    throw err;
  }
}

/** `SET a = ?, b = ?` for the fields given (undefined = keep). */
function assignments(
  map: Record<string, string>,
  p: Record<string, unknown>,
): { sql: string; args: unknown[] } {
  const cols: string[] = [];
  const args: unknown[] = [];
  for (const [key, col] of Object.entries(map)) {
    const v = p[key];
    if (v === undefined) continue;
    cols.push(`${col} = ?`);
    args.push(typeof v === 'boolean' ? Number(v) : key === 'ownerId' && v !== null ? Number(v) : v);
  }
  return { sql: cols.join(', '), args };
}

export class SqlitePortalStore implements PortalStore {
  private readonly s: Record<string, Statement>;
  private organiserStore: OrganiserStore | null = null;

  readonly scoreSeqLag = 0;
  /** Written through the job store's group commit: a score written right after a completion joins it. */
  readonly recordJoinsCompletion = true;
  private readonly db: Database;
  private readonly write: SqliteShared['write'];
  private readonly read: SqliteShared['read'];

  constructor(shared: SqliteShared) {
    const { db } = shared;
    this.db = db;
    this.write = shared.write;
    this.read = shared.read;
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      contestGet: p('SELECT * FROM portal_contest WHERE id = 1'),
      contestSet:
        p(`INSERT INTO portal_contest (id, starts_at, freezes_at, ends_at, allowed_target_cidrs, updated_at)
        VALUES (1, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET starts_at = excluded.starts_at, freezes_at = excluded.freezes_at,
          ends_at = excluded.ends_at, allowed_target_cidrs = excluded.allowed_target_cidrs,
          updated_at = excluded.updated_at RETURNING *`),
      teamInsert:
        p(`INSERT INTO portal_teams (name, password_hash, invite_token, created_at) VALUES (?, ?, ?, ?)
        RETURNING *`),
      teamGet: p('SELECT * FROM portal_teams WHERE id = ?'),
      teamByName: p('SELECT * FROM portal_teams WHERE name = ?'),
      teamByInvite: p('SELECT * FROM portal_teams WHERE invite_token = ?'),
      teamList: p('SELECT * FROM portal_teams ORDER BY id'),
      memberUpsert: p(`INSERT INTO portal_members (team_id, name, created_at) VALUES (?, ?, ?)
        ON CONFLICT (team_id, name) DO UPDATE SET name = excluded.name RETURNING *`),
      memberList: p('SELECT * FROM portal_members WHERE team_id = ? ORDER BY id'),
      memberDelete: p('DELETE FROM portal_members WHERE team_id = ? AND id = ?'),
      serverCount: p('SELECT count(*) AS n FROM portal_servers WHERE team_id = ?'),
      serverClearTarget: p(
        'UPDATE portal_servers SET is_bench_target = 0 WHERE team_id = ? AND is_bench_target = 1',
      ),
      serverPark: p(`UPDATE portal_servers SET global_ip = 'moving:' || id WHERE id = ?`),
      serverInsert:
        p(`INSERT INTO portal_servers (team_id, hostname, global_ip, private_ip, is_bench_target, created_at)
        VALUES (?, ?, ?, ?, ?, ?) RETURNING *`),
      serverGet: p('SELECT * FROM portal_servers WHERE id = ? AND team_id = ?'),
      serverDelete: p('DELETE FROM portal_servers WHERE id = ? AND team_id = ?'),
      serverList: p('SELECT * FROM portal_servers WHERE team_id = ? ORDER BY id'),
      benchInsert: p(
        'INSERT INTO portal_benchmarkers (name, address, token_hash, created_at) VALUES (?, ?, ?, ?) RETURNING *',
      ),
      benchGet: p('SELECT * FROM portal_benchmarkers WHERE id = ?'),
      benchByName: p('SELECT * FROM portal_benchmarkers WHERE name = ?'),
      benchList: p('SELECT * FROM portal_benchmarkers ORDER BY id'),
      benchDelete: p('DELETE FROM portal_benchmarkers WHERE id = ?'),
      benchWorker: p('UPDATE portal_benchmarkers SET worker_id = ? WHERE id = ? AND worker_id IS ?'),
      bindingsOf: p('SELECT * FROM portal_bindings WHERE benchmarker_id = ?'),
      bindingsAll: p('SELECT * FROM portal_bindings'),
      bindingsClear: p('DELETE FROM portal_bindings WHERE benchmarker_id = ?'),
      bindingInsert: p('INSERT OR IGNORE INTO portal_bindings (benchmarker_id, team_id) VALUES (?, ?)'),
      sessionInsert: p(`INSERT INTO portal_sessions (token_hash, team_id, member_id, created_at, expires_at)
        VALUES (?, ?, ?, ?, ?) RETURNING *`),
      sessionGet: p('SELECT * FROM portal_sessions WHERE token_hash = ? AND expires_at > ?'),
      sessionDelete: p('DELETE FROM portal_sessions WHERE token_hash = ?'),
      sessionDeleteTeam: p('DELETE FROM portal_sessions WHERE team_id = ? OR expires_at <= ?'),
      scoreInsert:
        p(`INSERT INTO portal_scores (job_id, team_id, score, passed, finished_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (job_id) DO NOTHING`),
      scoreList: p('SELECT * FROM portal_scores WHERE seq > ? ORDER BY seq LIMIT ? + 0'),
      scoreFromJob: p(`INSERT INTO portal_scores (job_id, team_id, score, passed, finished_at)
        SELECT id, CAST(team AS INTEGER),
          CASE WHEN json_type(result, '$.score') IN ('integer', 'real') THEN CAST(json_extract(result, '$.score') AS INTEGER)
            ELSE 0 END,
          CASE WHEN json_type(result, '$.is_passed') = 'true' THEN 1 ELSE 0 END,
          finished_at
        FROM jobs WHERE id = ? AND runtime = ? AND state = 'succeeded' AND finished_at IS NOT NULL
          AND team <> '' AND length(team) <= 15 AND team NOT GLOB '*[^0-9]*'
        ON CONFLICT (job_id) DO NOTHING RETURNING *`),
    };
  }

  private team(id: string): TeamRow | undefined {
    return this.s.teamGet!.get(idNum(id)) as TeamRow | undefined;
  }

  contestGet() {
    return this.read(() => contestFromRow(this.s.contestGet!.get() as ContestRow | undefined));
  }
  contestSet(p: P<'contestSet'>) {
    return this.write(() =>
      contestFromRow(
        this.s.contestSet!.get(
          p.startsAt,
          p.freezesAt,
          p.endsAt,
          p.allowedTargetCidrs.length ? JSON.stringify(p.allowedTargetCidrs) : null,
          p.now,
        ) as ContestRow,
      ),
    );
  }

  teamInsert(p: P<'teamInsert'>) {
    return this.write(() =>
      teamFromRow(
        unique(() => this.s.teamInsert!.get(p.name, p.passwordHash, p.inviteToken, p.now) as TeamRow),
      ),
    );
  }
  teamUpdate(p: P<'teamUpdate'>) {
    return this.write((): TeamRecord | null => {
      const set = assignments(COLUMNS.team, p);
      if (set.args.length) {
        unique(() =>
          this.db.prepare(`UPDATE portal_teams SET ${set.sql} WHERE id = ?`).run(...set.args, idNum(p.id)),
        );
      }
      const row = this.team(p.id);
      return row ? teamFromRow(row) : null;
    });
  }
  teamGet(p: P<'teamGet'>) {
    return this.read(() => {
      const row = this.team(p.id);
      return row ? teamFromRow(row) : null;
    });
  }
  teamFindByName(p: P<'teamFindByName'>) {
    return this.read(() => {
      const row = this.s.teamByName!.get(p.name) as TeamRow | undefined;
      return row ? teamFromRow(row) : null;
    });
  }
  teamFindByInvite(p: P<'teamFindByInvite'>) {
    return this.read(() => {
      const row = this.s.teamByInvite!.get(p.inviteToken) as TeamRow | undefined;
      return row ? teamFromRow(row) : null;
    });
  }
  teamList() {
    return this.read(() => (this.s.teamList!.all() as TeamRow[]).map(teamFromRow));
  }
  teamDelete(p: P<'teamDelete'>) {
    return this.write(() => {
      const id = idNum(p.id);
      for (const table of TEAM_TABLES) this.db.prepare(`DELETE FROM ${table} WHERE team_id = ?`).run(id);
      return this.db.prepare('DELETE FROM portal_teams WHERE id = ?').run(id).changes > 0;
    });
  }

  memberUpsert(p: P<'memberUpsert'>) {
    return this.write(() => {
      if (!this.team(p.teamId)) throw notFound('team', p.teamId);
      return memberFromRow(this.s.memberUpsert!.get(idNum(p.teamId), p.name, p.now) as MemberRow);
    });
  }
  memberList(p: P<'memberList'>) {
    return this.read(() => (this.s.memberList!.all(idNum(p.teamId)) as MemberRow[]).map(memberFromRow));
  }
  memberDelete(p: P<'memberDelete'>) {
    return this.write(() => this.s.memberDelete!.run(idNum(p.teamId), idNum(p.id)).changes > 0);
  }

  private insertServer(teamId: number, f: ServerFields, now: number): ServerRecord {
    if (f.isBenchTarget) this.s.serverClearTarget!.run(teamId);
    return serverFromRow(
      unique(
        () =>
          this.s.serverInsert!.get(
            teamId,
            f.hostname,
            f.globalIp,
            f.privateIp,
            Number(f.isBenchTarget),
            now,
          ) as ServerRow,
      ),
    );
  }

  private updateServer(id: number, teamId: number, f: Partial<ServerFields>): void {
    if (f.isBenchTarget) this.s.serverClearTarget!.run(teamId);
    const set = assignments(COLUMNS.server, f);
    if (set.args.length === 0) return;
    unique(() =>
      this.db
        .prepare(`UPDATE portal_servers SET ${set.sql} WHERE id = ? AND team_id = ?`)
        .run(...set.args, id, teamId),
    );
  }

  serverInsert(p: P<'serverInsert'>) {
    return this.write(() => {
      const teamId = idNum(p.teamId);
      if (!this.team(p.teamId)) throw notFound('team', p.teamId);
      if ((this.s.serverCount!.get(teamId) as { n: number }).n >= p.maxPerTeam)
        throw serverLimit(p.maxPerTeam);
      return this.insertServer(teamId, p, p.now);
    });
  }
  serverUpdate(p: P<'serverUpdate'>) {
    return this.write(() => {
      const [id, teamId] = [idNum(p.id), idNum(p.teamId)];
      if (!this.s.serverGet!.get(id, teamId)) return null;
      this.updateServer(id, teamId, p);
      return serverFromRow(this.s.serverGet!.get(id, teamId) as ServerRow);
    });
  }
  serverDelete(p: P<'serverDelete'>) {
    return this.write(() => this.s.serverDelete!.run(idNum(p.id), idNum(p.teamId)).changes > 0);
  }
  serverList(p: P<'serverList'>) {
    return this.read(() => (this.s.serverList!.all(idNum(p.teamId)) as ServerRow[]).map(serverFromRow));
  }
  serverSync(p: P<'serverSync'>) {
    return this.write(() => {
      checkServerSync(p.teams, p.maxPerTeam);
      const teams = p.teams.map((t) => {
        if (!this.team(t.teamId)) throw notFound('team', t.teamId);
        const teamId = idNum(t.teamId);
        const rows = this.s.serverList!.all(teamId) as ServerRow[];
        return { teamId, servers: t.servers, existing: new Map(rows.map((r) => [r.hostname, r])) };
      });
      // Every team first drops the servers it no longer lists and parks the addresses that change
      // on a unique placeholder, so that no update collides with a row updated after it: s1 X→Y and
      // s2 Y→X in one team, or X passing from one team to another.
      for (const t of teams) {
        const wanted = new Set(t.servers.map((s) => s.hostname));
        for (const [hostname, row] of t.existing)
          if (!wanted.has(hostname)) this.s.serverDelete!.run(row.id, t.teamId);
        for (const f of t.servers) {
          const row = t.existing.get(f.hostname);
          if (row && row.global_ip !== f.globalIp) this.s.serverPark!.run(row.id);
        }
      }
      for (const t of teams) {
        this.s.serverClearTarget!.run(t.teamId);
        for (const f of t.servers) {
          const row = t.existing.get(f.hostname);
          if (row) this.updateServer(row.id, t.teamId, f);
          else this.insertServer(t.teamId, f, p.now);
        }
      }
      return teams.map((t) => (this.s.serverList!.all(t.teamId) as ServerRow[]).map(serverFromRow));
    });
  }

  private bench(id: number): BenchmarkerRecord | null {
    const row = this.s.benchGet!.get(id) as BenchmarkerRow | undefined;
    if (!row) return null;
    const bindings = this.s.bindingsOf!.all(id) as { benchmarker_id: number; team_id: number }[];
    return benchmarkerFromRow(row, bindingMap(bindings).get(id) ?? []);
  }

  benchmarkerInsert(p: P<'benchmarkerInsert'>) {
    return this.write(() =>
      benchmarkerFromRow(
        unique(() => this.s.benchInsert!.get(p.name, p.address, p.tokenHash, p.now) as BenchmarkerRow),
        [],
      ),
    );
  }
  benchmarkerUpdate(p: P<'benchmarkerUpdate'>) {
    return this.write(() => {
      const set = assignments(COLUMNS.benchmarker, p);
      if (set.args.length) {
        unique(() =>
          this.db
            .prepare(`UPDATE portal_benchmarkers SET ${set.sql} WHERE id = ?`)
            .run(...set.args, idNum(p.id)),
        );
      }
      return this.bench(idNum(p.id));
    });
  }
  benchmarkerGet(p: P<'benchmarkerGet'>) {
    return this.read(() => this.bench(idNum(p.id)));
  }
  benchmarkerFindByName(p: P<'benchmarkerFindByName'>) {
    return this.read(() => {
      const row = this.s.benchByName!.get(p.name) as BenchmarkerRow | undefined;
      return row ? this.bench(row.id) : null;
    });
  }
  benchmarkerList() {
    return this.read(() => {
      const bindings = bindingMap(this.s.bindingsAll!.all() as { benchmarker_id: number; team_id: number }[]);
      return (this.s.benchList!.all() as BenchmarkerRow[]).map((r) =>
        benchmarkerFromRow(r, bindings.get(r.id) ?? []),
      );
    });
  }
  benchmarkerDelete(p: P<'benchmarkerDelete'>) {
    return this.write(() => {
      this.s.bindingsClear!.run(idNum(p.id));
      return this.s.benchDelete!.run(idNum(p.id)).changes > 0;
    });
  }
  benchmarkerSetWorker(p: P<'benchmarkerSetWorker'>) {
    return this.write(() => {
      const previous = p.previous === null ? null : Number(p.previous);
      this.s.benchWorker!.run(Number(p.workerId), idNum(p.id), previous);
      const row = this.s.benchGet!.get(idNum(p.id)) as BenchmarkerRow | undefined;
      return row ? (row.worker_id === null ? null : String(row.worker_id)) : null;
    });
  }
  bindingSet(p: P<'bindingSet'>) {
    return this.write(() => {
      const id = idNum(p.benchmarkerId);
      if (!this.s.benchGet!.get(id)) return null;
      for (const t of p.teamIds) if (!this.team(t)) throw notFound('team', t);
      this.s.bindingsClear!.run(id);
      for (const t of p.teamIds) this.s.bindingInsert!.run(id, idNum(t));
      return this.bench(id);
    });
  }

  sessionInsert(p: P<'sessionInsert'>) {
    return this.write(() => {
      if (!this.team(p.teamId)) throw notFound('team', p.teamId);
      const member = p.memberId === null ? null : idNum(p.memberId);
      return sessionFromRow(
        this.s.sessionInsert!.get(p.tokenHash, idNum(p.teamId), member, p.now, p.expiresAt) as SessionRow,
      );
    });
  }
  sessionGet(p: P<'sessionGet'>) {
    return this.read(() => {
      const row = this.s.sessionGet!.get(p.tokenHash, p.now) as SessionRow | undefined;
      return row ? sessionFromRow(row) : null;
    });
  }
  sessionDelete(p: P<'sessionDelete'>) {
    return this.write(() => {
      this.s.sessionDelete!.run(p.tokenHash);
    });
  }
  sessionDeleteTeam(p: P<'sessionDeleteTeam'>) {
    return this.write(() => {
      this.s.sessionDeleteTeam!.run(idNum(p.teamId), p.now);
    });
  }

  scoreInsert(p: P<'scoreInsert'>) {
    if (!/^\d{1,15}$/.test(p.jobId) || !/^\d{1,15}$/.test(p.teamId)) {
      return Promise.reject(new HubError('validation_failed', 'score job and team ids must be integers'));
    }
    return this.write(
      () =>
        this.s.scoreInsert!.run(Number(p.jobId), Number(p.teamId), p.score, Number(p.passed), p.finishedAt)
          .changes > 0,
    );
  }
  scoreRecordJob(p: P<'scoreRecordJob'>) {
    return this.write(() => {
      const row = this.s.scoreFromJob!.get(idNum(p.jobId), p.runtime) as ScoreRow | undefined;
      return row ? scoreFromRow(row) : null;
    });
  }
  scoreList(p: P<'scoreList'>) {
    return this.read(() => (this.s.scoreList!.all(p.afterSeq, p.limit) as ScoreRow[]).map(scoreFromRow));
  }

  organisers(): OrganiserStore {
    const cache = new Map<string, Statement>();
    const run = (sql: string, args: unknown[]) => {
      let st = cache.get(sql);
      if (!st) cache.set(sql, (st = this.db.prepare(sql)));
      const bound = args.map((a) => (typeof a === 'boolean' ? Number(a) : a));
      return st.reader ? (st.all(...bound) as never[]) : (st.run(...bound), []);
    };
    return (this.organiserStore ??= new SqlOrganiserStore({
      read: (sql, args = []) => this.read(() => run(sql, args)),
      write: (sql, args = []) => this.write(() => run(sql, args)),
    }));
  }
}
