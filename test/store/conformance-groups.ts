/**
 * The Store contract for job groups, run against every store: a job's group, group settings,
 * the concurrency and rate limits, pause, and fair (round-robin) dispatch among groups. Counts
 * are by lease order with explicit `now` values, never by the wall clock.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord, LeaseRequest, NewJob, Store } from '../../src/store/store.js';
import { newJob, type OpenStore } from './conformance.js';

const T0 = 1_000_000;

export function storeGroupConformance(name: string, open: OpenStore): void {
  describe(`Store conformance (groups): ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let workerId: string;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
      workerId = (
        await store.workerInsert({
          name: null,
          runtimes: ['default'],
          tags: [],
          capacity: 1,
          protocol: 'v1',
          createdAt: T0,
          lastSeenAt: T0,
        })
      ).id;
    });
    afterEach(async () => {
      await cleanup();
    });

    const insert = async (jobs: Partial<NewJob>[], now = T0) =>
      (await store.jobInsertMany({ jobs: jobs.map(newJob), now })).map((r) => r.job);
    const many = (n: number, over: Partial<NewJob>) => Array.from({ length: n }, () => over);
    const lease = (over: Partial<LeaseRequest> = {}) =>
      store.jobLeaseNext({
        workerId,
        runtimes: ['default'],
        tags: [],
        limit: 10,
        leaseMs: 60_000,
        now: T0,
        ...over,
      });
    const complete = (job: JobRecord, now = T0 + 1) =>
      store.jobComplete({
        jobId: job.id,
        token: job.leaseToken!,
        outputBlobId: null,
        outputInline: null,
        result: null,
        exitStatus: 0,
        now,
      });

    it('keeps a job group and lists jobs by group', async () => {
      const [a, b] = await insert([{ group: 'tenant-a' }, {}]);
      expect((await store.jobGet({ id: a!.id }))!.group).toBe('tenant-a');
      expect((await store.jobGet({ id: b!.id }))!.group).toBeNull();
      expect((await store.jobList({ group: 'tenant-a', limit: 10 })).map((j) => j.id)).toEqual([a!.id]);
      const [leased] = await lease({ limit: 1 });
      expect(leased!.group).toBe('tenant-a');
    });

    it('lists groups with settings and counts; an update keeps what it leaves out', async () => {
      await insert([{ group: 'b' }, { group: 'b' }, { group: 'a' }]);
      await lease({ limit: 1 });
      let groups = await store.groupList({ limit: 10 });
      expect(groups.map((g) => [g.name, g.queued + g.running, g.concurrency, g.paused])).toEqual([
        ['a', 1, null, false],
        ['b', 2, null, false],
      ]);
      expect(groups.reduce((n, g) => n + g.running, 0)).toBe(1);
      await store.groupUpsert({ name: 'b', settings: { concurrency: 3, perSecond: 2.5 }, now: T0 });
      const paused = await store.groupUpsert({ name: 'b', settings: { paused: true }, now: T0 + 1 });
      expect(paused).toMatchObject({
        name: 'b',
        concurrency: 3,
        perSecond: 2.5,
        paused: true,
        updatedAt: T0 + 1,
      });
      const cleared = await store.groupUpsert({ name: 'b', settings: { concurrency: null }, now: T0 + 2 });
      expect(cleared).toMatchObject({ concurrency: null, perSecond: 2.5, paused: true });
      const fresh = await store.groupUpsert({ name: 'new', settings: { concurrency: 1 }, now: T0 });
      expect(fresh).toMatchObject({ name: 'new', concurrency: 1, perSecond: null, paused: false, queued: 0 });
      groups = await store.groupList({ after: 'a', limit: 1 });
      expect(groups.map((g) => g.name)).toEqual(['b']);
      expect(await store.groupGet({ name: 'missing', now: T0 })).toBeNull();
    });

    it('never runs more jobs of a group than its concurrency', async () => {
      await store.groupUpsert({ name: 'g', settings: { concurrency: 2 }, now: T0 });
      await insert(many(5, { group: 'g' }));
      const first = await lease();
      expect(first).toHaveLength(2);
      expect(await lease()).toEqual([]);
      expect((await store.groupGet({ name: 'g', now: T0 }))!.usage.running).toBe(2);
      await complete(first[0]!);
      const next = await lease();
      expect(next).toHaveLength(1);
      // Raising the limit lets more start at once.
      await store.groupUpsert({ name: 'g', settings: { concurrency: 10 }, now: T0 });
      expect(await lease()).toHaveLength(2);
    });

    it('never starts more jobs of a group per second than its rate', async () => {
      await store.groupUpsert({ name: 'r', settings: { perSecond: 2 }, now: T0 });
      await insert(many(7, { group: 'r' }));
      const starts: number[] = [];
      for (let t = T0; t < T0 + 3_000; t += 100) {
        for (const j of await lease({ now: t })) starts.push(j.startedAt!);
      }
      // Any window of one second holds at most two starts; and the limit is not a stall.
      for (const s of starts)
        expect(starts.filter((x) => x >= s && x < s + 1000).length).toBeLessThanOrEqual(2);
      expect(starts.length).toBeGreaterThanOrEqual(5);
      const g = await store.groupGet({ name: 'r', now: T0 + 3_000 });
      expect(g!.usage.recentStarts).toBeLessThanOrEqual(2);
    });

    it('holds a paused group back and resumes it', async () => {
      await insert(many(3, { group: 'p' }));
      await store.groupUpsert({ name: 'p', settings: { paused: true }, now: T0 });
      const [plain] = await insert([{}]);
      // The ungrouped job still runs; the paused group's do not.
      expect((await lease()).map((j) => j.id)).toEqual([plain!.id]);
      expect(await lease()).toEqual([]);
      await store.groupUpsert({ name: 'p', settings: { paused: false }, now: T0 });
      expect(await lease()).toHaveLength(3);
    });

    it('serves groups round-robin: a long queue does not delay a short one', async () => {
      for (let i = 0; i < 10; i++) await insert(many(1_000, { group: 'A' }));
      await insert(many(10, { group: 'B' }));
      const order: string[] = [];
      // Leases of varying size, counted by the order jobs were handed out.
      for (let i = 0; order.length < 1_000; i++) {
        const got = await lease({ limit: 1 + (i % 4), now: T0 + i });
        expect(got.length).toBeGreaterThan(0);
        order.push(...got.map((j) => j.group!));
      }
      const lastB = order.lastIndexOf('B');
      const thousandthA = order.map((g, i) => (g === 'A' ? i : -1)).filter((i) => i >= 0)[999];
      expect(order.filter((g) => g === 'B')).toHaveLength(10);
      expect(lastB).toBeLessThan(thousandthA ?? Infinity);
      // Round-robin, not merely "B somewhere early": B's ten jobs come within the first 21.
      expect(lastB).toBeLessThan(21);
    }, 120_000);

    it('gives ungrouped jobs their turn beside the groups, in priority order', async () => {
      await insert(many(5, { group: 'A' }));
      await insert(many(5, {}));
      await insert([{ group: 'A', priority: 5 }]);
      const got = await lease({ limit: 5 });
      expect(got[0]!.priority).toBe(5);
      const rest = got.slice(1).map((j) => j.group);
      expect(rest.filter((g) => g === null).length).toBeGreaterThanOrEqual(2);
      expect(rest.filter((g) => g === 'A').length).toBeGreaterThanOrEqual(1);
    });

    it('takes ungrouped jobs as before when no group exists', async () => {
      const jobs = await insert(many(3, { priority: 0 }));
      const [high] = await insert([{ priority: 9 }]);
      expect((await lease()).map((j) => j.id)).toEqual([high!.id, ...jobs.map((j) => j.id)]);
    });
  });
}
