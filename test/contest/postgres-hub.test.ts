/**
 * The portal on a hub backed by PostgreSQL (when JOBHUB_TEST_PG names a database): atomic claims
 * with team rules under concurrent benchmarkers, the one-active-job race, reports reaching the
 * leaderboard. Each test gets its own schema.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { api, testHub } from '../helpers/hub.js';
import { until } from '../helpers/worker.js';
import { dequeue, enqueue, loadContest, login, openContest, report, teams } from './helpers.js';
import { scaled } from '../helpers/time.js';

const url = process.env.JOBHUB_TEST_PG;
const schemas: string[] = [];

async function pgHub(schema = `jobhub_portal_hub_${randomBytes(6).toString('hex')}`) {
  if (!schemas.includes(schema)) schemas.push(schema);
  const store = await PostgresStore.open({ connectionString: url!, schema, maxConnections: 16 });
  return Object.assign(await testHub({}, { store }), { schema });
}

afterEach(async () => {
  if (!url || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  for (const s of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await client.end();
});

if (!url) {
  describe('portal on PostgreSQL', () => {
    it.skip('needs JOBHUB_TEST_PG=postgres://… to run', () => {});
  });
} else {
  describe('portal on PostgreSQL', () => {
    it('never hands one job to two benchmarkers and keeps bound teams to their benchmarker', async () => {
      const { url: base } = await pgHub();
      const bench = Array.from({ length: 16 }, (_, i) => ({
        name: `b${i}`,
        ip: `127.0.0.${i + 2}`,
        teams: [] as string[],
      }));
      bench[0]!.teams = ['team0', 'team1'];
      await loadContest(base, { teams: teams(30), benchmarkers: bench });
      const all = new Set<number>();
      for (let i = 0; i < 30; i++) all.add(await enqueue(base, `team${i}`));
      const got = new Map<number, string>();
      await Promise.all(
        bench.slice(1).map(async (b) => {
          for (;;) {
            const r = await dequeue(base, b.ip);
            if (r.status === 204) return;
            expect(got.has(r.json.id)).toBe(false);
            got.set(r.json.id, r.json.team.name);
          }
        }),
      );
      // Shared benchmarkers took every unbound team's job, and none of the bound ones.
      expect(got.size).toBe(28);
      expect([...got.values()].some((n) => n === 'team0' || n === 'team1')).toBe(false);
      const own = [await dequeue(base, '127.0.0.2'), await dequeue(base, '127.0.0.2')];
      expect(own.map((r) => r.json.team.name).sort()).toEqual(['team0', 'team1']);
      expect(new Set([...got.keys(), ...own.map((r) => r.json.id as number)])).toEqual(all);
    });

    it('allows one active job per team under concurrent enqueues, and reports reach the leaderboard', async () => {
      const { url: base } = await pgHub();
      await loadContest(base, {
        contest: openContest(),
        teams: teams(2),
        benchmarkers: [{ name: 's', ip: '127.0.0.2', teams: [] }],
      });
      const s = await login(base, 'team0', 'pw-0');
      const results = await Promise.all(
        Array.from({ length: 12 }, () => api(base, 'POST', '/api/portal/jobs', {}, s)),
      );
      expect(results.filter((r) => r.status === 201)).toHaveLength(1);
      expect(results.filter((r) => r.status === 409)).toHaveLength(11);
      const job = await dequeue(base, '127.0.0.2');
      expect(
        (await report(base, '127.0.0.2', job.json.id, { status: 'done', score: 777, is_passed: true }))
          .status,
      ).toBe(200);
      const board = await api(base, 'GET', '/api/portal/leaderboard');
      expect(board.body.teams[0]).toMatchObject({ rank: 1, team: { name: 'team0' }, latest_score: 777 });
    });

    it('lets a benchmarker dequeue through one hub and report through another', async () => {
      const a = await pgHub();
      const b = await pgHub(a.schema);
      await loadContest(a.url, {
        teams: teams(2),
        benchmarkers: [{ name: 's', ip: '127.0.0.2', teams: [] }],
      });
      const id = await enqueue(b.url, 'team1');
      const job = await dequeue(a.url, '127.0.0.2');
      expect(job.json.id).toBe(id);
      expect(
        (await report(b.url, '127.0.0.2', id, { status: 'done', score: 4242, is_passed: true })).status,
      ).toBe(200);
      // Hub a learns of the score from the database within about a second.
      await until(async () => {
        const board = await api(a.url, 'GET', '/api/portal/leaderboard');
        return board.body.teams[0]?.latest_score === 4242;
      }, scaled(2_500));
    });
  });
}
