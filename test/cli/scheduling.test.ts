/**
 * `jobhub submit --run-at/--delay-ms`, `jobhub jobs retry|cancel|bulk` and `jobhub schedules …`
 * in child processes against a real hub.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { buildCli, runCliAsync } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

describe('jobhub jobs and schedules', () => {
  beforeAll(async () => {
    await buildCli();
  }, scaled(90_000));

  it(
    'submits a delayed job, cancels and retries jobs, and manages a schedule',
    async () => {
      const { url } = await testHub();
      const cli = (args: string[]) => runCliAsync([...args, '--hub', url]);
      const delayed = await cli([
        'submit',
        '--runtime',
        'cli-x',
        '--delay-ms',
        '60000',
        '--input',
        '/dev/null',
      ]);
      expect(delayed.code, delayed.stderr).toBe(0);
      const id = delayed.stdout.trim();
      const job = (await api(url, 'GET', `/api/v1/jobs/${id}`)).body;
      expect(Date.parse(job.runAt)).toBeGreaterThan(Date.now() + 50_000);

      expect((await cli(['jobs', 'cancel', id])).stdout).toBe(`${id}\tcanceled\n`);
      expect((await cli(['jobs', 'retry', id])).stdout).toBe(`${id}\tqueued\n`);
      const refused = await cli(['jobs', 'retry', id]);
      expect(refused.code).toBe(65);
      expect(refused.stderr).toMatch(/only failed or canceled jobs can be retried/);
      const bulk = await cli(['jobs', 'bulk', 'cancel', '--runtime', 'cli-x']);
      expect(bulk.stdout).toBe('1\n');
      expect((await cli(['jobs', 'bulk', 'delete'])).code).toBe(2);

      const created = await cli([
        'schedules',
        'create',
        '--name',
        'nightly',
        '--cron',
        '0 3 * * *',
        '--timezone',
        'Europe/Berlin',
        '--runtime',
        'cli-x',
        '--input-text',
        'go',
      ]);
      expect(created.code, created.stderr).toBe(0);
      const [sid, next] = created.stdout.trim().split('\t');
      expect(next).toMatch(/T0[12]:00:00\.000Z$/); // 03:00 in Berlin (winter or summer time)
      const listed = await cli(['schedules', 'list']);
      expect(listed.stdout).toContain(`${sid}\tnightly\t0 3 * * *\tEurope/Berlin\t`);
      expect((await cli(['schedules', 'pause', sid!])).stdout).toContain('\tpaused\t');
      expect((await cli(['schedules', 'resume', sid!])).code).toBe(0);
      expect((await cli(['schedules', 'delete', sid!])).code).toBe(0);
      expect((await api(url, 'GET', '/api/v1/schedules')).body.schedules).toEqual([]);
      const bad = await cli(['schedules', 'create', '--name', 'x', '--cron', 'never', '--runtime', 'r']);
      expect(bad.code).toBe(65);
      expect(bad.stderr).toMatch(/cron must have 5 fields/);
    },
    scaled(120_000),
  );
});
