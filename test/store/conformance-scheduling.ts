/**
 * The Store contract for scheduling: delayed jobs (`runAt` at insert), retry of failed and
 * canceled jobs, bulk retry and cancel by filter. Run against every store like conformance.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewJob, Store } from '../../src/store/store.js';
import { newJob, type OpenStore } from './conformance.js';

const T0 = 1_000_000;

export function storeSchedulingConformance(name: string, open: OpenStore): void {
  describe(`Store scheduling conformance: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup();
    });

    const insert = async (jobs: Partial<NewJob>[], now = T0) =>
      (await store.jobInsertMany({ jobs: jobs.map(newJob), now })).map((r) => r.job);
    const worker = () =>
      store.workerInsert({
        name: null,
        runtimes: ['default'],
        tags: [],
        capacity: 1,
        protocol: 'v1',
        createdAt: T0,
        lastSeenAt: T0,
      });
    const lease = (workerId: string, now: number, limit = 10) =>
      store.jobLeaseNext({ workerId, runtimes: ['default'], tags: [], limit, leaseMs: 10_000, now });

    it('keeps a delayed job out of leases until its runAt, also in a multi-job insert', async () => {
      const [delayed, plain, other] = await insert([{ runAt: T0 + 5000 }, {}, { runAt: T0 + 9000 }]);
      expect(delayed!.runAt).toBe(T0 + 5000);
      expect(plain!.runAt).toBe(T0);
      expect(other!.runAt).toBe(T0 + 9000);
      expect(await store.jobNextRunAt({ now: T0 })).toBe(T0 + 5000);
      const w = await worker();
      expect((await lease(w.id, T0)).map((j) => j.id)).toEqual([plain!.id]);
      expect(await lease(w.id, T0 + 4999)).toEqual([]);
      expect((await lease(w.id, T0 + 5000)).map((j) => j.id)).toEqual([delayed!.id]);
      const [single] = await insert([{ runAt: T0 + 100, idempotencyKey: 'k' }]);
      expect(single!.runAt).toBe(T0 + 100);
    });

    it('retries failed and canceled jobs with a fresh budget and the history kept; not others', async () => {
      const w = await worker();
      const [a, b, c] = await insert([{ maxAttempts: 1 }, {}, {}]);
      const [leased] = await lease(w.id, T0, 1);
      await store.jobFail({
        jobId: leased!.id,
        token: leased!.leaseToken!,
        error: 'boom',
        retryable: false,
        exitStatus: 3,
        result: null,
        retryDelayMs: 0,
        now: T0 + 1,
      });
      const retried = await store.jobRetry({ jobId: a!.id, now: T0 + 10 });
      expect(retried).toMatchObject({
        changed: true,
        job: {
          state: 'queued',
          attempts: 0,
          runAt: T0 + 10,
          error: null,
          exitStatus: null,
          finishedAt: null,
        },
      });
      expect(retried!.job.errors).toMatchObject([{ attempt: 1, message: 'boom' }]);
      await store.jobCancel({ jobId: b!.id, now: T0 });
      expect((await store.jobRetry({ jobId: b!.id, now: T0 + 10 }))!.changed).toBe(true);
      expect(await store.jobRetry({ jobId: c!.id, now: T0 + 10 })).toMatchObject({
        changed: false,
        job: { state: 'queued' },
      });
      expect(await store.jobRetry({ jobId: '999999', now: T0 })).toBeNull();
    });

    it('refuses to retry a team job while its team has another active job', async () => {
      const [first] = await insert([{ team: '7' }]);
      await store.jobCancel({ jobId: first!.id, now: T0 });
      await insert([{ team: '7' }]);
      await expect(store.jobRetry({ jobId: first!.id, now: T0 })).rejects.toMatchObject({ code: 'conflict' });
    });

    it('applies bulk actions to the filtered jobs only, oldest first, up to the limit', async () => {
      const jobs = await insert([
        { owner: 'a', tags: ['x'] },
        { owner: 'a' },
        { owner: 'a', runtime: 'other' },
        { owner: 'b', tags: ['x'] },
      ]);
      const canceled = await store.jobBulk({
        action: 'cancel',
        filter: { owner: 'a' },
        limit: 2,
        now: T0 + 1,
      });
      expect(canceled.map((j) => j.id)).toEqual([jobs[0]!.id, jobs[1]!.id]);
      expect(canceled.every((j) => j.state === 'canceled' && j.finishedAt === T0 + 1)).toBe(true);
      const byTag = await store.jobBulk({ action: 'retry', filter: { tag: 'x' }, limit: 10, now: T0 + 2 });
      expect(byTag.map((j) => j.id)).toEqual([jobs[0]!.id]);
      expect(byTag[0]).toMatchObject({ state: 'queued', attempts: 0, runAt: T0 + 2 });
      // Only states the action applies to: a retry of queued jobs changes nothing.
      expect(
        await store.jobBulk({ action: 'retry', filter: { states: ['queued'] }, limit: 10, now: T0 }),
      ).toEqual([]);
      const later = await insert([{ owner: 'a' }], T0 + 100);
      const old = await store.jobBulk({
        action: 'cancel',
        filter: { createdBefore: T0 + 100, runtime: 'default' },
        limit: 10,
        now: T0 + 3,
      });
      expect(old.map((j) => j.id).sort()).toEqual([jobs[0]!.id, jobs[3]!.id].sort());
      expect((await store.jobGet({ id: later[0]!.id }))!.state).toBe('queued');
      // Team jobs are left to their own (contest) retry.
      const [team] = await insert([{ team: '9' }]);
      await store.jobCancel({ jobId: team!.id, now: T0 });
      const retried = await store.jobBulk({ action: 'retry', filter: {}, limit: 100, now: T0 + 4 });
      expect(retried.map((j) => j.id)).not.toContain(team!.id);
    });

    const schedule = (over: { name?: string; owner?: string | null; nextRunAt?: number } = {}) =>
      store.scheduleInsert({
        name: over.name ?? 's',
        cron: '* * * * * *',
        timezone: 'UTC',
        job: { runtime: 'default' },
        overlap: 'allow',
        owner: over.owner ?? null,
        nextRunAt: over.nextRunAt ?? T0 + 1000,
        createdAt: T0,
      });

    it('stores schedules, refuses a name twice per owner, lists, pauses, resumes and deletes', async () => {
      const a = await schedule({ name: 'n', owner: 'a' });
      expect(a).toMatchObject({
        name: 'n',
        owner: 'a',
        paused: false,
        nextRunAt: T0 + 1000,
        lastJobId: null,
      });
      expect(a.job).toEqual({ runtime: 'default' });
      await expect(schedule({ name: 'n', owner: 'a' })).rejects.toMatchObject({ code: 'conflict' });
      const b = await schedule({ name: 'n', owner: 'b', nextRunAt: T0 + 500 });
      expect((await store.scheduleList({ owner: 'a', limit: 10 })).map((x) => x.id)).toEqual([a.id]);
      expect((await store.scheduleList({ limit: 10 })).map((x) => x.id)).toEqual([a.id, b.id]);
      expect((await store.scheduleList({ afterId: a.id, limit: 10 })).map((x) => x.id)).toEqual([b.id]);
      expect(await store.scheduleNextRunAt()).toBe(T0 + 500);
      expect((await store.scheduleListDue({ now: T0 + 999, limit: 10 })).map((x) => x.id)).toEqual([b.id]);
      expect(await store.scheduleSetPaused({ id: b.id, paused: true })).toMatchObject({ paused: true });
      expect(await store.scheduleNextRunAt()).toBe(T0 + 1000);
      expect(await store.scheduleListDue({ now: T0 + 999, limit: 10 })).toEqual([]);
      expect(await store.scheduleSetPaused({ id: b.id, paused: false, nextRunAt: T0 + 7000 })).toMatchObject({
        paused: false,
        nextRunAt: T0 + 7000,
      });
      expect(await store.scheduleDelete({ id: a.id })).toBe(true);
      expect(await store.scheduleDelete({ id: a.id })).toBe(false);
      expect(await store.scheduleGet({ id: a.id })).toBeNull();
      expect(await store.scheduleSetPaused({ id: a.id, paused: true })).toBeNull();
    });

    it('runs a tick once however many callers race for it, with its job in the same commit', async () => {
      const s = await schedule({ nextRunAt: T0 + 1000 });
      const fire = () =>
        store.scheduleFire({
          id: s.id,
          tick: T0 + 1000,
          nextRunAt: T0 + 2000,
          job: newJob({ runAt: T0 + 1000 }),
          skipIfActive: false,
          now: T0 + 1001,
        });
      const outcomes = await Promise.all([fire(), fire(), fire(), fire()]);
      const won = outcomes.filter((o) => o.claimed);
      expect(won).toHaveLength(1);
      const job = (won[0] as { job: { id: string; runAt: number } }).job;
      expect(job.runAt).toBe(T0 + 1000);
      expect(await store.jobList({ limit: 10 })).toHaveLength(1);
      expect(await store.scheduleGet({ id: s.id })).toMatchObject({
        nextRunAt: T0 + 2000,
        lastRunAt: T0 + 1000,
        lastJobId: job.id,
      });
      // A stale tick (already run) changes nothing.
      expect(await fire()).toEqual({ claimed: false });
    });

    it('uses up a tick without a job while the last one is active with skipIfActive, or when paused', async () => {
      const s = await schedule({ nextRunAt: T0 + 1000 });
      const fire = (tick: number, skipIfActive = true) =>
        store.scheduleFire({
          id: s.id,
          tick,
          nextRunAt: tick + 1000,
          job: newJob(),
          skipIfActive,
          now: tick,
        });
      expect(await fire(T0 + 1000)).toMatchObject({ claimed: true, job: { state: 'queued' } });
      expect(await fire(T0 + 2000)).toEqual({ claimed: true, job: null });
      expect(await fire(T0 + 3000, false)).toMatchObject({ claimed: true, job: { state: 'queued' } });
      const last = (await store.scheduleGet({ id: s.id }))!.lastJobId!;
      await store.jobCancel({ jobId: last, now: T0 });
      expect(await fire(T0 + 4000)).toMatchObject({ claimed: true, job: { state: 'queued' } });
      await store.scheduleSetPaused({ id: s.id, paused: true });
      expect(await fire(T0 + 5000)).toEqual({ claimed: false });
      expect(await store.jobList({ limit: 10 })).toHaveLength(3);
    });

    it('queues one delivery per webhook, job and event, claims due ones once and records outcomes', async () => {
      const all = await store.webhookInsert({
        url: 'https://example.com/all',
        events: ['job.succeeded', 'job.canceled'],
        secret: 'secret-1',
        owner: null,
        createdAt: T0,
      });
      const mine = await store.webhookInsert({
        url: 'https://example.com/a',
        events: ['job.canceled'],
        secret: 'secret-2',
        owner: 'a',
        createdAt: T0,
      });
      expect((await store.webhookList({ owner: 'a', limit: 10 })).map((w) => w.id)).toEqual([mine.id]);
      const [ja, jb, jq] = await insert([{ owner: 'a' }, { owner: 'b' }, { owner: 'a' }]);
      await store.jobCancel({ jobId: ja!.id, now: T0 + 1 });
      await store.jobCancel({ jobId: jb!.id, now: T0 + 1 });
      // ja: both webhooks; jb: only the one for every owner; jq is not final.
      expect(await store.deliveryEnqueue({ since: 0, jobIds: [ja!.id], now: T0 + 2 })).toBe(2);
      expect(await store.deliveryEnqueue({ since: 0, now: T0 + 2 })).toBe(1);
      expect(await store.deliveryEnqueue({ since: 0, now: T0 + 2 })).toBe(0);
      const claimed = await store.deliveryClaim({ now: T0 + 2, limit: 10, claimMs: 1000 });
      expect(claimed).toHaveLength(3);
      expect(claimed.every((d) => d.attempts === 1 && d.state === 'pending')).toBe(true);
      expect(claimed.find((d) => d.webhookId === mine.id)).toMatchObject({
        jobId: ja!.id,
        event: 'job.canceled',
        url: 'https://example.com/a',
        secret: 'secret-2',
      });
      // Claimed: not due again until the claim runs out.
      expect(await store.deliveryClaim({ now: T0 + 500, limit: 10, claimMs: 1000 })).toEqual([]);
      const d = claimed[0]!;
      await store.deliveryRecord({
        id: d.id,
        state: 'delivered',
        status: 200,
        error: null,
        nextAttemptAt: T0 + 3,
        now: T0 + 3,
      });
      const e = claimed[1]!;
      await store.deliveryRecord({
        id: e.id,
        state: 'pending',
        status: 500,
        error: 'boom',
        nextAttemptAt: T0 + 50,
        now: T0 + 3,
      });
      const again = await store.deliveryClaim({ now: T0 + 60, limit: 10, claimMs: 1000 });
      expect(again.map((x) => x.id)).toEqual([e.id]);
      expect(again[0]!.attempts).toBe(2);
      const listed = await store.deliveryList({ webhookId: d.webhookId, limit: 10 });
      expect(listed.find((x) => x.id === d.id)).toMatchObject({
        state: 'delivered',
        lastStatus: 200,
        finishedAt: T0 + 3,
      });
      expect(await store.webhookDelete({ id: all.id })).toBe(true);
      expect(await store.deliveryList({ webhookId: all.id, limit: 10 })).toEqual([]);
      expect(await store.webhookGet({ id: all.id })).toBeNull();
      expect(jq!.state).toBe('queued');
    });

    it('deletes done deliveries finished before a time, in batches, and keeps pending ones', async () => {
      const hook = await store.webhookInsert({
        url: 'https://example.com/keep',
        events: ['job.canceled'],
        secret: 'secret-3',
        owner: null,
        createdAt: T0,
      });
      const jobs = await insert([{}, {}, {}, {}]);
      for (const j of jobs) await store.jobCancel({ jobId: j.id, now: T0 + 1 });
      expect(await store.deliveryEnqueue({ since: 0, now: T0 + 2 })).toBe(4);
      const [a, b, c, d] = (await store.deliveryClaim({ now: T0 + 2, limit: 10, claimMs: 1000 })).sort(
        (x, y) => Number(x.id) - Number(y.id),
      );
      const record = (id: string, state: 'delivered' | 'failed' | 'pending', now: number) =>
        store.deliveryRecord({ id, state, status: 500, error: null, nextAttemptAt: now + 10, now });
      await record(a!.id, 'delivered', T0 + 100);
      await record(b!.id, 'failed', T0 + 200);
      await record(c!.id, 'delivered', T0 + 300);
      // d stays pending (retried later), however old.
      await record(d!.id, 'pending', T0 + 50);
      const left = async () =>
        (await store.deliveryList({ webhookId: hook.id, limit: 10 })).map((x) => x.id).sort();

      expect(await store.deliveryDeleteFinished({ before: T0 + 100, limit: 10 })).toBe(0);
      expect(await store.deliveryDeleteFinished({ before: T0 + 300, limit: 1 })).toBe(1);
      expect(await store.deliveryDeleteFinished({ before: T0 + 300, limit: 10 })).toBe(1);
      expect(await left()).toEqual([c!.id, d!.id].sort());
      expect(await store.deliveryDeleteFinished({ before: T0 + 1_000_000, limit: 10 })).toBe(1);
      expect(await left()).toEqual([d!.id]);
    });
  });
}
