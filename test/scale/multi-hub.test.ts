/**
 * Several hubs on one PostgreSQL database (one schema per test): a job created on one hub is
 * leased through another, promptly, by LISTEN/NOTIFY; each job is leased once. Runs when
 * JOBHUB_TEST_PG names a database (.ci/run sets it).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';

const url = process.env.JOBHUB_TEST_PG;
const schemas: string[] = [];

async function sharedDatabase(): Promise<string> {
  const schema = `jobhub_multi_${randomBytes(5).toString('hex')}`;
  schemas.push(schema);
  const u = new URL(url!);
  u.searchParams.set('schema', schema);
  return u.toString();
}

afterEach(async () => {
  if (!url || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  for (const s of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await client.end();
});

describe.runIf(url)('several hubs on one PostgreSQL database', () => {
  it('wakes a worker parked on hub B when a job is created on hub A', async () => {
    const database = await sharedDatabase();
    const a = await testHub({ database });
    const b = await testHub({ database, safetyPollMs: 60_000 });
    const w = await api(b.url, 'POST', '/api/v1/workers', { runtimes: ['cross'] });
    const leased = api(b.url, 'POST', `/api/v1/workers/${w.body.id}/lease`, { waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    const created = await api(a.url, 'POST', '/api/v1/jobs', { runtime: 'cross' });
    const got = await leased;
    const ms = performance.now() - t0;
    expect(got.body.jobs.map((j: { id: string }) => j.id)).toEqual([created.body.id]);
    // A notification, not the safety poll (60 s here) and not the 10 s wait.
    expect(ms).toBeLessThan(1000);
  });

  it('leases every job exactly once across three hubs with workers on each', async () => {
    const database = await sharedDatabase();
    const hubs = [await testHub({ database }), await testHub({ database }), await testHub({ database })];
    const workers = await Promise.all(
      hubs.flatMap((h) =>
        [1, 2].map(async () => ({
          hub: h,
          id: (await api(h.url, 'POST', '/api/v1/workers', { runtimes: ['many'] })).body.id,
        })),
      ),
    );
    const total = 300;
    const seen: string[] = [];
    let done = 0;
    const loops = workers.map(async (w) => {
      while (done < total) {
        const r = await api(w.hub.url, 'POST', `/api/v1/workers/${w.id}/lease`, { limit: 7, waitMs: 500 });
        for (const job of r.body.jobs as { id: string; token: string }[]) {
          seen.push(job.id);
          const c = await api(w.hub.url, 'POST', `/api/v1/jobs/${job.id}/complete`, { token: job.token });
          expect(c.status).toBe(200);
          done++;
        }
      }
    });
    for (let i = 0; i < total; i += 50) {
      const h = hubs[(i / 50) % 3]!;
      const r = await api(h.url, 'POST', '/api/v1/jobs/batch', {
        jobs: Array.from({ length: 50 }, () => ({ runtime: 'many' })),
      });
      expect(r.status).toBe(201);
    }
    await Promise.all(loops);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
  });

  it("never runs more of a group's jobs than its concurrency, across three hubs", async () => {
    const database = await sharedDatabase();
    const hubs = [await testHub({ database }), await testHub({ database }), await testHub({ database })];
    const limit = 3;
    expect((await api(hubs[1]!.url, 'PUT', '/api/v1/groups/shared', { concurrency: limit })).status).toBe(
      200,
    );
    const workers = await Promise.all(
      hubs.flatMap((h) =>
        [1, 2].map(async () => ({
          hub: h,
          id: (await api(h.url, 'POST', '/api/v1/workers', { runtimes: ['grouped'] })).body.id,
        })),
      ),
    );
    // The database's own count of the group's running jobs, sampled throughout.
    const schema = new URL(database).searchParams.get('schema')!;
    const probe = new pg.Client({ connectionString: url });
    await probe.connect();
    let sampling = true;
    let maxRunning = 0;
    const sampler = (async () => {
      while (sampling) {
        const { rows } = await probe.query(
          `SELECT count(*)::int AS n FROM "${schema}".jobs WHERE group_name = 'shared' AND state = 'running'`,
        );
        maxRunning = Math.max(maxRunning, rows[0].n as number);
      }
    })();
    const total = 60;
    const seen: string[] = [];
    const loops = workers.map(async (w) => {
      while (seen.length < total) {
        const r = await api(w.hub.url, 'POST', `/api/v1/workers/${w.id}/lease`, { limit: 4, waitMs: 300 });
        for (const job of r.body.jobs as { id: string; token: string }[]) {
          seen.push(job.id);
          await new Promise((res) => setTimeout(res, 15));
          const c = await api(w.hub.url, 'POST', `/api/v1/jobs/${job.id}/complete`, { token: job.token });
          expect(c.status).toBe(200);
        }
      }
    });
    for (let i = 0; i < total; i += 20) {
      const r = await api(hubs[(i / 20) % 3]!.url, 'POST', '/api/v1/jobs/batch', {
        jobs: Array.from({ length: 20 }, () => ({ runtime: 'grouped', group: 'shared' })),
      });
      expect(r.status).toBe(201);
    }
    await Promise.all(loops);
    sampling = false;
    await sampler;
    await probe.end();
    expect(new Set(seen).size).toBe(total);
    expect(maxRunning).toBeLessThanOrEqual(limit);
    expect(maxRunning).toBeGreaterThan(0);
  });
});
