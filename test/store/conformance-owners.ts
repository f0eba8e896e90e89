/**
 * The Store contract for owners and tokens: who may read a blob (uploader grants, a job owner's
 * inputs and outputs, a worker's token while it holds a lease), whether a worker's token holds a
 * lease on an owner's job (KV access), namespace and worker owners, and the token life cycle
 * (expiry, list, delete, batched last use). Part of the conformance suite; run by every store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewJob, Store } from '../../src/store/store.js';
import { newJob, type OpenStore } from './conformance.js';

const T0 = 1_000_000;
const sha = (n: number) => n.toString(16).padStart(64, '0');

export function storeOwnerConformance(name: string, open: OpenStore): void {
  describe(`Store conformance (owners): ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup();
    });

    const workerOf = (owner: string | null, runtime: string) =>
      store.workerInsert({
        name: null,
        runtimes: [runtime],
        tags: [],
        capacity: 1,
        protocol: 'v1',
        createdAt: T0,
        lastSeenAt: T0,
        owner,
      });
    /** A job of `over.owner` on a runtime of its own, leased to a worker of token `workerToken`. */
    let seq = 0;
    const leasedTo = async (workerToken: string, over: Partial<NewJob>) => {
      const runtime = `own${++seq}`;
      const w = await workerOf(workerToken, runtime);
      await store.jobInsertMany({ jobs: [newJob({ ...over, runtime })], now: T0 });
      const [job] = await store.jobLeaseNext({
        workerId: w.id,
        runtimes: [runtime],
        tags: [],
        limit: 1,
        leaseMs: 10_000,
        now: T0,
      });
      expect(job).toBeDefined();
      return job!;
    };
    const readable = (id: string, token: string, now = T0 + 1) => store.blobReadable({ id, token, now });

    it('grants a blob to each uploader of its content, and to nobody else', async () => {
      const a = await store.blobInsert({ sha256: sha(1), size: 1, now: T0, owner: 'A' });
      expect(await readable(a.id, 'A')).toBe(true);
      expect(await readable(a.id, 'B')).toBe(false);
      const again = await store.blobInsert({ sha256: sha(1), size: 1, now: T0 + 5, owner: 'B' });
      expect(again.id).toBe(a.id);
      expect(await readable(a.id, 'B')).toBe(true);
      const anonymous = await store.blobInsert({ sha256: sha(2), size: 1, now: T0 });
      expect(await readable(anonymous.id, 'A')).toBe(false);
      expect(await readable('987654321', 'A')).toBe(false);
      expect(await readable('not-an-id', 'A')).toBe(false);
    });

    it("lets a job's owner read its input and output blobs", async () => {
      const input = await store.blobInsert({ sha256: sha(1), size: 1, now: T0, owner: 'A' });
      const output = await store.blobInsert({ sha256: sha(2), size: 1, now: T0, owner: 'W' });
      const job = await leasedTo('W', { owner: 'C', inputBlobId: input.id });
      expect(await readable(input.id, 'C')).toBe(true);
      expect(await readable(output.id, 'C')).toBe(false);
      await store.jobComplete({
        jobId: job.id,
        token: job.leaseToken!,
        outputBlobId: output.id,
        outputInline: null,
        result: null,
        exitStatus: 0,
        now: T0 + 2,
      });
      expect(await readable(output.id, 'C')).toBe(true);
      expect(await readable(output.id, 'D')).toBe(false);
    });

    it("lets a worker's token read the blobs of a job while it holds the lease, and no longer", async () => {
      const input = await store.blobInsert({ sha256: sha(1), size: 1, now: T0, owner: 'A' });
      const code = await store.blobInsert({ sha256: sha(2), size: 1, now: T0, owner: 'A' });
      const ownerData = await store.blobInsert({ sha256: sha(3), size: 1, now: T0, owner: 'A' });
      const others = await store.blobInsert({ sha256: sha(4), size: 1, now: T0, owner: 'B' });
      const fn = await store.functionInsert({
        name: null,
        runtime: 'x',
        codeBlobId: code.id,
        tags: [],
        timeoutMs: 1000,
        maxAttempts: 1,
        createdAt: T0,
      });
      const job = await leasedTo('W', { owner: 'A', inputBlobId: input.id, functionId: fn.id });
      for (const b of [input, code, ownerData]) expect(await readable(b.id, 'W')).toBe(true);
      expect(await readable(others.id, 'W')).toBe(false);
      // Another worker token, and the same token after the lease ran out, read nothing.
      expect(await readable(input.id, 'V')).toBe(false);
      expect(await readable(input.id, 'W', job.leaseExpiresAt!)).toBe(false);
      await store.jobCancel({ jobId: job.id, now: T0 + 5 });
      expect(await readable(input.id, 'W')).toBe(false);
    });

    it("says whether a worker's token holds a lease on an owner's job", async () => {
      const job = await leasedTo('W', { owner: 'A' });
      expect(await store.leaseHeldFor({ worker: 'W', jobOwner: 'A', now: T0 + 1 })).toBe(true);
      expect(await store.leaseHeldFor({ worker: 'W', jobOwner: 'B', now: T0 + 1 })).toBe(false);
      expect(await store.leaseHeldFor({ worker: 'V', jobOwner: 'A', now: T0 + 1 })).toBe(false);
      expect(await store.leaseHeldFor({ worker: 'W', jobOwner: 'A', now: job.leaseExpiresAt! })).toBe(false);
    });

    it('keeps the owners of namespaces and workers', async () => {
      const ns = await store.kvNamespaceInsert({ consistency: 'none', now: T0, owner: 'A' });
      const open = await store.kvNamespaceInsert({ consistency: 'none', now: T0 });
      expect(await store.kvNamespaceGet({ id: ns.id })).toEqual({ owner: 'A' });
      expect(await store.kvNamespaceGet({ id: open.id })).toEqual({ owner: null });
      expect(await store.kvNamespaceGet({ id: '987654321' })).toBeNull();
      const w = await workerOf('W', 'default');
      expect(w.owner).toBe('W');
      expect((await store.workerGet({ id: w.id }))!.owner).toBe('W');
    });

    it('removes grants with the blob', async () => {
      const a = await store.blobInsert({ sha256: sha(1), size: 1, now: T0, owner: 'A' });
      expect((await store.blobDelete({ ids: [a.id], before: T0 + 1 })).map((b) => b.id)).toEqual([a.id]);
      const fresh = await store.blobInsert({ sha256: sha(1), size: 1, now: T0 + 2, owner: 'B' });
      expect(await readable(fresh.id, 'A')).toBe(false);
      expect(await readable(fresh.id, 'B')).toBe(true);
    });

    it('stores expiry, lists, deletes for good, and records last use in one batch', async () => {
      const a = await store.tokenInsert({ role: 'client', name: 'a', hash: 'a'.repeat(64), now: T0 });
      const b = await store.tokenInsert({
        role: 'worker',
        name: null,
        hash: 'b'.repeat(64),
        now: T0 + 1,
        expiresAt: T0 + 1_000,
      });
      expect(b.expiresAt).toBe(T0 + 1_000);
      expect((await store.tokenList()).map((t) => t.id)).toEqual([a.id, b.id]);
      await store.tokenTouch({
        uses: [
          { id: a.id, at: T0 + 50 },
          { id: b.id, at: T0 + 60 },
        ],
      });
      // A late batch with an older time does not move last use backwards.
      await store.tokenTouch({ uses: [{ id: a.id, at: T0 + 10 }] });
      await store.tokenTouch({ uses: [] });
      const [la, lb] = await store.tokenList();
      expect([la!.lastUsedAt, lb!.lastUsedAt]).toEqual([T0 + 50, T0 + 60]);
      expect(await store.tokenDelete({ id: a.id })).toBe(true);
      expect(await store.tokenDelete({ id: a.id })).toBe(false);
      expect(await store.tokenDelete({ id: 'x' })).toBe(false);
      expect(await store.tokenFindByHash({ hash: 'a'.repeat(64) })).toBeNull();
      // Ids name owners (jobs, blobs, namespaces): a new token never gets a revoked one's id.
      const c = await store.tokenInsert({ role: 'client', name: 'c', hash: 'c'.repeat(64), now: T0 + 2 });
      expect(Number(c.id)).toBeGreaterThan(Number(b.id));
      expect((await store.tokenList()).map((t) => t.id)).toEqual([b.id, c.id]);
    });
  });
}
