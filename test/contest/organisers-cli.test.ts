/**
 * `jobhub portal` organiser commands in child processes against a real hub: clarifications and
 * answers, announcements, health and service, settings, verification, review, decisions,
 * publication and export, each with `--json` where it has an answer.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { scaled } from '../helpers/time.js';
import { buildCli, runCliAsync } from '../helpers/worker.js';
import { dequeue, loadContest, login, report, teams } from './helpers.js';

beforeAll(() => buildCli(), scaled(60_000));

const H = 3600_000;

// About 30 CLI processes in a row: each is a Node start-up, slow on a loaded machine.
describe('jobhub portal (organisers)', () => {
  it(
    'runs every staff action from the command line',
    async () => {
      const { url } = await testHub();
      const cli = async (...args: string[]) => {
        const r = await runCliAsync(['portal', ...args, '--hub', url]);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
        return r.stdout;
      };
      const json = async (...args: string[]) => JSON.parse(await cli(...args, '--json'));
      const now = Date.now();
      await loadContest(url, {
        contest: {
          starts_at: new Date(now - 3 * H).toISOString(),
          freezes_at: new Date(now - 2 * H).toISOString(),
          ends_at: new Date(now + H).toISOString(),
        },
        teams: teams(2),
        benchmarkers: [{ name: 'bench-a', ip: '127.0.0.2', teams: [] }],
      });
      const a = await login(url, 'team0', 'pw-0');
      await api(url, 'POST', '/api/portal/clarifications', { question: 'May we restart MySQL?' }, a);

      const open = await json('clarifications', '--open');
      expect(open).toEqual([expect.objectContaining({ question: 'May we restart MySQL?', answer: null })]);
      expect(await cli('clarifications')).toMatch(
        /^ID\tTEAM\tSTATUS\tQUESTION\tANSWER\n\d+\tteam0\topen\tMay we restart MySQL\?\t-\n$/,
      );
      const answered = await json(
        'answer',
        String(open[0].id),
        '--text',
        'Yes.',
        '--public',
        '--question',
        'Restarting MySQL?',
      );
      expect(answered).toMatchObject({ answer: 'Yes.', disclosed: true, question: 'Restarting MySQL?' });
      expect(await json('clarifications', '--open')).toEqual([]);

      const posted = await json('announce', '--title', 'Lunch', '--body', 'At noon', '--pin');
      expect(posted).toMatchObject({ title: 'Lunch', pinned: true });
      expect((await cli('announce', '--title', 'Hello', '--body', 'Welcome')).trim()).toMatch(/^\d+$/);
      expect(
        (await json('announcement', String(posted.id), '--withdraw', '--unpin')).withdrawn_at,
      ).not.toBeNull();
      expect((await json('announcements')).map((x: { title: string }) => x.title)).toEqual([
        'Hello',
        'Lunch',
      ]);
      expect((await api(url, 'GET', '/api/portal/announcements')).body.announcements).toHaveLength(1);

      expect(
        await json(
          'settings',
          '--offline-after',
          '30',
          '--stdout-after-end',
          'no',
          '--webhook',
          'http://127.0.0.1:9/a',
        ),
      ).toEqual({
        offline_after_s: 30,
        contestant_stdout_after_end: false,
        webhooks: ['http://127.0.0.1:9/a'],
      });
      expect(await cli('settings', '--no-webhooks')).toContain('webhooks: -');
      await dequeue(url, '127.0.0.2');
      expect((await json('health')).benchmarkers[0]).toMatchObject({
        name: 'bench-a',
        status: 'online',
        jobs: 0,
      });
      expect(await cli('service', 'bench-a', 'out')).toBe('bench-a: out of service\n');
      expect((await json('health')).benchmarkers[0].status).toBe('out_of_service');
      expect(await json('service', 'bench-a', 'in')).toMatchObject({
        name: 'bench-a',
        out_of_service: false,
      });

      // Not ended: verification is refused with the reason (exit 65).
      const early = await runCliAsync(['portal', 'verify', '--hub', url]);
      expect(early.code).toBe(65);
      expect(early.stderr).toContain('the contest has not ended');
      await api(url, 'PUT', '/api/portal/staff/contest', { ends_at: new Date(now - H).toISOString() });
      const verify = await json('verify');
      expect(verify.map((r: { team: { name: string } }) => r.team.name)).toEqual(['team0', 'team1']);
      for (let i = 0; i < 2; i++) {
        const d = await dequeue(url, '127.0.0.2');
        await report(url, '127.0.0.2', d.json.id, { status: 'done', score: 10 + i, is_passed: true });
      }
      const review = await json('results');
      expect(review.teams.map((t: { verification: { status: string } }) => t.verification.status)).toEqual([
        'done',
        'done',
      ]);
      expect(await json('decide', 'team1', '--disqualify', '--note', 'rule 3')).toMatchObject({
        disqualified: true,
        note: 'rule 3',
      });
      const published = await json('publish');
      expect(
        published.teams.map((t: { team: { name: string }; disqualified: boolean }) => [
          t.team.name,
          t.disqualified,
        ]),
      ).toEqual([
        ['team0', false],
        ['team1', true],
      ]);
      expect((await cli('export')).split('\r\n')[0]).toBe(
        'rank,team_id,team_name,score,best_score,verification_score,verification_passed,disqualified,note',
      );
      expect(JSON.parse(await cli('export', '--format', 'json')).teams).toHaveLength(2);
      expect(await json('unpublish')).toEqual({});
      const bad = await runCliAsync(['portal', 'decide', 'team0', '--hub', url]);
      expect(bad.code).toBe(2);
    },
    scaled(150_000),
  );
});
