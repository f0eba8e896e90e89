/**
 * The portal across a hub restart: everything is in the database (teams, servers, benchmarkers
 * and their workers, jobs, scores); a score lost between a job's completion and its score row
 * (the hub stopped in between) is repaired at start.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { api, stopHub, tempDir, testHub } from '../helpers/hub.js';
import { until } from '../helpers/worker.js';
import { dequeue, enqueue, loadContest, report, staff, teams } from './helpers.js';

describe('portal restart', () => {
  it('keeps the contest and repairs a lost score row', async () => {
    const dataDir = tempDir();
    const first = await testHub({ dataDir });
    await loadContest(first.url, {
      teams: teams(2),
      benchmarkers: [{ name: 's', ip: '127.0.0.2', teams: [] }],
    });
    const j0 = await enqueue(first.url, 'team0');
    await dequeue(first.url, '127.0.0.2');
    await report(first.url, '127.0.0.2', j0, { status: 'done', score: 300, is_passed: true });
    const j1 = await enqueue(first.url, 'team1');
    await dequeue(first.url, '127.0.0.2');
    await report(first.url, '127.0.0.2', j1, { status: 'done', score: 500, is_passed: true });
    // A job left running keeps its benchmarker across the restart.
    const running = await enqueue(first.url, 'team1');
    expect((await dequeue(first.url, '127.0.0.2')).json.id).toBe(running);
    await stopHub(first);

    const db = new Database(join(dataDir, 'jobhub.db'));
    db.prepare('DELETE FROM portal_scores WHERE job_id = ?').run(j1);
    db.close();

    const second = await testHub({ dataDir });
    const jobs = await staff(second.url, 'GET', '/jobs');
    expect(
      jobs.body.jobs.map((j: { team: { name: string }; status: string }) => [j.team.name, j.status]),
    ).toEqual([
      ['team1', 'running'],
      ['team1', 'done'],
      ['team0', 'done'],
    ]);
    const standings = async () =>
      (await api(second.url, 'GET', '/api/portal/leaderboard')).body.teams.map(
        (t: { team: { name: string }; latest_score: number }) => [t.team.name, t.latest_score],
      );
    await until(
      async () =>
        JSON.stringify(await standings()) ===
        JSON.stringify([
          ['team1', 500],
          ['team0', 300],
        ]),
    );
    expect(
      (await report(second.url, '127.0.0.2', running, { status: 'done', score: 900, is_passed: true }))
        .status,
    ).toBe(200);
    expect((await standings())[0]).toEqual(['team1', 900]);
  });
});
