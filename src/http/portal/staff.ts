/**
 * The staff API under /api/portal/staff/ (admin token; on a hub without auth, loopback callers):
 * schedule, teams, members, servers, benchmarkers and bindings, every job with filters and full
 * logs, cancel, re-enqueue, enqueue for all teams, the unfrozen leaderboard, and contest loading.
 */
import { HubError } from '../../core/errors.js';
import { parseRfc3339 } from '../../core/run-at.js';
import type { BenchmarkerRecord, ContestRecord } from '../../contest/store/store.js';
import { iso } from '../../contest/contest.js';
import { loadContest, type ContestDescription } from '../../contest/load.js';
import { portalJob, serverJson } from '../../contest/views.js';
import type { Handler, RequestContext, Router } from '../router.js';
import { jsonBody, paging, requireStaff, sendCached, sendJson } from './common.js';
import { teamJson } from './contestant.js';

const P = '/api/portal/staff';

function benchmarkerJson(b: BenchmarkerRecord, token: string | null = null) {
  return {
    id: Number(b.id),
    name: b.name,
    ip: b.address,
    has_token: b.tokenHash !== null,
    ...(token !== null ? { token } : {}),
    team_ids: b.teamIds.map(Number),
    shared: b.teamIds.length === 0,
    worker_id: b.workerId,
  };
}

const contestOut = (c: ContestRecord) => ({
  starts_at: iso(c.startsAt),
  freezes_at: iso(c.freezesAt),
  ends_at: iso(c.endsAt),
  allowed_target_cidrs: c.allowedTargetCidrs,
});

/** A team named by id or by name (the CLI speaks names). */
async function teamRef(c: RequestContext, raw: unknown): Promise<string> {
  const portal = c.hub.portal;
  if (typeof raw === 'number' || (typeof raw === 'string' && /^\d{1,15}$/.test(raw)))
    return (await portal.admin.team(raw)).id;
  if (typeof raw === 'string') {
    const t = await portal.store.teamFindByName({ name: raw });
    if (t) return t.id;
  }
  throw new HubError('not_found', `team ${String(raw)} not found`);
}

async function jobOut(c: RequestContext, job: Parameters<typeof portalJob>[0], full: boolean) {
  const portal = c.hub.portal;
  const benchmarker = await portal.dispatch.nameOfWorker(job.leaseWorkerId);
  return portalJob(job, { staff: true, full, teamName: portal.teamName(job.team), benchmarker });
}

export function staffRoutes(r: Router): void {
  const on = (method: string, path: string, handler: Handler) =>
    r.on(method, P + path, async (c) => {
      await requireStaff(c);
      await handler(c);
    });

  on('GET', '/contest', async (c) => sendJson(c.res, 200, contestOut(await c.hub.portal.store.contestGet())));
  on('PUT', '/contest', async (c) =>
    sendJson(c.res, 200, contestOut(await c.hub.portal.admin.setContest(await jsonBody(c)))),
  );

  on('POST', '/load', async (c) => {
    const summary = await loadContest(c.hub.portal, (await jsonBody(c)) as ContestDescription);
    sendJson(c.res, 200, summary);
  });

  on('GET', '/teams', async (c) => {
    const teams = await c.hub.portal.store.teamList();
    sendJson(c.res, 200, { teams: teams.map((t) => teamJson(t, { staff: true })) });
  });
  on('POST', '/teams', async (c) =>
    sendJson(c.res, 201, teamJson(await c.hub.portal.admin.createTeam(await jsonBody(c)), { staff: true })),
  );
  on('GET', '/teams/:id', async (c) => {
    const portal = c.hub.portal;
    const team = await portal.admin.team(c.params.id);
    const [members, servers, benchmarkers] = await Promise.all([
      portal.store.memberList({ teamId: team.id }),
      portal.store.serverList({ teamId: team.id }),
      portal.store.benchmarkerList(),
    ]);
    sendJson(c.res, 200, {
      ...teamJson(team, { staff: true }),
      members: members.map((m) => ({ id: Number(m.id), name: m.name })),
      servers: servers.map(serverJson),
      benchmarkers: benchmarkers.filter((b) => b.teamIds.includes(team.id)).map((b) => b.name),
    });
  });
  on('PUT', '/teams/:id', async (c) =>
    sendJson(
      c.res,
      200,
      teamJson(await c.hub.portal.admin.updateTeam(c.params.id, await jsonBody(c)), { staff: true }),
    ),
  );
  on('DELETE', '/teams/:id', async (c) => {
    await c.hub.portal.admin.deleteTeam(c.params.id);
    sendJson(c.res, 200, {});
  });
  on('POST', '/teams/:id/members', async (c) => {
    const m = await c.hub.portal.admin.addMember(c.params.id!, (await jsonBody(c)).name);
    sendJson(c.res, 201, { id: Number(m.id), name: m.name });
  });

  on('GET', '/teams/:id/servers', async (c) => {
    const team = await c.hub.portal.admin.team(c.params.id);
    sendJson(c.res, 200, {
      servers: (await c.hub.portal.store.serverList({ teamId: team.id })).map(serverJson),
    });
  });
  on('POST', '/teams/:id/servers', async (c) => {
    const team = await c.hub.portal.admin.team(c.params.id);
    sendJson(c.res, 201, serverJson(await c.hub.portal.admin.addServer(team.id, await jsonBody(c))));
  });
  on('PUT', '/teams/:id/servers/:sid', async (c) =>
    sendJson(
      c.res,
      200,
      serverJson(await c.hub.portal.admin.updateServer(c.params.id!, c.params.sid, await jsonBody(c))),
    ),
  );
  on('DELETE', '/teams/:id/servers/:sid', async (c) => {
    await c.hub.portal.admin.deleteServer(c.params.id!, c.params.sid);
    sendJson(c.res, 200, {});
  });

  on('GET', '/benchmarkers', async (c) =>
    sendJson(c.res, 200, {
      benchmarkers: (await c.hub.portal.store.benchmarkerList()).map((b) => benchmarkerJson(b)),
    }),
  );
  on('POST', '/benchmarkers', async (c) => {
    const { benchmarker, token } = await c.hub.portal.admin.createBenchmarker(await jsonBody(c));
    sendJson(c.res, 201, benchmarkerJson(benchmarker, token));
  });
  on('PUT', '/benchmarkers/:id', async (c) => {
    const { benchmarker, token } = await c.hub.portal.admin.updateBenchmarker(c.params.id, await jsonBody(c));
    sendJson(c.res, 200, benchmarkerJson(benchmarker, token));
  });
  on('PUT', '/benchmarkers/:id/teams', async (c) => {
    const body = await jsonBody(c);
    const { benchmarker } = await c.hub.portal.admin.updateBenchmarker(c.params.id, {
      team_ids: body.team_ids,
    });
    sendJson(c.res, 200, benchmarkerJson(benchmarker));
  });
  on('DELETE', '/benchmarkers/:id', async (c) => {
    await c.hub.portal.admin.deleteBenchmarker(c.params.id);
    sendJson(c.res, 200, {});
  });

  on('GET', '/jobs', async (c) => {
    const page = paging(c, 100, 1000);
    const team = c.query.get('team');
    const jobs = await c.hub.portal.jobs({
      teamId: team === null ? undefined : await teamRef(c, team),
      status: c.query.get('status') ?? undefined,
      ...page,
    });
    sendJson(c.res, 200, {
      jobs: await Promise.all(jobs.map((j) => jobOut(c, j, false))),
      next_before: jobs.length === page.limit ? Number(jobs[jobs.length - 1]!.id) : null,
    });
  });
  on('POST', '/jobs', async (c) => {
    const teamId = await teamRef(c, (await jsonBody(c)).team);
    sendJson(c.res, 201, await jobOut(c, await c.hub.portal.enqueue(teamId, { staff: true }), false));
  });
  on('POST', '/jobs/all', async (c) => {
    // Optional {run_at}: an RFC 3339 time for the runs (the contest's final verification).
    const runAt = (await jsonBody(c)).run_at;
    if (runAt !== undefined && typeof runAt !== 'string')
      throw new HubError('validation_failed', 'run_at must be an RFC 3339 time');
    const results = await c.hub.portal.enqueueAll({
      runAt: runAt === undefined ? undefined : parseRfc3339(runAt, 'run_at'),
    });
    sendJson(c.res, 200, { results });
  });
  on('GET', '/jobs/:id', async (c) =>
    sendJson(c.res, 200, await jobOut(c, await c.hub.portal.job(c.params.id!), true)),
  );
  on('POST', '/jobs/:id/cancel', async (c) => {
    c.req.resume();
    sendJson(c.res, 200, await jobOut(c, await c.hub.portal.cancel(c.params.id!), false));
  });
  on('POST', '/jobs/:id/retry', async (c) => {
    c.req.resume();
    sendJson(c.res, 201, await jobOut(c, await c.hub.portal.retry(c.params.id!), false));
  });

  on('GET', '/leaderboard', async (c) =>
    sendCached(c, await c.hub.portal.leaderboard({ kind: 'staff' }), 'private'),
  );
}
