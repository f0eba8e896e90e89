/**
 * The two portal endpoints the UI needs beyond the portal API: a team's own benchmark as
 * server-sent events, and the leading teams' score history, frozen like the leaderboard.
 */
import { describe, expect, it } from 'vitest';
import { api } from '../helpers/hub.js';
import { openEvents, type SseEvent } from '../helpers/worker.js';
import { contestHub, runAndWait, supervise, target } from './browser.js';
import { scaled } from '../helpers/time.js';

async function session(url: string, team: string, password: string): Promise<Record<string, string>> {
  const r = await api(url, 'POST', '/api/portal/login', { team, password });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { cookie: r.headers.get('set-cookie')!.split(';')[0]! };
}

describe('portal live endpoints', () => {
  it(
    "streams a team's own job: states, running scores, the result with stdout; others' jobs are 404",
    async () => {
      const hub = await contestHub({
        teams: [
          { name: 'one', password: 'pw-1', servers: target(51) },
          { name: 'two', password: 'pw-2', servers: target(52) },
        ],
        benchmarkers: [{ name: 'b', ip: '127.0.0.5', teams: [] }],
      });
      const one = await session(hub.url, 'one', 'pw-1');
      const two = await session(hub.url, 'two', 'pw-2');
      const job = await api(hub.url, 'POST', '/api/portal/jobs', undefined, { ...one, origin: hub.url });
      expect(job.status, JSON.stringify(job.body)).toBe(201);

      expect(
        (await api(hub.url, 'GET', `/api/portal/jobs/${job.body.id}/events`, undefined, two)).status,
      ).toBe(404);
      expect((await api(hub.url, 'GET', `/api/portal/jobs/${job.body.id}/events`)).status).toBe(401);

      const stream = await openEvents(`${hub.url}/api/portal/jobs/${job.body.id}/events`, one);
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toBe('text/event-stream');
      const first = await stream.next();
      expect(first).toMatchObject({ event: 'job', data: { id: job.body.id, status: 'waiting' } });
      expect(first!.data.stdout).toBeUndefined();

      supervise(hub.url, '127.0.0.5', 1500);
      const events: SseEvent[] = [];
      for (;;) {
        const e = await stream.next(15_000);
        if (!e) break;
        events.push(e);
      }
      const states = events.filter((e) => e.event === 'job').map((e) => e.data.status);
      expect(states).toEqual(['running', 'done']);
      const progress = events.filter((e) => e.event === 'progress');
      expect(progress.length).toBeGreaterThan(0);
      expect(progress[0]!.data.message).toMatch(/points against 203\.0\.113\.51/);
      const last = events[events.length - 1]!;
      expect(last.data).toMatchObject({ status: 'done', is_passed: true });
      expect(last.data.stdout).toContain('"pass":true');
      expect(last.data.stderr).toBeUndefined();

      // A finished job: the final state at once, then the end of the stream.
      const again = await openEvents(`${hub.url}/api/portal/jobs/${job.body.id}/events`, one);
      expect((await again.next())?.data.status).toBe('done');
      expect(await again.next()).toBeNull();
    },
    scaled(20_000),
  );

  it(
    'gives the score history of the leading teams, frozen for others, live for the own team',
    async () => {
      const hub = await contestHub({
        teams: [
          { name: 'ann', password: 'pw-a', servers: target(61) },
          { name: 'bob', password: 'pw-b', servers: target(62) },
          { name: 'cat', password: 'pw-c' },
        ],
        benchmarkers: [{ name: 'b', ip: '127.0.0.6', teams: [] }],
      });
      supervise(hub.url, '127.0.0.6', 300);
      const a1 = await runAndWait(hub.url, 'ann');
      const b1 = await runAndWait(hub.url, 'bob');

      const open = await api(hub.url, 'GET', '/api/portal/leaderboard/history');
      expect(open.status).toBe(200);
      expect(open.headers.get('cache-control')).toBe('public, max-age=2');
      expect(open.body.frozen).toBe(false);
      // Ranked teams only (cat has no result), in leaderboard order.
      expect(open.body.teams.map((t: any) => t.team.name).sort()).toEqual(['ann', 'bob']);
      const ann = open.body.teams.find((t: any) => t.team.name === 'ann');
      expect(ann.points).toEqual([{ at: expect.any(String), score: a1.score, is_passed: true }]);
      const etag = open.headers.get('etag')!;
      expect(
        (await api(hub.url, 'GET', '/api/portal/leaderboard/history', undefined, { 'if-none-match': etag }))
          .status,
      ).toBe(304);
      expect((await api(hub.url, 'GET', '/api/portal/leaderboard/history?top=1')).body.teams).toHaveLength(1);

      await api(hub.url, 'PUT', '/api/portal/staff/contest', { freezes_at: new Date().toISOString() });
      const b2 = await runAndWait(hub.url, 'bob');
      expect(b2.score).not.toBe(b1.score);

      const audience = await api(hub.url, 'GET', '/api/portal/leaderboard/history');
      expect(audience.body.frozen).toBe(true);
      expect(audience.body.teams.find((t: any) => t.team.name === 'bob').points).toHaveLength(1);
      const bob = await session(hub.url, 'bob', 'pw-b');
      const own = await api(hub.url, 'GET', '/api/portal/leaderboard/history', undefined, bob);
      expect(own.headers.get('cache-control')).toBe('private, max-age=2');
      const mine = own.body.teams.find((t: any) => t.team.name === 'bob');
      expect(mine.own).toBe(true);
      expect(mine.points.map((p: any) => p.score)).toEqual([b1.score, b2.score]);
      const annView = await api(
        hub.url,
        'GET',
        '/api/portal/leaderboard/history',
        undefined,
        await session(hub.url, 'ann', 'pw-a'),
      );
      expect(annView.body.teams.find((t: any) => t.team.name === 'bob').points).toHaveLength(1);
    },
    scaled(20_000),
  );
});
