/**
 * Loading a contest description (`jobhub portal load FILE`). Idempotent: teams and benchmarkers
 * are matched by name and updated in place, a team's `servers` (when given) become exactly the
 * listed ones (matched by hostname), a benchmarker's `teams` (when given) become exactly its
 * bindings (`[]` = shared). Fields left out keep their current values; nothing is deleted that
 * the file does not mention. Everything is checked before anything is written.
 */
import { HubError } from '../core/errors.js';
import type { Portal } from './portal.js';
import { canonicalBlock } from './net.js';
import { hashPassword, newToken, sha256, verifyPassword } from './secrets.js';
import type { ServerFields, TeamRecord } from './store/store.js';
import { displayName, password, secretToken, serverFields, type ServerInput } from './validate.js';
import { checkServerList } from './store/rows.js';

export interface ContestDescription {
  contest?: {
    starts_at?: unknown;
    freezes_at?: unknown;
    ends_at?: unknown;
    allowed_target_cidrs?: unknown;
  };
  teams?: {
    name: unknown;
    password?: unknown;
    invite?: unknown;
    members?: unknown;
    servers?: ServerInput[];
  }[];
  benchmarkers?: { name: unknown; ip: unknown; token?: unknown; teams?: unknown }[];
}

export interface LoadSummary {
  teams: { created: number; updated: number };
  servers: number;
  benchmarkers: { created: number; updated: number };
}

interface TeamPlan {
  name: string;
  password: string | undefined;
  invite: boolean;
  members: string[] | undefined;
  servers: ServerFields[] | undefined;
}

/** Runs `fn` over `items` with at most `n` at a time (password hashing uses the thread pool). */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function plan(d: ContestDescription, maxServers: number): { teams: TeamPlan[]; bench: BenchPlan[] } {
  const bad = (msg: string) => new HubError('validation_failed', msg);
  if (d.teams !== undefined && !Array.isArray(d.teams)) throw bad('teams must be a list');
  if (d.benchmarkers !== undefined && !Array.isArray(d.benchmarkers))
    throw bad('benchmarkers must be a list');
  const teams = (d.teams ?? []).map((t, i): TeamPlan => {
    const at = `teams[${i}]`;
    if (t === null || typeof t !== 'object') throw bad(`${at} must be an object`);
    const servers = t.servers === undefined ? undefined : Array.isArray(t.servers) ? t.servers : null;
    if (servers === null) throw bad(`${at}.servers must be a list`);
    const fields = servers?.map((s, j) => {
      try {
        return serverFields(s ?? {});
      } catch (err) {
        throw bad(`${at}.servers[${j}]: ${(err as Error).message}`);
      }
    });
    if (fields) checkServerList(fields, maxServers);
    if (t.members !== undefined && !Array.isArray(t.members))
      throw bad(`${at}.members must be a list of names`);
    return {
      name: displayName(t.name, `${at}.name`),
      password:
        t.password === undefined || t.password === null ? undefined : password(t.password, `${at}.password`),
      invite: t.invite === true,
      members: (t.members as unknown[] | undefined)?.map((m, j) => displayName(m, `${at}.members[${j}]`)),
      servers: fields,
    };
  });
  const names = new Set(teams.map((t) => t.name));
  if (names.size !== teams.length) throw bad('team names must be unique');
  const bench = (d.benchmarkers ?? []).map((b, i): BenchPlan => {
    const at = `benchmarkers[${i}]`;
    if (b === null || typeof b !== 'object') throw bad(`${at} must be an object`);
    if (b.teams !== undefined && (!Array.isArray(b.teams) || b.teams.some((t) => typeof t !== 'string'))) {
      throw bad(`${at}.teams must be a list of team names`);
    }
    return {
      name: displayName(b.name, `${at}.name`),
      address: canonicalBlock(b.ip, `${at}.ip`),
      tokenHash:
        b.token === undefined
          ? undefined
          : b.token === null
            ? null
            : sha256(secretToken(b.token, `${at}.token`)),
      teams: b.teams as string[] | undefined,
    };
  });
  if (new Set(bench.map((b) => b.name)).size !== bench.length) throw bad('benchmarker names must be unique');
  return { teams, bench };
}

interface BenchPlan {
  name: string;
  address: string;
  tokenHash: string | null | undefined;
  teams: string[] | undefined;
}

export async function loadContest(portal: Portal, d: ContestDescription): Promise<LoadSummary> {
  if (d === null || typeof d !== 'object' || Array.isArray(d)) {
    throw new HubError('validation_failed', 'a contest description is an object');
  }
  const store = portal.store;
  const { teams, bench } = plan(d, portal.hub.ctx.config.maxServersPerTeam);
  // Benchmarkers may name only teams of this file or already loaded.
  const known = new Map((await store.teamList()).map((t) => [t.name, t]));
  for (const b of bench) {
    const missing = b.teams?.find((name) => !known.has(name) && !teams.some((t) => t.name === name));
    if (missing !== undefined)
      throw new HubError('validation_failed', `benchmarker ${b.name} names unknown team ${missing}`);
  }
  await checkAddresses(portal, teams, known);
  if (d.contest !== undefined) await portal.admin.setContest(d.contest);
  const summary: LoadSummary = {
    teams: { created: 0, updated: 0 },
    servers: 0,
    benchmarkers: { created: 0, updated: 0 },
  };
  const now = portal.now();
  // Passwords first, in parallel (scrypt runs in the thread pool); unchanged ones are kept.
  const hashes = new Map<string, string>();
  await pool(teams, 4, async (t) => {
    if (t.password === undefined) return;
    const current = known.get(t.name)?.passwordHash ?? null;
    if (current === null || !(await verifyPassword(t.password, current)))
      hashes.set(t.name, await hashPassword(t.password));
  });
  // New teams are created in file order (their ids follow it); the rest runs in parallel.
  const created = new Set<string>();
  for (const t of teams) {
    if (known.has(t.name)) continue;
    const passwordHash = hashes.get(t.name) ?? null;
    hashes.delete(t.name);
    const inviteToken = t.invite ? newToken('inv') : null;
    known.set(t.name, await store.teamInsert({ name: t.name, passwordHash, inviteToken, now }));
    created.add(t.name);
  }
  summary.teams.created = created.size;
  summary.teams.updated = teams.length - created.size;
  await pool(teams, 16, async (t) => {
    let team: TeamRecord = known.get(t.name)!;
    const hash = hashes.get(t.name);
    const changes: Parameters<typeof store.teamUpdate>[0] = { id: team.id };
    if (hash !== undefined) changes.passwordHash = hash;
    if (t.invite && team.inviteToken === null) changes.inviteToken = newToken('inv');
    if (Object.keys(changes).length > 1) {
      team = (await store.teamUpdate(changes)) ?? team;
      // A changed password ends the team's sessions.
      if (hash !== undefined) await store.sessionDeleteTeam({ teamId: team.id, now });
    }
    let owner = team.ownerId;
    for (const m of t.members ?? []) {
      const member = await store.memberUpsert({ teamId: team.id, name: m, now });
      owner ??= member.id;
    }
    if (owner !== team.ownerId) team = (await store.teamUpdate({ id: team.id, ownerId: owner })) ?? team;
    known.set(t.name, team);
  });
  // Every listed team's servers in one commit: an address may pass from one team to another.
  const listing = teams.filter((t) => t.servers);
  if (listing.length) {
    const synced = await store.serverSync({
      teams: listing.map((t) => ({ teamId: known.get(t.name)!.id, servers: t.servers! })),
      maxPerTeam: portal.hub.ctx.config.maxServersPerTeam,
      now,
    });
    summary.servers = synced.reduce((n, servers) => n + servers.length, 0);
  }
  for (const b of bench) {
    const existing = await store.benchmarkerFindByName({ name: b.name });
    const record = existing
      ? await store.benchmarkerUpdate({ id: existing.id, address: b.address, tokenHash: b.tokenHash })
      : await store.benchmarkerInsert({
          name: b.name,
          address: b.address,
          tokenHash: b.tokenHash ?? null,
          now,
        });
    summary.benchmarkers[existing ? 'updated' : 'created']++;
    if (b.teams && record) {
      await store.bindingSet({
        benchmarkerId: record.id,
        teamIds: b.teams.map((name) => known.get(name)!.id),
      });
    }
  }
  portal.dispatch.invalidate();
  await portal.teamsChanged();
  return summary;
}

/**
 * A server address is unique across teams. One that a team outside the file's server lists holds
 * would be refused by the store after the teams were written: refuse the file first. Between
 * teams that list their servers, an address may move (the store syncs them in one commit).
 */
async function checkAddresses(portal: Portal, teams: TeamPlan[], known: Map<string, TeamRecord>) {
  const relisted = new Set(teams.filter((t) => t.servers).map((t) => t.name));
  const holders = new Map<string, string>();
  for (const team of known.values())
    if (!relisted.has(team.name))
      for (const s of await portal.store.serverList({ teamId: team.id })) holders.set(s.globalIp, team.name);
  const listed = new Map<string, string>();
  for (const t of teams) {
    for (const s of t.servers ?? []) {
      const twice = listed.get(s.globalIp);
      if (twice !== undefined && twice !== t.name)
        throw new HubError(
          'conflict',
          `server address ${s.globalIp} is listed for teams ${twice} and ${t.name}`,
        );
      listed.set(s.globalIp, t.name);
      const holder = holders.get(s.globalIp);
      if (holder !== undefined)
        throw new HubError(
          'conflict',
          `server address ${s.globalIp} belongs to team ${holder}; list that team's servers without it in the same file, or free it there first`,
        );
    }
  }
}
