/**
 * The contestant and audience API under /api/portal/: log in (session cookie), the team's own
 * servers, benchmark jobs (enqueue; never cancel; never stderr), dashboard; the leaderboard for
 * everyone (frozen for others during the freeze, own team live).
 */
import { contestJson } from '../../contest/contest.js';
import type { Session } from '../../contest/sessions.js';
import type { TeamRecord } from '../../contest/store/store.js';
import { portalJob, serverJson } from '../../contest/views.js';
import type { Router } from '../router.js';
import {
  callerAddress,
  jsonBody,
  optionalSession,
  paging,
  sendCached,
  sendJson,
  sendTagged,
  session,
  sessionToken,
  setSessionCookie,
} from './common.js';

export function teamJson(t: TeamRecord, o: { staff: boolean }) {
  return {
    id: Number(t.id),
    name: t.name,
    owner: t.ownerId === null ? null : Number(t.ownerId),
    invite_token: t.inviteToken,
    ...(o.staff
      ? { has_password: t.passwordHash !== null, created_at: new Date(t.createdAt).toISOString() }
      : {}),
  };
}

function loggedIn(s: Session) {
  return {
    team: { id: Number(s.teamId) },
    session_token: s.token,
    expires_at: new Date(s.expiresAt).toISOString(),
  };
}

export function contestantRoutes(r: Router): void {
  r.on('POST', '/api/portal/login', async (c) => {
    const s = await c.hub.portal.sessions.login(await jsonBody(c), callerAddress(c));
    setSessionCookie(c.res, s.token);
    sendJson(c.res, 200, loggedIn(s));
  });

  r.on('POST', '/api/portal/join', async (c) => {
    const s = await c.hub.portal.sessions.join(await jsonBody(c), callerAddress(c));
    setSessionCookie(c.res, s.token);
    sendJson(c.res, 200, loggedIn(s));
  });

  r.on('POST', '/api/portal/logout', async (c) => {
    await c.hub.portal.sessions.logout(sessionToken(c));
    setSessionCookie(c.res, null);
    sendJson(c.res, 200, {});
  });

  r.on('GET', '/api/portal/contest', async (c) => {
    const portal = c.hub.portal;
    sendJson(c.res, 200, contestJson(await portal.contest(), portal.now()));
  });

  r.on('GET', '/api/portal/me', async (c) => {
    const s = await session(c);
    const store = c.hub.portal.store;
    const [team, members, servers] = await Promise.all([
      c.hub.portal.admin.team(s.teamId),
      store.memberList({ teamId: s.teamId }),
      store.serverList({ teamId: s.teamId }),
    ]);
    sendJson(c.res, 200, {
      team: teamJson(team, { staff: false }),
      member: s.memberId === null ? null : Number(s.memberId),
      members: members.map((m) => ({ id: Number(m.id), name: m.name })),
      servers: servers.map(serverJson),
      max_servers: c.hub.ctx.config.maxServersPerTeam,
    });
  });

  r.on('GET', '/api/portal/servers', async (c) => {
    const s = await session(c);
    sendJson(c.res, 200, {
      servers: (await c.hub.portal.store.serverList({ teamId: s.teamId })).map(serverJson),
    });
  });
  r.on('POST', '/api/portal/servers', async (c) => {
    const s = await session(c);
    sendJson(
      c.res,
      201,
      serverJson(await c.hub.portal.admin.addServer(s.teamId, await jsonBody(c), 'contestant')),
    );
  });
  r.on('PUT', '/api/portal/servers/:id', async (c) => {
    const s = await session(c);
    sendJson(
      c.res,
      200,
      serverJson(
        await c.hub.portal.admin.updateServer(s.teamId, c.params.id, await jsonBody(c), 'contestant'),
      ),
    );
  });
  r.on('DELETE', '/api/portal/servers/:id', async (c) => {
    const s = await session(c);
    await c.hub.portal.admin.deleteServer(s.teamId, c.params.id);
    sendJson(c.res, 200, {});
  });

  r.on('POST', '/api/portal/jobs', async (c) => {
    const s = await session(c);
    c.req.resume();
    const job = await c.hub.portal.enqueue(s.teamId, { staff: false });
    sendJson(
      c.res,
      201,
      portalJob(job, { staff: false, full: false, teamName: c.hub.portal.teamName(s.teamId) }),
    );
  });
  r.on('GET', '/api/portal/jobs', async (c) => {
    const s = await session(c);
    const page = paging(c);
    const jobs = await c.hub.portal.jobs({ teamId: s.teamId, ...page });
    const name = c.hub.portal.teamName(s.teamId);
    sendTagged(c, {
      jobs: jobs.map((j) => portalJob(j, { staff: false, full: false, teamName: name })),
      next_before: jobs.length === page.limit ? Number(jobs[jobs.length - 1]!.id) : null,
    });
  });
  r.on('GET', '/api/portal/jobs/:id', async (c) => {
    const s = await session(c);
    const job = await c.hub.portal.job(c.params.id!, s.teamId);
    const stdout = await c.hub.portal.organisers.contestantSeesStdout();
    sendTagged(
      c,
      portalJob(job, { staff: false, full: true, stdout, teamName: c.hub.portal.teamName(s.teamId) }),
    );
  });

  r.on('GET', '/api/portal/dashboard', async (c) => {
    const s = await session(c);
    sendTagged(c, await c.hub.portal.dashboard(s.teamId));
  });

  r.on('GET', '/api/portal/leaderboard', async (c) => {
    const s = await optionalSession(c);
    const board = await c.hub.portal.leaderboard(
      s ? { kind: 'team', teamId: s.teamId } : { kind: 'audience' },
    );
    sendCached(c, board, s ? 'private' : 'public');
  });
}
