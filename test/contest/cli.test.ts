/** `jobhub portal load|enqueue|jobs` in child processes against a hub. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir, testHub } from '../helpers/hub.js';
import { buildCli, runCliAsync } from '../helpers/worker.js';
import { dequeue, report, staff } from './helpers.js';
import { scaled } from '../helpers/time.js';

beforeAll(() => buildCli(), scaled(60_000));

const cli = runCliAsync;

const description = (benchTeams: string[], ip0 = '192.0.2.10') => ({
  contest: {
    starts_at: '2030-01-01T10:00:00+09:00',
    freezes_at: '2030-01-01T17:00:00+09:00',
    ends_at: '2030-01-01T18:00:00+09:00',
  },
  teams: [
    {
      name: 'team0',
      password: 'secret0',
      servers: [
        { hostname: 's1', global_ip: ip0, private_ip: '10.0.0.1', is_bench_target: true },
        { hostname: 's2', global_ip: '192.0.2.11', private_ip: '10.0.0.2', is_bench_target: false },
      ],
    },
    {
      name: 'team1',
      password: 'secret1',
      servers: [{ hostname: 's1', global_ip: '192.0.2.20', private_ip: '10.0.0.1', is_bench_target: true }],
    },
  ],
  benchmarkers: [
    { name: 'bench-a', ip: '127.0.0.2', teams: benchTeams },
    { name: 'bench-b', ip: '127.0.0.3', teams: [] },
  ],
});

describe('jobhub portal', () => {
  it(
    'loads a contest idempotently, enqueues as staff, and lists jobs as JSON',
    async () => {
      const { url } = await testHub();
      const file = join(tempDir(), 'contest.json');
      writeFileSync(file, JSON.stringify(description(['team0'])));
      const first = await cli(['portal', 'load', file, '--hub', url]);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(
        /teams: 2 created, 0 updated; servers: 3; benchmarkers: 2 created, 0 updated/,
      );
      const again = await cli(['portal', 'load', file, '--hub', url]);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(
        /teams: 0 created, 2 updated; servers: 3; benchmarkers: 0 created, 2 updated/,
      );
      const teams = (await staff(url, 'GET', '/teams')).body.teams;
      expect(teams.map((t: { name: string }) => t.name)).toEqual(['team0', 'team1']);
      const t0 = await staff(url, 'GET', `/teams/${teams[0].id}`);
      expect(t0.body.servers.map((s: { hostname: string }) => s.hostname)).toEqual(['s1', 's2']);
      expect(t0.body.benchmarkers).toEqual(['bench-a']);
      // Changes in the file apply in place: a new address, bench-a becomes shared.
      writeFileSync(file, JSON.stringify(description([], '192.0.2.99')));
      expect((await cli(['portal', 'load', file, '--hub', url])).code).toBe(0);
      const t0b = await staff(url, 'GET', `/teams/${teams[0].id}`);
      expect(t0b.body.servers[0]).toMatchObject({ id: t0.body.servers[0].id, global_ip: '192.0.2.99' });
      expect(t0b.body.benchmarkers).toEqual([]);
      expect((await staff(url, 'GET', '/benchmarkers')).body.benchmarkers).toHaveLength(2);
      // The password still works after re-loading.
      expect(
        (
          await fetch(`${url}/api/portal/login`, {
            method: 'POST',
            body: JSON.stringify({ team: 'team0', password: 'secret0' }),
          })
        ).status,
      ).toBe(200);

      const bad = join(tempDir(), 'bad.json');
      writeFileSync(
        bad,
        JSON.stringify({
          teams: [{ name: 'x', servers: [{ hostname: 's', global_ip: 'nope', private_ip: '10.0.0.1' }] }],
        }),
      );
      const refused = await cli(['portal', 'load', bad, '--hub', url]);
      expect(refused.code).toBe(65);
      expect(refused.stderr).toMatch(/teams\[0\]\.servers\[0\].*global_ip/);

      const e1 = await cli(['portal', 'enqueue', '--team', 'team0', '--hub', url]);
      expect(e1.code, e1.stderr).toBe(0);
      const id0 = Number(e1.stdout.trim());
      const e2 = await cli(['portal', 'enqueue', '--team', 'team0', '--hub', url]);
      expect(e2.code).toBe(65);
      expect(e2.stderr).toMatch(/team0 already has a waiting or running benchmark/);
      expect((await cli(['portal', 'enqueue', '--team', 'ghost', '--hub', url])).code).toBe(65);
      const id1 = Number((await cli(['portal', 'enqueue', '--team', 'team1', '--hub', url])).stdout.trim());
      await dequeue(url, '127.0.0.3');
      await report(url, '127.0.0.3', id0, { status: 'done', score: 321, is_passed: true, reason: 'fine' });

      const jobs = await cli(['portal', 'jobs', '--hub', url, '--json']);
      expect(jobs.code).toBe(0);
      expect(JSON.parse(jobs.stdout)).toEqual([
        { id: id1, team: 'team1', status: 'waiting', score: 0, is_passed: false, reason: '' },
        { id: id0, team: 'team0', status: 'done', score: 321, is_passed: true, reason: 'fine' },
      ]);
      // The table has a header, and a waiting job has no verdict yet.
      const table = await cli(['portal', 'jobs', '--hub', url]);
      expect(table.stdout.trim().split('\n')).toEqual([
        'ID\tTEAM\tSTATUS\tSCORE\tRESULT\tREASON',
        `${id1}\tteam1\twaiting\t0\t-\t`,
        `${id0}\tteam0\tdone\t321\tpass\tfine`,
      ]);
    },
    scaled(30_000),
  );

  it(
    'uses the admin token when the hub requires one',
    async () => {
      const { url, hub } = await testHub({ auth: true });
      const { token } = await hub.auth.create('admin', 'staff');
      const file = join(tempDir(), 'contest.json');
      writeFileSync(file, JSON.stringify(description([])));
      const denied = await cli(['portal', 'load', file, '--hub', url]);
      expect(denied.code).toBe(77);
      expect(denied.stderr).toMatch(/token/);
      expect((await cli(['portal', 'load', file, '--hub', url, '--token', token])).code).toBe(0);
      expect((await cli(['portal', 'jobs', '--hub', url, '--token', token, '--json'])).stdout.trim()).toBe(
        '[]',
      );
      expect((await cli(['portal', 'jobs', '--hub', 'http://127.0.0.1:1', '--json'])).code).toBe(69);
    },
    scaled(30_000),
  );
});
