/**
 * Row shapes of the portal tables and their mapping to records, shared by both dialects (SQLite
 * hands booleans over as 0/1, PostgreSQL as booleans; ids and times arrive as numbers in both).
 */
import { HubError } from '../../core/errors.js';
import type {
  BenchmarkerRecord,
  ContestRecord,
  MemberRecord,
  ScoreRecord,
  ServerRecord,
  SessionRecord,
  TeamRecord,
} from './store.js';

const str = (v: number | null): string | null => (v === null ? null : String(v));

export interface ContestRow {
  starts_at: number | null;
  freezes_at: number | null;
  ends_at: number | null;
  allowed_target_cidrs: string | null;
  updated_at: number | null;
}
export const contestFromRow = (r: ContestRow | undefined): ContestRecord => ({
  startsAt: r?.starts_at ?? null,
  freezesAt: r?.freezes_at ?? null,
  endsAt: r?.ends_at ?? null,
  allowedTargetCidrs: r?.allowed_target_cidrs ? (JSON.parse(r.allowed_target_cidrs) as string[]) : [],
  updatedAt: r?.updated_at ?? null,
});

export interface TeamRow {
  id: number;
  name: string;
  owner_id: number | null;
  password_hash: string | null;
  invite_token: string | null;
  created_at: number;
}
export const teamFromRow = (r: TeamRow): TeamRecord => ({
  id: String(r.id),
  name: r.name,
  ownerId: str(r.owner_id),
  passwordHash: r.password_hash,
  inviteToken: r.invite_token,
  createdAt: r.created_at,
});

export interface MemberRow {
  id: number;
  team_id: number;
  name: string;
  created_at: number;
}
export const memberFromRow = (r: MemberRow): MemberRecord => ({
  id: String(r.id),
  teamId: String(r.team_id),
  name: r.name,
  createdAt: r.created_at,
});

export interface ServerRow {
  id: number;
  team_id: number;
  hostname: string;
  global_ip: string;
  private_ip: string;
  is_bench_target: number | boolean;
  created_at: number;
}
export const serverFromRow = (r: ServerRow): ServerRecord => ({
  id: String(r.id),
  teamId: String(r.team_id),
  hostname: r.hostname,
  globalIp: r.global_ip,
  privateIp: r.private_ip,
  isBenchTarget: Boolean(r.is_bench_target),
  createdAt: r.created_at,
});

export interface BenchmarkerRow {
  id: number;
  name: string;
  address: string;
  token_hash: string | null;
  worker_id: number | null;
  created_at: number;
}
export const benchmarkerFromRow = (r: BenchmarkerRow, teamIds: string[]): BenchmarkerRecord => ({
  id: String(r.id),
  name: r.name,
  address: r.address,
  tokenHash: r.token_hash,
  workerId: str(r.worker_id),
  teamIds,
  createdAt: r.created_at,
});

/** Groups binding rows by benchmarker (team ids ascending). */
export function bindingMap(rows: { benchmarker_id: number; team_id: number }[]): Map<number, string[]> {
  const m = new Map<number, number[]>();
  for (const r of rows) {
    const list = m.get(r.benchmarker_id) ?? [];
    list.push(r.team_id);
    m.set(r.benchmarker_id, list);
  }
  return new Map([...m].map(([k, v]) => [k, v.sort((a, b) => a - b).map(String)]));
}

export interface SessionRow {
  token_hash: string;
  team_id: number;
  member_id: number | null;
  created_at: number;
  expires_at: number;
}
export const sessionFromRow = (r: SessionRow): SessionRecord => ({
  tokenHash: r.token_hash,
  teamId: String(r.team_id),
  memberId: str(r.member_id),
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

export interface ScoreRow {
  seq: number;
  job_id: number;
  team_id: number;
  score: number;
  passed: number | boolean;
  finished_at: number;
}
export const scoreFromRow = (r: ScoreRow): ScoreRecord => ({
  seq: r.seq,
  jobId: String(r.job_id),
  teamId: String(r.team_id),
  score: r.score,
  passed: Boolean(r.passed),
  finishedAt: r.finished_at,
});

/** The tables whose rows belong to a team (deleted with it). */
export const TEAM_TABLES = [
  'portal_members',
  'portal_servers',
  'portal_bindings',
  'portal_sessions',
  'portal_scores',
];

/** The column names of the settable fields of each record. */
export const COLUMNS = {
  team: { name: 'name', passwordHash: 'password_hash', inviteToken: 'invite_token', ownerId: 'owner_id' },
  server: {
    hostname: 'hostname',
    globalIp: 'global_ip',
    privateIp: 'private_ip',
    isBenchTarget: 'is_bench_target',
  },
  benchmarker: { name: 'name', address: 'address', tokenHash: 'token_hash' },
} as const;

/** Ids come from URLs and bodies: anything but a plain integer names nothing. */
export const idNum = (id: string): number => (/^\d{1,15}$/.test(id) ? Number(id) : -1);

/** A unique-constraint violation in words, by the constraint or column it names. */
export function uniqueConflict(detail: string): HubError {
  if (/portal_teams.*name|portal_teams_name/.test(detail))
    return new HubError('conflict', 'a team of that name exists');
  if (/invite/.test(detail)) return new HubError('conflict', 'that invite token is in use');
  if (/global_ip/.test(detail))
    return new HubError('conflict', 'a server with that global IP is registered already');
  if (/hostname/.test(detail))
    return new HubError('conflict', 'the team has a server of that hostname already');
  if (/portal_benchmarkers/.test(detail))
    return new HubError('conflict', 'a benchmarker of that name exists');
  return new HubError('conflict', 'that would duplicate an existing entry');
}

export function serverLimit(max: number): HubError {
  return new HubError('conflict', `a team has at most ${max} servers`);
}

export function checkServerList(
  servers: { hostname: string; globalIp?: string; isBenchTarget: boolean }[],
  max: number,
): void {
  if (servers.length > max) throw serverLimit(max);
  const names = new Set(servers.map((s) => s.hostname));
  if (names.size !== servers.length)
    throw new HubError('validation_failed', 'hostnames must be unique within a team');
  const addresses = servers.map((s) => s.globalIp).filter((a) => a !== undefined);
  if (new Set(addresses).size !== addresses.length)
    throw new HubError('validation_failed', 'global IPs must be unique within a team');
  if (servers.filter((s) => s.isBenchTarget).length > 1) {
    throw new HubError('validation_failed', 'at most one server of a team is the bench target');
  }
}

/** A sync of several teams' servers: each team once (two copies would undo each other), each list valid. */
export function checkServerSync(
  teams: { teamId: string; servers: { hostname: string; globalIp?: string; isBenchTarget: boolean }[] }[],
  max: number,
): void {
  if (new Set(teams.map((t) => Number(t.teamId))).size !== teams.length)
    throw new HubError('validation_failed', 'a team is listed twice in one server sync');
  for (const t of teams) checkServerList(t.servers, max);
}
