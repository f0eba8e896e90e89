/**
 * The contestant API (session login, servers, enqueue, own jobs, dashboard) and the contest
 * rules: one waiting-or-running job per team under concurrent enqueues, a bench target required,
 * no cancel for contestants, teams see only their own jobs and never stderr.
 */
import { describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { dequeue, enqueue, loadContest, login, openContest, report, staff, teams } from './helpers.js';

const BENCH = [{ name: 'a', ip: '127.0.0.2', teams: [] }];

describe('contestant session', () => {
  it('logs in with the team password, refuses wrong ones, slows down guessing, logs out', async () => {
    const { url } = await testHub();
    await loadContest(url, { contest: openContest(), teams: teams(1) });
    expect((await api(url, 'GET', '/api/portal/me')).status).toBe(401);
    expect((await api(url, 'POST', '/api/portal/login', { team: 'team0', password: 'nope' })).status).toBe(
      401,
    );
    expect((await api(url, 'POST', '/api/portal/login', { team: 'nobody', password: 'x' })).status).toBe(401);
    const ok = await api(url, 'POST', '/api/portal/login', { team: 'team0', password: 'pw-0' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('set-cookie')).toMatch(
      /^jobhub_session=sess_[^;]+; Max-Age=\d+; Path=\/api\/portal; HttpOnly; SameSite=Lax$/,
    );
    const headers = { cookie: ok.headers.get('set-cookie')!.split(';')[0]! };
    const me = await api(url, 'GET', '/api/portal/me', undefined, headers);
    expect(me.status).toBe(200);
    expect(me.body.team.name).toBe('team0');
    expect(me.body.servers).toHaveLength(1);
    // A bearer session token works for non-browser clients.
    expect(
      (
        await api(url, 'GET', '/api/portal/me', undefined, {
          authorization: `Bearer ${ok.body.session_token}`,
        })
      ).status,
    ).toBe(200);
    expect((await api(url, 'POST', '/api/portal/logout', {}, headers)).status).toBe(200);
    expect((await api(url, 'GET', '/api/portal/me', undefined, headers)).status).toBe(401);
    for (let i = 0; i < 9; i++)
      await api(url, 'POST', '/api/portal/login', { team: 'team0', password: 'guess' });
    expect((await api(url, 'POST', '/api/portal/login', { team: 'team0', password: 'pw-0' })).status).toBe(
      429,
    );
  });

  it('joins a team with its invite token', async () => {
    const { url } = await testHub();
    await loadContest(url, { teams: [{ name: 'inv', invite: true }] });
    const list = await staff(url, 'GET', '/teams');
    const token = list.body.teams[0].invite_token as string;
    expect(token).toMatch(/^inv_/);
    expect(
      (await api(url, 'POST', '/api/portal/join', { invite_token: 'inv_wrong', name: 'bob' })).status,
    ).toBe(401);
    const joined = await api(url, 'POST', '/api/portal/join', { invite_token: token, name: 'bob' });
    expect(joined.status).toBe(200);
    const me = await api(url, 'GET', '/api/portal/me', undefined, {
      authorization: `Bearer ${joined.body.session_token}`,
    });
    expect(me.body.members.map((m: { name: string }) => m.name)).toEqual(['bob']);
    expect(me.body.team.owner).toBe(me.body.members[0].id);
  });

  it('refuses writes from another site', async () => {
    const { url } = await testHub();
    await loadContest(url, { contest: openContest(), teams: teams(1) });
    const s = await login(url, 'team0', 'pw-0');
    const r = await api(url, 'POST', '/api/portal/jobs', {}, { ...s, origin: 'https://evil.example' });
    expect(r.status).toBe(403);
  });
});

describe('contestant servers', () => {
  it('refuses bench targets at the benchmarker itself or internal services; staff may set them; the contest can allow a block', async () => {
    const { url } = await testHub();
    await loadContest(url, {
      contest: openContest(),
      teams: teams(1),
      benchmarkers: BENCH,
    });
    const a = await login(url, 'team0', 'pw-0');
    const mine = (await api(url, 'GET', '/api/portal/servers', undefined, a)).body.servers[0];
    const before = { global_ip: mine.global_ip, private_ip: mine.private_ip };
    const attacks = [
      { global_ip: '127.0.0.1' },
      { global_ip: '::1' },
      { global_ip: '::ffff:127.0.0.1' },
      { global_ip: '169.254.169.254' },
      { global_ip: 'fe80::1' },
      { global_ip: '2130706433' },
      { global_ip: '0x7f.1' },
      { global_ip: 'localhost' },
      { global_ip: '10.0.0.99' },
      { global_ip: 'fd00::1' },
      { private_ip: '127.0.0.1' },
      { private_ip: '169.254.169.254' },
      { private_ip: '0.0.0.0' },
    ];
    for (const attack of attacks) {
      const put = await api(url, 'PUT', `/api/portal/servers/${mine.id}`, attack, a);
      expect(put.status, JSON.stringify(attack)).toBe(400);
      expect(put.body.error.code).toBe('validation_failed');
      const post = await api(
        url,
        'POST',
        '/api/portal/servers',
        { hostname: 's9', global_ip: '203.0.113.9', private_ip: '10.0.0.9', ...attack },
        a,
      );
      expect(post.status, JSON.stringify(attack)).toBe(400);
    }
    expect(
      (await api(url, 'PUT', `/api/portal/servers/${mine.id}`, { global_ip: '169.254.169.254' }, a)).body
        .error.message,
    ).toMatch(/global_ip must not be a link-local address.*allowed_target_cidrs/);
    // Nothing changed: the benchmarker is still sent to the team's real server.
    const listed = (await api(url, 'GET', '/api/portal/servers', undefined, a)).body.servers;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject(before);
    const job = await api(url, 'POST', '/api/portal/jobs', {}, a);
    expect(job.status).toBe(201);
    const taken = await dequeue(url, '127.0.0.2');
    expect(taken.json.team.servers.map((x: { global_ip: string }) => x.global_ip)).toEqual([
      before.global_ip,
    ]);

    // Staff may set any host address.
    const teamId = (await staff(url, 'GET', '/teams')).body.teams[0].id;
    const byStaff = await staff(url, 'PUT', `/teams/${teamId}/servers/${mine.id}`, {
      private_ip: '127.0.0.5',
    });
    expect(byStaff.status).toBe(200);
    expect(byStaff.body.private_ip).toBe('127.0.0.5');

    // A LAN contest opens 10.0.0.0/8 for global addresses, and nothing else.
    const set = await staff(url, 'PUT', '/contest', { allowed_target_cidrs: ['10.1.2.3/8'] });
    expect(set.status).toBe(200);
    expect(set.body.allowed_target_cidrs).toEqual(['10.0.0.0/8']);
    expect((await staff(url, 'GET', '/contest')).body.allowed_target_cidrs).toEqual(['10.0.0.0/8']);
    expect(
      (await api(url, 'PUT', `/api/portal/servers/${mine.id}`, { global_ip: '10.20.30.40' }, a)).body,
    ).toMatchObject({ global_ip: '10.20.30.40' });
    expect(
      (await api(url, 'PUT', `/api/portal/servers/${mine.id}`, { global_ip: '127.0.0.1' }, a)).status,
    ).toBe(400);
    expect((await staff(url, 'PUT', '/contest', { allowed_target_cidrs: ['nope'] })).status).toBe(400);
    expect((await staff(url, 'PUT', '/contest', { allowed_target_cidrs: '10.0.0.0/8' })).status).toBe(400);
    // The contest file sets it too; null clears it.
    await loadContest(url, { contest: { allowed_target_cidrs: null } });
    expect((await staff(url, 'GET', '/contest')).body.allowed_target_cidrs).toEqual([]);
    expect(
      (await api(url, 'PUT', `/api/portal/servers/${mine.id}`, { global_ip: '10.20.30.41' }, a)).status,
    ).toBe(400);
    await loadContest(url, { contest: { allowed_target_cidrs: ['10.0.0.0/8'] } });
    expect(
      (await api(url, 'PUT', `/api/portal/servers/${mine.id}`, { global_ip: '10.20.30.41' }, a)).status,
    ).toBe(200);
  });

  it('adds, edits and removes its own servers with address checks and a per-team limit', async () => {
    const { url } = await testHub({ maxServersPerTeam: 2 });
    await loadContest(url, {
      contest: openContest(),
      teams: [
        { name: 'a', password: 'pa' },
        { name: 'b', password: 'pb' },
      ],
    });
    const a = await login(url, 'a', 'pa');
    const b = await login(url, 'b', 'pb');
    const add = (s: Record<string, unknown>, who = a) => api(url, 'POST', '/api/portal/servers', s, who);
    for (const bad of [
      { hostname: 's1', global_ip: '300.1.1.1', private_ip: '10.0.0.1' },
      { hostname: 's1', global_ip: '203.0.113.1', private_ip: 'localhost' },
      { hostname: 's1', global_ip: '203.0.113.0/24', private_ip: '10.0.0.1' },
      { hostname: 's1', global_ip: '224.0.0.1', private_ip: '10.0.0.1' },
      { hostname: 'bad host', global_ip: '203.0.113.1', private_ip: '10.0.0.1' },
      { hostname: 's1', global_ip: '203.0.113.1' },
    ]) {
      const r = await add(bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
    }
    const s1 = await add({
      hostname: 's1',
      global_ip: '203.0.113.1',
      private_ip: '10.0.0.1',
      is_bench_target: true,
    });
    expect(s1.status).toBe(201);
    expect(s1.body).toMatchObject({ hostname: 's1', global_ip: '203.0.113.1', is_bench_target: true });
    // IPv6 and mapped forms are kept canonical.
    const s2 = await add({ hostname: 's2', global_ip: '2001:DB8::0:1', private_ip: '::ffff:10.0.0.2' });
    expect(s2.body).toMatchObject({
      global_ip: '2001:db8::1',
      private_ip: '10.0.0.2',
      is_bench_target: false,
    });
    expect((await add({ hostname: 's3', global_ip: '203.0.113.3', private_ip: '10.0.0.3' })).status).toBe(
      409,
    );
    // Another team cannot claim the same global address, nor touch a's servers.
    expect((await add({ hostname: 'x', global_ip: '203.0.113.1', private_ip: '10.0.0.1' }, b)).status).toBe(
      409,
    );
    expect(
      (await api(url, 'PUT', `/api/portal/servers/${s1.body.id}`, { hostname: 'stolen' }, b)).status,
    ).toBe(404);
    expect((await api(url, 'DELETE', `/api/portal/servers/${s1.body.id}`, undefined, b)).status).toBe(404);
    // Moving the bench target.
    const moved = await api(url, 'PUT', `/api/portal/servers/${s2.body.id}`, { is_bench_target: true }, a);
    expect(moved.body.is_bench_target).toBe(true);
    const list = await api(url, 'GET', '/api/portal/servers', undefined, a);
    expect(
      list.body.servers.map((s: { hostname: string; is_bench_target: boolean }) => [
        s.hostname,
        s.is_bench_target,
      ]),
    ).toEqual([
      ['s1', false],
      ['s2', true],
    ]);
    expect((await api(url, 'DELETE', `/api/portal/servers/${s2.body.id}`, undefined, a)).status).toBe(200);
    // No bench target left: no benchmark.
    const refused = await api(url, 'POST', '/api/portal/jobs', {}, a);
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/bench target/);
  });
});

describe('contestant jobs', () => {
  it('allows exactly one waiting or running job per team, however many enqueue at once', async () => {
    const { url } = await testHub();
    await loadContest(url, { contest: openContest(), teams: teams(2), benchmarkers: BENCH });
    const s = await login(url, 'team0', 'pw-0');
    const results = await Promise.all([
      ...Array.from({ length: 20 }, () => api(url, 'POST', '/api/portal/jobs', {}, s)),
      ...Array.from({ length: 5 }, () => staff(url, 'POST', '/jobs', { team: 'team0' })),
    ]);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((x) => x === 201)).toHaveLength(1);
    expect(statuses.filter((x) => x === 409)).toHaveLength(24);
    expect(results.find((r) => r.status === 409)!.body.error.message).toMatch(
      /team0 already has a waiting or running/,
    );
    const jobs = await staff(url, 'GET', '/jobs?team=team0');
    expect(jobs.body.jobs).toHaveLength(1);
    // Still one while it runs; the next may start once it is done.
    const id = jobs.body.jobs[0].id as number;
    await dequeue(url, '127.0.0.2');
    expect((await api(url, 'POST', '/api/portal/jobs', {}, s)).status).toBe(409);
    await report(url, '127.0.0.2', id, { status: 'done', score: 1, is_passed: true });
    expect((await api(url, 'POST', '/api/portal/jobs', {}, s)).status).toBe(201);
  });

  it('shows a team its own jobs with stdout but never stderr, and offers no cancel', async () => {
    const { url } = await testHub();
    await loadContest(url, { contest: openContest(), teams: teams(2), benchmarkers: BENCH });
    const s0 = await login(url, 'team0', 'pw-0');
    const s1 = await login(url, 'team1', 'pw-1');
    const created = await api(url, 'POST', '/api/portal/jobs', {}, s0);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'waiting', team: { name: 'team0' } });
    const id = created.body.id as number;
    expect((await api(url, 'POST', `/api/portal/jobs/${id}/cancel`, {}, s0)).status).toBe(404);
    expect((await api(url, 'DELETE', `/api/portal/jobs/${id}`, undefined, s0)).status).toBe(405);
    await dequeue(url, '127.0.0.2');
    await report(url, '127.0.0.2', id, {
      status: 'done',
      score: 42,
      is_passed: true,
      reason: 'good',
      stdout: 'OUT',
      stderr: 'SECRET',
    });
    const one = await api(url, 'GET', `/api/portal/jobs/${id}`, undefined, s0);
    expect(one.body).toMatchObject({
      id,
      status: 'done',
      score: 42,
      is_passed: true,
      reason: 'good',
      stdout: 'OUT',
    });
    expect(one.body).not.toHaveProperty('stderr');
    expect(JSON.stringify(one.body)).not.toContain('SECRET');
    const list = await api(url, 'GET', '/api/portal/jobs', undefined, s0);
    expect(list.body.jobs.map((j: { id: number }) => j.id)).toEqual([id]);
    expect(JSON.stringify(list.body)).not.toContain('SECRET');
    expect((await api(url, 'GET', `/api/portal/jobs/${id}`, undefined, s1)).status).toBe(404);
    expect((await api(url, 'GET', '/api/portal/jobs', undefined, s1)).body.jobs).toEqual([]);
    // Staff see everything.
    expect((await staff(url, 'GET', `/jobs/${id}`)).body.stderr).toBe('SECRET');
    const dash = await api(url, 'GET', '/api/portal/dashboard', undefined, s0);
    expect(dash.body).toMatchObject({ latest_score: 42, best_score: 42, runs: 1, current_job: null });
    expect(dash.headers.get('etag')).toBeTruthy();
  });
});

/** A server for a contest file: `203.0.113.<last>` (private `10.9.0.<last>`). */
const server = (hostname: string, last: number, target = false) => ({
  hostname,
  global_ip: `203.0.113.${last}`,
  private_ip: `10.9.0.${last}`,
  is_bench_target: target,
});

describe('staff API', () => {
  it('needs an admin token when auth is on', async () => {
    const { url, hub } = await testHub({ auth: true });
    const { token: admin } = await hub.auth.create('admin', null);
    const { token: client } = await hub.auth.create('client', null);
    expect((await staff(url, 'GET', '/teams')).status).toBe(401);
    expect((await staff(url, 'GET', '/teams', undefined, { authorization: `Bearer ${client}` })).status).toBe(
      403,
    );
    expect((await staff(url, 'GET', '/teams', undefined, { authorization: `Bearer ${admin}` })).status).toBe(
      200,
    );
  });

  it('without auth, serves loopback callers only (the real client behind a trusted proxy counts)', async () => {
    const { url } = await testHub({ trustedProxies: ['127.0.0.1'] });
    expect((await staff(url, 'GET', '/teams')).status).toBe(200);
    expect((await staff(url, 'GET', '/teams', undefined, { 'x-forwarded-for': '203.0.113.9' })).status).toBe(
      403,
    );
  });

  it('refuses a contest file whose server address another team holds, and writes none of it', async () => {
    const { url } = await testHub();
    await loadContest(url, { contest: openContest(), teams: teams(2) });
    const before = await Promise.all(
      ['/teams', '/contest', '/benchmarkers'].map((p) => staff(url, 'GET', p)),
    );
    const [taken] = teams(1, 1)[0]!.servers!; // team1's address
    for (const file of [
      // A new team first (it would have been created), then the address of team1 for team0.
      {
        teams: [
          { name: 'newcomer', password: 'pw-new' },
          { name: 'team0', servers: [{ ...taken, hostname: 's9' }] },
        ],
      },
      // Two teams of the file listing one address.
      {
        contest: { ...openContest(), ends_at: new Date(Date.now() + 9e6).toISOString() },
        teams: [
          { name: 'x1', servers: [{ ...taken!, global_ip: '203.0.113.50' }] },
          { name: 'x2', servers: [{ ...taken!, global_ip: '203.0.113.50' }] },
        ],
        benchmarkers: [{ name: 'b', ip: '127.0.0.9', teams: [] }],
      },
    ]) {
      const r = await staff(url, 'POST', '/load', file);
      expect(r.status, JSON.stringify(r.body)).toBe(409);
      expect(r.body.error.message).toMatch(/server address/);
    }
    const after = await Promise.all(['/teams', '/contest', '/benchmarkers'].map((p) => staff(url, 'GET', p)));
    expect(after.map((r) => r.body)).toEqual(before.map((r) => r.body));
  });

  it('swaps server addresses within a team in one load, and refuses one address twice in a team', async () => {
    const { url } = await testHub();
    const ids = await loadContest(url, {
      teams: [{ name: 'swap', password: 'pw-swap', servers: [server('s1', 1, true), server('s2', 2)] }],
    });
    const swapped = [server('s1', 2, true), server('s2', 1)];
    await loadContest(url, { teams: [{ name: 'swap', servers: swapped }] });
    const listed = await staff(url, 'GET', `/teams/${ids.get('swap')}/servers`);
    const byHost = Object.fromEntries(
      (listed.body.servers as { hostname: string; global_ip: string }[]).map((x) => [
        x.hostname,
        x.global_ip,
      ]),
    );
    expect(byHost).toEqual({ s1: '203.0.113.2', s2: '203.0.113.1' });
    const twice = await staff(url, 'POST', '/load', {
      teams: [{ name: 'swap', servers: [server('s1', 7, true), server('s2', 7)] }],
    });
    expect(twice.status).toBe(400);
    expect(twice.body.error.message).toMatch(/unique within a team/);
  });

  it('moves and swaps server addresses between teams in one load when the file lists both teams', async () => {
    const { url } = await testHub();
    const ids = await loadContest(url, {
      teams: [
        { name: 'a', password: 'pw-a', servers: [server('a1', 1, true), server('a2', 2)] },
        { name: 'b', password: 'pw-b', servers: [server('b1', 3, true)] },
        { name: 'c', password: 'pw-c', servers: [server('c1', 4, true)] },
      ],
    });
    const listServers = async (team: string) =>
      (await staff(url, 'GET', `/teams/${ids.get(team)}/servers`)).body.servers as {
        id: number;
        hostname: string;
        global_ip: string;
        is_bench_target: boolean;
      }[];
    const addresses = async (team: string) =>
      Object.fromEntries(
        (await listServers(team)).map((x) => [
          x.hostname,
          `${x.global_ip}${x.is_bench_target ? ' target' : ''}`,
        ]),
      );
    const idOf = async (team: string, hostname: string) =>
      (await listServers(team)).find((x) => x.hostname === hostname)?.id;
    const before = { a1: await idOf('a', 'a1'), b1: await idOf('b', 'b1'), c1: await idOf('c', 'c1') };
    // a's second address moves to b, a and c swap their targets' addresses, and b's old one goes
    // to e, a team this file creates.
    const r = await staff(url, 'POST', '/load', {
      teams: [
        { name: 'a', servers: [server('a1', 4, true)] },
        { name: 'b', servers: [server('b1', 2, true)] },
        { name: 'c', servers: [server('c1', 1, true), server('c2', 5)] },
        { name: 'e', password: 'pw-e', servers: [server('e1', 3, true)] },
      ],
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.servers).toBe(5);
    const e = (await staff(url, 'GET', '/teams')).body.teams.find((t: { name: string }) => t.name === 'e');
    ids.set('e', e.id);
    expect(await addresses('a')).toEqual({ a1: '203.0.113.4 target' });
    expect(await addresses('b')).toEqual({ b1: '203.0.113.2 target' });
    expect(await addresses('c')).toEqual({ c1: '203.0.113.1 target', c2: '203.0.113.5' });
    expect(await addresses('e')).toEqual({ e1: '203.0.113.3 target' });
    // The servers stayed the same servers: only their addresses changed.
    expect({ a1: await idOf('a', 'a1'), b1: await idOf('b', 'b1'), c1: await idOf('c', 'c1') }).toEqual(
      before,
    );
    // One held by a team the file leaves alone, or lists without servers, is refused, as before.
    for (const b of [undefined, { name: 'b', password: 'pw-b2' }]) {
      const held = await staff(url, 'POST', '/load', {
        teams: [{ name: 'a', servers: [server('a1', 2, true)] }, ...(b ? [b] : [])],
      });
      expect(held.status).toBe(409);
      expect(held.body.error.message).toMatch(/belongs to team b/);
    }
    expect(await addresses('a')).toEqual({ a1: '203.0.113.4 target' });
  });

  it('lists jobs with filters, cancels, re-enqueues, and enqueues for all teams', async () => {
    const { url } = await testHub();
    await loadContest(url, {
      teams: [...teams(3), { name: 'no-target', password: 'x' }],
      benchmarkers: BENCH,
    });
    const j0 = await enqueue(url, 'team0');
    await dequeue(url, '127.0.0.2');
    await report(url, '127.0.0.2', j0, { status: 'done', score: 5, is_passed: true });
    const all = await staff(url, 'POST', '/jobs/all');
    expect(all.status).toBe(200);
    expect(
      all.body.results.map((r: { team: { name: string }; error: string | null }) => [
        r.team.name,
        r.error === null,
      ]),
    ).toEqual([
      ['team0', true],
      ['team1', true],
      ['team2', true],
      ['no-target', false],
    ]);
    const waiting = await staff(url, 'GET', '/jobs?status=waiting');
    expect(waiting.body.jobs).toHaveLength(3);
    const done = await staff(url, 'GET', '/jobs?status=done');
    expect(done.body.jobs.map((j: { id: number }) => j.id)).toEqual([j0]);
    expect((await staff(url, 'GET', '/jobs?status=bogus')).status).toBe(400);
    const t1 = (await staff(url, 'GET', '/jobs?team=team1')).body.jobs[0];
    const canceled = await staff(url, 'POST', `/jobs/${t1.id}/cancel`);
    expect(canceled.body).toMatchObject({ status: 'canceled', reason: 'Canceled by staff' });
    const retried = await staff(url, 'POST', `/jobs/${t1.id}/retry`);
    expect(retried.status).toBe(201);
    expect(retried.body).toMatchObject({ status: 'waiting', team: { name: 'team1' } });
    expect((await staff(url, 'POST', '/jobs', { team: 'team1' })).status).toBe(409);
    expect((await staff(url, 'POST', '/jobs', { team: 'ghost' })).status).toBe(404);
  });
});
