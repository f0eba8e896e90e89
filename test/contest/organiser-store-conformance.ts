/**
 * The OrganiserStore contract (clarifications, announcements, benchmarker health, settings,
 * one-time claims, verification runs, reviews, publication), run against every implementation
 * from store-sqlite.test.ts and store-postgres.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OrganiserStore } from '../../src/contest/store/organisers.js';
import type { PortalStore } from '../../src/contest/store/store.js';
import type { Store } from '../../src/store/store.js';
import type { OpenPortalStore } from './store-conformance.js';

const T0 = 1_700_000_000_000;

export function organiserStoreConformance(name: string, open: OpenPortalStore): void {
  describe(`OrganiserStore conformance: ${name}`, () => {
    let portal: PortalStore;
    let store: OrganiserStore;
    let core: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store: portal, core, cleanup } = await open());
      store = portal.organisers();
    });
    afterEach(async () => {
      await cleanup();
    });
    const team = async (name: string) =>
      (await portal.teamInsert({ name, passwordHash: null, inviteToken: null, now: T0 })).id;

    it('keeps clarifications: own and disclosed ones per team, open ones for staff, rewrites keep the original', async () => {
      const [a, b] = [await team('a'), await team('b')];
      const qa = await store.clarificationInsert({ teamId: a, question: 'Is caching allowed?', now: T0 });
      const qb = await store.clarificationInsert({ teamId: b, question: 'Can we reboot?', now: T0 + 1 });
      expect(qa).toMatchObject({ teamId: a, answer: null, disclosed: false, answeredAt: null });
      expect((await store.clarificationList({ open: true })).map((c) => c.id)).toEqual([qb.id, qa.id]);
      expect((await store.clarificationList({ teamId: b })).map((c) => c.id)).toEqual([qb.id]);

      const answered = await store.clarificationAnswer({
        id: qa.id,
        answer: 'Yes.',
        disclosed: true,
        question: 'Is caching allowed? (rewritten)',
        now: T0 + 5,
      });
      expect(answered).toMatchObject({
        question: 'Is caching allowed? (rewritten)',
        originalQuestion: 'Is caching allowed?',
        answer: 'Yes.',
        disclosed: true,
        answeredAt: T0 + 5,
      });
      // A second rewrite keeps the team's own words as the original.
      const again = await store.clarificationAnswer({
        id: qa.id,
        answer: 'Yes!',
        disclosed: true,
        question: 'Q3',
        now: T0 + 6,
      });
      expect(again).toMatchObject({
        question: 'Q3',
        originalQuestion: 'Is caching allowed?',
        answer: 'Yes!',
      });
      // An answer without a rewrite leaves the question alone.
      const private_ = await store.clarificationAnswer({
        id: qb.id,
        answer: 'No.',
        disclosed: false,
        now: T0 + 7,
      });
      expect(private_).toMatchObject({
        question: 'Can we reboot?',
        originalQuestion: null,
        disclosed: false,
      });

      expect((await store.clarificationList({ teamId: b })).map((c) => c.id)).toEqual([qb.id, qa.id]);
      expect((await store.clarificationList({ teamId: a })).map((c) => c.id)).toEqual([qa.id]);
      expect(await store.clarificationList({ open: true })).toEqual([]);
      expect(await store.clarificationGet({ id: qb.id })).toEqual(private_);
      expect(await store.clarificationGet({ id: '999' })).toBeNull();
      expect(await store.clarificationGet({ id: 'x' })).toBeNull();
      expect(
        await store.clarificationAnswer({ id: '999', answer: 'x', disclosed: false, now: T0 }),
      ).toBeNull();
    });

    it('moves a team read mark forward only', async () => {
      const a = await team('a');
      expect(await store.clarificationReadGet({ teamId: a })).toBeNull();
      await store.clarificationReadSet({ teamId: a, at: T0 + 10 });
      await store.clarificationReadSet({ teamId: a, at: T0 + 5 });
      expect(await store.clarificationReadGet({ teamId: a })).toBe(T0 + 10);
    });

    it('keeps announcements: pinned first, edits, withdrawal and restoring', async () => {
      const one = await store.announcementInsert({
        title: 'Welcome',
        body: 'Good luck',
        pinned: false,
        now: T0,
      });
      const two = await store.announcementInsert({
        title: 'Lunch',
        body: 'At noon',
        pinned: false,
        now: T0 + 1,
      });
      expect((await store.announcementList({ withdrawn: false })).map((a) => a.id)).toEqual([two.id, one.id]);
      const pinned = await store.announcementUpdate({
        id: one.id,
        pinned: true,
        body: 'Good luck!',
        now: T0 + 2,
      });
      expect(pinned).toMatchObject({ title: 'Welcome', body: 'Good luck!', pinned: true, updatedAt: T0 + 2 });
      expect((await store.announcementList({ withdrawn: false })).map((a) => a.id)).toEqual([one.id, two.id]);
      const gone = await store.announcementUpdate({ id: two.id, withdrawn: true, now: T0 + 3 });
      expect(gone?.withdrawnAt).toBe(T0 + 3);
      expect((await store.announcementList({ withdrawn: false })).map((a) => a.id)).toEqual([one.id]);
      expect((await store.announcementList({ withdrawn: true })).map((a) => a.id)).toEqual([one.id, two.id]);
      const back = await store.announcementUpdate({ id: two.id, withdrawn: false, now: T0 + 4 });
      expect(back?.withdrawnAt).toBeNull();
      expect(await store.announcementUpdate({ id: '999', title: 'x', now: T0 })).toBeNull();
    });

    it('keeps benchmarker service state and the latest dequeue', async () => {
      const b = await portal.benchmarkerInsert({
        name: 'b1',
        address: '127.0.0.2',
        tokenHash: null,
        now: T0,
      });
      expect(await store.healthList()).toEqual([
        { benchmarkerId: b.id, outOfService: false, lastDequeueAt: null },
      ]);
      await store.healthSeen({ benchmarkerId: b.id, at: T0 + 10 });
      await store.healthSeen({ benchmarkerId: b.id, at: T0 + 5 });
      await store.healthSetService({ benchmarkerId: b.id, outOfService: true });
      expect(await store.healthList()).toEqual([
        { benchmarkerId: b.id, outOfService: true, lastDequeueAt: T0 + 10 },
      ]);
      await store.healthSetService({ benchmarkerId: b.id, outOfService: false });
      expect((await store.healthList())[0]!.outOfService).toBe(false);
    });

    it('counts a worker jobs, aborted ones and the running one from the core jobs table', async () => {
      const w = await core.workerInsert({
        name: 'benchmarker:b1',
        runtimes: ['isucon-bench'],
        tags: [],
        capacity: 3,
        protocol: 'portal',
        createdAt: T0,
        lastSeenAt: T0,
      });
      const job = (team: string) => ({
        functionId: null,
        runtime: 'isucon-bench',
        inputBlobId: null,
        inputInline: null,
        tags: [],
        priority: 0,
        maxAttempts: 1,
        timeoutMs: 60_000,
        team,
        owner: null,
        next: null,
        idempotencyKey: null,
        parentId: null,
      });
      await core.jobInsertMany({ jobs: [job('1'), job('2'), job('3')], now: T0 });
      const leased = await core.jobLeaseNext({
        workerId: w.id,
        runtimes: ['isucon-bench'],
        tags: [],
        limit: 3,
        leaseMs: 60_000,
        now: T0,
      });
      expect(leased).toHaveLength(3);
      await core.jobFail({
        jobId: leased[0]!.id,
        token: leased[0]!.leaseToken!,
        error: 'crashed',
        retryable: false,
        exitStatus: null,
        result: null,
        retryDelayMs: 0,
        now: T0 + 1,
      });
      await core.jobComplete({
        jobId: leased[1]!.id,
        token: leased[1]!.leaseToken!,
        outputBlobId: null,
        outputInline: null,
        exitStatus: null,
        result: { score: 1 },
        now: T0 + 1,
      });
      expect(await store.benchmarkerJobStats({ runtime: 'isucon-bench' })).toEqual([
        { workerId: w.id, jobs: 3, aborted: 1, runningJobId: leased[2]!.id },
      ]);
    });

    it('keeps settings and claims a one-time event once', async () => {
      expect(await store.settingsGet()).toEqual({});
      await store.settingsSet({ data: { offline_after_s: 30, webhooks: ['http://x/'] }, now: T0 });
      await store.settingsSet({ data: { offline_after_s: 45 }, now: T0 + 1 });
      expect(await store.settingsGet()).toEqual({ offline_after_s: 45 });
      expect(await store.onceClaim({ key: 'freeze:1', now: T0 })).toBe(true);
      const again = await Promise.all([
        store.onceClaim({ key: 'freeze:1', now: T0 }),
        store.onceClaim({ key: 'end:1', now: T0 }),
      ]);
      expect(again).toEqual([false, true]);
    });

    it('keeps verification runs, reviews and the publication', async () => {
      const a = await team('a');
      await store.verificationInsert({ jobId: '7', teamId: a, now: T0 });
      await store.verificationInsert({ jobId: '7', teamId: a, now: T0 + 1 });
      await store.verificationInsert({ jobId: '9', teamId: a, now: T0 + 2 });
      expect(await store.verificationList()).toEqual([
        { jobId: '7', teamId: a, createdAt: T0 },
        { jobId: '9', teamId: a, createdAt: T0 + 2 },
      ]);
      await store.reviewSet({ teamId: a, disqualified: true, note: 'broke the rules', now: T0 });
      expect(
        await store.reviewSet({ teamId: a, disqualified: false, note: 'appeal accepted', now: T0 + 1 }),
      ).toEqual({
        teamId: a,
        disqualified: false,
        note: 'appeal accepted',
        updatedAt: T0 + 1,
      });
      expect(await store.reviewList()).toHaveLength(1);
      expect(await store.publicationGet()).toBeNull();
      await store.publicationSet({ body: '{"teams":[]}', now: T0 });
      expect(await store.publicationSet({ body: '{"teams":[1]}', now: T0 + 1 })).toEqual({
        body: '{"teams":[1]}',
        publishedAt: T0 + 1,
      });
      expect(await store.publicationDelete()).toBe(true);
      expect(await store.publicationDelete()).toBe(false);
      expect(await store.publicationGet()).toBeNull();
    });
  });
}
