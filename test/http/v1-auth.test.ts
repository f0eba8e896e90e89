/** Native API: tokens and roles (admin, client, worker), owner scoping of jobs. */
import { describe, expect, it } from 'vitest';
import type { RunningHub } from '../../src/app/start.js';
import { api, testHub } from '../helpers/hub.js';
import { bearer, createJob, registerWorker, type Json } from '../helpers/worker.js';

async function tokens(running: RunningHub) {
  const make = async (role: 'admin' | 'client' | 'worker', name: string) =>
    (await running.hub.auth.create(role, name)).token;
  return {
    admin: await make('admin', 'ops'),
    clientA: await make('client', 'team a'),
    clientB: await make('client', 'team b'),
    worker: await make('worker', 'w1'),
  };
}

const code = (r: { body: Json }) => r.body?.error?.code as string | undefined;

describe('auth on', () => {
  it('refuses a missing, unknown or malformed token with 401', async () => {
    const running = await testHub({ auth: true });
    const { url } = running;
    const { clientA } = await tokens(running);
    for (const headers of [
      {},
      bearer('jh_wrong'),
      { authorization: `Basic ${clientA}` },
      { authorization: 'Bearer ' },
    ]) {
      const r = await api(url, 'GET', '/api/v1/jobs', undefined, headers);
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(code(r)).toBe('unauthorized');
      const c = await api(url, 'POST', '/api/v1/jobs', { runtime: 'default' }, headers);
      expect(c.status).toBe(401);
    }
    // Nothing was created by the refused requests.
    const list = await api(
      url,
      'GET',
      '/api/v1/jobs',
      undefined,
      bearer((await running.hub.auth.create('admin', null)).token),
    );
    expect(list.body.jobs).toEqual([]);
    // A valid token works, in the header or in the path.
    expect((await api(url, 'GET', '/api/v1/jobs', undefined, bearer(clientA))).status).toBe(200);
    expect((await api(url, 'GET', `/t/${clientA}/api/v1/jobs`)).status).toBe(200);
    expect((await api(url, 'GET', '/t/jh_nope/api/v1/jobs')).status).toBe(401);
  });

  it('leaves the operations endpoints open', async () => {
    const { url } = await testHub({ auth: true });
    expect((await api(url, 'GET', '/healthz')).status).toBe(200);
    expect((await api(url, 'GET', '/readyz')).status).toBe(200);
    expect((await api(url, 'GET', '/openapi.json')).status).toBe(200);
  });

  it('a client cannot act as a worker (403)', async () => {
    const running = await testHub({ auth: true });
    const { url } = running;
    const t = await tokens(running);
    const reg = await api(url, 'POST', '/api/v1/workers', { runtimes: ['default'] }, bearer(t.clientA));
    expect(reg.status).toBe(403);
    expect(code(reg)).toBe('forbidden');
    const job = await createJob(url, { runtime: 'default' }, bearer(t.clientA));
    const w = await registerWorker(url, { runtimes: ['default'] }, bearer(t.worker));
    for (const [path, body] of [
      [`/api/v1/workers/${w}/lease`, {}],
      [`/api/v1/jobs/${job.id}/heartbeat`, { token: 'x' }],
      [`/api/v1/jobs/${job.id}/complete`, { token: 'x' }],
      [`/api/v1/jobs/${job.id}/fail`, { token: 'x', error: 'e' }],
      ['/api/v1/complete', { completions: [{ jobId: job.id, token: 'x' }] }],
    ] as const) {
      const r = await api(url, 'POST', path, body, bearer(t.clientA));
      expect(r.status, path).toBe(403);
      expect(code(r), path).toBe('forbidden');
    }
    // The job was not leased by the refused lease call.
    const got = await api(url, 'GET', `/api/v1/jobs/${job.id}`, undefined, bearer(t.clientA));
    expect(got.body.state).toBe('queued');
  });

  it('a worker cannot create tokens or jobs; a client cannot create tokens; an admin can', async () => {
    const running = await testHub({ auth: true });
    const { url } = running;
    const t = await tokens(running);
    for (const tok of [t.worker, t.clientA]) {
      const r = await api(url, 'POST', '/api/v1/admin/tokens', { role: 'admin' }, bearer(tok));
      expect(r.status).toBe(403);
      expect(code(r)).toBe('forbidden');
    }
    const wj = await api(url, 'POST', '/api/v1/jobs', { runtime: 'default' }, bearer(t.worker));
    expect(wj.status).toBe(403);
    const made = await api(
      url,
      'POST',
      '/api/v1/admin/tokens',
      { role: 'client', name: 'new' },
      bearer(t.admin),
    );
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ role: 'client', name: 'new', token: expect.stringMatching(/^jh_/) });
    expect((await api(url, 'GET', '/api/v1/jobs', undefined, bearer(made.body.token))).status).toBe(200);
    // A worker works the whole protocol with its token.
    const job = await createJob(url, { runtime: 'default' }, bearer(made.body.token));
    const w = await registerWorker(url, { runtimes: ['default'] }, bearer(t.worker));
    const l = await api(url, 'POST', `/api/v1/workers/${w}/lease`, {}, bearer(t.worker));
    expect(l.body.jobs[0].id).toBe(job.id);
    const done = await api(
      url,
      'POST',
      `/api/v1/jobs/${job.id}/complete`,
      { token: l.body.jobs[0].token },
      bearer(t.worker),
    );
    expect(done.body.state).toBe('succeeded');
  });

  it('a client sees only its own jobs; an admin and workers see all', async () => {
    const running = await testHub({ auth: true });
    const { url } = running;
    const t = await tokens(running);
    const a = await createJob(url, { runtime: 'default', input: { text: 'a' } }, bearer(t.clientA));
    const b = await createJob(url, { runtime: 'default', input: { text: 'b' } }, bearer(t.clientB));
    for (const path of [
      `/api/v1/jobs/${b.id}`,
      `/api/v1/jobs/${b.id}/wait?timeoutMs=0`,
      `/api/v1/jobs/${b.id}/explain`,
      `/api/v1/jobs/${b.id}/output`,
      `/api/v1/jobs/${b.id}/events`,
    ]) {
      const r = await api(url, 'GET', path, undefined, bearer(t.clientA));
      expect(r.status, path).toBe(404);
      expect(code(r), path).toBe('not_found');
    }
    const cancel = await api(url, 'POST', `/api/v1/jobs/${b.id}/cancel`, undefined, bearer(t.clientA));
    expect(cancel.status).toBe(404);
    const listA = await api(url, 'GET', '/api/v1/jobs', undefined, bearer(t.clientA));
    expect(listA.body.jobs.map((j: { id: string }) => j.id)).toEqual([a.id]);
    const listB = await api(url, 'GET', '/api/v1/jobs?state=queued', undefined, bearer(t.clientB));
    expect(listB.body.jobs.map((j: { id: string }) => j.id)).toEqual([b.id]);
    // B's job is untouched by A's attempts, and B can cancel it.
    const own = await api(url, 'GET', `/api/v1/jobs/${b.id}`, undefined, bearer(t.clientB));
    expect(own.body.state).toBe('queued');
    for (const tok of [t.admin, t.worker]) {
      const all = await api(url, 'GET', '/api/v1/jobs', undefined, bearer(tok));
      expect(all.body.jobs.map((j: { id: string }) => j.id).sort()).toEqual([a.id, b.id].sort());
      expect((await api(url, 'GET', `/api/v1/jobs/${a.id}`, undefined, bearer(tok))).status).toBe(200);
    }
    // Idempotency keys do not reveal another client's job.
    const k1 = await createJob(url, { runtime: 'default', idempotencyKey: 'shared' }, bearer(t.clientA));
    const k2 = await api(
      url,
      'POST',
      '/api/v1/jobs',
      { runtime: 'default', idempotencyKey: 'shared' },
      bearer(t.clientB),
    );
    expect(k2.status === 200 && k2.body.id === k1.id, "client B must not receive client A's job").toBe(false);
    // Keys are per requester: B's key names B's own new job.
    expect(k2.status).toBe(201);
    const k3 = await createJob(url, { runtime: 'default', idempotencyKey: 'shared' }, bearer(t.clientB), 200);
    expect(k3.id).toBe(k2.body.id);
    // The key still works for its owner.
    expect(
      (await createJob(url, { runtime: 'default', idempotencyKey: 'shared' }, bearer(t.clientA), 200)).id,
    ).toBe(k1.id);
    expect(
      (await api(url, 'POST', `/api/v1/jobs/${b.id}/cancel`, undefined, bearer(t.clientB))).body.state,
    ).toBe('canceled');
  });
});

describe('auth off', () => {
  it('everything works without a token (and a stray token is ignored)', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const l = await api(url, 'POST', `/api/v1/workers/${w}/lease`, {});
    expect(l.body.jobs).toHaveLength(1);
    expect(
      (await api(url, 'POST', `/api/v1/jobs/${job.id}/complete`, { token: l.body.jobs[0].token })).status,
    ).toBe(200);
    expect((await api(url, 'POST', '/api/v1/admin/tokens', { role: 'client' })).status).toBe(201);
    expect((await api(url, 'GET', '/api/v1/jobs', undefined, bearer('jh_anything'))).status).toBe(200);
  });
});
