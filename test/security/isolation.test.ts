/**
 * Tenants stay apart. A client token sees only the jobs it created, through every read path of
 * every face (get, list, wait, explain, output, events, cancel, Pleiades job reads, idempotency
 * keys); a contest team sees only its own jobs, and nobody but staff sees any stderr, through
 * every contestant and audience route.
 */
import { describe, expect, it } from 'vitest';
import { allRoutes, fillPath, raw } from '../../chaos/surface.js';
import { api, testHub } from '../helpers/hub.js';
import { openContest, report } from '../contest/helpers.js';

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('client tokens', () => {
  it("cannot read, wait for, explain, stream, cancel or list another client's job", async () => {
    const running = await testHub({ auth: true, maxWaitMs: 100 });
    const { url } = running;
    const tok = async (role: 'client' | 'worker') => (await running.hub.auth.create(role, role)).token;
    const [a, b, w] = [await tok('client'), await tok('client'), await tok('worker')];

    // B's job, run to the end with an inline output, and one B keeps queued.
    const secret = await api(
      url,
      'POST',
      '/api/v1/jobs',
      { runtime: 'r', input: { text: 'B-SECRET-INPUT' }, idempotencyKey: 'b-key' },
      bearer(b),
    );
    expect(secret.status).toBe(201);
    const queued = await api(url, 'POST', '/api/v1/jobs', { runtime: 'q' }, bearer(b));
    const wid = (await api(url, 'POST', '/api/v1/workers', { runtimes: ['r'] }, bearer(w))).body.id;
    const leased = (await api(url, 'POST', `/api/v1/workers/${wid}/lease`, {}, bearer(w))).body.jobs[0];
    await api(
      url,
      'POST',
      `/api/v1/jobs/${leased.id}/complete`,
      { token: leased.token, output: { text: 'B-SECRET-OUTPUT' } },
      bearer(w),
    );

    for (const id of [secret.body.id, queued.body.id]) {
      for (const path of [
        `/api/v1/jobs/${id}`,
        `/api/v1/jobs/${id}/wait?timeoutMs=10`,
        `/api/v1/jobs/${id}/explain`,
        `/api/v1/jobs/${id}/output`,
        `/api/v1/jobs/${id}/events`,
      ]) {
        const r = await raw(url, { method: 'GET', path, headers: bearer(a) });
        expect(r.status, `${path}: ${r.text}`).toBe(404);
        expect(r.text).not.toContain('SECRET');
      }
      for (const path of [`/job/${id}`, `/api/v0.5/job/${id}`, `/job/${id}?except=Finished&timeout=0`]) {
        const r = await raw(url, { method: 'GET', path: `/t/${a}${path}` });
        expect(r.status, `${path}: ${r.text}`).toBe(404);
        expect(r.text).not.toContain('SECRET');
      }
      const cancel = await api(url, 'POST', `/api/v1/jobs/${id}/cancel`, undefined, bearer(a));
      expect(cancel.status).toBe(404);
    }
    // Still queued: A's cancel did nothing.
    expect((await api(url, 'GET', `/api/v1/jobs/${queued.body.id}`, undefined, bearer(b))).body.state).toBe(
      'queued',
    );
    // Lists, with every filter, never show B's jobs to A.
    for (const q of [
      '',
      '?state=succeeded,queued',
      '?runtime=r',
      '?limit=1000',
      `?before=${Number(queued.body.id) + 1}`,
    ]) {
      const r = await api(url, 'GET', `/api/v1/jobs${q}`, undefined, bearer(a));
      expect(r.status).toBe(200);
      expect(r.body.jobs, q).toEqual([]);
    }
    // B's idempotency key does not hand B's job to A: A gets a job of its own (keys belong to
    // their requester) or a conflict, never B's job.
    const stolen = await api(
      url,
      'POST',
      '/api/v1/jobs',
      { runtime: 'r', idempotencyKey: 'b-key' },
      bearer(a),
    );
    expect([201, 409]).toContain(stolen.status);
    expect(JSON.stringify(stolen.body)).not.toContain('SECRET');
    expect(JSON.stringify(stolen.body)).not.toContain(`"id":"${secret.body.id}"`);
    // B still sees its own.
    expect((await api(url, 'GET', `/api/v1/jobs/${secret.body.id}`, undefined, bearer(b))).body.state).toBe(
      'succeeded',
    );
  });

  it('cannot report on, fail or heartbeat jobs (worker role) nor make tokens (admin role)', async () => {
    const running = await testHub({ auth: true });
    const { url } = running;
    const a = (await running.hub.auth.create('client', 'a')).token;
    const job = await api(url, 'POST', '/api/v1/jobs', { runtime: 'r' }, bearer(a));
    for (const [path, body] of [
      [`/api/v1/jobs/${job.body.id}/complete`, { token: 'x' }],
      [`/api/v1/jobs/${job.body.id}/fail`, { token: 'x', error: 'e' }],
      [`/api/v1/jobs/${job.body.id}/heartbeat`, { token: 'x' }],
      ['/api/v1/admin/tokens', { role: 'admin' }],
    ] as const) {
      expect((await api(url, 'POST', path, body, bearer(a))).status, path).toBe(403);
    }
    const pl = await raw(url, {
      method: 'POST',
      path: `/t/${a}/api/v0.5/job/${job.body.id}`,
      body: '{"status":"cancelled"}',
    });
    expect(pl.status).toBe(403);
    expect((await api(url, 'GET', `/api/v1/jobs/${job.body.id}`, undefined, bearer(a))).body.state).toBe(
      'queued',
    );
  });
});

describe('contest teams', () => {
  it("see only their own jobs, never another team's, and never any stderr", async () => {
    const { url } = await testHub();
    const load = await api(url, 'POST', '/api/portal/staff/load', {
      contest: openContest(),
      teams: ['a', 'b'].map((n, i) => ({
        name: `team-${n}`,
        password: `pw-${n}-secret`,
        servers: [
          {
            hostname: 's1',
            global_ip: `198.51.100.${i + 1}`,
            private_ip: `10.0.0.${i + 1}`,
            is_bench_target: true,
          },
        ],
      })),
      benchmarkers: [{ name: 'bench', ip: '127.0.0.2', teams: [] }],
    });
    expect(load.status, JSON.stringify(load.body)).toBe(200);
    const session = async (team: string, pw: string) => {
      const r = await api(url, 'POST', '/api/portal/login', { team, password: pw });
      expect(r.status).toBe(200);
      return { cookie: r.headers.get('set-cookie')!.split(';')[0]! };
    };
    const a = await session('team-a', 'pw-a-secret');
    const b = await session('team-b', 'pw-b-secret');
    // Team A runs a benchmark to the end with secrets in its logs.
    const enq = await api(url, 'POST', '/api/portal/jobs', {}, a);
    expect(enq.status, JSON.stringify(enq.body)).toBe(201);
    const jobId = enq.body.id as number;
    const dq = await raw(url, { method: 'POST', path: '/internal/job/dequeue/', from: '127.0.0.2' });
    expect(dq.status).toBe(200);
    const rep = await report(url, '127.0.0.2', jobId, {
      score: 4242,
      status: 'done',
      is_passed: true,
      reason: 'ok',
      stdout: 'A-STDOUT-MARK',
      stderr: 'A-STDERR-SECRET',
    });
    expect(rep.status).toBe(200);
    // And one waiting job of A's.
    expect((await api(url, 'POST', '/api/portal/jobs', {}, a)).status).toBe(201);

    // Every contestant and audience GET route, as team B, as team A and as nobody.
    const routes = allRoutes().filter(
      (r) => r.face === 'portal' && !r.pattern.startsWith('/api/portal/staff') && r.method === 'GET',
    );
    expect(routes.length).toBeGreaterThan(5);
    for (const who of [a, b, {}]) {
      for (const r of routes) {
        for (const id of [String(jobId), String(jobId + 1)]) {
          const reply = await raw(url, { method: 'GET', path: fillPath(r, { id }), headers: who });
          expect(reply.status).toBeLessThan(500);
          // stderr is staff-only, for everyone, own team included.
          expect(reply.text, `${r.pattern} as ${JSON.stringify(who)}`).not.toContain('A-STDERR-SECRET');
          if (who !== a)
            expect(reply.text, `${r.pattern} as ${JSON.stringify(who)}`).not.toContain('A-STDOUT-MARK');
        }
      }
    }
    // B cannot read A's job by id, and B's list has none of A's.
    expect((await api(url, 'GET', `/api/portal/jobs/${jobId}`, undefined, b)).status).toBe(404);
    expect((await api(url, 'GET', '/api/portal/jobs', undefined, b)).body.jobs).toEqual([]);
    // A sees its job, with its stdout but not its stderr.
    const own = await api(url, 'GET', `/api/portal/jobs/${jobId}`, undefined, a);
    expect(own.status).toBe(200);
    expect(own.body.stdout).toBe('A-STDOUT-MARK');
    expect(own.body).not.toHaveProperty('stderr');
    // B cannot touch A's servers either.
    const servers = await api(url, 'GET', '/api/portal/servers', undefined, a);
    const sid = servers.body.servers[0].id;
    expect(
      (
        await api(
          url,
          'PUT',
          `/api/portal/servers/${sid}`,
          { hostname: 'x', global_ip: '203.0.113.9', private_ip: '10.0.0.9' },
          b,
        )
      ).status,
    ).toBe(404);
    expect((await api(url, 'DELETE', `/api/portal/servers/${sid}`, undefined, b)).status).toBe(404);
    expect((await api(url, 'GET', '/api/portal/servers', undefined, a)).body.servers).toHaveLength(1);
    // Staff sees the stderr.
    const staff = await api(url, 'GET', `/api/portal/staff/jobs/${jobId}`);
    expect(staff.body.stderr).toBe('A-STDERR-SECRET');
  });
});
