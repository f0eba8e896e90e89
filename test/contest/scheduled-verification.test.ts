/**
 * The contest's final verification at a set time: staff enqueue one benchmark for every team with
 * `run_at`; benchmarkers get none of them before that time, and all of them after.
 */
import { describe, expect, it } from 'vitest';
import { testHub } from '../helpers/hub.js';
import { sleep } from '../helpers/worker.js';
import { dequeue, loadContest, staff, teams } from './helpers.js';

const BENCH = [2, 3, 4].map((n) => ({ name: `b${n}`, ip: `127.0.0.${n}`, teams: [] }));

describe('scheduled verification runs', () => {
  it('enqueues a run for every team at a time; benchmarkers get them only from then', async () => {
    const { url } = await testHub();
    await loadContest(url, { teams: teams(3), benchmarkers: BENCH });
    const at = new Date(Date.now() + 1500);
    const all = await staff(url, 'POST', '/jobs/all', { run_at: at.toISOString() });
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    expect(all.body.results.every((r: { error: string | null }) => r.error === null)).toBe(true);
    const waiting = await staff(url, 'GET', '/jobs?status=waiting');
    expect(waiting.body.jobs).toHaveLength(3);
    for (const j of waiting.body.jobs) expect(j.run_at).toBe(at.toISOString());

    const early = await dequeue(url, '127.0.0.2');
    expect(early.status).toBe(204);
    await sleep(Math.max(0, at.getTime() - Date.now()) + 50);
    const taken = [];
    for (let i = 0; i < 3; i++) {
      // One benchmarker runs one job at a time: three of them take the three runs.
      const r = await dequeue(url, `127.0.0.${i + 2}`);
      expect(r.status, r.text).toBe(200);
      taken.push(r.json.id);
    }
    expect(new Set(taken).size).toBe(3);
  });

  it('refuses a malformed or far-off time and enqueues nothing', async () => {
    const { url } = await testHub();
    await loadContest(url, { teams: teams(2), benchmarkers: BENCH });
    for (const run_at of ['soon', 12, '2999-01-01T00:00:00Z']) {
      const r = await staff(url, 'POST', '/jobs/all', { run_at });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
    }
    expect((await staff(url, 'GET', '/jobs')).body.jobs).toEqual([]);
  });
});
