/**
 * The Store contract for contest teams: the lease's team rules (a bound benchmarker's own teams,
 * a shared one's unbound teams) and at most one waiting or running job per team. Part of the
 * conformance suite; run by every store's test file.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubError } from '../../src/core/errors.js';
import type { Store } from '../../src/store/store.js';
import { newJob, type OpenStore } from './conformance.js';

const T0 = 1_000_000;

export function storeTeamConformance(name: string, open: OpenStore): void {
  describe(`Store conformance (teams): ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let workerId: string;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
      workerId = (
        await store.workerInsert({
          name: null,
          runtimes: ['bench'],
          tags: [],
          capacity: 1,
          protocol: 'v1',
          createdAt: T0,
          lastSeenAt: T0,
        })
      ).id;
    });
    afterEach(() => cleanup());

    const insertFor = async (teams: (string | null)[]) =>
      (
        await store.jobInsertMany({ jobs: teams.map((team) => newJob({ runtime: 'bench', team })), now: T0 })
      ).map((r) => r.job);
    const lease = (teams: { only?: string[]; exclude?: string[] }, limit = 10) =>
      store.jobLeaseNext({ workerId, runtimes: ['bench'], tags: [], limit, leaseMs: 1000, now: T0, teams });

    it('leases only the listed teams with `only`', async () => {
      const [a, , c] = await insertFor(['a', 'b', 'c']);
      const got = await lease({ only: ['a', 'c'] });
      expect(got.map((j) => j.id)).toEqual([a!.id, c!.id]);
    });

    it('leases unbound teams and team-less jobs with `exclude`, never the excluded teams', async () => {
      const [, b, none] = await insertFor(['a', 'b', null]);
      const got = await lease({ exclude: ['a'] });
      expect(got.map((j) => j.id).sort()).toEqual([b!.id, none!.id].sort());
      expect((await store.jobGet({ id: (await store.jobList({ team: 'a', limit: 1 }))[0]!.id }))!.state).toBe(
        'queued',
      );
    });

    it('keeps FIFO order across teams', async () => {
      const jobs = await insertFor(['x', 'y', 'z']);
      const got = await lease({ exclude: [] }, 1);
      expect(got.map((j) => j.id)).toEqual([jobs[0]!.id]);
    });

    it('refuses a second waiting or running job for a team, and changes nothing', async () => {
      await insertFor(['a']);
      await expect(insertFor(['a'])).rejects.toSatisfy((e) => e instanceof HubError && e.code === 'conflict');
      expect(await store.jobList({ team: 'a', limit: 10 })).toHaveLength(1);
    });

    it('lets exactly one of two concurrent enqueues for a team through', async () => {
      const results = await Promise.allSettled([insertFor(['t']), insertFor(['t'])]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(await store.jobList({ team: 't', limit: 10 })).toHaveLength(1);
    });

    it("allows a new job once the team's job is finished", async () => {
      const [job] = await insertFor(['a']);
      const [leased] = await lease({ only: ['a'] });
      await store.jobComplete({
        jobId: job!.id,
        token: leased!.leaseToken!,
        outputBlobId: null,
        outputInline: null,
        result: { score: 1 },
        exitStatus: null,
        now: T0 + 1,
      });
      await expect(insertFor(['a'])).resolves.toHaveLength(1);
    });
  });
}
