/**
 * Cron schedules with three hubs on one PostgreSQL database: every hub runs every schedule, and
 * each tick still makes exactly one job. Runs when JOBHUB_TEST_PG names a database.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { sleep, until } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

const url = process.env.JOBHUB_TEST_PG;
const schemas: string[] = [];

afterEach(async () => {
  if (!url || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  for (const s of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await client.end();
});

describe.runIf(url)('cron schedules on several hubs', () => {
  it('three hubs, one schedule every second, ten seconds of ticks: exactly ten jobs', async () => {
    const schema = `jobhub_cron_${randomBytes(5).toString('hex')}`;
    schemas.push(schema);
    const u = new URL(url!);
    u.searchParams.set('schema', schema);
    const database = u.toString();
    const hubs = [await testHub({ database }), await testHub({ database }), await testHub({ database })];
    const created = await api(hubs[0]!.url, 'POST', '/api/v1/schedules', {
      name: 'each-second',
      cron: '* * * * * *',
      job: { runtime: 'cron-multi' },
    });
    expect(created.status).toBe(201);
    // The window is ten of the schedule's own ticks, starting two ticks after creation (every
    // hub has seen the schedule by then: they read the store at least every 5 s and at each tick
    // they know of; the creating hub arms at once).
    const first = Date.parse(created.body.nextRunAt) + 2000;
    const end = first + 10_000;
    await sleep(Math.max(0, end - Date.now()));
    // Ticks in the window have all run once the schedule's next tick is past the window.
    await until(
      async () =>
        Date.parse((await api(hubs[1]!.url, 'GET', `/api/v1/schedules/${created.body.id}`)).body.nextRunAt) >=
        end,
      scaled(10_000),
    );
    const jobs = (await api(hubs[2]!.url, 'GET', '/api/v1/jobs?runtime=cron-multi&limit=1000')).body.jobs as {
      runAt: string;
    }[];
    const ticks = jobs.map((j) => Date.parse(j.runAt)).filter((t) => t >= first && t < end);
    expect(ticks.sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => first + i * 1000));
    // And no tick made two jobs, inside the window or out of it.
    const all = jobs.map((j) => j.runAt);
    expect(new Set(all).size).toBe(all.length);
  });
});
