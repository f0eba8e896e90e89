/**
 * The PortalStore contract, as tests, run against every implementation
 * (store-sqlite.test.ts, store-postgres.test.ts). Only the PortalStore interface is used.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PortalStore, ServerFields } from '../../src/contest/store/store.js';
import type { Store } from '../../src/store/store.js';

/** The portal store, and the core store of the same database (for scores taken from jobs). */
export type OpenPortalStore = () => Promise<{
  store: PortalStore;
  core: Store;
  cleanup: () => Promise<void>;
}>;

const T0 = 1_700_000_000_000;

const server = (n: number, over: Partial<ServerFields> = {}): ServerFields => ({
  hostname: `s${n}`,
  globalIp: `192.0.2.${n}`,
  privateIp: `10.0.0.${n}`,
  isBenchTarget: false,
  ...over,
});

export function portalStoreConformance(name: string, open: OpenPortalStore): void {
  describe(`PortalStore conformance: ${name}`, () => {
    let store: PortalStore;
    let core: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, core, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup();
    });
    const team = (name = 'team0') =>
      store.teamInsert({ name, passwordHash: null, inviteToken: null, now: T0 });
    /** `serverSync` of one team. */
    const syncOne = async (teamId: string, servers: ServerFields[]) =>
      (await store.serverSync({ teams: [{ teamId, servers }], maxPerTeam: 3, now: T0 }))[0]!;

    it('keeps the contest schedule and allowed target blocks (empty at first, then replaced)', async () => {
      expect(await store.contestGet()).toEqual({
        startsAt: null,
        freezesAt: null,
        endsAt: null,
        allowedTargetCidrs: [],
        updatedAt: null,
      });
      await store.contestSet({
        startsAt: T0,
        freezesAt: T0 + 5,
        endsAt: T0 + 10,
        allowedTargetCidrs: ['10.0.0.0/8', 'fd00::/8'],
        now: T0,
      });
      expect((await store.contestGet()).allowedTargetCidrs).toEqual(['10.0.0.0/8', 'fd00::/8']);
      const c = await store.contestSet({
        startsAt: T0 + 1,
        freezesAt: null,
        endsAt: T0 + 20,
        allowedTargetCidrs: [],
        now: T0 + 1,
      });
      expect(c).toEqual({
        startsAt: T0 + 1,
        freezesAt: null,
        endsAt: T0 + 20,
        allowedTargetCidrs: [],
        updatedAt: T0 + 1,
      });
      expect(await store.contestGet()).toEqual(c);
    });

    it('creates, finds, updates, lists and deletes teams; names and invite tokens are unique', async () => {
      const a = await store.teamInsert({ name: 'alpha', passwordHash: 'h1', inviteToken: 'inv-a', now: T0 });
      expect(a).toMatchObject({
        name: 'alpha',
        passwordHash: 'h1',
        inviteToken: 'inv-a',
        ownerId: null,
        createdAt: T0,
      });
      const b = await team('beta');
      await expect(team('alpha')).rejects.toMatchObject({ code: 'conflict' });
      await expect(
        store.teamInsert({ name: 'x', passwordHash: null, inviteToken: 'inv-a', now: T0 }),
      ).rejects.toMatchObject({
        code: 'conflict',
      });
      expect((await store.teamFindByName({ name: 'beta' }))?.id).toBe(b.id);
      expect((await store.teamFindByInvite({ inviteToken: 'inv-a' }))?.id).toBe(a.id);
      expect(await store.teamFindByName({ name: 'nobody' })).toBeNull();
      const member = await store.memberUpsert({ teamId: a.id, name: 'alice', now: T0 });
      const renamed = await store.teamUpdate({
        id: a.id,
        name: 'alpha2',
        passwordHash: null,
        ownerId: member.id,
      });
      expect(renamed).toMatchObject({
        id: a.id,
        name: 'alpha2',
        passwordHash: null,
        inviteToken: 'inv-a',
        ownerId: member.id,
      });
      await expect(store.teamUpdate({ id: a.id, name: 'beta' })).rejects.toMatchObject({ code: 'conflict' });
      expect(await store.teamUpdate({ id: '999999', name: 'z' })).toBeNull();
      expect((await store.teamList()).map((t) => t.name)).toEqual(['alpha2', 'beta']);
      expect(await store.teamDelete({ id: a.id })).toBe(true);
      expect(await store.teamDelete({ id: a.id })).toBe(false);
      expect(await store.teamGet({ id: a.id })).toBeNull();
      expect(await store.memberList({ teamId: a.id })).toEqual([]);
      expect(await store.teamGet({ id: 'not-a-number' })).toBeNull();
    });

    it('adds members once per name and removes them', async () => {
      const t = await team();
      const m1 = await store.memberUpsert({ teamId: t.id, name: 'alice', now: T0 });
      const again = await store.memberUpsert({ teamId: t.id, name: 'alice', now: T0 + 1 });
      expect(again.id).toBe(m1.id);
      await store.memberUpsert({ teamId: t.id, name: 'bob', now: T0 });
      expect((await store.memberList({ teamId: t.id })).map((m) => m.name)).toEqual(['alice', 'bob']);
      expect(await store.memberDelete({ teamId: t.id, id: m1.id })).toBe(true);
      expect((await store.memberList({ teamId: t.id })).map((m) => m.name)).toEqual(['bob']);
      await expect(store.memberUpsert({ teamId: '424242', name: 'x', now: T0 })).rejects.toMatchObject({
        code: 'not_found',
      });
    });

    it('limits servers per team, keeps one bench target, and refuses duplicate hostnames and global IPs', async () => {
      const t = await team();
      const other = await team('other');
      const s1 = await store.serverInsert({
        ...server(1, { isBenchTarget: true }),
        teamId: t.id,
        maxPerTeam: 2,
        now: T0,
      });
      expect(s1).toMatchObject({
        teamId: t.id,
        hostname: 's1',
        globalIp: '192.0.2.1',
        privateIp: '10.0.0.1',
        isBenchTarget: true,
      });
      await expect(
        store.serverInsert({ ...server(2, { hostname: 's1' }), teamId: t.id, maxPerTeam: 2, now: T0 }),
      ).rejects.toMatchObject({ code: 'conflict' });
      await expect(
        store.serverInsert({
          ...server(9, { globalIp: '192.0.2.1' }),
          teamId: other.id,
          maxPerTeam: 2,
          now: T0,
        }),
      ).rejects.toMatchObject({ code: 'conflict' });
      // Private addresses may repeat across teams (each team has its own network).
      await store.serverInsert({
        ...server(8, { privateIp: '10.0.0.1' }),
        teamId: other.id,
        maxPerTeam: 2,
        now: T0,
      });
      const s2 = await store.serverInsert({
        ...server(2, { isBenchTarget: true }),
        teamId: t.id,
        maxPerTeam: 2,
        now: T0,
      });
      await expect(
        store.serverInsert({ ...server(3), teamId: t.id, maxPerTeam: 2, now: T0 }),
      ).rejects.toMatchObject({
        code: 'conflict',
      });
      let list = await store.serverList({ teamId: t.id });
      expect(list.map((s) => [s.hostname, s.isBenchTarget])).toEqual([
        ['s1', false],
        ['s2', true],
      ]);
      const moved = await store.serverUpdate({
        id: s1.id,
        teamId: t.id,
        isBenchTarget: true,
        privateIp: '10.0.0.99',
      });
      expect(moved).toMatchObject({ isBenchTarget: true, privateIp: '10.0.0.99', hostname: 's1' });
      list = await store.serverList({ teamId: t.id });
      expect(list.filter((s) => s.isBenchTarget).map((s) => s.id)).toEqual([s1.id]);
      // Another team cannot touch it.
      expect(await store.serverUpdate({ id: s1.id, teamId: other.id, hostname: 'x' })).toBeNull();
      expect(await store.serverDelete({ id: s1.id, teamId: other.id })).toBe(false);
      expect(await store.serverDelete({ id: s2.id, teamId: t.id })).toBe(true);
      expect((await store.serverList({ teamId: t.id })).map((s) => s.hostname)).toEqual(['s1']);
      await expect(
        store.serverInsert({ ...server(7), teamId: '999999', maxPerTeam: 2, now: T0 }),
      ).rejects.toMatchObject({
        code: 'not_found',
      });
    });

    it('never lets concurrent inserts pass the server limit', async () => {
      const t = await team();
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          store.serverInsert({ ...server(i + 1), teamId: t.id, maxPerTeam: 3, now: T0 }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
      expect(await store.serverList({ teamId: t.id })).toHaveLength(3);
    });

    it('syncs a team to an exact server list by hostname (idempotent)', async () => {
      const t = await team();
      const first = await syncOne(t.id, [server(1, { isBenchTarget: true }), server(2)]);
      expect(first.map((s) => s.hostname)).toEqual(['s1', 's2']);
      const again = await syncOne(t.id, [server(1, { isBenchTarget: true }), server(2)]);
      expect(again.map((s) => s.id)).toEqual(first.map((s) => s.id));
      const changed = await syncOne(t.id, [
        server(2, { isBenchTarget: true, privateIp: '10.9.9.9' }),
        server(3),
      ]);
      expect(changed.map((s) => [s.hostname, s.isBenchTarget, s.privateIp])).toEqual([
        ['s2', true, '10.9.9.9'],
        ['s3', false, '10.0.0.3'],
      ]);
      expect(changed[0]!.id).toBe(first[1]!.id);
      await expect(syncOne(t.id, [server(1), server(2), server(3), server(4)])).rejects.toMatchObject({
        code: 'conflict',
      });
      await expect(syncOne(t.id, [server(1), server(1)])).rejects.toMatchObject({
        code: 'validation_failed',
      });
      expect((await store.serverList({ teamId: t.id })).map((s) => s.hostname)).toEqual(['s2', 's3']);
    });

    it('moves and swaps addresses between the teams of one sync, keeping server ids, or changes none', async () => {
      const a = await team('a');
      const b = await team('b');
      const c = await team('c');
      const [a0, b0] = await store.serverSync({
        teams: [
          { teamId: a.id, servers: [server(1, { isBenchTarget: true }), server(2)] },
          { teamId: b.id, servers: [server(3, { hostname: 'b1', isBenchTarget: true })] },
        ],
        maxPerTeam: 3,
        now: T0,
      });
      // a's s1 and b's b1 swap addresses; a's s2 address passes to c, a new server there.
      const [a1, b1, c1] = await store.serverSync({
        teams: [
          { teamId: a.id, servers: [server(1, { globalIp: '192.0.2.3', isBenchTarget: true })] },
          { teamId: b.id, servers: [server(3, { hostname: 'b1', globalIp: '192.0.2.1' })] },
          { teamId: c.id, servers: [server(2, { hostname: 'c1', isBenchTarget: true })] },
        ],
        maxPerTeam: 3,
        now: T0,
      });
      expect(a1!.map((s) => [s.id, s.globalIp, s.isBenchTarget])).toEqual([[a0![0]!.id, '192.0.2.3', true]]);
      expect(b1!.map((s) => [s.id, s.globalIp, s.isBenchTarget])).toEqual([[b0![0]!.id, '192.0.2.1', false]]);
      expect(c1!.map((s) => [s.hostname, s.globalIp])).toEqual([['c1', '192.0.2.2']]);
      // An address held by a team outside the sync is refused, and no listed team changes.
      const d = await team('d');
      await expect(
        store.serverSync({
          teams: [
            { teamId: a.id, servers: [server(9)] },
            { teamId: d.id, servers: [server(1, { globalIp: '192.0.2.1' })] },
          ],
          maxPerTeam: 3,
          now: T0,
        }),
      ).rejects.toMatchObject({ code: 'conflict' });
      expect(await store.serverList({ teamId: a.id })).toEqual(a1);
      expect(await store.serverList({ teamId: d.id })).toEqual([]);
      // The taking team listed first: c takes the address of a's s1, which a drops. Every team's
      // removals happen before any team's inserts, so the order of the list does not matter.
      const [c2, a2] = await store.serverSync({
        teams: [
          { teamId: c.id, servers: [server(2, { hostname: 'c1' }), server(3, { hostname: 'c2' })] },
          { teamId: a.id, servers: [server(9, { isBenchTarget: true })] },
        ],
        maxPerTeam: 3,
        now: T0,
      });
      expect(c2!.map((s) => [s.hostname, s.globalIp])).toEqual([
        ['c1', '192.0.2.2'],
        ['c2', '192.0.2.3'],
      ]);
      expect(a2!.map((s) => [s.hostname, s.globalIp])).toEqual([['s9', '192.0.2.9']]);
      // One team twice in one sync would undo itself: refused.
      await expect(
        store.serverSync({
          teams: [
            { teamId: a.id, servers: [server(1)] },
            { teamId: a.id, servers: [server(2)] },
          ],
          maxPerTeam: 3,
          now: T0,
        }),
      ).rejects.toMatchObject({ code: 'validation_failed' });
      expect(await store.serverList({ teamId: a.id })).toEqual(a2);
    });

    it('keeps benchmarkers, their worker and their team bindings', async () => {
      const t1 = await team('t1');
      const t2 = await team('t2');
      const a = await store.benchmarkerInsert({
        name: 'bench-a',
        address: '127.0.0.2',
        tokenHash: null,
        now: T0,
      });
      expect(a).toMatchObject({
        name: 'bench-a',
        address: '127.0.0.2',
        tokenHash: null,
        workerId: null,
        teamIds: [],
      });
      await expect(
        store.benchmarkerInsert({ name: 'bench-a', address: '127.0.0.3', tokenHash: null, now: T0 }),
      ).rejects.toMatchObject({ code: 'conflict' });
      const b = await store.benchmarkerInsert({
        name: 'bench-b',
        address: '10.1.0.0/16',
        tokenHash: 'th',
        now: T0,
      });
      expect((await store.bindingSet({ benchmarkerId: a.id, teamIds: [t2.id, t1.id] }))?.teamIds).toEqual([
        t1.id,
        t2.id,
      ]);
      expect((await store.bindingSet({ benchmarkerId: a.id, teamIds: [t2.id] }))?.teamIds).toEqual([t2.id]);
      await expect(store.bindingSet({ benchmarkerId: a.id, teamIds: ['999999'] })).rejects.toMatchObject({
        code: 'not_found',
      });
      expect((await store.benchmarkerGet({ id: a.id }))?.teamIds).toEqual([t2.id]);
      expect(await store.bindingSet({ benchmarkerId: '999999', teamIds: [] })).toBeNull();
      expect(await store.benchmarkerSetWorker({ id: a.id, workerId: '77', previous: null })).toBe('77');
      // Compare and set: a second registration that saw no worker loses; one that saw 77 wins.
      expect(await store.benchmarkerSetWorker({ id: a.id, workerId: '78', previous: null })).toBe('77');
      expect(await store.benchmarkerSetWorker({ id: a.id, workerId: '79', previous: '78' })).toBe('77');
      expect(await store.benchmarkerSetWorker({ id: '999999', workerId: '1', previous: null })).toBeNull();
      const updated = await store.benchmarkerUpdate({ id: a.id, address: '127.0.0.9', tokenHash: 'x' });
      expect(updated).toMatchObject({
        address: '127.0.0.9',
        tokenHash: 'x',
        workerId: '77',
        teamIds: [t2.id],
      });
      expect((await store.benchmarkerFindByName({ name: 'bench-b' }))?.id).toBe(b.id);
      const list = await store.benchmarkerList();
      expect(list.map((x) => [x.name, x.teamIds])).toEqual([
        ['bench-a', [t2.id]],
        ['bench-b', []],
      ]);
      // Deleting a team drops its bindings.
      await store.teamDelete({ id: t2.id });
      expect((await store.benchmarkerGet({ id: a.id }))?.teamIds).toEqual([]);
      expect(await store.benchmarkerDelete({ id: a.id })).toBe(true);
      expect(await store.benchmarkerGet({ id: a.id })).toBeNull();
    });

    it('keeps sessions until they expire or are deleted', async () => {
      const t = await team();
      await store.sessionInsert({
        tokenHash: 'h1',
        teamId: t.id,
        memberId: null,
        expiresAt: T0 + 100,
        now: T0,
      });
      await store.sessionInsert({
        tokenHash: 'h2',
        teamId: t.id,
        memberId: null,
        expiresAt: T0 + 100,
        now: T0,
      });
      expect(await store.sessionGet({ tokenHash: 'h1', now: T0 + 99 })).toMatchObject({
        teamId: t.id,
        expiresAt: T0 + 100,
      });
      expect(await store.sessionGet({ tokenHash: 'h1', now: T0 + 100 })).toBeNull();
      await store.sessionDelete({ tokenHash: 'h1' });
      expect(await store.sessionGet({ tokenHash: 'h1', now: T0 })).toBeNull();
      await store.sessionDeleteTeam({ teamId: t.id, now: T0 });
      expect(await store.sessionGet({ tokenHash: 'h2', now: T0 })).toBeNull();
      await expect(
        store.sessionInsert({
          tokenHash: 'h3',
          teamId: '999999',
          memberId: null,
          expiresAt: T0 + 1,
          now: T0,
        }),
      ).rejects.toMatchObject({ code: 'not_found' });
    });

    it('records one score per job and lists them incrementally', async () => {
      const t = await team();
      expect(
        await store.scoreInsert({ jobId: '10', teamId: t.id, score: 100, passed: true, finishedAt: T0 }),
      ).toBe(true);
      expect(
        await store.scoreInsert({ jobId: '10', teamId: t.id, score: 999, passed: false, finishedAt: T0 }),
      ).toBe(false);
      expect(
        await store.scoreInsert({ jobId: '11', teamId: t.id, score: 0, passed: false, finishedAt: T0 + 1 }),
      ).toBe(true);
      const all = await store.scoreList({ afterSeq: 0, limit: 10 });
      expect(all.map((s) => [s.jobId, s.score, s.passed])).toEqual([
        ['10', 100, true],
        ['11', 0, false],
      ]);
      expect(await store.scoreList({ afterSeq: all[0]!.seq, limit: 10 })).toEqual([all[1]]);
      expect(await store.scoreList({ afterSeq: 0, limit: 1 })).toEqual([all[0]]);
    });

    it('records a score from a succeeded job row, once, and nothing for other jobs', async () => {
      const B = 'isucon-bench';
      const t = await team();
      const worker = await core.workerInsert({
        ...{ name: null, runtimes: [B], tags: [], capacity: 1, protocol: 'v0.5' },
        ...{ createdAt: T0, lastSeenAt: T0 },
      });
      const queued = async (teamId: string | null) =>
        (
          await core.jobInsertMany({
            jobs: [
              {
                ...{
                  functionId: null,
                  runtime: B,
                  inputBlobId: null,
                  inputInline: null,
                  tags: [],
                  priority: 0,
                },
                ...{ maxAttempts: 1, timeoutMs: 300_000, team: teamId, owner: null, next: null },
                ...{ idempotencyKey: null, parentId: null },
              },
            ],
            now: T0,
          })
        )[0]!.job.id;
      /** Leases the job (the only one queued) and completes it with `result`. */
      const finish = async (id: string, result: unknown, now: number) => {
        const [leased] = await core.jobLeaseNext({
          ...{ workerId: worker.id, runtimes: [B], tags: [], limit: 1, leaseMs: 60_000, now: T0 },
        });
        expect(leased!.id).toBe(id);
        await core.jobComplete({
          ...{ jobId: id, token: leased!.leaseToken!, outputBlobId: null, outputInline: null },
          ...{ result, exitStatus: null, now },
        });
      };
      const id = await queued(t.id);
      expect(await store.scoreRecordJob({ jobId: id, runtime: B })).toBeNull(); // still queued
      await finish(id, { score: 4321.9, is_passed: true, reason: '', stdout: '', stderr: '' }, T0 + 5);
      expect(await store.scoreRecordJob({ jobId: id, runtime: 'other' })).toBeNull();
      const rec = await store.scoreRecordJob({ jobId: id, runtime: B });
      expect(rec).toMatchObject({ jobId: id, teamId: t.id, score: 4321, passed: true, finishedAt: T0 + 5 });
      expect(await store.scoreRecordJob({ jobId: id, runtime: B })).toBeNull();
      expect(await store.scoreList({ afterSeq: 0, limit: 10 })).toEqual([rec]);
      expect(await store.scoreRecordJob({ jobId: '999999', runtime: B })).toBeNull();
      // Jobs without a (numeric) team have no score.
      for (const teamId of [null, 'not-a-team']) {
        const other = await queued(teamId);
        await finish(other, { score: 5, is_passed: true }, T0 + 6);
        expect(await store.scoreRecordJob({ jobId: other, runtime: B })).toBeNull();
      }
      // A result of the wrong shape counts as score 0, not passed.
      const odd = await queued(t.id);
      await finish(odd, { is_passed: 'yes', score: 'many' }, T0 + 7);
      expect(await store.scoreRecordJob({ jobId: odd, runtime: B })).toMatchObject({
        score: 0,
        passed: false,
      });
    });
  });
}
