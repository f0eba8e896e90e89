/**
 * Roles and owners on every face, as a hostile caller sees them: raw HTTP with tokens of two
 * clients (A, B) and two workers (W1, W2), on SQLite and (with JOBHUB_TEST_PG) PostgreSQL.
 * A worker acts only on what it holds; KV namespaces and blobs belong to their creators (workers
 * reach them only while holding a lease on the owner's job); benchmark stderr is staff-only.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { api, testHub } from '../helpers/hub.js';
import { call, contract, expectJson, NOT_FOUND_BODY, raw, upload } from '../http/pleiades-helpers.js';
import { raw as rawFrom } from '../../chaos/surface.js';
import { openContest, report } from '../contest/helpers.js';

const PG = process.env.JOBHUB_TEST_PG;
const STORES: ('sqlite' | 'postgres')[] = PG ? ['sqlite', 'postgres'] : ['sqlite'];
const schemas: string[] = [];

afterAll(async () => {
  if (!PG || !schemas.length) return;
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await c.end();
});

const as = (token: string) => ({ authorization: `Bearer ${token}` });

/** A contest team that can enqueue benchmark runs (it has a bench target server). */
const TEAM = {
  name: 'team-a',
  password: 'pw-a-secret',
  servers: [{ hostname: 's1', global_ip: '198.51.100.1', private_ip: '10.0.0.1', is_bench_target: true }],
};

async function world(store: 'sqlite' | 'postgres') {
  let deps = {};
  if (store === 'postgres') {
    const schema = `jobhub_roles_${randomBytes(5).toString('hex')}`;
    schemas.push(schema);
    deps = { store: await PostgresStore.open({ connectionString: PG!, schema }) };
  }
  const running = await testHub({ auth: true, leaseMs: 60_000 }, deps);
  const token = async (role: 'admin' | 'client' | 'worker', name: string) =>
    (await running.hub.auth.create(role, name)).token;
  const t = {
    admin: await token('admin', 'admin'),
    a: await token('client', 'A'),
    b: await token('client', 'B'),
    w1: await token('worker', 'W1'),
    w2: await token('worker', 'W2'),
  };
  const url = running.url;
  /** The Pleiades base URL of a token (unmodified clients carry it in the path). */
  const p5 = (tok: string) => `${url}/t/${tok}/api/v0.5`;
  const blob = async (tok: string, text: string) => {
    const r = await fetch(`${url}/api/v1/blobs`, { method: 'POST', headers: as(tok), body: text });
    expect(r.status).toBe(201);
    return ((await r.json()) as { id: string }).id;
  };
  const job = async (tok: string, body: Record<string, unknown>) => {
    const r = await api(url, 'POST', '/api/v1/jobs', body, as(tok));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { id: string; state: string };
  };
  const stateOf = async (id: string) =>
    (await api(url, 'GET', `/api/v1/jobs/${id}`, undefined, as(t.admin))).body.state as string;
  return { running, url, t, p5, blob, job, stateOf };
}

describe.each(STORES)('roles and owners (%s)', (store) => {
  it('Pleiades: a worker neither creates jobs or lambdas nor cancels a queued job, contest runs included', async () => {
    const { running, url, t, p5, stateOf } = await world(store);
    const codex = await upload(p5(t.a), '#!/bin/sh\ncat\n');
    const lambda = expectJson(await call(`${p5(t.a)}/lambda`, 'POST', { codex, runtime: 'default' }), 200).id;
    const input = await upload(p5(t.a), 'in');
    const jobA = expectJson(await call(`${p5(t.a)}/job`, 'POST', { lambda, input, tags: [] }), 200).id;

    const workerInput = await upload(p5(t.w1), 'w-in');
    expect(expectJson(await call(`${p5(t.w1)}/job`, 'POST', { lambda, input: workerInput }), 403).code).toBe(
      1,
    );
    expect(expectJson(await call(`${p5(t.w1)}/lambda`, 'POST', { codex: workerInput }), 403).code).toBe(1);
    const cancel = expectJson(await call(`${p5(t.w1)}/job/${jobA}`, 'POST', { status: 'cancelled' }), 403);
    expect(cancel).toMatchObject({ code: 1, status: 'error' });
    expect(typeof cancel.message).toBe('string');
    expect(await stateOf(jobA)).toBe('queued');

    // A contest run waiting in the queue is no worker's to cancel either.
    await api(
      url,
      'POST',
      '/api/portal/staff/load',
      {
        contest: openContest(),
        teams: [TEAM],
      },
      as(t.admin),
    );
    const login = await api(url, 'POST', '/api/portal/login', { team: 'team-a', password: 'pw-a-secret' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const enq = await api(url, 'POST', '/api/portal/jobs', {}, { cookie });
    expect(enq.status, JSON.stringify(enq.body)).toBe(201);
    const run = String(enq.body.id);
    expect(expectJson(await call(`${p5(t.w1)}/job/${run}`, 'POST', { status: 'cancelled' }), 403).code).toBe(
      1,
    );
    expect(await stateOf(run)).toBe('queued');
    // An admin still may (the operator's tool).
    expect(
      expectJson(await call(`${p5(t.admin)}/job/${jobA}`, 'POST', { status: 'cancelled' }), 200).code,
    ).toBe(0);
    expect(await stateOf(jobA)).toBe('canceled');
    void running;
  });

  it('Pleiades: a worker updates only a job its own worker holds, and contracts only as its own worker', async () => {
    const { t, p5, stateOf } = await world(store);
    const codex = await upload(p5(t.a), '#!/bin/sh\ncat\n');
    const lambda = expectJson(await call(`${p5(t.a)}/lambda`, 'POST', { codex, runtime: 'default' }), 200).id;
    const input = await upload(p5(t.a), 'in');
    const job = expectJson(await call(`${p5(t.a)}/job`, 'POST', { lambda, input }), 200).id;
    const w1 = expectJson(await call(`${p5(t.w1)}/worker`, 'POST', { runtime: ['default'] }), 200).id;
    const w2 = expectJson(await call(`${p5(t.w2)}/worker`, 'POST', { runtime: ['default'] }), 200).id;

    // W2 cannot take jobs as W1's worker: that worker is Object Not Found to it.
    const stolen = await call(`${p5(t.w2)}/worker/${w1}/contract`, 'POST', { timeout: 0 });
    expect(stolen.status).toBe(404);
    expect(stolen.text).toBe(NOT_FOUND_BODY);
    expect(await stateOf(job)).toBe('queued');
    expect((await contract(p5(t.w1), w1)).job).toBe(job);
    expect((await contract(p5(t.w2), w2)).job).toBeUndefined();

    // W2 neither finishes nor cancels the job W1 holds, nor reads its input.
    const out2 = await upload(p5(t.w2), 'forged');
    for (const body of [{ state: 'finished', output: out2 }, { state: 'cancelled' }]) {
      expect(expectJson(await call(`${p5(t.w2)}/job/${job}`, 'POST', body), 403).code).toBe(1);
    }
    expect((await raw(`${p5(t.w2)}/data/${input}/blob`, 'GET')).text).toBe(NOT_FOUND_BODY);
    expect(await stateOf(job)).toBe('running');
    // W1 reads what it holds, and cannot hand on a blob that is not its own (W2's upload).
    expect((await raw(`${p5(t.w1)}/data/${input}/blob`, 'GET')).text).toBe('in');
    expect((await raw(`${p5(t.w1)}/data/${codex}/blob`, 'GET')).text).toBe('#!/bin/sh\ncat\n');
    const foreign = await call(`${p5(t.w1)}/job/${job}`, 'POST', { state: 'finished', output: out2 });
    expect(foreign.text).toBe(NOT_FOUND_BODY);
    expect(await stateOf(job)).toBe('running');
    const out1 = await upload(p5(t.w1), 'result');
    expect(
      expectJson(await call(`${p5(t.w1)}/job/${job}`, 'POST', { state: 'finished', output: out1 }), 200).code,
    ).toBe(0);
    // The owner reads the output; B and the workers (holding nothing now) do not.
    expect((await raw(`${p5(t.a)}/data/${out1}/blob`, 'GET')).text).toBe('result');
    expect((await raw(`${p5(t.b)}/data/${out1}/blob`, 'GET')).text).toBe(NOT_FOUND_BODY);
    expect((await raw(`${p5(t.w1)}/data/${input}/blob`, 'GET')).text).toBe(NOT_FOUND_BODY);
  });

  it('native API: a worker leases only as its own worker and reports only with its lease', async () => {
    const { url, t, blob, job, stateOf } = await world(store);
    const queued = await job(t.a, {
      runtime: 'default',
      input: { base64: Buffer.from('x').toString('base64') },
    });
    const reg = async (tok: string) =>
      (await api(url, 'POST', '/api/v1/workers', { runtimes: ['default'] }, as(tok))).body.id as string;
    const w1 = await reg(t.w1);
    await reg(t.w2);
    const steal = await api(url, 'POST', `/api/v1/workers/${w1}/lease`, { limit: 5 }, as(t.w2));
    expect(steal.status).toBe(404);
    expect(steal.body.error.code).toBe('not_found');
    expect(await stateOf(queued.id)).toBe('queued');

    const leased = await api(url, 'POST', `/api/v1/workers/${w1}/lease`, { limit: 1 }, as(t.w1));
    const lease = leased.body.jobs[0] as { id: string; token: string };
    expect(lease.id).toBe(queued.id);
    const forged = { token: '00000000-0000-4000-8000-000000000000' };
    for (const path of ['heartbeat', 'complete', 'fail']) {
      const r = await api(
        url,
        'POST',
        `/api/v1/jobs/${lease.id}/${path}`,
        path === 'fail' ? { ...forged, error: 'x' } : forged,
        as(t.w2),
      );
      expect(r.status, path).toBe(409);
    }
    // Completing with a blob the worker may not read (B's upload) would hand it to the job's owner.
    const secret = await blob(t.b, 'B-SECRET');
    const bad = await api(
      url,
      'POST',
      `/api/v1/jobs/${lease.id}/complete`,
      { token: lease.token, output: { blobId: secret } },
      as(t.w1),
    );
    expect(bad.status).toBe(404);
    const batch = await api(
      url,
      'POST',
      '/api/v1/complete',
      {
        completions: [{ jobId: lease.id, token: lease.token, output: { blobId: secret } }],
      },
      as(t.w1),
    );
    expect(batch.body.results[0]).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(await stateOf(lease.id)).toBe('running');
    const done = await api(
      url,
      'POST',
      `/api/v1/jobs/${lease.id}/complete`,
      { token: lease.token, output: { blobId: await blob(t.w1, 'W1-OUTPUT') } },
      as(t.w1),
    );
    expect(done.status).toBe(200);
    // The output blob: A (the job's owner) and W1 (its maker) read it; W2 does not, not even
    // through the job's /output (workers read job records, not other tenants' blobs).
    for (const [tok, code] of [
      [t.a, 200],
      [t.w1, 200],
      [t.w2, 404],
      [t.b, 404],
    ] as const) {
      const r = await fetch(`${url}/api/v1/jobs/${lease.id}/output`, { headers: as(tok) });
      expect(r.status, tok).toBe(code);
      const text = await r.text();
      if (code === 200) expect(text).toBe('W1-OUTPUT');
      else expect(text).not.toContain('W1-OUTPUT');
    }
  });

  it("KV: a namespace is its creator's; a worker reaches it only while holding the owner's job", async () => {
    const { url, t, p5, job } = await world(store);
    const ns = expectJson(await call(`${p5(t.a)}/kv`, 'POST', { consistency: 'none' }), 200).id;
    const field = (tok: string) => `${p5(tok)}/kv/${ns}/field/secret`;
    expectJson(await call(field(t.a), 'POST', { value: 'A-VALUE' }), 200);

    for (const tok of [t.b, t.w1]) {
      expect((await raw(field(tok), 'GET')).text).toBe(NOT_FOUND_BODY);
      expect((await call(field(tok), 'POST', { value: 'overwritten', get: true })).text).toBe(NOT_FOUND_BODY);
    }
    expect(expectJson(await raw(field(t.a), 'GET'), 200).value).toBe('A-VALUE');

    // W1 holds a lease on one of A's jobs: now its job code may use A's namespace.
    const reg = await api(url, 'POST', '/api/v1/workers', { runtimes: ['default'] }, as(t.w1));
    const queued = await job(t.a, { runtime: 'default' });
    const leased = await api(url, 'POST', `/api/v1/workers/${reg.body.id}/lease`, {}, as(t.w1));
    expect(leased.body.jobs[0].id).toBe(queued.id);
    expect(expectJson(await raw(field(t.w1), 'GET'), 200).value).toBe('A-VALUE');
    expectJson(await call(field(t.w1), 'POST', { value: ' from W1', append: true }), 200);
    // Not W2, not B's namespace through A's job.
    expect((await raw(field(t.w2), 'GET')).text).toBe(NOT_FOUND_BODY);
    const nsB = expectJson(await call(`${p5(t.b)}/kv`, 'POST', {}), 200).id;
    expect((await raw(`${p5(t.w1)}/kv/${nsB}/field/k`, 'GET')).text).toBe(NOT_FOUND_BODY);
    // The lease ends: so does the access.
    await api(
      url,
      'POST',
      `/api/v1/jobs/${queued.id}/complete`,
      { token: leased.body.jobs[0].token },
      as(t.w1),
    );
    expect((await raw(field(t.w1), 'GET')).text).toBe(NOT_FOUND_BODY);
    expect(expectJson(await raw(field(t.a), 'GET'), 200).value).toBe('A-VALUE from W1');
  });

  it("blobs: another client's blob is unknown on every read path, and cannot be borrowed through a job or function", async () => {
    const { url, t, p5, blob } = await world(store);
    const id = await blob(t.a, 'A-PRIVATE-BYTES');
    const gets: [string, Record<string, string>][] = [
      ['GET', {}],
      ['HEAD', {}],
      ['GET', { range: 'bytes=0-3' }],
      ['GET', { 'if-none-match': '"x"' }],
    ];
    for (const tok of [t.b, t.w1]) {
      for (const [method, headers] of gets) {
        const r = await fetch(`${url}/api/v1/blobs/${id}`, { method, headers: { ...as(tok), ...headers } });
        expect(r.status, `${method} ${JSON.stringify(headers)}`).toBe(404);
        expect(await r.text()).not.toContain('A-PRIVATE');
      }
      expect((await api(url, 'GET', `/api/v1/blobs/${id}/meta`, undefined, as(tok))).status).toBe(404);
      expect((await raw(`${p5(tok)}/data/${id}`, 'GET')).text).toBe(NOT_FOUND_BODY);
      expect((await raw(`${p5(tok)}/data/${id}/blob`, 'GET')).text).toBe(NOT_FOUND_BODY);
    }
    // B cannot make the blob its job's input or its function's code, on either face.
    const viaJob = await api(
      url,
      'POST',
      '/api/v1/jobs',
      { runtime: 'default', input: { blobId: id } },
      as(t.b),
    );
    expect(viaJob.status).toBe(404);
    expect(
      (await api(url, 'POST', '/api/v1/functions', { runtime: 'default', codeBlobId: id }, as(t.b))).status,
    ).toBe(404);
    expect((await call(`${p5(t.b)}/lambda`, 'POST', { codex: id, runtime: 'default' })).text).toBe(
      NOT_FOUND_BODY,
    );
    // The owner and an admin read it, Range included.
    const own = await fetch(`${url}/api/v1/blobs/${id}`, { headers: { ...as(t.a), range: 'bytes=0-5' } });
    expect(own.status).toBe(206);
    expect(await own.text()).toBe('A-PRIV');
    expect((await fetch(`${url}/api/v1/blobs/${id}`, { headers: as(t.admin) })).status).toBe(200);
    // B uploading the same bytes reads its own copy (it has the bytes already); A's access stays.
    const same = await blob(t.b, 'A-PRIVATE-BYTES');
    expect((await fetch(`${url}/api/v1/blobs/${same}`, { headers: as(t.b) })).status).toBe(200);
    expect((await fetch(`${url}/api/v1/blobs/${id}`, { headers: as(t.a) })).status).toBe(200);
  });

  it("A's inline job input fetched through Pleiades becomes a blob only A (and its job's worker) may read", async () => {
    const { url, t, p5, job } = await world(store);
    const created = await job(t.a, {
      runtime: 'default',
      input: { base64: Buffer.from('A-INLINE-SECRET').toString('base64') },
    });
    // W2 may read job metadata (workers read jobs), but the blob made from it is not W2's.
    const seen = expectJson(await raw(`${p5(t.w2)}/job/${created.id}`, 'GET'), 200);
    const inputId = seen.input.id as string;
    expect(inputId).toMatch(/^\d+$/);
    for (const tok of [t.b, t.w2]) {
      expect((await raw(`${p5(tok)}/data/${inputId}/blob`, 'GET')).text).toBe(NOT_FOUND_BODY);
      expect((await fetch(`${url}/api/v1/blobs/${inputId}`, { headers: as(tok) })).status).toBe(404);
    }
    expect((await raw(`${p5(t.a)}/data/${inputId}/blob`, 'GET')).text).toBe('A-INLINE-SECRET');
    expect(expectJson(await raw(`${p5(t.b)}/job/${created.id}`, 'GET'), 404).code).toBe(601);
  });

  it('benchmark stderr: staff only, on /api/v1 as on the portal', async () => {
    const { url, t } = await world(store);
    const load = await api(
      url,
      'POST',
      '/api/portal/staff/load',
      {
        contest: openContest(),
        teams: [TEAM],
        benchmarkers: [{ name: 'bench', ip: '127.0.0.2', teams: [] }],
      },
      as(t.admin),
    );
    expect(load.status, JSON.stringify(load.body)).toBe(200);
    const login = await api(url, 'POST', '/api/portal/login', { team: 'team-a', password: 'pw-a-secret' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const enq = await api(url, 'POST', '/api/portal/jobs', {}, { cookie });
    const id = String(enq.body.id);
    const dq = await rawFrom(url, { method: 'POST', path: '/internal/job/dequeue/', from: '127.0.0.2' });
    expect(dq.status).toBe(200);
    const rep = await report(url, '127.0.0.2', Number(id), {
      score: 1,
      status: 'done',
      is_passed: true,
      reason: 'ok',
      stdout: 'OUT',
      stderr: 'BENCH-STDERR-SECRET',
    });
    expect(rep.status).toBe(200);
    for (const tok of [t.w1, t.a]) {
      for (const path of [
        `/api/v1/jobs/${id}`,
        `/api/v1/jobs/${id}/wait`,
        '/api/v1/jobs?limit=10',
        `/api/v1/jobs/${id}/events`,
      ]) {
        const r = await fetch(url + path, { headers: as(tok) });
        expect(await r.text(), `${path}`).not.toContain('BENCH-STDERR-SECRET');
      }
    }
    const worker = await api(url, 'GET', `/api/v1/jobs/${id}`, undefined, as(t.w1));
    expect(worker.body.result).toMatchObject({ score: 1, stdout: 'OUT' });
    const staff = await api(url, 'GET', `/api/v1/jobs/${id}`, undefined, as(t.admin));
    expect(staff.body.result.stderr).toBe('BENCH-STDERR-SECRET');
  });
});
