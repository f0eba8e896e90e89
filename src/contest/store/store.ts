/**
 * The contest portal's persistence: contest schedule, teams, members, servers, benchmarkers and
 * their team bindings, sessions, and the score history the leaderboard is computed from. Like the
 * core Store it leaks no driver types, every write resolves after it is committed, and one
 * conformance suite (test/contest/store-conformance.ts) runs against both implementations
 * (src/contest/store/sqlite.ts, src/contest/store/postgres.ts). Benchmark jobs themselves are core
 * jobs in the core Store; this store never touches them.
 *
 * Ids are decimal strings (as in the core Store); times are integer milliseconds (UTC epoch).
 * Uniqueness and limits are enforced by the store atomically and refused with HubError
 * `conflict` (duplicate name, duplicate address, server limit reached).
 */
import type { OrganiserStore } from './organisers.js';

export interface ContestRecord {
  startsAt: number | null;
  freezesAt: number | null;
  endsAt: number | null;
  /**
   * Blocks (canonical CIDR) where contestants may put server addresses that are refused by
   * default (loopback, link-local, private...; see contest/net.ts benchTarget). Empty = none.
   */
  allowedTargetCidrs: string[];
  updatedAt: number | null;
}

export interface TeamRecord {
  id: string;
  name: string;
  /** The member who owns the team (the seed's `owner`), if any. */
  ownerId: string | null;
  /** scrypt hash (see contest/secrets.ts); null = no password login. */
  passwordHash: string | null;
  /** Lets people join the team as members; null = no invitations. */
  inviteToken: string | null;
  createdAt: number;
}

export interface MemberRecord {
  id: string;
  teamId: string;
  name: string;
  createdAt: number;
}

export interface ServerFields {
  hostname: string;
  globalIp: string;
  privateIp: string;
  isBenchTarget: boolean;
}

export interface ServerRecord extends ServerFields {
  id: string;
  teamId: string;
  createdAt: number;
}

export interface BenchmarkerRecord {
  id: string;
  name: string;
  /** An IP address or a CIDR block, canonical form. */
  address: string;
  /** sha256 of the benchmarker's token, when it must present one. */
  tokenHash: string | null;
  /** The hub worker that holds this benchmarker's leases (registered on its first dequeue). */
  workerId: string | null;
  /** Teams bound to it; empty = a shared benchmarker. */
  teamIds: string[];
  createdAt: number;
}

export interface SessionRecord {
  tokenHash: string;
  teamId: string;
  memberId: string | null;
  createdAt: number;
  expiresAt: number;
}

/** One finished (`done`) benchmark: the leaderboard's raw material. */
export interface ScoreRecord {
  /** Insertion order, for incremental reads. */
  seq: number;
  jobId: string;
  teamId: string;
  score: number;
  passed: boolean;
  finishedAt: number;
}

export interface PortalStore {
  contestGet(): Promise<ContestRecord>;
  contestSet(p: {
    startsAt: number | null;
    freezesAt: number | null;
    endsAt: number | null;
    allowedTargetCidrs: string[];
    now: number;
  }): Promise<ContestRecord>;

  teamInsert(p: {
    name: string;
    passwordHash: string | null;
    inviteToken: string | null;
    now: number;
  }): Promise<TeamRecord>;
  /** Changes the given fields (undefined = keep); null when the team does not exist. */
  teamUpdate(p: {
    id: string;
    name?: string;
    passwordHash?: string | null;
    inviteToken?: string | null;
    ownerId?: string | null;
  }): Promise<TeamRecord | null>;
  teamGet(p: { id: string }): Promise<TeamRecord | null>;
  teamFindByName(p: { name: string }): Promise<TeamRecord | null>;
  teamFindByInvite(p: { inviteToken: string }): Promise<TeamRecord | null>;
  /** All teams, by id. */
  teamList(): Promise<TeamRecord[]>;
  /** Deletes the team with its members, servers, bindings, sessions and scores. */
  teamDelete(p: { id: string }): Promise<boolean>;

  /** Adds a member, or returns the existing one of that name. */
  memberUpsert(p: { teamId: string; name: string; now: number }): Promise<MemberRecord>;
  memberList(p: { teamId: string }): Promise<MemberRecord[]>;
  memberDelete(p: { teamId: string; id: string }): Promise<boolean>;

  /**
   * Adds a server; refused (`conflict`) when the team has `maxPerTeam` already, the hostname is
   * taken in the team, or the global IP is registered by any team. A new bench target replaces
   * the team's previous one (a team has at most one).
   */
  serverInsert(p: ServerFields & { teamId: string; maxPerTeam: number; now: number }): Promise<ServerRecord>;
  serverUpdate(p: Partial<ServerFields> & { id: string; teamId: string }): Promise<ServerRecord | null>;
  serverDelete(p: { id: string; teamId: string }): Promise<boolean>;
  /** The team's servers, by id. */
  serverList(p: { teamId: string }): Promise<ServerRecord[]>;
  /**
   * Makes each listed team's servers exactly its `servers` (matched by hostname: updated in place,
   * added, others removed), every team in one commit, so that addresses may move between the
   * listed teams (two may swap). Returns each team's servers, in the order of `teams`. For
   * idempotent contest loading.
   */
  serverSync(p: {
    teams: { teamId: string; servers: ServerFields[] }[];
    maxPerTeam: number;
    now: number;
  }): Promise<ServerRecord[][]>;

  benchmarkerInsert(p: {
    name: string;
    address: string;
    tokenHash: string | null;
    now: number;
  }): Promise<BenchmarkerRecord>;
  benchmarkerUpdate(p: {
    id: string;
    name?: string;
    address?: string;
    tokenHash?: string | null;
  }): Promise<BenchmarkerRecord | null>;
  benchmarkerGet(p: { id: string }): Promise<BenchmarkerRecord | null>;
  benchmarkerFindByName(p: { name: string }): Promise<BenchmarkerRecord | null>;
  /** All benchmarkers with their bound teams, by id. */
  benchmarkerList(): Promise<BenchmarkerRecord[]>;
  benchmarkerDelete(p: { id: string }): Promise<boolean>;
  /**
   * Records the hub worker of a benchmarker if its current one is still `previous` (compare and
   * set: two hubs registering at once agree on one). Returns the worker id now recorded (null
   * when the benchmarker does not exist).
   */
  benchmarkerSetWorker(p: { id: string; workerId: string; previous: string | null }): Promise<string | null>;
  /** Replaces the teams bound to a benchmarker (unknown team ids are refused with not_found). */
  bindingSet(p: { benchmarkerId: string; teamIds: string[] }): Promise<BenchmarkerRecord | null>;

  sessionInsert(p: {
    tokenHash: string;
    teamId: string;
    memberId: string | null;
    expiresAt: number;
    now: number;
  }): Promise<SessionRecord>;
  /** The session, if it exists and has not expired at `now`. */
  sessionGet(p: { tokenHash: string; now: number }): Promise<SessionRecord | null>;
  sessionDelete(p: { tokenHash: string }): Promise<void>;
  /** Ends every session of a team (its password changed); also drops expired sessions. */
  sessionDeleteTeam(p: { teamId: string; now: number }): Promise<void>;

  /** Records a finished benchmark once per job; false when the job had a score already. */
  scoreInsert(p: Omit<ScoreRecord, 'seq'>): Promise<boolean>;
  /**
   * Records the score of a finished job from the job's own committed row (core `jobs` table in
   * the same database): only a `succeeded` job of `runtime` with a numeric team; score and pass
   * from its JSON result. Returns the new record, or null (not such a job, or recorded already).
   * On SQLite, called right after the completion it joins the same group commit.
   */
  scoreRecordJob(p: { jobId: string; runtime: string }): Promise<ScoreRecord | null>;
  /** Scores with `seq` above `afterSeq`, in `seq` order. */
  scoreList(p: { afterSeq: number; limit: number }): Promise<ScoreRecord[]>;

  /** The organisers' tables (clarifications, announcements, health, results) on this database. */
  organisers(): OrganiserStore;
}

/** A store that can hand out the portal's half (both hub stores do). */
export interface HasPortalStore {
  portal(): PortalStore;
}

export function hasPortalStore(s: unknown): s is HasPortalStore {
  return typeof (s as Partial<HasPortalStore> | null)?.portal === 'function';
}
