/**
 * The Store contract, as tests. Every Store implementation runs this same suite
 * (`storeConformance('sqlite', open)`), so only the Store interface is used here: no SQL, no
 * driver, no knowledge of how ids or tokens are made. Times are explicit `now` values so that
 * nothing depends on the wall clock.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acceptedRuntimes } from '../../src/core/runtime.js';
import { TIMEOUT_GRACE_MS } from '../../src/core/lease.js';
import type { JobRecord, JobTemplate, LeaseRequest, NewJob, Store } from '../../src/store/store.js';

export type OpenStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

const T0 = 1_000_000;
const LEASE_MS = 15_000;

/** A job template with every field at a plain default; tests override what they need. */
export function newJob(over: Partial<NewJob> = {}): NewJob {
  return {
    functionId: null,
    runtime: 'default',
    inputBlobId: null,
    inputInline: null,
    tags: [],
    priority: 0,
    maxAttempts: 3,
    timeoutMs: 600_000,
    team: null,
    owner: null,
    next: null,
    idempotencyKey: null,
    parentId: null,
    ...over,
  };
}

function template(over: Partial<JobTemplate> = {}): JobTemplate {
  const { idempotencyKey: _k, parentId: _p, ...t } = newJob(over);
  return t;
}

const sha = (n: number) => n.toString(16).padStart(64, '0');

export function storeConformance(name: string, open: OpenStore): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup();
    });

    // Helpers bound to the current store.
    const insert = async (jobs: Partial<NewJob>[], now = T0) =>
      (await store.jobInsertMany({ jobs: jobs.map(newJob), now })).map((r) => r.job);
    const insertOne = async (over: Partial<NewJob> = {}, now = T0) => (await insert([over], now))[0]!;
    const worker = async (over: { tags?: string[]; runtimes?: string[] } = {}) =>
      store.workerInsert({
        name: null,
        runtimes: over.runtimes ?? ['default'],
        tags: over.tags ?? [],
        capacity: 1,
        protocol: 'v1',
        createdAt: T0,
        lastSeenAt: T0,
      });
    const lease = async (workerId: string, over: Partial<LeaseRequest> = {}) =>
      store.jobLeaseNext({
        workerId,
        runtimes: ['default'],
        tags: [],
        limit: 1,
        leaseMs: LEASE_MS,
        now: T0,
        ...over,
      });
    let runtimeSeq = 0;
    /** Inserts one job (of a runtime of its own unless given) and leases it; returns it running. */
    const running = async (over: Partial<NewJob> = {}, now = T0) => {
      const runtime = over.runtime ?? `solo${++runtimeSeq}`;
      const w = await worker({ runtimes: [runtime] });
      const job = await insertOne({ ...over, runtime }, now);
      const [leased] = await lease(w.id, { runtimes: [job.runtime], now });
      expect(leased?.id).toBe(job.id);
      return leased!;
    };
    const complete = (job: JobRecord, over: Partial<Parameters<Store['jobComplete']>[0]> = {}) =>
      store.jobComplete({
        jobId: job.id,
        token: job.leaseToken!,
        outputBlobId: null,
        outputInline: null,
        result: null,
        exitStatus: 0,
        now: T0 + 1_000,
        ...over,
      });
    const fail = (job: JobRecord, over: Partial<Parameters<Store['jobFail']>[0]> = {}) =>
      store.jobFail({
        jobId: job.id,
        token: job.leaseToken!,
        error: 'boom',
        retryable: true,
        exitStatus: 1,
        result: null,
        retryDelayMs: 5_000,
        now: T0 + 1_000,
        ...over,
      });
    const get = async (id: string) => (await store.jobGet({ id }))!;
    const ids = (jobs: JobRecord[]) => jobs.map((j) => j.id);
    const unknownId = '987654321';

    describe('basics', () => {
      it('answers ping and names its dialect', async () => {
        expect(await store.ping()).toBe(true);
        expect(['sqlite', 'postgres']).toContain(store.dialect);
      });
    });

    describe('blobs', () => {
      it('inserts a blob and reads it back', async () => {
        const b = await store.blobInsert({ sha256: sha(1), size: 10, now: T0 });
        expect(b).toEqual({ id: expect.any(String), sha256: sha(1), size: 10, createdAt: T0 });
        expect(await store.blobGet({ id: b.id })).toEqual(b);
      });

      it('dedupes by sha256: the same id comes back', async () => {
        const a = await store.blobInsert({ sha256: sha(1), size: 10, now: T0 });
        const b = await store.blobInsert({ sha256: sha(2), size: 20, now: T0 });
        const again = await store.blobInsert({ sha256: sha(1), size: 10, now: T0 + 5_000 });
        expect(b.id).not.toBe(a.id);
        expect(again.id).toBe(a.id);
        expect(again.createdAt).toBe(T0);
      });

      it('dedupes concurrent inserts of the same bytes', async () => {
        const all = await Promise.all(
          Array.from({ length: 10 }, () => store.blobInsert({ sha256: sha(7), size: 7, now: T0 })),
        );
        expect(new Set(all.map((b) => b.id)).size).toBe(1);
      });

      it('answers null for an unknown blob', async () => {
        expect(await store.blobGet({ id: unknownId })).toBeNull();
      });
    });

    describe('functions', () => {
      const fn = (over: Partial<Parameters<Store['functionInsert']>[0]> = {}) =>
        store.functionInsert({
          name: 'f',
          runtime: 'default',
          codeBlobId: null,
          tags: [],
          timeoutMs: 60_000,
          maxAttempts: 3,
          createdAt: T0,
          ...over,
        });

      it('inserts and gets a function with every field', async () => {
        const code = await store.blobInsert({ sha256: sha(1), size: 1, now: T0 });
        const f = await fn({
          name: 'sum',
          runtime: 'dlabLua54+pcli',
          codeBlobId: code.id,
          tags: ['+gpu', 'fast'],
        });
        expect(f).toEqual({
          id: expect.any(String),
          name: 'sum',
          runtime: 'dlabLua54+pcli',
          codeBlobId: code.id,
          tags: ['+gpu', 'fast'],
          timeoutMs: 60_000,
          maxAttempts: 3,
          createdAt: T0,
        });
        expect(await store.functionGet({ id: f.id })).toEqual(f);
        const anon = await fn({ name: null, codeBlobId: null });
        expect(await store.functionGet({ id: anon.id })).toMatchObject({ name: null, codeBlobId: null });
      });

      it('answers null for an unknown function', async () => {
        expect(await store.functionGet({ id: unknownId })).toBeNull();
      });

      it('lists newest first, with beforeId paging and a limit', async () => {
        const made = [];
        for (let i = 0; i < 5; i++) made.push(await fn({ name: `f${i}` }));
        const newestFirst = made.map((f) => f.id).reverse();
        expect((await store.functionList({ limit: 10 })).map((f) => f.id)).toEqual(newestFirst);
        const page1 = await store.functionList({ limit: 2 });
        expect(page1.map((f) => f.id)).toEqual(newestFirst.slice(0, 2));
        const page2 = await store.functionList({ limit: 2, beforeId: page1[1]!.id });
        expect(page2.map((f) => f.id)).toEqual(newestFirst.slice(2, 4));
        const page3 = await store.functionList({ limit: 2, beforeId: page2[1]!.id });
        expect(page3.map((f) => f.id)).toEqual(newestFirst.slice(4));
      });
    });

    describe('jobInsertMany', () => {
      it('creates jobs in order with their defaults', async () => {
        const input = await store.blobInsert({ sha256: sha(1), size: 3, now: T0 });
        const next = template({ runtime: 'other', tags: ['x'] });
        const res = await store.jobInsertMany({
          now: T0,
          jobs: [
            newJob({
              inputBlobId: input.id,
              tags: ['+gpu', 'fast'],
              priority: 5,
              team: 't1',
              owner: 'alice',
              next,
            }),
            newJob({ inputInline: Buffer.from('hi'), maxAttempts: 1, timeoutMs: 1_000, runtime: 'B+f' }),
          ],
        });
        expect(res.map((r) => r.created)).toEqual([true, true]);
        const [a, b] = res.map((r) => r.job) as [JobRecord, JobRecord];
        expect(Number(b.id)).toBeGreaterThan(Number(a.id));
        expect(a).toEqual({
          id: expect.any(String),
          functionId: null,
          runtime: 'default',
          inputBlobId: input.id,
          inputInline: null,
          tags: ['+gpu', 'fast'],
          priority: 5,
          team: 't1',
          owner: 'alice',
          group: null,
          state: 'queued',
          attempts: 0,
          maxAttempts: 3,
          timeoutMs: 600_000,
          runAt: T0,
          leaseToken: null,
          leaseWorkerId: null,
          leaseExpiresAt: null,
          progress: null,
          outputBlobId: null,
          outputInline: null,
          exitStatus: null,
          error: null,
          result: null,
          errors: [],
          idempotencyKey: null,
          next,
          parentId: null,
          createdAt: T0,
          startedAt: null,
          finishedAt: null,
        });
        expect(b).toMatchObject({ runtime: 'B+f', maxAttempts: 1, timeoutMs: 1_000, inputBlobId: null });
        expect(Buffer.from(b.inputInline!).toString()).toBe('hi');
        expect(await get(a.id)).toEqual(a);
        expect(await get(b.id)).toEqual(b);
      });

      it('keeps the function id', async () => {
        const f = await store.functionInsert({
          name: null,
          runtime: 'default',
          codeBlobId: null,
          tags: [],
          timeoutMs: 1,
          maxAttempts: 1,
          createdAt: T0,
        });
        const j = await insertOne({ functionId: f.id });
        expect((await get(j.id)).functionId).toBe(f.id);
      });

      it('returns the existing job for a known idempotency key, with created: false', async () => {
        const [first] = await store.jobInsertMany({
          jobs: [newJob({ idempotencyKey: 'k1', owner: 'a' })],
          now: T0,
        });
        const second = await store.jobInsertMany({
          jobs: [newJob({ idempotencyKey: 'k1', owner: 'a' }), newJob({ idempotencyKey: 'k2', owner: 'a' })],
          now: T0 + 10,
        });
        expect(first!.created).toBe(true);
        expect(second[0]!.created).toBe(false);
        expect(second[0]!.job).toEqual(first!.job);
        expect(second[1]!.created).toBe(true);
        expect(await store.jobList({ limit: 10 })).toHaveLength(2);
      });

      it('scopes idempotency keys to their owner: the same key from another owner is another job', async () => {
        const [a] = await store.jobInsertMany({
          jobs: [newJob({ idempotencyKey: 'k', owner: 'a' })],
          now: T0,
        });
        const [b] = await store.jobInsertMany({
          jobs: [newJob({ idempotencyKey: 'k', owner: 'b' })],
          now: T0,
        });
        const [none] = await store.jobInsertMany({ jobs: [newJob({ idempotencyKey: 'k' })], now: T0 });
        const [noneAgain] = await store.jobInsertMany({ jobs: [newJob({ idempotencyKey: 'k' })], now: T0 });
        expect([a!.created, b!.created, none!.created, noneAgain!.created]).toEqual([
          true,
          true,
          true,
          false,
        ]);
        expect(new Set([a!.job.id, b!.job.id, none!.job.id]).size).toBe(3);
        expect(noneAgain!.job.id).toBe(none!.job.id);
      });

      it('dedupes an idempotency key repeated within one batch', async () => {
        const res = await store.jobInsertMany({
          jobs: [newJob({ idempotencyKey: 'k' }), newJob({ idempotencyKey: 'k' }), newJob()],
          now: T0,
        });
        expect(res.map((r) => r.created)).toEqual([true, false, true]);
        expect(res[1]!.job.id).toBe(res[0]!.job.id);
        expect(await store.jobList({ limit: 10 })).toHaveLength(2);
      });

      it('returns an existing job by key even after it changed state', async () => {
        const w = await worker();
        const j = await insertOne({ idempotencyKey: 'k' });
        await lease(w.id);
        const [again] = await store.jobInsertMany({ jobs: [newJob({ idempotencyKey: 'k' })], now: T0 + 1 });
        expect(again).toMatchObject({ created: false, job: { id: j.id, state: 'running' } });
      });

      it('creates a job already leased to a worker when a lease is given', async () => {
        const w = await worker();
        const res = await store.jobInsertMany({
          jobs: [newJob({ timeoutMs: 5_000 }), newJob()],
          now: T0,
          leases: [{ workerId: w.id, leaseMs: LEASE_MS }, null],
        });
        expect(res[0]!.job).toMatchObject({
          state: 'running',
          attempts: 1,
          leaseWorkerId: w.id,
          leaseToken: expect.any(String),
          startedAt: T0,
          leaseExpiresAt: T0 + 5_000 + TIMEOUT_GRACE_MS, // the timeout, not LEASE_MS, bounds it
        });
        expect(res[1]!.job).toMatchObject({ state: 'queued', leaseToken: null });
        expect(await get(res[0]!.job.id)).toEqual(res[0]!.job);
      });

      it('creates a lone job, and a job with an idempotency key, already leased', async () => {
        const w = await worker();
        const leased = { workerId: w.id, leaseMs: LEASE_MS };
        const [lone] = await store.jobInsertMany({ jobs: [newJob()], now: T0, leases: [leased] });
        const [keyed] = await store.jobInsertMany({
          jobs: [newJob({ idempotencyKey: 'direct' })],
          now: T0,
          leases: [leased],
        });
        for (const r of [lone!, keyed!]) {
          expect(r).toMatchObject({
            created: true,
            job: { state: 'running', attempts: 1, leaseWorkerId: w.id },
          });
          expect(await get(r.job.id)).toEqual(r.job);
        }
        expect(lone!.job.leaseToken).not.toBe(keyed!.job.leaseToken);
        // The same key again: the existing job, not a second lease.
        const [again] = await store.jobInsertMany({
          jobs: [newJob({ idempotencyKey: 'direct' })],
          now: T0 + 1,
          leases: [leased],
        });
        expect(again).toMatchObject({
          created: false,
          job: { id: keyed!.job.id, leaseToken: keyed!.job.leaseToken },
        });
      });

      it('answers null for an unknown job', async () => {
        expect(await store.jobGet({ id: unknownId })).toBeNull();
      });
    });

    describe('jobList', () => {
      it('filters by state, runtime, function, tag, owner and team, newest first', async () => {
        const f = await store.functionInsert({
          name: null,
          runtime: 'default',
          codeBlobId: null,
          tags: [],
          timeoutMs: 1,
          maxAttempts: 1,
          createdAt: T0,
        });
        const [a, b, c, d] = await insert([
          { owner: 'alice', tags: ['red', '+gpu'], team: 't1' },
          { owner: 'bob', runtime: 'other', functionId: f.id },
          { owner: 'alice', tags: ['blue'], functionId: f.id, team: 't2' },
          { owner: 'carol', tags: ['red'] },
        ]);
        const w = await worker();
        const [leased] = await lease(w.id, { runtimes: ['default'] });
        // a needs +gpu and b another runtime, so the oldest the worker may take is c.
        expect(leased!.id).toBe(c!.id);
        const list = async (filter: Omit<Parameters<Store['jobList']>[0], 'limit'>) =>
          ids(await store.jobList({ limit: 100, ...filter }));

        expect(await list({})).toEqual([d!.id, c!.id, b!.id, a!.id]);
        expect(await list({ runtime: 'other' })).toEqual([b!.id]);
        expect(await list({ functionId: f.id })).toEqual([c!.id, b!.id]);
        expect(await list({ tag: 'red' })).toEqual([d!.id, a!.id]);
        expect(await list({ tag: '+gpu' })).toEqual([a!.id]);
        expect(await list({ tag: 'gpu' })).toEqual([]);
        expect(await list({ owner: 'alice' })).toEqual([c!.id, a!.id]);
        expect(await list({ team: 't2' })).toEqual([c!.id]);
        expect(await list({ owner: 'alice', tag: 'blue' })).toEqual([c!.id]);
        expect(await list({ states: ['running'] })).toEqual([c!.id]);
        expect(await list({ states: ['queued'] })).toEqual([d!.id, b!.id, a!.id]);
        expect(await list({ states: ['queued'], owner: 'alice' })).toEqual([a!.id]);
        expect((await list({ states: ['queued', 'running'] })).length).toBe(4);
        expect(await list({ states: ['succeeded', 'failed', 'canceled'] })).toEqual([]);
        expect(await list({ states: [] })).toHaveLength(4);
      });

      it('pages with beforeId and respects the limit', async () => {
        const jobs = await insert(Array.from({ length: 7 }, () => ({})));
        const newestFirst = ids(jobs).reverse();
        const p1 = ids(await store.jobList({ limit: 3 }));
        expect(p1).toEqual(newestFirst.slice(0, 3));
        const p2 = ids(await store.jobList({ limit: 3, beforeId: p1[2] }));
        expect(p2).toEqual(newestFirst.slice(3, 6));
        const p3 = ids(await store.jobList({ limit: 3, beforeId: p2[2] }));
        expect(p3).toEqual(newestFirst.slice(6));
        expect(await store.jobList({ limit: 3, beforeId: p3[0] })).toEqual([]);
      });
    });

    describe('jobLeaseNext', () => {
      it('matches runtimes through the accepted list', async () => {
        const [b, bf1, bf2, bf1f2, c] = await insert([
          { runtime: 'B' },
          { runtime: 'B+F1' },
          { runtime: 'B+F2' },
          { runtime: 'B+F1+F2' },
          { runtime: 'C' },
        ]);
        const w = await worker({ runtimes: ['B+F1'] });
        const got = await lease(w.id, { runtimes: acceptedRuntimes(['B+F1']), limit: 10 });
        expect(ids(got)).toEqual([b!.id, bf1!.id]);
        const w2 = await worker({ runtimes: ['B+F2+F1', 'C'] });
        const got2 = await lease(w2.id, { runtimes: acceptedRuntimes(['B+F2+F1', 'C']), limit: 10 });
        expect(ids(got2)).toEqual([bf2!.id, bf1f2!.id, c!.id]);
      });

      it('leases nothing when no runtime matches', async () => {
        await insert([{ runtime: 'B' }]);
        const w = await worker();
        expect(await lease(w.id, { runtimes: ['A', 'B+x'], limit: 10 })).toEqual([]);
        expect(await lease(w.id, { runtimes: [], limit: 10 })).toEqual([]);
      });

      it('orders by priority, then FIFO', async () => {
        const [a, b, c, d, e] = await insert([
          { priority: 0 },
          { priority: 5 },
          { priority: 0 },
          { priority: 5 },
          { priority: -1 },
        ]);
        const w = await worker();
        expect(ids(await lease(w.id, { limit: 10 }))).toEqual([b!.id, d!.id, a!.id, c!.id, e!.id]);
      });

      it('orders by priority, then FIFO, one at a time and across runtimes', async () => {
        const [a, b, c, d] = await insert([
          { priority: 0, runtime: 'x' },
          { priority: 1, runtime: 'y' },
          { priority: 0, runtime: 'y' },
          { priority: 1, runtime: 'x' },
        ]);
        const w = await worker();
        const got: string[] = [];
        for (let i = 0; i < 5; i++) got.push(...ids(await lease(w.id, { runtimes: ['x', 'y'] })));
        expect(got).toEqual([b!.id, d!.id, a!.id, c!.id]);
      });

      it('prefers jobs with more preference-tag matches within a priority', async () => {
        const [none, one, two, urgent] = await insert([
          { tags: [] },
          { tags: ['gpu'] },
          { tags: ['gpu', 'fast', 'other'] },
          { tags: [], priority: 1 },
        ]);
        const w = await worker({ tags: ['gpu', 'fast'] });
        const got: string[] = [];
        for (let i = 0; i < 4; i++) got.push(...ids(await lease(w.id, { tags: ['gpu', 'fast'] })));
        expect(got).toEqual([urgent!.id, two!.id, one!.id, none!.id]);
      });

      it('prefers preference matches even behind a long queue of the same priority', async () => {
        const plain = await insert(Array.from({ length: 100 }, () => ({})));
        const tagged = await insertOne({ tags: ['gpu'] });
        const w = await worker({ tags: ['gpu'] });
        expect(ids(await lease(w.id, { tags: ['gpu'] }))).toEqual([tagged.id]);
        expect(ids(await lease(w.id, { tags: ['gpu'], limit: 2 }))).toEqual([plain[0]!.id, plain[1]!.id]);
      });

      it('honours +tag (required) and -tag (excluded)', async () => {
        const [needsGpu, noGpu, any] = await insert([{ tags: ['+gpu'] }, { tags: ['-gpu'] }, { tags: [] }]);
        const plainWorker = await worker();
        expect(ids(await lease(plainWorker.id, { limit: 10 }))).toEqual([noGpu!.id, any!.id]);
        expect((await get(needsGpu!.id)).state).toBe('queued');
        const gpuWorker = await worker({ tags: ['gpu'] });
        const [more] = await insert([{ tags: ['-gpu'] }]);
        expect(ids(await lease(gpuWorker.id, { tags: ['gpu'], limit: 10 }))).toEqual([needsGpu!.id]);
        expect((await get(more!.id)).state).toBe('queued');
      });

      it('finds an allowed job behind many refused ones', async () => {
        await insert(Array.from({ length: 150 }, () => ({ tags: ['+gpu'] })));
        const ok = await insertOne();
        const w = await worker();
        expect(ids(await lease(w.id, { limit: 5 }))).toEqual([ok.id]);
      });

      it('respects the limit', async () => {
        const jobs = await insert(Array.from({ length: 5 }, () => ({})));
        const w = await worker();
        expect(ids(await lease(w.id, { limit: 2 }))).toEqual(ids(jobs.slice(0, 2)));
        expect(await store.jobList({ limit: 10, states: ['queued'] })).toHaveLength(3);
        expect(ids(await lease(w.id, { limit: 10 }))).toEqual(ids(jobs.slice(2)));
        expect(await lease(w.id, { limit: 10 })).toEqual([]);
      });

      it('does not lease a job whose run_at is in the future', async () => {
        const j = await insertOne({}, T0);
        const w = await worker();
        expect(await lease(w.id, { now: T0 - 1 })).toEqual([]);
        const [r] = await lease(w.id, { now: T0 });
        expect(r!.id).toBe(j.id);
        await fail(r!, { retryDelayMs: 5_000, now: T0 + 1_000 });
        expect(await lease(w.id, { now: T0 + 5_999 })).toEqual([]);
        expect(ids(await lease(w.id, { now: T0 + 6_000 }))).toEqual([j.id]);
      });

      it('gives the leased job a token, an attempt, a lease expiry and a start time', async () => {
        const j = await insertOne();
        const w = await worker();
        const [r] = await lease(w.id, { now: T0 + 100 });
        expect(r).toMatchObject({
          id: j.id,
          state: 'running',
          attempts: 1,
          leaseToken: expect.any(String),
          leaseWorkerId: w.id,
          leaseExpiresAt: T0 + 100 + LEASE_MS,
          startedAt: T0 + 100,
          finishedAt: null,
        });
        expect(r!.leaseToken!.length).toBeGreaterThanOrEqual(16);
        expect(await get(j.id)).toEqual(r);
      });

      it('caps the first lease at the job timeout (plus the grace for the worker to report)', async () => {
        await insertOne({ timeoutMs: 2_000 });
        const w = await worker();
        const [r] = await lease(w.id, { leaseMs: 60_000 });
        expect(r!.leaseExpiresAt).toBe(T0 + 2_000 + TIMEOUT_GRACE_MS);
      });

      it('gives a new token and counts attempts on a re-lease', async () => {
        const first = await running();
        await fail(first, { retryDelayMs: 0, now: T0 + 1_000 });
        const w = await worker();
        const [second] = await lease(w.id, { runtimes: [first.runtime], now: T0 + 2_000 });
        expect(second).toMatchObject({
          id: first.id,
          attempts: 2,
          startedAt: T0 + 2_000,
          leaseWorkerId: w.id,
        });
        expect(second!.leaseToken).not.toBe(first.leaseToken);
      });

      it('never gives one job to two concurrent callers, and together they take all', async () => {
        const jobs = await insert(Array.from({ length: 50 }, () => ({})));
        const workers = await Promise.all(Array.from({ length: 10 }, () => worker()));
        const results = await Promise.all(workers.map((w) => lease(w.id, { limit: 10 })));
        const taken = results.flat();
        expect(taken).toHaveLength(50);
        expect(new Set(ids(taken)).size).toBe(50);
        expect(new Set(ids(taken))).toEqual(new Set(ids(jobs)));
        expect(new Set(taken.map((j) => j.leaseToken)).size).toBe(50);
        results.forEach((got, i) => {
          expect(got.length).toBeLessThanOrEqual(10);
          for (const j of got) expect(j.leaseWorkerId).toBe(workers[i]!.id);
        });
        expect(await store.jobList({ limit: 100, states: ['queued'] })).toEqual([]);
      });
    });

    describe('leaseExtend', () => {
      it('extends the lease and records progress', async () => {
        const r = await running();
        const res = await store.leaseExtend({
          jobId: r.id,
          token: r.leaseToken!,
          leaseMs: LEASE_MS,
          progress: { done: 3, of: 10 },
          now: T0 + 5_000,
        });
        expect(res).toMatchObject({
          ok: true,
          job: { leaseExpiresAt: T0 + 5_000 + LEASE_MS, progress: { done: 3, of: 10 } },
        });
        const again = await store.leaseExtend({
          jobId: r.id,
          token: r.leaseToken!,
          leaseMs: LEASE_MS,
          now: T0 + 6_000,
        });
        expect(again).toMatchObject({
          ok: true,
          job: { leaseExpiresAt: T0 + 6_000 + LEASE_MS, progress: { done: 3, of: 10 } },
        });
        expect((await get(r.id)).leaseExpiresAt).toBe(T0 + 6_000 + LEASE_MS);
      });

      it('refuses a stale token and changes nothing', async () => {
        const r = await running();
        const res = await store.leaseExtend({
          jobId: r.id,
          token: randomUUID(),
          leaseMs: LEASE_MS,
          progress: 1,
          now: T0 + 5_000,
        });
        expect(res).toEqual({ ok: false, reason: 'stale' });
        expect(await get(r.id)).toEqual(r);
      });

      it('refuses the token of a finished lease as stale', async () => {
        const r = await running();
        await complete(r);
        expect(
          await store.leaseExtend({ jobId: r.id, token: r.leaseToken!, leaseMs: 1, now: T0 + 2_000 }),
        ).toEqual({
          ok: false,
          reason: 'stale',
        });
      });

      it('says canceled when the requester canceled the job', async () => {
        const r = await running();
        await store.jobCancel({ jobId: r.id, now: T0 + 1_000 });
        expect(
          await store.leaseExtend({ jobId: r.id, token: r.leaseToken!, leaseMs: 1, now: T0 + 2_000 }),
        ).toEqual({
          ok: false,
          reason: 'canceled',
        });
      });

      it('says not_found for an unknown job', async () => {
        expect(
          await store.leaseExtend({ jobId: unknownId, token: randomUUID(), leaseMs: 1, now: T0 }),
        ).toEqual({
          ok: false,
          reason: 'not_found',
        });
      });

      it('never extends past startedAt + timeoutMs + the grace', async () => {
        const r = await running({ timeoutMs: 15_000 });
        expect(T0 + 10_000 + LEASE_MS).toBeGreaterThan(T0 + 15_000 + TIMEOUT_GRACE_MS);
        const res = await store.leaseExtend({
          jobId: r.id,
          token: r.leaseToken!,
          leaseMs: LEASE_MS,
          now: T0 + 10_000,
        });
        expect(res).toMatchObject({ ok: true, job: { leaseExpiresAt: T0 + 15_000 + TIMEOUT_GRACE_MS } });
      });
    });

    describe('jobComplete', () => {
      it('records success and ends the lease', async () => {
        const out = await store.blobInsert({ sha256: sha(9), size: 5, now: T0 });
        const r = await running();
        const res = await complete(r, {
          outputBlobId: out.id,
          result: { score: 10, passed: true },
          exitStatus: 0,
          now: T0 + 3_000,
        });
        expect(res).toMatchObject({
          ok: true,
          created: [],
          job: {
            id: r.id,
            state: 'succeeded',
            outputBlobId: out.id,
            result: { score: 10, passed: true },
            exitStatus: 0,
            finishedAt: T0 + 3_000,
            leaseExpiresAt: null,
            attempts: 1,
          },
        });
        expect(await get(r.id)).toEqual(res.ok ? res.job : null);
      });

      it('keeps inline output', async () => {
        const r = await running();
        await complete(r, { outputInline: Buffer.from('result') });
        expect(Buffer.from((await get(r.id)).outputInline!).toString()).toBe('result');
      });

      it('is idempotent for the same token', async () => {
        const r = await running();
        const first = await complete(r, { result: { n: 1 }, now: T0 + 1_000 });
        const second = await complete(r, { result: { n: 2 }, now: T0 + 2_000 });
        expect(second.ok).toBe(true);
        if (!first.ok || !second.ok) throw new Error('unreachable');
        expect(second.job).toEqual(first.job);
        expect(second.created).toEqual([]);
        expect(await get(r.id)).toEqual(first.job);
      });

      it('refuses a different token while running and changes nothing', async () => {
        const r = await running();
        expect(await complete(r, { token: randomUUID() })).toEqual({ ok: false, reason: 'stale' });
        expect(await get(r.id)).toEqual(r);
      });

      it('refuses a second, different completion', async () => {
        const r = await running();
        const first = await complete(r, { result: { n: 1 } });
        expect(await complete(r, { token: randomUUID(), result: { n: 2 } })).toEqual({
          ok: false,
          reason: 'stale',
        });
        expect(await get(r.id)).toEqual(first.ok ? first.job : null);
      });

      it('refuses the token of an expired lease after the job was leased again', async () => {
        const r = await running({}, T0);
        await store.leaseReapExpired({ now: T0 + LEASE_MS + 1, limit: 10, retryDelayMs: () => 0 });
        const w = await worker();
        const [again] = await lease(w.id, { runtimes: [r.runtime], now: T0 + LEASE_MS + 2 });
        expect(await complete(r, { now: T0 + LEASE_MS + 3 })).toEqual({ ok: false, reason: 'stale' });
        expect(await get(r.id)).toEqual(again);
      });

      it('says not_found for an unknown job', async () => {
        const r = await running();
        expect(await complete(r, { jobId: unknownId })).toEqual({ ok: false, reason: 'not_found' });
      });

      it('creates the pipeline next job, its input the parent output', async () => {
        const out = await store.blobInsert({ sha256: sha(3), size: 3, now: T0 });
        const after = template({ runtime: 'default', tags: ['+gpu'], priority: 2, owner: 'o' });
        const next = template({
          runtime: 'stage2',
          tags: ['x'],
          priority: 7,
          owner: 'o',
          maxAttempts: 2,
          next: after,
        });
        const r = await running({ next, owner: 'o' });
        const res = await complete(r, { outputBlobId: out.id, now: T0 + 4_000 });
        if (!res.ok) throw new Error('complete failed');
        expect(res.created).toHaveLength(1);
        const child = res.created[0]!;
        expect(child).toMatchObject({
          state: 'queued',
          runtime: 'stage2',
          tags: ['x'],
          priority: 7,
          maxAttempts: 2,
          owner: 'o',
          inputBlobId: out.id,
          parentId: r.id,
          attempts: 0,
          createdAt: T0 + 4_000,
          runAt: T0 + 4_000,
          next: after,
        });
        expect(child.id).not.toBe(r.id);
        expect(await get(child.id)).toEqual(child);
        // A repeated completion does not create a second child.
        await complete(r, { outputBlobId: out.id, now: T0 + 5_000 });
        expect(await store.jobList({ limit: 10 })).toHaveLength(2);
      });

      it('settles completions sent together: plain, pipeline, repeated, stale', async () => {
        const plain = await running();
        const piped = await running({ next: template() });
        const stale = await running();
        const [a, b, again, wrong] = await Promise.all([
          complete(plain, { result: { n: 1 } }),
          complete(piped, { outputInline: Buffer.from('on') }),
          complete(plain, { result: { n: 1 } }),
          complete({ ...stale, leaseToken: 'not-the-token' }),
        ]);
        expect(a).toMatchObject({ ok: true, created: [], job: { id: plain.id, state: 'succeeded' } });
        expect(b).toMatchObject({ ok: true, job: { id: piped.id, state: 'succeeded' } });
        if (!b.ok) throw new Error('unreachable');
        expect(b.created).toHaveLength(1);
        expect(b.created[0]).toMatchObject({ parentId: piped.id, state: 'queued' });
        expect(again).toMatchObject({ ok: true, job: { id: plain.id, state: 'succeeded' } });
        expect(wrong).toEqual({ ok: false, reason: 'stale' });
        expect((await get(stale.id)).state).toBe('running');
      });

      it('passes inline output on as the next input', async () => {
        const r = await running({ next: template() });
        const res = await complete(r, { outputInline: Buffer.from('carry') });
        if (!res.ok) throw new Error('complete failed');
        const child = res.created[0]!;
        expect(child.inputBlobId).toBeNull();
        expect(Buffer.from(child.inputInline!).toString()).toBe('carry');
      });

      it('lets nextInputBlobId override the next input', async () => {
        const out = await store.blobInsert({ sha256: sha(4), size: 1, now: T0 });
        const other = await store.blobInsert({ sha256: sha(5), size: 1, now: T0 });
        const r = await running({ next: template() });
        const res = await complete(r, {
          outputBlobId: out.id,
          outputInline: null,
          nextInputBlobId: other.id,
        });
        if (!res.ok) throw new Error('complete failed');
        expect(res.created[0]).toMatchObject({ inputBlobId: other.id, inputInline: null, parentId: r.id });
      });
    });

    describe('jobFail', () => {
      it('requeues a retryable failure with attempts left, after the delay', async () => {
        const r = await running({ maxAttempts: 3 });
        const res = await fail(r, { error: 'first', retryDelayMs: 5_000, now: T0 + 1_000, exitStatus: 2 });
        expect(res).toMatchObject({
          ok: true,
          job: {
            state: 'queued',
            runAt: T0 + 6_000,
            attempts: 1,
            leaseToken: null,
            leaseExpiresAt: null,
            finishedAt: null,
            error: 'first',
            errors: [{ at: T0 + 1_000, attempt: 1, type: 'failed', message: 'first' }],
          },
        });
        const w = await worker();
        const [again] = await lease(w.id, { runtimes: [r.runtime], now: T0 + 6_000 });
        await fail(again!, { error: 'second', retryDelayMs: 1_000, now: T0 + 7_000 });
        expect((await get(r.id)).errors).toEqual([
          { at: T0 + 1_000, attempt: 1, type: 'failed', message: 'first' },
          { at: T0 + 7_000, attempt: 2, type: 'failed', message: 'second' },
        ]);
      });

      it('fails a non-retryable failure', async () => {
        const r = await running({ maxAttempts: 3 });
        const res = await fail(r, {
          retryable: false,
          error: 'bad input',
          exitStatus: 3,
          result: { reason: 'x' },
          now: T0 + 2_000,
        });
        expect(res).toMatchObject({
          ok: true,
          job: {
            state: 'failed',
            error: 'bad input',
            exitStatus: 3,
            result: { reason: 'x' },
            finishedAt: T0 + 2_000,
            leaseExpiresAt: null,
            errors: [{ at: T0 + 2_000, attempt: 1, type: 'failed', message: 'bad input' }],
          },
        });
      });

      it('fails when the attempts are used up', async () => {
        const r = await running({ maxAttempts: 1 });
        expect(await fail(r, { retryable: true, error: 'last' })).toMatchObject({
          ok: true,
          job: { state: 'failed', error: 'last', attempts: 1 },
        });
        const w = await worker();
        expect(await lease(w.id, { runtimes: [r.runtime], now: T0 + 100_000 })).toEqual([]);
      });

      it('refuses a stale token and changes nothing', async () => {
        const r = await running();
        expect(await fail(r, { token: randomUUID() })).toEqual({ ok: false, reason: 'stale' });
        expect(await get(r.id)).toEqual(r);
        await complete(r);
        const done = await get(r.id);
        expect(await fail(r)).toEqual({ ok: false, reason: 'stale' });
        expect(await get(r.id)).toEqual(done);
      });

      it('says not_found for an unknown job', async () => {
        const r = await running();
        expect(await fail(r, { jobId: unknownId })).toEqual({ ok: false, reason: 'not_found' });
      });
    });

    describe('jobCancel', () => {
      it('cancels a queued job', async () => {
        const j = await insertOne();
        const res = await store.jobCancel({ jobId: j.id, now: T0 + 1_000 });
        expect(res).toMatchObject({
          changed: true,
          job: { id: j.id, state: 'canceled', finishedAt: T0 + 1_000 },
        });
        const w = await worker();
        expect(await lease(w.id, { now: T0 + 2_000 })).toEqual([]);
      });

      it('cancels a running job: the lease then reports canceled and completion is refused', async () => {
        const r = await running();
        const res = await store.jobCancel({ jobId: r.id, now: T0 + 1_000 });
        expect(res).toMatchObject({ changed: true, job: { state: 'canceled', finishedAt: T0 + 1_000 } });
        const canceled = await get(r.id);
        expect(
          await store.leaseExtend({ jobId: r.id, token: r.leaseToken!, leaseMs: 1, now: T0 + 2_000 }),
        ).toEqual({
          ok: false,
          reason: 'canceled',
        });
        const c = await complete(r, { now: T0 + 3_000 });
        expect(c.ok).toBe(false);
        expect(await fail(r, { now: T0 + 3_000 })).toMatchObject({ ok: false });
        expect(await get(r.id)).toEqual(canceled);
        // The reaper leaves it alone too.
        expect(
          await store.leaseReapExpired({ now: T0 + 10 * LEASE_MS, limit: 10, retryDelayMs: () => 0 }),
        ).toEqual([]);
        expect((await get(r.id)).state).toBe('canceled');
      });

      it('returns a final job unchanged', async () => {
        const r = await running();
        await complete(r);
        const done = await get(r.id);
        expect(await store.jobCancel({ jobId: r.id, now: T0 + 5_000 })).toEqual({
          changed: false,
          job: done,
        });
        const q = await insertOne();
        await store.jobCancel({ jobId: q.id, now: T0 + 1 });
        const canceled = await get(q.id);
        expect(await store.jobCancel({ jobId: q.id, now: T0 + 2 })).toEqual({
          changed: false,
          job: canceled,
        });
      });

      it('answers null for an unknown job', async () => {
        expect(await store.jobCancel({ jobId: unknownId, now: T0 })).toBeNull();
      });
    });

    describe('leaseReapExpired', () => {
      it('requeues an expired lease with the backoff delay', async () => {
        const r = await running({ maxAttempts: 3 });
        const seen: number[] = [];
        const now = T0 + LEASE_MS + 1;
        const reaped = await store.leaseReapExpired({
          now,
          limit: 10,
          retryDelayMs: (attempt) => {
            seen.push(attempt);
            return 7_000;
          },
        });
        expect(seen).toEqual([1]);
        expect(ids(reaped)).toEqual([r.id]);
        expect(reaped[0]).toMatchObject({
          state: 'queued',
          runAt: now + 7_000,
          leaseToken: null,
          leaseExpiresAt: null,
        });
        expect(reaped[0]!.errors).toEqual([
          { at: now, attempt: 1, type: 'expired', message: expect.any(String) },
        ]);
        expect(reaped[0]!.errors[0]!.message).toMatch(/lease|heartbeat/i);
        expect(await get(r.id)).toEqual(reaped[0]);
      });

      it('fails the job when its attempts are used up', async () => {
        const r = await running({ maxAttempts: 1 });
        const now = T0 + LEASE_MS + 1;
        const [f] = await store.leaseReapExpired({ now, limit: 10, retryDelayMs: () => 0 });
        expect(f).toMatchObject({ id: r.id, state: 'failed', finishedAt: now });
        expect(f!.error).toMatch(/lease|heartbeat|time/i);
      });

      it('says timed out when the job deadline passed', async () => {
        const r = await running({ maxAttempts: 1, timeoutMs: 3_000 });
        expect(r.leaseExpiresAt).toBe(T0 + 3_000 + TIMEOUT_GRACE_MS);
        const now = T0 + 3_000 + TIMEOUT_GRACE_MS + 1;
        const [f] = await store.leaseReapExpired({ now, limit: 10, retryDelayMs: () => 0 });
        expect(f!.state).toBe('failed');
        expect(f!.error).toMatch(/^timeout: time limit of 3000 ms exceeded/);
      });

      it('leaves unexpired leases and other states alone, and respects the limit', async () => {
        const w = await worker();
        const queued = await insertOne({ priority: -1 });
        const jobs = await insert([{}, {}, {}]);
        const leased = await lease(w.id, { limit: 3, now: T0 });
        expect(ids(leased)).toEqual(ids(jobs));
        // Keep the last one alive with a heartbeat.
        const alive = leased[2]!;
        await store.leaseExtend({
          jobId: alive.id,
          token: alive.leaseToken!,
          leaseMs: LEASE_MS,
          now: T0 + 10_000,
        });
        const now = T0 + LEASE_MS + 1;
        const first = await store.leaseReapExpired({ now, limit: 1, retryDelayMs: () => 0 });
        expect(first).toHaveLength(1);
        const second = await store.leaseReapExpired({ now, limit: 10, retryDelayMs: () => 0 });
        expect(new Set([...ids(first), ...ids(second)])).toEqual(new Set([leased[0]!.id, leased[1]!.id]));
        expect(await store.leaseReapExpired({ now, limit: 10, retryDelayMs: () => 0 })).toEqual([]);
        expect((await get(alive.id)).state).toBe('running');
        expect((await get(queued.id)).state).toBe('queued');
      });

      it('reaps nothing before the lease ends', async () => {
        const r = await running();
        expect(
          await store.leaseReapExpired({ now: T0 + LEASE_MS - 1, limit: 10, retryDelayMs: () => 0 }),
        ).toEqual([]);
        expect(await get(r.id)).toEqual(r);
      });
    });

    describe('jobNextRunAt', () => {
      it('answers the earliest future runAt of a queued job', async () => {
        expect(await store.jobNextRunAt({ now: T0 })).toBeNull();
        await insertOne();
        expect(await store.jobNextRunAt({ now: T0 })).toBeNull();
        const a = await running();
        const b = await running();
        await fail(a, { retryDelayMs: 9_000, now: T0 + 1_000 });
        await fail(b, { retryDelayMs: 4_000, now: T0 + 1_000 });
        expect(await store.jobNextRunAt({ now: T0 + 1_000 })).toBe(T0 + 5_000);
        expect(await store.jobNextRunAt({ now: T0 + 5_000 })).toBe(T0 + 10_000);
        expect(await store.jobNextRunAt({ now: T0 + 10_000 })).toBeNull();
      });
    });

    describe('queueStats', () => {
      it('counts queued and running jobs by state and runtime, with the oldest creation time', async () => {
        await insert([{ runtime: 'a' }], T0 + 10);
        await insert([{ runtime: 'a' }, { runtime: 'b' }], T0 + 20);
        await insert([{ runtime: 'b' }], T0 + 30);
        const w = await worker();
        await lease(w.id, { runtimes: ['b'], now: T0 + 40 });
        const stats = await store.queueStats();
        const byKey = Object.fromEntries(stats.map((s) => [`${s.state}/${s.runtime}`, s]));
        expect(byKey['queued/a']).toEqual({
          state: 'queued',
          runtime: 'a',
          count: 2,
          oldestCreatedAt: T0 + 10,
        });
        expect(byKey['queued/b']).toEqual({
          state: 'queued',
          runtime: 'b',
          count: 1,
          oldestCreatedAt: T0 + 30,
        });
        expect(byKey['running/b']).toEqual({
          state: 'running',
          runtime: 'b',
          count: 1,
          oldestCreatedAt: T0 + 20,
        });
      });
    });

    describe('jobDeleteFinished', () => {
      it('deletes only final jobs finished before the cutoff, up to the limit', async () => {
        const w = await worker();
        const old1 = await insertOne();
        const old2 = await insertOne();
        const old3 = await insertOne();
        const recent = await insertOne();
        const stillQueued = await insertOne();
        await store.jobCancel({ jobId: old1.id, now: T0 + 1_000 });
        await store.jobCancel({ jobId: old2.id, now: T0 + 2_000 });
        const [r3] = await lease(w.id, { now: T0 + 2_500 });
        expect(r3!.id).toBe(old3.id);
        await complete(r3!, { now: T0 + 3_000 });
        await store.jobCancel({ jobId: recent.id, now: T0 + 9_000 });
        const runningJob = await running({}, T0);

        expect(await store.jobDeleteFinished({ before: T0 + 5_000, limit: 2 })).toBe(2);
        expect(await store.jobDeleteFinished({ before: T0 + 5_000, limit: 10 })).toBe(1);
        expect(await store.jobDeleteFinished({ before: T0 + 5_000, limit: 10 })).toBe(0);
        for (const j of [old1, old2, old3]) expect(await store.jobGet({ id: j.id })).toBeNull();
        for (const j of [recent, stillQueued, runningJob])
          expect(await store.jobGet({ id: j.id })).not.toBeNull();
      });
    });

    describe('unreferenced blobs', () => {
      it('lists and deletes only blobs that nothing references', async () => {
        const input = await store.blobInsert({ sha256: sha(1), size: 1, now: T0 });
        const code = await store.blobInsert({ sha256: sha(2), size: 1, now: T0 });
        const output = await store.blobInsert({ sha256: sha(3), size: 1, now: T0 });
        const loose = await store.blobInsert({ sha256: sha(4), size: 1, now: T0 });
        await store.functionInsert({
          name: null,
          runtime: 'default',
          codeBlobId: code.id,
          tags: [],
          timeoutMs: 1,
          maxAttempts: 1,
          createdAt: T0,
        });
        await insertOne({ inputBlobId: input.id });
        const r = await running();
        await complete(r, { outputBlobId: output.id });

        const listed = await store.blobListUnreferenced({ before: T0 + 10_000, limit: 100 });
        expect(listed.map((b) => b.id)).toEqual([loose.id]);
        const deleted = await store.blobDelete({
          ids: [input.id, code.id, output.id, loose.id],
          before: T0 + 10_000,
        });
        expect(deleted.map((b) => b.id)).toEqual([loose.id]);
        expect(await store.blobGet({ id: loose.id })).toBeNull();
        for (const b of [input, code, output]) expect(await store.blobGet({ id: b.id })).toEqual(b);
      });

      it('keeps blobs touched at or after the cutoff, and respects the limit', async () => {
        const a = await store.blobInsert({ sha256: sha(1), size: 1, now: T0 });
        const b = await store.blobInsert({ sha256: sha(2), size: 1, now: T0 + 1 });
        const c = await store.blobInsert({ sha256: sha(3), size: 1, now: T0 + 2 });
        // Uploading the same bytes again touches the blob.
        await store.blobInsert({ sha256: sha(1), size: 1, now: T0 + 5_000 });
        expect(
          (await store.blobListUnreferenced({ before: T0 + 1_000, limit: 100 })).map((x) => x.id).sort(),
        ).toEqual([b.id, c.id].sort());
        expect(await store.blobListUnreferenced({ before: T0 + 1_000, limit: 1 })).toHaveLength(1);
        expect(await store.blobDelete({ ids: [a.id], before: T0 + 1_000 })).toEqual([]);
        expect(await store.blobGet({ id: a.id })).not.toBeNull();
        expect(
          (await store.blobDelete({ ids: [b.id, unknownId], before: T0 + 1_000 })).map((x) => x.id),
        ).toEqual([b.id]);
      });
    });

    describe('workers', () => {
      it('inserts, gets, lists and touches workers', async () => {
        const a = await store.workerInsert({
          name: 'w-a',
          runtimes: ['default', 'dlabLua54+pcli'],
          tags: ['gpu'],
          capacity: 4,
          protocol: 'v1',
          createdAt: T0,
          lastSeenAt: T0,
        });
        expect(a).toEqual({
          id: expect.any(String),
          name: 'w-a',
          runtimes: ['default', 'dlabLua54+pcli'],
          tags: ['gpu'],
          capacity: 4,
          protocol: 'v1',
          createdAt: T0,
          lastSeenAt: T0,
          owner: null,
        });
        expect(await store.workerGet({ id: a.id })).toEqual(a);
        expect(await store.workerGet({ id: unknownId })).toBeNull();
        const b = await store.workerInsert({
          name: null,
          runtimes: ['default'],
          tags: [],
          capacity: 1,
          protocol: 'v0.5',
          createdAt: T0 + 100,
          lastSeenAt: T0 + 100,
        });
        expect(b.id).not.toBe(a.id);
        expect((await store.workerList({ seenAfter: T0 - 1, limit: 10 })).map((w) => w.id).sort()).toEqual(
          [a.id, b.id].sort(),
        );
        expect((await store.workerList({ seenAfter: T0 + 50, limit: 10 })).map((w) => w.id)).toEqual([b.id]);
        expect(await store.workerList({ seenAfter: T0 - 1, limit: 1 })).toHaveLength(1);

        await store.workerTouch({ ids: [a.id, unknownId], now: T0 + 10_000 });
        expect((await store.workerGet({ id: a.id }))!.lastSeenAt).toBe(T0 + 10_000);
        expect((await store.workerList({ seenAfter: T0 + 5_000, limit: 10 })).map((w) => w.id)).toEqual([
          a.id,
        ]);
        // A late, older touch does not move last-seen backwards.
        await store.workerTouch({ ids: [a.id], now: T0 + 1_000 });
        expect((await store.workerGet({ id: a.id }))!.lastSeenAt).toBe(T0 + 10_000);
        await store.workerTouch({ ids: [], now: T0 + 20_000 });
      });
    });

    describe('kv', () => {
      it('creates namespaces', async () => {
        const ns = await store.kvNamespaceInsert({ consistency: 'strong', now: T0 });
        const ns2 = await store.kvNamespaceInsert({ consistency: 'eventual', now: T0 });
        expect(ns.id).not.toBe(ns2.id);
        expect(await store.kvNamespaceExists({ id: ns.id })).toBe(true);
        expect(await store.kvNamespaceExists({ id: unknownId })).toBe(false);
      });

      it('sets and gets values, returning the old value, per namespace', async () => {
        const { id: ns } = await store.kvNamespaceInsert({ consistency: 'strong', now: T0 });
        const { id: other } = await store.kvNamespaceInsert({ consistency: 'strong', now: T0 });
        const set = (
          namespace: string,
          value: string,
          over: { append?: boolean; expiresAt?: number | null; now?: number } = {},
        ) => store.kvSet({ namespace, key: 'k', value, append: false, expiresAt: null, now: T0, ...over });
        expect(await store.kvGet({ namespace: ns, key: 'k', now: T0 })).toBeNull();
        expect(await set(ns, 'one')).toBeNull();
        expect(await set(ns, 'two')).toBe('one');
        expect(await store.kvGet({ namespace: ns, key: 'k', now: T0 })).toBe('two');
        expect(await store.kvGet({ namespace: other, key: 'k', now: T0 })).toBeNull();
        expect(await set(other, 'x')).toBeNull();
        expect(await store.kvGet({ namespace: ns, key: 'k', now: T0 })).toBe('two');
        expect(await store.kvGet({ namespace: ns, key: 'other', now: T0 })).toBeNull();
      });

      it('appends', async () => {
        const { id: ns } = await store.kvNamespaceInsert({ consistency: 'strong', now: T0 });
        const append = (value: string) =>
          store.kvSet({ namespace: ns, key: 'log', value, append: true, expiresAt: null, now: T0 });
        expect(await append('a')).toBeNull();
        expect(await append('b')).toBe('a');
        expect(await append('c')).toBe('ab');
        expect(await store.kvGet({ namespace: ns, key: 'log', now: T0 })).toBe('abc');
      });

      it('expires values', async () => {
        const { id: ns } = await store.kvNamespaceInsert({ consistency: 'strong', now: T0 });
        await store.kvSet({
          namespace: ns,
          key: 'k',
          value: 'v',
          append: false,
          expiresAt: T0 + 1_000,
          now: T0,
        });
        expect(await store.kvGet({ namespace: ns, key: 'k', now: T0 + 999 })).toBe('v');
        expect(await store.kvGet({ namespace: ns, key: 'k', now: T0 + 1_000 })).toBeNull();
        // An expired value is gone: not returned as old, not appended to.
        expect(
          await store.kvSet({
            namespace: ns,
            key: 'k',
            value: 'w',
            append: true,
            expiresAt: null,
            now: T0 + 2_000,
          }),
        ).toBeNull();
        expect(await store.kvGet({ namespace: ns, key: 'k', now: T0 + 1e9 })).toBe('w');
      });
    });

    describe('tokens', () => {
      it('inserts and finds tokens by hash', async () => {
        const t = await store.tokenInsert({ role: 'worker', name: 'w1', hash: 'h'.repeat(64), now: T0 });
        expect(t).toEqual({
          id: expect.any(String),
          role: 'worker',
          name: 'w1',
          createdAt: T0,
          expiresAt: null,
          lastUsedAt: null,
        });
        expect(await store.tokenFindByHash({ hash: 'h'.repeat(64) })).toEqual(t);
        expect(await store.tokenFindByHash({ hash: 'x'.repeat(64) })).toBeNull();
        const admin = await store.tokenInsert({
          role: 'admin',
          name: null,
          hash: 'a'.repeat(64),
          now: T0 + 1,
        });
        expect(await store.tokenFindByHash({ hash: 'a'.repeat(64) })).toEqual(admin);
        expect(admin.id).not.toBe(t.id);
      });
    });
  });
}
