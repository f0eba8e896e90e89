/**
 * POST /internal/job/:id/report/ edge cases, the timeout that aborts a silent benchmark, and the
 * progress endpoint.
 */
import { describe, expect, it } from 'vitest';
import { testHub } from '../helpers/hub.js';
import { dequeue, enqueue, loadContest, raw, report, staff, teams } from './helpers.js';

const BENCH = [
  { name: 'a', ip: '127.0.0.2', teams: [] },
  { name: 'b', ip: '127.0.0.3', teams: [] },
];

async function running(url: string, team = 'team0', from = '127.0.0.2'): Promise<number> {
  const id = await enqueue(url, team);
  const r = await dequeue(url, from);
  expect(r.json.id).toBe(id);
  return id;
}

describe('POST /internal/job/:id/report/', () => {
  it('records done with defaults for missing fields, and 200', async () => {
    const { url } = await testHub();
    await loadContest(url, { teams: teams(1), benchmarkers: BENCH });
    const id = await running(url);
    const r = await report(url, '127.0.0.2', id, { id, status: 'done', score: 120 });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    const job = await staff(url, 'GET', `/jobs/${id}`);
    expect(job.body).toMatchObject({
      id,
      status: 'done',
      score: 120,
      is_passed: false,
      reason: '',
      stdout: '',
      stderr: '',
    });
    expect(job.body.benchmarker).toBe('a');
  });

  it('keeps score, pass, reason and logs of a full report; aborted keeps its reason', async () => {
    const { url } = await testHub();
    await loadContest(url, { teams: teams(2), benchmarkers: BENCH });
    const id = await running(url);
    const body = {
      id,
      status: 'done',
      score: 5000,
      is_passed: true,
      reason: 'ok',
      stdout: 'out\nout',
      stderr: 'err',
    };
    expect((await report(url, '127.0.0.2', id, body)).status).toBe(200);
    expect((await staff(url, 'GET', `/jobs/${id}`)).body).toMatchObject({
      status: 'done',
      score: 5000,
      is_passed: true,
      reason: 'ok',
      stdout: 'out\nout',
      stderr: 'err',
    });
    const id2 = await running(url, 'team1');
    expect(
      (await report(url, '127.0.0.2', id2, { status: 'aborted', score: 0, reason: 'crashed' })).status,
    ).toBe(200);
    expect((await staff(url, 'GET', `/jobs/${id2}`)).body).toMatchObject({
      status: 'aborted',
      reason: 'crashed',
      is_passed: false,
    });
  });

  it('refuses bad bodies with 400 {"error":"Invalid format"} and changes nothing', async () => {
    const { url } = await testHub();
    await loadContest(url, { teams: teams(1), benchmarkers: BENCH });
    const id = await running(url);
    const bad = [
      { status: 'done' }, // no score
      { status: 'done', score: '100' },
      { status: 'done', score: 1.5 },
      { status: 'finished', score: 1 },
      { score: 1 },
      { status: 'done', score: 1, is_passed: 'yes' },
      { status: 'done', score: 1, stdout: 42 },
      [1, 2],
    ];
    for (const b of bad) {
      const r = await report(url, '127.0.0.2', id, b);
      expect(r.status, JSON.stringify(b)).toBe(400);
      expect(r.text).toBe('{"error":"Invalid format"}');
    }
    const notJson = await report(url, '127.0.0.2', id, '{"status": "done", "score": ');
    expect(notJson.status).toBe(400);
    expect(notJson.json).toEqual({ error: 'Invalid format' });
    const empty = await report(url, '127.0.0.2', id, '');
    expect(empty.status).toBe(400);
    expect((await staff(url, 'GET', `/jobs/${id}`)).body.status).toBe('running');
    // null text fields are empty strings (as Go decodes them).
    const ok = await report(url, '127.0.0.2', id, {
      status: 'done',
      score: 3,
      reason: null,
      stdout: null,
      stderr: null,
    });
    expect(ok.status).toBe(200);
  });

  it('answers 404 for an unknown job id, and 400 for an unknown reporter', async () => {
    const { url } = await testHub();
    await loadContest(url, { teams: teams(1), benchmarkers: BENCH });
    expect((await report(url, '127.0.0.2', 999_999, { status: 'done', score: 1 })).status).toBe(404);
    expect((await report(url, '127.0.0.2', 'abc', { status: 'done', score: 1 })).status).toBe(404);
    const id = await running(url);
    const stranger = await report(url, '127.0.0.77', id, { status: 'done', score: 1 });
    expect(stranger.status).toBe(400);
    expect(stranger.json).toEqual({ error: 'Unknown IP Address' });
  });

  it('refuses a report for a job that is not running (late, repeated with changes, or by another benchmarker)', async () => {
    const { url } = await testHub();
    await loadContest(url, { teams: teams(2), benchmarkers: BENCH });
    const waiting = await enqueue(url, 'team1');
    expect((await report(url, '127.0.0.2', waiting, { status: 'done', score: 9 })).status).toBe(400);
    await staff(url, 'POST', `/jobs/${waiting}/cancel`);
    const id = await running(url);
    // Another benchmarker cannot report a job it does not hold.
    const other = await report(url, '127.0.0.3', id, { status: 'done', score: 7, is_passed: true });
    expect(other.status).toBe(400);
    expect(other.json).toEqual({ error: 'Job is not running' });
    const first = { status: 'done', score: 100, is_passed: true, reason: 'r' };
    expect((await report(url, '127.0.0.2', id, first)).status).toBe(200);
    // The same report again (its answer was lost) is acknowledged; a different one is refused.
    expect((await report(url, '127.0.0.2', id, first)).status).toBe(200);
    const late = await report(url, '127.0.0.2', id, { status: 'done', score: 99_999, is_passed: true });
    expect(late.status).toBe(400);
    expect((await staff(url, 'GET', `/jobs/${id}`)).body).toMatchObject({ status: 'done', score: 100 });
    // A canceled job stays canceled.
    const c = await staff(url, 'GET', `/jobs/${waiting}`);
    expect(c.body.status).toBe('canceled');
  });

  it('turns a running job without a report past the limit into aborted "Benchmark timeout", and ignores the late report', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const { url, hub } = await testHub({ reapIntervalMs: 60_000 }, { clock: () => now });
    await loadContest(url, { teams: teams(1), benchmarkers: BENCH });
    const id = await running(url);
    now += 299_000;
    await hub.reapOnce();
    expect((await staff(url, 'GET', `/jobs/${id}`)).body.status).toBe('running');
    now += 2_000;
    expect(await hub.reapOnce()).toBe(1);
    const job = await staff(url, 'GET', `/jobs/${id}`);
    expect(job.body).toMatchObject({ status: 'aborted', reason: 'Benchmark timeout', score: 0 });
    const late = await report(url, '127.0.0.2', id, { status: 'done', score: 100, is_passed: true });
    expect(late.status).toBe(400);
    expect((await staff(url, 'GET', `/jobs/${id}`)).body.status).toBe('aborted');
    // The team may run again.
    await enqueue(url, 'team0');
  });

  it('uses the configured limit', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const { url, hub } = await testHub(
      { reapIntervalMs: 60_000, benchTimeoutMs: 10_000 },
      { clock: () => now },
    );
    await loadContest(url, { teams: teams(1), benchmarkers: BENCH });
    const id = await running(url);
    now += 10_001;
    expect(await hub.reapOnce()).toBe(1);
    expect((await staff(url, 'GET', `/jobs/${id}`)).body.reason).toBe('Benchmark timeout');
  });
});

describe('POST /internal/job/:id/progress/', () => {
  it('shows a running score to the team and refuses progress for jobs it does not hold', async () => {
    const { url } = await testHub();
    await loadContest(url, { teams: teams(1), benchmarkers: BENCH });
    const id = await running(url);
    const p = await raw(url, 'POST', `/internal/job/${id}/progress/`, {
      from: '127.0.0.2',
      body: JSON.stringify({ score: 1234, message: 'load level 3' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(p.status).toBe(200);
    expect((await staff(url, 'GET', `/jobs/${id}`)).body.progress).toEqual({
      score: 1234,
      message: 'load level 3',
    });
    const other = await raw(url, 'POST', `/internal/job/${id}/progress/`, {
      from: '127.0.0.3',
      body: JSON.stringify({ score: 1 }),
    });
    expect(other.status).toBe(400);
    await report(url, '127.0.0.2', id, { status: 'done', score: 2000, is_passed: true });
    expect((await staff(url, 'GET', `/jobs/${id}`)).body.progress).toBeNull();
  });
});
