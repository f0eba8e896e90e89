/**
 * The end of a contest on both stores: verification runs for every team after the end (refused
 * before), the review beside the final standing, staff decisions, publication refused while a
 * verification runs, the public board frozen until publication, the published ranking as JSON
 * and CSV; and the logs rule: contestants' stdout after the end as staff decide, stderr never.
 */
import { describe, expect, it } from 'vitest';
import { api } from '../helpers/hub.js';
import { dequeue, enqueue, loadContest, login, report, staff, teams } from './helpers.js';
import { clockedHub, contest, H, STORES, T } from './organisers-helpers.js';

const B = '127.0.0.2';

describe.each(STORES)('results (%s)', (kind) => {
  it('verifies every team after the end, reviews, publishes, and keeps the board frozen until then', async () => {
    const { url, clock } = await clockedHub(kind, T + H);
    await loadContest(url, { contest, teams: teams(3), benchmarkers: [{ name: 'bench', ip: B, teams: [] }] });
    const run = async (team: string, score: number, passed: boolean) => {
      const id = await enqueue(url, team);
      expect((await dequeue(url, B)).json.id).toBe(id);
      expect((await report(url, B, id, { status: 'done', score, is_passed: passed })).status).toBe(200);
    };
    await run('team0', 100, true);
    await run('team1', 300, true);
    clock.now = T + 6.5 * H; // frozen: the audience no longer sees this
    await run('team2', 500, true);

    expect((await staff(url, 'POST', '/results/verify')).status).toBe(409);
    expect((await staff(url, 'POST', '/results/publish')).status).toBe(409);
    clock.now = T + 7 * H + 60_000;
    const verify = await staff(url, 'POST', '/results/verify');
    expect(verify.status).toBe(200);
    expect(
      verify.body.results.map((r: { team: { name: string }; error: null }) => [r.team.name, r.error]),
    ).toEqual([
      ['team0', null],
      ['team1', null],
      ['team2', null],
    ]);
    const audience = async () => (await api(url, 'GET', '/api/portal/leaderboard')).body;
    expect((await audience()).frozen).toBe(true);
    expect((await audience()).teams.map((t: { team: { name: string } }) => t.team.name)).toEqual([
      'team1',
      'team0',
      'team2',
    ]);

    // Verification: team0 and team2 pass, team1 fails; publication waits for all of them.
    const byTeam = new Map<string, number>();
    for (let i = 0; i < 3; i++) {
      const d = await dequeue(url, B);
      byTeam.set(d.json.team.name, d.json.id);
    }
    await report(url, B, byTeam.get('team0')!, { status: 'done', score: 90, is_passed: true });
    await report(url, B, byTeam.get('team1')!, {
      status: 'done',
      score: 0,
      is_passed: false,
      reason: 'inconsistent data',
    });
    const early = await staff(url, 'POST', '/results/publish');
    expect(early.status).toBe(409);
    expect(early.body.error.message).toContain('team2');
    await report(url, B, byTeam.get('team2')!, { status: 'done', score: 480, is_passed: true });

    const review = await staff(url, 'GET', '/results');
    expect(review.body.published_at).toBeNull();
    expect(
      review.body.teams.map(
        (t: {
          team: { name: string };
          contest_rank: number;
          score: number;
          verification: { is_passed: boolean };
          disqualified: boolean;
        }) => [t.team.name, t.contest_rank, t.score, t.verification.is_passed, t.disqualified],
      ),
    ).toEqual([
      ['team2', 1, 500, true, false],
      ['team1', 2, 300, false, true],
      ['team0', 3, 100, true, false],
    ]);
    // Staff accept team1 after looking into it; the ranking follows.
    const ids = new Map(
      review.body.teams.map((t: { team: { id: number; name: string } }) => [t.team.name, t.team.id]),
    );
    const decided = await staff(url, 'PUT', `/results/teams/${ids.get('team1')}`, {
      disqualified: false,
      note: 'benchmarker fault',
    });
    expect(decided.body).toEqual({
      team_id: ids.get('team1'),
      disqualified: false,
      note: 'benchmarker fault',
    });
    expect(
      (await staff(url, 'PUT', `/results/teams/${ids.get('team0')}`, { disqualified: 'yes' })).status,
    ).toBe(400);
    expect((await staff(url, 'PUT', '/results/teams/999', { disqualified: true })).status).toBe(404);
    await staff(url, 'PUT', `/results/teams/${ids.get('team0')}`, {
      disqualified: true,
      note: 'shared servers, team "zero"',
    });

    expect((await api(url, 'GET', '/api/portal/results')).status).toBe(404);
    const published = await staff(url, 'POST', '/results/publish');
    expect(published.status).toBe(200);
    const expected = [
      [1, 'team2', 500, false],
      [2, 'team1', 300, false],
      [null, 'team0', 100, true],
    ];
    const rows = (body: {
      teams: { rank: number | null; team: { name: string }; score: number; disqualified: boolean }[];
    }) => body.teams.map((t) => [t.rank, t.team.name, t.score, t.disqualified]);
    expect(rows(published.body)).toEqual(expected);
    const pub = await api(url, 'GET', '/api/portal/results');
    expect(pub.status).toBe(200);
    expect(rows(pub.body)).toEqual(expected);
    expect(pub.body.published_at).toBe(new Date(clock.now).toISOString());
    const csv = await fetch(`${url}/api/portal/results?format=csv`);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect((await csv.text()).split('\r\n')).toEqual([
      'rank,team_id,team_name,score,best_score,verification_score,verification_passed,disqualified,note',
      `1,${ids.get('team2')},team2,500,500,480,true,false,`,
      `2,${ids.get('team1')},team1,300,300,0,false,false,benchmarker fault`,
      `,${ids.get('team0')},team0,100,100,90,true,true,"shared servers, team ""zero"""`,
      '',
    ]);
    const exported = await staff(url, 'GET', '/results/export?format=json');
    expect(rows(exported.body)).toEqual(expected);
    expect((await staff(url, 'GET', '/results/export?format=xml')).status).toBe(400);

    // Published: the board is no longer frozen for anyone.
    const after = await audience();
    expect(after).toMatchObject({ frozen: false, published: true });
    expect(after.teams.map((t: { team: { name: string } }) => t.team.name)).toEqual([
      'team2',
      'team1',
      'team0',
    ]);
    expect((await staff(url, 'DELETE', '/results/publication')).status).toBe(200);
    expect((await audience()).frozen).toBe(true);
    expect((await api(url, 'GET', '/api/portal/results')).status).toBe(404);
  });

  it('shows contestants their stdout after the end only when staff allow it; stderr never', async () => {
    const { url, clock } = await clockedHub(kind, T + H);
    await loadContest(url, { contest, teams: teams(1), benchmarkers: [{ name: 'bench', ip: B, teams: [] }] });
    const a = await login(url, 'team0', 'pw-0');
    const id = await enqueue(url, 'team0');
    await dequeue(url, B);
    await report(url, B, id, {
      status: 'done',
      score: 5,
      is_passed: true,
      stdout: 'THE-STDOUT',
      stderr: 'THE-STDERR',
    });
    const mine = async () => (await api(url, 'GET', `/api/portal/jobs/${id}`, undefined, a)).body;
    expect(await mine()).toMatchObject({ stdout: 'THE-STDOUT' });
    expect(JSON.stringify(await mine())).not.toContain('THE-STDERR');

    clock.now = T + 8 * H;
    expect(await mine()).toMatchObject({ stdout: 'THE-STDOUT' }); // the default: allowed
    await staff(url, 'PUT', '/settings', { contestant_stdout_after_end: false });
    const hidden = await mine();
    expect(hidden.stdout_hidden).toBe(true);
    expect(hidden).not.toHaveProperty('stdout');
    expect(JSON.stringify(hidden)).not.toContain('THE-');
    // Staff still read both; the results and the public board never carry logs.
    expect((await staff(url, 'GET', `/jobs/${id}`)).body).toMatchObject({
      stdout: 'THE-STDOUT',
      stderr: 'THE-STDERR',
    });
    expect(JSON.stringify((await staff(url, 'GET', '/results')).body)).not.toContain('THE-');
    expect(JSON.stringify((await staff(url, 'GET', '/results/export')).body)).not.toContain('THE-');
    // During the contest the setting does not apply.
    clock.now = T + 2 * H;
    expect(await mine()).toMatchObject({ stdout: 'THE-STDOUT' });
  });
});
