/**
 * Real hub processes on one PostgreSQL database under load: three hubs, workers and producers
 * spread across them, one hub `kill -9`ed and restarted mid-run. Nothing acknowledged is lost and
 * nothing completes twice. Runs when JOBHUB_TEST_PG names a database (.ci/run sets it).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, tempDir } from '../helpers/hub.js';
import { buildCli, killSpawned, sleep, spawnHub, until, type HubProcess } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

const url = process.env.JOBHUB_TEST_PG;
let schema = '';

beforeAll(() => buildCli(), scaled(60_000));
afterEach(async () => {
  await killSpawned();
  if (!url || !schema) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

async function tryApi(base: string, method: string, path: string, body?: unknown) {
  try {
    return await api(base, method, path, body);
  } catch {
    return null; // the hub was killed mid-request
  }
}

describe.runIf(url)('hub processes sharing PostgreSQL', () => {
  it(
    'loses nothing and completes nothing twice when one of three hubs is killed -9 under load',
    async () => {
      schema = `jobhub_proc_${randomBytes(5).toString('hex')}`;
      const database = new URL(url!);
      database.searchParams.set('schema', schema);
      const start = () => spawnHub(tempDir(), ['--database', database.toString(), '--lease-ms', '1000']);
      const hubs: HubProcess[] = [];
      for (let i = 0; i < 3; i++) hubs.push(await start());
      const live = () => hubs.map((h) => h.url);
      const pick = (i: number) => live()[i % hubs.length]!;

      const created = new Set<string>();
      const completions = new Map<string, number>();
      let producing = true;
      let working = true;

      const producer = async (n: number) => {
        for (let i = n; producing; i += 2) {
          const r = await tryApi(pick(i), 'POST', '/api/v1/jobs/batch', {
            jobs: Array.from({ length: 10 }, () => ({ runtime: 'load', maxAttempts: 20 })),
          });
          if (r?.status === 201) for (const j of r.body.jobs as { id: string }[]) created.add(j.id);
          else await sleep(20);
        }
      };
      const worker = async (n: number) => {
        let id: string | null = null;
        for (let i = n; working; i++) {
          const base = pick(i);
          if (!id) {
            const reg = await tryApi(base, 'POST', '/api/v1/workers', { runtimes: ['load'] });
            if (reg?.status === 201) id = reg.body.id as string;
            continue;
          }
          const r = await tryApi(base, 'POST', `/api/v1/workers/${id}/lease`, { limit: 5, waitMs: 300 });
          for (const job of (r?.body?.jobs ?? []) as { id: string; token: string }[]) {
            const c = await tryApi(pick(i + 1), 'POST', `/api/v1/jobs/${job.id}/complete`, {
              token: job.token,
            });
            if (c?.status === 200) completions.set(job.id, (completions.get(job.id) ?? 0) + 1);
          }
        }
      };
      const loops = [producer(0), producer(1), ...[0, 1, 2, 3, 4, 5].map(worker)];

      await sleep(1500);
      hubs[1]!.proc.kill('SIGKILL');
      await hubs[1]!.exited;
      hubs[1] = hubs[2]!; // traffic goes to the survivors while it is down
      await sleep(1000);
      hubs[1] = await start();
      await sleep(1500);
      producing = false;

      // Drain: every acknowledged job ends succeeded (expired leases of the dead hub are re-queued).
      await until(
        async () => {
          const r = await tryApi(pick(0), 'GET', '/api/v1/jobs?state=queued,running&limit=1');
          return r?.status === 200 && r.body.jobs.length === 0;
        },
        scaled(15_000),
        200,
      );
      working = false;
      await Promise.all(loops);

      expect(created.size).toBeGreaterThan(50);
      // Every acknowledged job is there and succeeded: read in pages of 1000, not one by one.
      const states = new Map<string, string>();
      for (let before: string | null = ''; before !== null;) {
        const query = `runtime=load&limit=1000${before ? `&before=${before}` : ''}`;
        const page = await api(pick(0), 'GET', `/api/v1/jobs?${query}`);
        expect(page.status, JSON.stringify(page.body)).toBe(200);
        for (const j of page.body.jobs as { id: string; state: string }[]) states.set(j.id, j.state);
        before = page.body.next as string | null;
      }
      const notSucceeded = [...created].filter((id) => states.get(id) !== 'succeeded');
      expect(notSucceeded.map((id) => `${id}: ${states.get(id) ?? 'missing'}`)).toEqual([]);
      const twice = [...completions].filter(([, n]) => n > 1);
      expect(twice).toEqual([]);
    },
    scaled(45_000),
  );
});
