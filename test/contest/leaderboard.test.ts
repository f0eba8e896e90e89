/**
 * The leaderboard with an injected clock: ranking by the latest passing score (earlier wins
 * ties), best score beside, failed latest = unranked, aborted never counts, the freeze (others
 * frozen, own team live, staff everything), results after the end excluded, ETag revalidation.
 */
import { describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { dequeue, enqueue, loadContest, login, report, staff, teams } from './helpers.js';

const T = Date.parse('2031-06-01T01:00:00Z');
const H = 3600_000;

interface Row {
  rank: number | null;
  team: { id: number; name: string };
  latest_score: number;
  best_score: number;
  latest_passed: boolean | null;
  own?: boolean;
}

const standings = (body: { teams: Row[] }) =>
  body.teams.map((t) => [t.team.name, t.rank, t.latest_score, t.best_score, ...(t.own ? ['own'] : [])]);

describe('leaderboard', () => {
  it('ranks, freezes and ends by the contest instants', async () => {
    let now = T - H;
    const { url } = await testHub({}, { clock: () => now });
    await loadContest(url, {
      contest: {
        starts_at: '2031-06-01T10:00:00+09:00', // = T
        freezes_at: new Date(T + 6 * H).toISOString(),
        ends_at: new Date(T + 7 * H).toISOString(),
      },
      teams: teams(3),
      benchmarkers: [{ name: 'shared', ip: '127.0.0.2', teams: [] }],
    });
    const run = async (team: string, score: number, passed: boolean, status = 'done') => {
      const id = await enqueue(url, team);
      expect((await dequeue(url, '127.0.0.2')).json.id).toBe(id);
      expect((await report(url, '127.0.0.2', id, { status, score, is_passed: passed })).status).toBe(200);
    };
    const board = async (headers: Record<string, string> = {}) => {
      const r = await api(url, 'GET', '/api/portal/leaderboard', undefined, headers);
      expect(r.status).toBe(200);
      return r.body;
    };
    const a = await login(url, 'team0', 'pw-0');
    const c = await login(url, 'team2', 'pw-2');

    // Before the start: contestants cannot enqueue; a staff check run does not count.
    expect((await api(url, 'POST', '/api/portal/jobs', {}, a)).status).toBe(403);
    await run('team0', 777, true);
    expect(standings(await board())).toEqual([
      ['team0', null, 0, 0],
      ['team1', null, 0, 0],
      ['team2', null, 0, 0],
    ]);

    now = T + 1 * H;
    await run('team0', 1000, true);
    await run('team1', 2000, true);
    await run('team2', 500, false);
    expect(standings(await board())).toEqual([
      ['team1', 1, 2000, 2000],
      ['team0', 2, 1000, 1000],
      ['team2', null, 0, 0],
    ]);

    now = T + 2 * H; // a tie: team1 reached 2000 earlier
    await run('team0', 2000, true);
    expect(standings(await board()).slice(0, 2)).toEqual([
      ['team1', 1, 2000, 2000],
      ['team0', 2, 2000, 2000],
    ]);

    now = T + 3 * H; // the latest counts, the best is shown beside
    await run('team1', 1500, true);
    now = T + 4 * H;
    await run('team2', 99_999, false, 'aborted'); // aborted never changes a score
    expect(standings(await board())).toEqual([
      ['team0', 1, 2000, 2000],
      ['team1', 2, 1500, 2000],
      ['team2', null, 0, 0],
    ]);
    now = T + 5 * H; // a failing latest run: unranked, best kept
    await run('team1', 3000, false);
    expect(standings(await board())[1]).toEqual(['team1', null, 0, 2000]);

    now = T + 6.5 * H; // frozen
    await run('team2', 9000, true);
    await run('team0', 100, true);
    const audience = await board();
    expect(audience.frozen).toBe(true);
    expect(audience.contest.phase).toBe('frozen');
    expect(standings(audience)).toEqual([
      ['team0', 1, 2000, 2000],
      ['team1', null, 0, 2000],
      ['team2', null, 0, 0],
    ]);
    expect(standings(await board(c))).toEqual([
      ['team2', 1, 9000, 9000, 'own'],
      ['team0', 2, 2000, 2000],
      ['team1', null, 0, 2000],
    ]);
    expect(standings(await board(a))).toEqual([
      ['team0', 1, 100, 2000, 'own'],
      ['team1', null, 0, 2000],
      ['team2', null, 0, 0],
    ]);
    const staffBoard = await staff(url, 'GET', '/leaderboard');
    expect(standings(staffBoard.body)).toEqual([
      ['team2', 1, 9000, 9000],
      ['team0', 2, 100, 2000],
      ['team1', null, 0, 2000],
    ]);
    // Contestants may still enqueue during the freeze.
    const frozenRun = await api(url, 'POST', '/api/portal/jobs', {}, a);
    expect(frozenRun.status).toBe(201);
    await staff(url, 'POST', `/jobs/${frozenRun.body.id}/cancel`);

    now = T + 7 * H + 1; // ended: no more contestant runs, later results never count
    expect((await api(url, 'POST', '/api/portal/jobs', {}, a)).status).toBe(403);
    await run('team1', 50_000, true);
    expect(standings((await staff(url, 'GET', '/leaderboard')).body)).toEqual(standings(staffBoard.body));
    expect(standings(await board())).toEqual(standings(audience));
    expect((await board()).contest.phase).toBe('ended');
    // The team's dashboard still lists the run, but its standing ignores it.
    const dash = await api(url, 'GET', '/api/portal/dashboard', undefined, await login(url, 'team1', 'pw-1'));
    expect(dash.body).toMatchObject({ latest_score: 0, latest_passed: false, best_score: 2000 });
    expect(dash.body.history.map((h: { score: number }) => h.score)).toEqual([2000, 1500, 3000, 50_000]);
  });

  it('revalidates with ETag (304) and changes the tag when a result arrives', async () => {
    const { url } = await testHub();
    await loadContest(url, { teams: teams(2), benchmarkers: [{ name: 's', ip: '127.0.0.2', teams: [] }] });
    const first = await fetch(`${url}/api/portal/leaderboard`);
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    expect(first.headers.get('cache-control')).toBe('public, max-age=2');
    await first.text();
    const again = await fetch(`${url}/api/portal/leaderboard`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const id = await enqueue(url, 'team1');
    await dequeue(url, '127.0.0.2');
    await report(url, '127.0.0.2', id, { status: 'done', score: 10, is_passed: true });
    const changed = await fetch(`${url}/api/portal/leaderboard`, { headers: { 'if-none-match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(((await changed.json()) as { teams: Row[] }).teams[0]).toMatchObject({
      rank: 1,
      latest_score: 10,
    });
  });
});
