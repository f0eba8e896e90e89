/**
 * The demo's organiser side (src/cli/demo.ts): announcements, clarifications in every state, and
 * a benchmarker that goes offline, as the staff API reports them.
 */
import { describe, expect, it } from 'vitest';
import { startDemo } from '../../src/cli/demo.js';
import { api, testHub } from '../helpers/hub.js';
import { until } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';
import { staff } from './helpers.js';

describe('the demo for organisers', () => {
  it(
    'shows announcements, clarifications and a benchmarker going offline',
    async () => {
      const { url } = await testHub();
      const demo = await startDemo({
        url,
        activity: false,
        benchDurationMs: 300,
        spareStopsAfterMs: 1000,
        spareOfflineAfterS: 1,
      });
      try {
        const anns = (await api(url, 'GET', '/api/portal/announcements')).body.announcements;
        expect(anns.map((a: { title: string; pinned: boolean }) => [a.title, a.pinned])).toEqual([
          ['Welcome to the jobhub demo contest', true],
          ['Lunch', false],
        ]);
        const all = (await staff(url, 'GET', '/clarifications')).body.clarifications;
        expect(
          all.map((c: { team: { name: string }; answer: string | null; disclosed: boolean }) => [
            c.team.name,
            c.answer === null ? 'open' : c.disclosed ? 'public' : 'private',
          ]),
        ).toEqual([
          ['charlie', 'open'],
          ['alpha', 'private'],
          ['bravo', 'public'],
        ]);
        const spare = async () =>
          (await staff(url, 'GET', '/health')).body.benchmarkers.find(
            (b: { name: string }) => b.name === 'bench-spare',
          ) as { status: string; last_dequeue_at: string | null } | undefined;
        // It polled (it has a last dequeue), then stopped: offline a second later.
        await until(async () => (await spare())?.status === 'offline', scaled(10_000), 200);
        expect((await spare())!.last_dequeue_at).not.toBeNull();
      } finally {
        await demo.stop();
      }
    },
    scaled(30_000),
  );
});
