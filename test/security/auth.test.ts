/**
 * Auth on: every route of every face, enumerated from the routers the hub mounts, refuses a
 * missing or wrong token (header, `/t/<token>/` prefix, malformed forms) before it reads the body,
 * refuses a token of the wrong role with 403, and a refused request changes nothing. The
 * operations endpoints stay open; contestants' routes need a session; the internal API its
 * benchmarker's address and token (test/security/network.test.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  allRoutes,
  changedTables,
  fillPath,
  raw,
  sqliteDigester,
  stableDigest,
  type RouteInfo,
} from '../../chaos/surface.js';
import { api, testHub } from '../helpers/hub.js';

/** Who may call each mutating route of the token-protected faces (admin always may). */
const ALLOWED: Record<string, ('client' | 'worker')[]> = {
  'POST /api/v1/jobs': ['client'],
  'POST /api/v1/jobs/batch': ['client'],
  'POST /api/v1/jobs/:id/cancel': ['client'],
  'POST /api/v1/workers': ['worker'],
  'POST /api/v1/workers/:id/lease': ['worker'],
  'POST /api/v1/jobs/:id/heartbeat': ['worker'],
  'POST /api/v1/jobs/:id/complete': ['worker'],
  'POST /api/v1/complete': ['worker'],
  'POST /api/v1/jobs/:id/fail': ['worker'],
  'POST /api/v1/blobs': ['client', 'worker'],
  'POST /api/v1/functions': ['client'],
  'POST /api/v1/admin/tokens': [],
  'POST /data': ['client', 'worker'],
  'POST /lambda': ['client'],
  'POST /job': ['client'],
  'POST /job/:id': ['worker'],
  'POST /worker': ['worker'],
  'POST /worker/:id/contract': ['worker'],
  'POST /kv': ['client', 'worker'],
  'POST /kv/:ns/field/:key': ['client', 'worker'],
};

/** Contestant routes that need no session (the audience's, and logging in itself). */
const PUBLIC_PORTAL = new Set([
  'POST /api/portal/login',
  'POST /api/portal/join',
  'POST /api/portal/logout',
  'GET /api/portal/contest',
  'GET /api/portal/leaderboard',
  'GET /api/portal/leaderboard/history',
  'GET /api/portal/announcements',
  'GET /api/portal/events',
  'GET /api/portal/results',
]);

const key = (r: RouteInfo) => `${r.method} ${r.pattern}`;
const isStaff = (r: RouteInfo) => r.pattern.startsWith('/api/portal/staff');
const tokenFaces = (r: RouteInfo) => r.face === 'v1' || r.face === 'v0.5' || isStaff(r);

/** A body the route would accept if the caller were allowed (so a refusal is about the caller). */
const BODIES: Record<string, unknown> = {
  'POST /api/v1/jobs': { runtime: 'default' },
  'POST /api/v1/jobs/batch': { jobs: [{ runtime: 'default' }] },
  'POST /api/v1/workers': { runtimes: ['default'] },
  'POST /api/v1/functions': { runtime: 'default' },
  'POST /api/v1/admin/tokens': { role: 'admin' },
  'POST /lambda': { runtime: 'default' },
  'POST /worker': { runtime: ['default'] },
  'POST /kv': {},
  'POST /kv/:ns/field/:key': { value: 'v' },
  'POST /job/:id': { status: 'cancelled' },
  'POST /api/portal/staff/teams': { name: 'intruder', password: 'intruder-pw' },
  'PUT /api/portal/staff/contest': { starts_at: null, freezes_at: null, ends_at: null },
  'POST /api/portal/staff/load': { teams: [{ name: 'intruder2', password: 'intruder-pw' }] },
  'POST /api/portal/staff/benchmarkers': { name: 'evil', ip: '127.0.0.66', teams: [] },
  'POST /api/portal/jobs': {},
  'POST /api/portal/servers': { hostname: 'x', global_ip: '203.0.113.50', private_ip: '10.9.9.9' },
};

async function setup() {
  const running = await testHub({ auth: true });
  const { url } = running;
  const token = async (role: 'admin' | 'client' | 'worker') =>
    (await running.hub.auth.create(role, role)).token;
  const t = { admin: await token('admin'), client: await token('client'), worker: await token('worker') };
  const as = (tok: string) => ({ authorization: `Bearer ${tok}` });
  // Something to aim at: jobs, a worker, a blob, a kv namespace, a team with a job.
  const job = await api(
    url,
    'POST',
    '/api/v1/jobs',
    { runtime: 'default', input: { text: 'x' } },
    as(t.client),
  );
  expect(job.status).toBe(201);
  expect((await api(url, 'POST', '/api/v1/workers', { runtimes: ['default'] }, as(t.worker))).status).toBe(
    201,
  );
  expect((await api(url, 'POST', '/kv', {}, as(t.client))).status).toBe(200);
  await api(
    url,
    'POST',
    '/api/portal/staff/load',
    { teams: [{ name: 'team0', password: 'team0-pw' }] },
    as(t.admin),
  );
  const digester = sqliteDigester(running.hub.ctx.config.dataDir);
  return { url, t, digester };
}

function send(url: string, r: RouteInfo, prefix: string, headers: Record<string, string>, pathPrefix = '') {
  const body = BODIES[key(r)];
  return raw(url, {
    method: r.method,
    path:
      pathPrefix +
      fillPath(r, { id: '1', ns: '1', key: 'k', sid: '1' }, prefix) +
      (r.face === 'internal' ? '/' : ''),
    headers: { 'content-type': 'application/json', ...headers },
    body: r.method === 'GET' || r.method === 'HEAD' ? undefined : JSON.stringify(body ?? {}),
  });
}

describe('every route with auth on', () => {
  it('refuses a missing or wrong token with 401 before reading the body, and changes nothing', async () => {
    const { url, digester } = await setup();
    const routes = allRoutes().filter(tokenFaces);
    expect(routes.length).toBeGreaterThan(50);
    const wrong: [Record<string, string>, string][] = [
      [{}, ''],
      [{ authorization: 'Bearer jh_wrongwrongwrongwrongwrongwrongwr' }, ''],
      [{ authorization: 'Bearer ' }, ''],
      [{ authorization: 'Basic YWRtaW46YWRtaW4=' }, ''],
      [{ authorization: 'bearer jh_x' }, ''],
      [{}, '/t/jh_wrong'],
      [{}, '/t/%20'],
      [{}, '/t/..'],
    ];
    const before = await stableDigest(digester);
    for (const r of routes) {
      for (const prefix of r.prefixes) {
        for (const [headers, pathPrefix] of wrong) {
          const reply = await send(url, r, prefix, headers, pathPrefix);
          const label = `${r.method} ${pathPrefix}${prefix}${r.pattern} ${JSON.stringify(headers)}`;
          // `/t/..` is normalised away (`/t/../x` is `/x`): then it is simply a request without a token.
          expect(reply.status, `${label}: ${reply.text}`).toBe(401);
        }
      }
    }
    expect(changedTables(before, await digester.digest())).toEqual([]);
    await digester.close();
  });

  it('refuses a token of the wrong role with 403 on every mutating route, and changes nothing', async () => {
    const { url, t, digester } = await setup();
    const before = await stableDigest(digester);
    let checked = 0;
    for (const r of allRoutes().filter(tokenFaces)) {
      if (r.method === 'GET' || r.method === 'HEAD') continue;
      const allowed = isStaff(r) ? [] : ALLOWED[key(r)];
      expect(allowed, `${key(r)} is in the role table (a new mutating route?)`).toBeDefined();
      for (const role of ['client', 'worker'] as const) {
        if (allowed!.includes(role)) continue;
        for (const prefix of r.prefixes) {
          const reply = await send(url, r, prefix, { authorization: `Bearer ${t[role]}` });
          expect(reply.status, `${role} on ${r.method} ${prefix}${r.pattern}: ${reply.text}`).toBe(403);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(30);
    expect(changedTables(before, await digester.digest())).toEqual([]);
    await digester.close();
  });

  it('answers an undecodable token prefix with 400 and serves on (it used to end the process)', async () => {
    const { url } = await setup();
    for (const path of [
      '/t/%ZZ/api/v1/jobs',
      '/t/%E0%A4%A/healthz',
      '/t/%/api/v0.5/ping',
      '/t/%ZZ/internal/job/dequeue/',
    ]) {
      const r = await raw(url, { method: 'GET', path });
      expect(r.status, path).toBe(400);
      expect((r.json as { error: { code: string } }).error.code).toBe('bad_request');
    }
    expect((await raw(url, { method: 'GET', path: '/healthz' })).status).toBe(200);
  });

  it('leaves only the operations endpoints open', async () => {
    const { url } = await setup();
    for (const r of allRoutes().filter((x) => x.face === 'ops')) {
      expect((await send(url, r, '', {})).status, r.pattern).toBe(200);
    }
    // /metrics answers without a token, but tells nothing about tokens or callers.
    const metrics = await raw(url, { method: 'GET', path: '/metrics' });
    expect(metrics.text).not.toMatch(/jh_[A-Za-z0-9_-]{10}/);
  });

  it("contestants' routes refuse a missing, forged or expired session", async () => {
    const { url } = await setup();
    const login = await api(url, 'POST', '/api/portal/login', { team: 'team0', password: 'team0-pw' });
    expect(login.status).toBe(200);
    const session = login.headers.get('set-cookie')!.split(';')[0]!;
    expect((await api(url, 'POST', '/api/portal/logout', {}, { cookie: session })).status).toBe(200);
    const routes = allRoutes().filter(
      (r) => r.face === 'portal' && !isStaff(r) && !PUBLIC_PORTAL.has(key(r)),
    );
    expect(routes.length).toBeGreaterThan(5);
    for (const r of routes) {
      const variants: Record<string, string>[] = [
        {},
        { cookie: 'jobhub_session=sess_forged0000000000000000000000' },
        { cookie: session }, // logged out
        { authorization: 'Bearer sess_forged' },
        { cookie: 'jobhub_session=%ZZ' },
      ];
      for (const headers of variants) {
        const reply = await send(url, r, '', headers);
        expect(reply.status, `${r.method} ${r.pattern} ${JSON.stringify(headers)}: ${reply.text}`).toBe(401);
      }
    }
  });

  it('a hub token is not a portal session, and a session is not a hub token', async () => {
    const { url, t } = await setup();
    const login = await api(url, 'POST', '/api/portal/login', { team: 'team0', password: 'team0-pw' });
    const sess = login.body.session_token as string;
    expect(
      (await api(url, 'GET', '/api/portal/me', undefined, { authorization: `Bearer ${t.admin}` })).status,
    ).toBe(401);
    expect(
      (await api(url, 'GET', '/api/v1/jobs', undefined, { authorization: `Bearer ${sess}` })).status,
    ).toBe(401);
    expect(
      (await api(url, 'GET', '/api/portal/staff/teams', undefined, { authorization: `Bearer ${sess}` }))
        .status,
    ).toBe(401);
  });
});
