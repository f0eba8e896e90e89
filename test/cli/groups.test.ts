/**
 * `jobhub groups list|set` and `jobhub submit --group` with the real command (child processes)
 * against a hub in this process: settings reach the hub, the list shows them with counts, and
 * mistakes end with one line and the usage status.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.js';
import { api, testHub } from '../helpers/hub.js';
import { buildCli, runCliAsync } from '../helpers/worker.js';

beforeAll(() => buildCli(), 120_000);

describe('jobhub groups', { timeout: 120_000 }, () => {
  it('sets limits and pause, lists groups with counts, and submits jobs into a group', async () => {
    const { url } = await testHub();
    const submitted = await runCliAsync([
      'submit',
      '--hub',
      url,
      '--runtime',
      'default',
      '--group',
      'tenant-a',
      '--input',
      '/dev/null',
    ]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const id = submitted.stdout.trim();
    expect((await api(url, 'GET', `/api/v1/jobs/${id}`)).body.group).toBe('tenant-a');

    const set = await runCliAsync([
      'groups',
      'set',
      'tenant-a',
      '--hub',
      url,
      '--concurrency',
      '2',
      '--per-second',
      '0.5',
      '--pause',
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('tenant-a: concurrency 2, per second 0.5, paused; 1 queued, 0 running');
    const cleared = await runCliAsync([
      'groups',
      'set',
      'tenant-a',
      '--hub',
      url,
      '--per-second',
      'none',
      '--resume',
      '--json',
    ]);
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(JSON.parse(cleared.stdout)).toMatchObject({ concurrency: 2, perSecond: null, paused: false });

    const listed = await runCliAsync(['groups', 'list', '--hub', url]);
    expect(listed.code, listed.stderr).toBe(0);
    const lines = listed.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^GROUP\s+CONCURRENCY\s+PER SECOND\s+PAUSED\s+QUEUED\s+RUNNING$/);
    expect(lines[1]!.split(/\s+/)).toEqual(['tenant-a', '2', '-', 'no', '1', '0']);
    const json = await runCliAsync(['groups', 'list', '--hub', url, '--json']);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ name: 'tenant-a', queued: 1 })]);
  });

  it('refuses bad values and empty changes with one line', async () => {
    const { url } = await testHub();
    for (const args of [
      ['groups', 'set', 'g', '--hub', url, '--concurrency', '0'],
      ['groups', 'set', 'g', '--hub', url, '--per-second', 'fast'],
      ['groups', 'set', 'g', '--hub', url],
      ['groups', 'set', 'g', '--hub', url, '--pause', '--resume'],
    ]) {
      const r = await runCliAsync(args);
      expect(r.code, r.stderr).toBe(EXIT.USAGE);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
    }
    // The hub's own refusal (a name too long) is one line too.
    const long = await runCliAsync(['groups', 'set', 'g'.repeat(201), '--hub', url, '--pause']);
    expect(long.code).not.toBe(0);
    expect(long.stderr.trimEnd().split('\n'), long.stderr).toHaveLength(1);
    expect(long.stderr).toContain('200');
  });
});
