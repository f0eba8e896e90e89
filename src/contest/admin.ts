/**
 * What staff (and contestants, for their own servers) change: the schedule, teams and members,
 * servers, benchmarkers and bindings. Inputs are checked here; uniqueness and limits are the
 * store's (atomic) business. Every change tells the cached views (leaderboard, benchmarker
 * directory) at once.
 */
import { HubError, notFound } from '../core/errors.js';
import { checkSchedule, parseInstant } from './contest.js';
import { canonicalBlock } from './net.js';
import type { Portal } from './portal.js';
import { hashPassword, newToken, sha256 } from './secrets.js';
import type { BenchmarkerRecord, ContestRecord, ServerRecord, TeamRecord } from './store/store.js';
import {
  displayName,
  idParam,
  password,
  secretToken,
  serverChanges,
  serverFields,
  type AddressCheck,
  type ServerInput,
} from './validate.js';

export interface TeamInput {
  name?: unknown;
  password?: unknown;
  /** true = (re)issue an invite token, false = none. */
  invite?: unknown;
  members?: unknown;
}

export interface BenchmarkerInput {
  name?: unknown;
  ip?: unknown;
  /** A token of the staff's choosing, null = none. */
  token?: unknown;
  /** true = issue a new random token (shown once). */
  generate_token?: unknown;
  team_ids?: unknown;
}

/** `allowed_target_cidrs`: a list of CIDR blocks (null = none), canonical and without repeats. */
function targetBlocks(raw: unknown): string[] {
  if (raw === null) return [];
  if (!Array.isArray(raw) || raw.length > 64)
    throw new HubError('validation_failed', 'allowed_target_cidrs must be a list of at most 64 CIDR blocks');
  return [...new Set(raw.map((b, i) => canonicalBlock(b, `allowed_target_cidrs[${i}]`)))];
}

export class Admin {
  constructor(private readonly portal: Portal) {}

  private get store() {
    return this.portal.store;
  }

  async setContest(p: {
    starts_at?: unknown;
    freezes_at?: unknown;
    ends_at?: unknown;
    allowed_target_cidrs?: unknown;
  }): Promise<ContestRecord> {
    const current = await this.store.contestGet();
    const pick = (v: unknown, field: string, old: number | null) =>
      v === undefined ? old : parseInstant(v, field);
    const next = {
      startsAt: pick(p.starts_at, 'starts_at', current.startsAt),
      freezesAt: pick(p.freezes_at, 'freezes_at', current.freezesAt),
      endsAt: pick(p.ends_at, 'ends_at', current.endsAt),
    };
    checkSchedule(next);
    const allowedTargetCidrs =
      p.allowed_target_cidrs === undefined
        ? current.allowedTargetCidrs
        : targetBlocks(p.allowed_target_cidrs);
    const c = await this.store.contestSet({ ...next, allowedTargetCidrs, now: this.portal.now() });
    this.portal.contestChanged(c);
    return c;
  }

  async team(id: unknown): Promise<TeamRecord> {
    const team = await this.store.teamGet({ id: idParam(id, 'team') });
    if (!team) throw notFound('team', String(id));
    return team;
  }

  async createTeam(p: TeamInput): Promise<TeamRecord> {
    const name = displayName(p.name, 'name');
    const hash =
      p.password === undefined || p.password === null ? null : await hashPassword(password(p.password));
    let team = await this.store.teamInsert({
      name,
      passwordHash: hash,
      inviteToken: p.invite === true ? newToken('inv') : null,
      now: this.portal.now(),
    });
    if (p.members !== undefined) team = await this.setMembers(team, p.members);
    await this.portal.teamsChanged();
    return team;
  }

  async updateTeam(id: unknown, p: TeamInput): Promise<TeamRecord> {
    const team = await this.team(id);
    const changes: Parameters<typeof this.store.teamUpdate>[0] = { id: team.id };
    if (p.name !== undefined) changes.name = displayName(p.name, 'name');
    if (p.password !== undefined)
      changes.passwordHash = p.password === null ? null : await hashPassword(password(p.password));
    if (p.invite === true) changes.inviteToken = newToken('inv');
    else if (p.invite === false || p.invite === null) changes.inviteToken = null;
    let updated = await this.store.teamUpdate(changes);
    if (!updated) throw notFound('team', team.id);
    // A new password ends the team's sessions.
    if (changes.passwordHash !== undefined)
      await this.store.sessionDeleteTeam({ teamId: team.id, now: this.portal.now() });
    if (p.members !== undefined) updated = await this.setMembers(updated, p.members);
    await this.portal.teamsChanged();
    return updated;
  }

  /** Adds the named members (keeping others); the first becomes the owner if there is none. */
  private async setMembers(team: TeamRecord, raw: unknown): Promise<TeamRecord> {
    if (!Array.isArray(raw)) throw new HubError('validation_failed', 'members must be a list of names');
    const names = raw.map((m, i) => displayName(m, `members[${i}]`));
    let owner = team.ownerId;
    for (const name of names) {
      const m = await this.store.memberUpsert({ teamId: team.id, name, now: this.portal.now() });
      owner ??= m.id;
    }
    if (owner === team.ownerId) return team;
    return (await this.store.teamUpdate({ id: team.id, ownerId: owner }))!;
  }

  async addMember(teamId: string, name: unknown) {
    const team = await this.team(teamId);
    const m = await this.store.memberUpsert({
      teamId: team.id,
      name: displayName(name, 'name'),
      now: this.portal.now(),
    });
    if (team.ownerId === null) await this.store.teamUpdate({ id: team.id, ownerId: m.id });
    return m;
  }

  /** Deletes a team; its waiting or running benchmark is canceled first. */
  async deleteTeam(id: unknown): Promise<void> {
    const team = await this.team(id);
    for (const job of await this.portal.activeJobs(team.id))
      await this.portal.hub.jobs.cancel(job.id).catch(() => undefined);
    await this.store.teamDelete({ id: team.id });
    this.portal.dispatch.invalidate();
    await this.portal.teamsChanged();
  }

  /** The address check for `by`: contestants are held to the contest's bench-target rules. */
  private async addressCheck(by: 'staff' | 'contestant'): Promise<AddressCheck> {
    if (by === 'staff') return { by };
    return { by, allowed: (await this.portal.contest()).allowedTargetCidrs };
  }

  async addServer(
    teamId: string,
    input: ServerInput,
    by: 'staff' | 'contestant' = 'staff',
  ): Promise<ServerRecord> {
    const fields = serverFields(input, await this.addressCheck(by));
    return this.store.serverInsert({
      ...fields,
      teamId: idParam(teamId, 'team'),
      maxPerTeam: this.portal.hub.ctx.config.maxServersPerTeam,
      now: this.portal.now(),
    });
  }

  async updateServer(
    teamId: string,
    serverId: unknown,
    input: ServerInput,
    by: 'staff' | 'contestant' = 'staff',
  ): Promise<ServerRecord> {
    const id = idParam(serverId, 'server');
    const changes = serverChanges(input, await this.addressCheck(by));
    const s = await this.store.serverUpdate({ ...changes, id, teamId: idParam(teamId, 'team') });
    if (!s) throw notFound('server', id);
    return s;
  }

  async deleteServer(teamId: string, serverId: unknown): Promise<void> {
    const id = idParam(serverId, 'server');
    if (!(await this.store.serverDelete({ id, teamId: idParam(teamId, 'team') })))
      throw notFound('server', id);
  }

  async benchmarker(id: unknown): Promise<BenchmarkerRecord> {
    const b = await this.store.benchmarkerGet({ id: idParam(id, 'benchmarker') });
    if (!b) throw notFound('benchmarker', String(id));
    return b;
  }

  /** The token to store: a chosen one, a generated one (returned in clear once), or none. */
  private token(p: BenchmarkerInput): { hash: string | null | undefined; clear: string | null } {
    if (p.generate_token === true) {
      const clear = newToken('bench');
      return { hash: sha256(clear), clear };
    }
    if (p.token === null) return { hash: null, clear: null };
    if (p.token === undefined) return { hash: undefined, clear: null };
    return { hash: sha256(secretToken(p.token)), clear: null };
  }

  private teamIds(raw: unknown): string[] {
    if (!Array.isArray(raw)) throw new HubError('validation_failed', 'team_ids must be a list of team ids');
    return [...new Set(raw.map((t) => idParam(t, 'team')))];
  }

  async createBenchmarker(
    p: BenchmarkerInput,
  ): Promise<{ benchmarker: BenchmarkerRecord; token: string | null }> {
    const name = displayName(p.name, 'name');
    const address = canonicalBlock(p.ip, 'ip');
    const teams = p.team_ids === undefined ? [] : this.teamIds(p.team_ids);
    const token = this.token(p);
    let b = await this.store.benchmarkerInsert({
      name,
      address,
      tokenHash: token.hash ?? null,
      now: this.portal.now(),
    });
    if (teams.length) b = (await this.store.bindingSet({ benchmarkerId: b.id, teamIds: teams }))!;
    this.portal.dispatch.invalidate();
    return { benchmarker: b, token: token.clear };
  }

  async updateBenchmarker(
    id: unknown,
    p: BenchmarkerInput,
  ): Promise<{ benchmarker: BenchmarkerRecord; token: string | null }> {
    const current = await this.benchmarker(id);
    const token = this.token(p);
    let b = await this.store.benchmarkerUpdate({
      id: current.id,
      name: p.name === undefined ? undefined : displayName(p.name, 'name'),
      address: p.ip === undefined ? undefined : canonicalBlock(p.ip, 'ip'),
      tokenHash: token.hash,
    });
    if (b && p.team_ids !== undefined)
      b = await this.store.bindingSet({ benchmarkerId: current.id, teamIds: this.teamIds(p.team_ids) });
    if (!b) throw notFound('benchmarker', current.id);
    this.portal.dispatch.invalidate();
    return { benchmarker: b, token: token.clear };
  }

  async deleteBenchmarker(id: unknown): Promise<void> {
    const b = await this.benchmarker(id);
    await this.store.benchmarkerDelete({ id: b.id });
    this.portal.dispatch.invalidate();
  }
}
