/**
 * Job groups over the native API, on SQLite and (with JOBHUB_TEST_PG) PostgreSQL: validation,
 * the group in job JSON, admin-only settings, and the limits as a worker feels them, including
 * the direct hand-off to a parked worker (which must respect a group's pause and limits) and
 * the wake-ups that follow when a group has room again. Explain names the group's verdict.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { api, testHub } from '../helpers/hub.js';
import { bearer, complete, createJob, lease, registerWorker, sleep } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

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

async function hub(store: 'sqlite' | 'postgres', overrides: Parameters<typeof testHub>[0] = {}) {
  if (store === 'sqlite') return testHub({ leaseMs: 60_000, ...overrides });
  const schema = `jobhub_groups_${randomBytes(5).toString('hex')}`;
  schemas.push(schema);
  return testHub(
    { leaseMs: 60_000, ...overrides },
    { store: await PostgresStore.open({ connectionString: PG!, schema }) },
  );
}

const put = (url: string, group: string, body: unknown, headers = {}) =>
  api(url, 'PUT', `/api/v1/groups/${encodeURIComponent(group)}`, body, headers);
const explain = async (url: string, id: string) =>
  (await api(url, 'GET', `/api/v1/jobs/${id}/explain`)).body as { verdict: string; reasons: string[] };

/** A lease request that parks; resolves with its jobs. */
const parkedLease = (url: string, worker: string, waitMs = scaled(10_000)) =>
  lease(url, worker, { limit: 1, waitMs });

describe.each(STORES)('job groups over HTTP (%s)', (store) => {
  it('refuses bad groups and settings with the error envelope', async () => {
    const { url } = await hub(store);
    const bad = async (r: Promise<{ status: number; body: { error?: { code: string } } }>) => {
      const res = await r;
      expect(res.status).toBe(400);
      expect(res.body.error?.code).toBe('validation_failed');
    };
    await bad(api(url, 'POST', '/api/v1/jobs', { runtime: 'default', group: '' }));
    await bad(api(url, 'POST', '/api/v1/jobs', { runtime: 'default', group: 'g'.repeat(201) }));
    await bad(api(url, 'POST', '/api/v1/jobs', { runtime: 'default', group: 7 }));
    await bad(api(url, 'POST', '/api/v1/jobs', { runtime: 'default', group: 'a\nb' }));
    await bad(
      api(url, 'POST', '/api/v1/jobs/batch', { jobs: [{ runtime: 'default' }, { runtime: 'x', group: '' }] }),
    );
    expect((await api(url, 'GET', '/api/v1/jobs')).body.jobs).toEqual([]);
    await bad(put(url, 'g', { concurrency: 0 }));
    await bad(put(url, 'g', { concurrency: 1.5 }));
    await bad(put(url, 'g', { perSecond: 0 }));
    await bad(put(url, 'g', { perSecond: -2 }));
    await bad(put(url, 'g', { paused: 'yes' }));
    await bad(put(url, 'g', { other: 1 }));
    await bad(put(url, 'g'.repeat(201), { paused: true }));
    const bodyless = await api(url, 'PUT', '/api/v1/groups/g', 'not json', {
      'content-type': 'application/json',
    });
    expect(bodyless.status).toBe(400);
    const missing = await api(url, 'GET', '/api/v1/groups/nobody');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    expect((await api(url, 'GET', '/api/v1/groups')).body.groups).toEqual([]);
  });

  it('shows the group in job JSON, lists by group, and lists groups with counts', async () => {
    const { url } = await hub(store);
    const a = await createJob(url, { runtime: 'default', group: 'tenant/a b' });
    await createJob(url, { runtime: 'default' });
    expect(a.group).toBe('tenant/a b');
    const listed = await api(url, 'GET', `/api/v1/jobs?group=${encodeURIComponent('tenant/a b')}`);
    expect(listed.body.jobs.map((j: { id: string }) => j.id)).toEqual([a.id]);
    const set = await put(url, 'tenant/a b', { concurrency: 2, perSecond: 10 });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      name: 'tenant/a b',
      concurrency: 2,
      perSecond: 10,
      paused: false,
      queued: 1,
    });
    const groups = (await api(url, 'GET', '/api/v1/groups')).body;
    expect(groups).toEqual({
      groups: [expect.objectContaining({ name: 'tenant/a b', queued: 1, running: 0 })],
      next: null,
    });
    expect((await put(url, 'tenant/a b', { concurrency: null })).body).toMatchObject({
      concurrency: null,
      perSecond: 10,
    });
  });

  it('documents groups in the OpenAPI document', async () => {
    const { url } = await hub(store);
    const doc = (await api(url, 'GET', '/openapi.json')).body;
    expect(doc.paths['/api/v1/groups'].get).toBeDefined();
    const setGroup = doc.paths['/api/v1/groups/{group}'].put;
    const body = setGroup.requestBody.content['application/json'].schema;
    expect(Object.keys(body.properties)).toEqual(['concurrency', 'perSecond', 'paused']);
    const create = doc.paths['/api/v1/jobs'].post.requestBody.content['application/json'].schema;
    expect(create.properties.group).toMatchObject({ type: 'string', maxLength: 200 });
  });

  it('lets only admins see and change groups', async () => {
    const { url, hub: h } = await hub(store, { auth: true });
    const admin = (await h.auth.create('admin', 'admin')).token;
    const client = (await h.auth.create('client', 'c')).token;
    const worker = (await h.auth.create('worker', 'w')).token;
    for (const tok of [client, worker]) {
      const r = await put(url, 'g', { paused: true }, bearer(tok));
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('forbidden');
      expect((await api(url, 'GET', '/api/v1/groups', undefined, bearer(tok))).status).toBe(403);
    }
    expect((await put(url, 'g', { paused: true })).status).toBe(401);
    expect((await put(url, 'g', { paused: true }, bearer(admin))).status).toBe(200);
    // A client names groups for its own jobs and sees the group in them.
    const job = await createJob(url, { runtime: 'default', group: 'g' }, bearer(client));
    expect(job.group).toBe('g');
  });

  it('a paused group is not handed to a parked worker, says so in explain, and resumes', async () => {
    const { url } = await hub(store);
    const worker = await registerWorker(url);
    await put(url, 'p', { paused: true });
    const waiting = parkedLease(url, worker);
    await sleep(100);
    const held = await createJob(url, { runtime: 'default', group: 'p' });
    const plain = await createJob(url, { runtime: 'default' });
    // The parked worker gets the ungrouped job created after the paused group's.
    expect((await waiting).map((j) => j.id)).toEqual([plain.id]);
    const why = await explain(url, held.id);
    expect(why.verdict).toBe('group_paused');
    expect(why.reasons[0]).toContain('paused');
    const next = parkedLease(url, worker);
    await sleep(100);
    await put(url, 'p', { paused: false });
    expect((await next).map((j) => j.id)).toEqual([held.id]);
  });

  it('holds to the concurrency on the hand-off and wakes a parked worker when a place frees', async () => {
    const { url } = await hub(store);
    const [w1, w2] = [await registerWorker(url), await registerWorker(url)];
    await put(url, 'c', { concurrency: 1 });
    const first = await createJob(url, { runtime: 'default', group: 'c' });
    const [running] = await lease(url, w1, { limit: 5 });
    expect(running!.id).toBe(first.id);
    const waiting = parkedLease(url, w2);
    await sleep(100);
    const second = await createJob(url, { runtime: 'default', group: 'c' });
    await sleep(200);
    expect((await api(url, 'GET', `/api/v1/jobs/${second.id}`)).body.state).toBe('queued');
    const why = await explain(url, second.id);
    expect(why.verdict).toBe('group_concurrency_limit');
    expect(why.reasons[0]).toContain('1 of at most 1');
    expect((await complete(url, first.id, { token: running!.token })).status).toBe(200);
    expect((await waiting).map((j) => j.id)).toEqual([second.id]);
  });

  it('holds to the rate, says so, and starts the next job when the window passes', async () => {
    const { url } = await hub(store);
    const worker = await registerWorker(url);
    await put(url, 'r', { perSecond: 1 });
    const a = await createJob(url, { runtime: 'default', group: 'r' });
    const b = await createJob(url, { runtime: 'default', group: 'r' });
    const [first] = await lease(url, worker, { limit: 5 });
    expect(first!.id).toBe(a.id);
    expect((await explain(url, b.id)).verdict).toBe('group_rate_limited');
    // Parked with nothing to take now: the hub wakes it when the rate allows the next start.
    const [second] = await parkedLease(url, worker);
    expect(second?.id).toBe(b.id);
    const startedAt = async (id: string) =>
      Date.parse((await api(url, 'GET', `/api/v1/jobs/${id}`)).body.startedAt as string);
    expect((await startedAt(b.id)) - (await startedAt(a.id))).toBeGreaterThanOrEqual(1000);
  });
});
