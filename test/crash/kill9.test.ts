/**
 * Durability under `kill -9`: every state change a client was told about (201 for a job, 200 for
 * a completion) survives the hub process dying mid-traffic, and leases held by the dead hub's
 * workers expire into retries after the restart, with either durability setting. Real hub
 * processes, real HTTP.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, tempDir } from '../helpers/hub.js';
import { buildCli, killSpawned, spawnHub, until, type HubProcess } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

beforeAll(() => buildCli(), scaled(60_000));
afterEach(() => killSpawned());

interface Ledger {
  /** Jobs whose creation was acknowledged with 201. */
  created: Set<string>;
  /** Jobs whose completion was acknowledged with 200. */
  completed: Set<string>;
  /** Jobs leased and deliberately never reported (their worker "died" with the hub). */
  abandoned: Set<string>;
}

/** Fetch that turns a connection error (the hub was killed) into null. */
async function tryApi(url: string, method: string, path: string, body?: unknown) {
  try {
    return await api(url, method, path, body);
  } catch {
    return null;
  }
}

/** Attempts enough that crashes and abandoned leases never use them up. */
const JOB = { runtime: 'default', maxAttempts: 10 };

/**
 * Clients create jobs and a simulated worker leases and completes them, all over HTTP, until
 * `stop()`; every acknowledgement goes into the ledger. About every 7th leased job is abandoned
 * on its first attempt.
 */
function traffic(url: string, ledger: Ledger) {
  let running = true;
  let leasedCount = 0;
  const client = async (n: number) => {
    let i = 0;
    while (running) {
      const batch = i++ % 3 === 0;
      const r = batch
        ? await tryApi(url, 'POST', '/api/v1/jobs/batch', {
            jobs: [{ ...JOB }, { ...JOB, input: { text: `c${n}` } }],
          })
        : await tryApi(url, 'POST', '/api/v1/jobs', { ...JOB, input: { text: `client ${n} job ${i}` } });
      if (!r) return;
      if (r.status === 201) {
        if (batch) for (const j of r.body.jobs as { id: string }[]) ledger.created.add(j.id);
        else ledger.created.add(r.body.id as string);
      }
    }
  };
  const worker = async () => {
    const reg = await tryApi(url, 'POST', '/api/v1/workers', { runtimes: ['default'] });
    if (!reg || reg.status !== 201) return;
    const id = reg.body.id as string;
    while (running) {
      const l = await tryApi(url, 'POST', `/api/v1/workers/${id}/lease`, { limit: 4, waitMs: 100 });
      if (!l) return;
      const jobs = (l.body?.jobs ?? []) as { id: string; token: string; attempt: number }[];
      const results = await Promise.all(
        jobs.map(async (j) => {
          if (++leasedCount % 7 === 0 && j.attempt === 1) {
            ledger.abandoned.add(j.id);
            return true;
          }
          const c = await tryApi(url, 'POST', `/api/v1/jobs/${j.id}/complete`, {
            token: j.token,
            output: { text: `out ${j.id}` },
          });
          if (c?.status === 200) ledger.completed.add(j.id);
          return c !== null;
        }),
      );
      if (results.includes(false)) return;
    }
  };
  const all = Promise.all([client(1), client(2), client(3), worker(), worker()]);
  return {
    stop: async () => {
      running = false;
      await all;
    },
  };
}

/** Every job in the hub, by id (pages through the list). */
async function allJobs(
  url: string,
): Promise<Map<string, { state: string; attempts: number; output: unknown; error: string | null }>> {
  const jobs = new Map();
  let before: string | null = null;
  for (;;) {
    const r = await api(url, 'GET', `/api/v1/jobs?limit=1000${before ? `&before=${before}` : ''}`);
    expect(r.status).toBe(200);
    for (const j of r.body.jobs) jobs.set(j.id, j);
    before = r.body.next;
    if (!before) return jobs;
  }
}

async function verify(hub: HubProcess, ledger: Ledger): Promise<void> {
  // Leases of the killed process expire (500 ms) and the reaper requeues them.
  const jobs = await until(
    async () => {
      const all = await allJobs(hub.url);
      return [...all.values()].some((j) => j.state === 'running') ? null : all;
    },
    scaled(8_000),
    100,
  );
  for (const id of ledger.created) {
    expect(jobs.has(id), `acknowledged job ${id} exists`).toBe(true);
  }
  for (const id of ledger.completed) {
    const j = jobs.get(id);
    expect(j?.state, `acknowledged completion of ${id}`).toBe('succeeded');
    expect(j?.output, `output of ${id}`).toEqual({
      size: Buffer.byteLength(`out ${id}`),
      base64: Buffer.from(`out ${id}`).toString('base64'),
    });
  }
  for (const [id, j] of jobs) {
    expect(['queued', 'succeeded'], `job ${id} is ${j.state} (${j.error})`).toContain(j.state);
  }
  // Every abandoned job that did not finish otherwise went back to the queue with its error.
  for (const id of ledger.abandoned) {
    const j = jobs.get(id)!;
    if (j.state === 'queued') {
      expect(j.attempts).toBeGreaterThanOrEqual(1);
      expect(j.error).toMatch(/lease/);
    }
  }
}

// Relaxed durability skips the flush on the reply's path, but a commit is in the OS's hands before
// the reply either way, so a crash of the hub alone must lose nothing in both modes.
describe.each(['full', 'relaxed'])('kill -9 with %s durability', (durability) => {
  // Two crashes, each with two hub starts and a load that must reach its size first.
  it(
    'loses no acknowledged job or completion, and requeues expired leases, across two crashes',
    { timeout: scaled(20_000) },
    async () => {
      const dir = tempDir();
      const ledger: Ledger = { created: new Set(), completed: new Set(), abandoned: new Set() };
      const args = ['--lease-ms', '500', '--durability', durability];
      let hub = await spawnHub(dir, args);
      expect(hub.output.find((l) => l.includes('jobhub listening'))).toContain(
        `"durability":"${durability}"`,
      );

      for (let round = 1; round <= 2; round++) {
        // The load runs until it has done enough to matter (not for a fixed time: how much gets
        // done in a second depends on the machine).
        const start = { created: ledger.created.size, completed: ledger.completed.size };
        const t = traffic(hub.url, ledger);
        await until(
          async () =>
            ledger.created.size - start.created > 50 && ledger.completed.size - start.completed > 20,
          scaled(10_000),
          20,
        );
        // Leases held at the moment of the crash, granted too recently for the old hub to reap.
        const held = await api(hub.url, 'POST', '/api/v1/jobs/batch', {
          jobs: [1, 2, 3].map(() => ({ runtime: `held${round}` })),
        });
        expect(held.status).toBe(201);
        const heldIds = (held.body.jobs as { id: string }[]).map((j) => j.id);
        for (const id of heldIds) ledger.created.add(id);
        const holder = await api(hub.url, 'POST', '/api/v1/workers', { runtimes: [`held${round}`] });
        const leased = await api(hub.url, 'POST', `/api/v1/workers/${holder.body.id}/lease`, { limit: 3 });
        expect(leased.status, JSON.stringify(leased.body)).toBe(200);
        expect(leased.body.jobs.map((j: { id: string }) => j.id).sort()).toEqual([...heldIds].sort());
        const before = { created: ledger.created.size, completed: ledger.completed.size };
        hub.proc.kill('SIGKILL');
        const exit = await hub.exited;
        expect(exit.signal).toBe('SIGKILL');
        await t.stop();
        // The load really ran.
        expect(before.created - start.created, `round ${round} created`).toBeGreaterThan(50);
        expect(before.completed - start.completed, `round ${round} completed`).toBeGreaterThan(20);

        hub = await spawnHub(dir, args);
        await verify(hub, ledger);
        for (const id of heldIds) {
          const j = (await api(hub.url, 'GET', `/api/v1/jobs/${id}`)).body;
          expect(j, `held job ${id}`).toMatchObject({
            state: 'queued',
            attempts: 1,
            error: expect.stringMatching(/lease/),
          });
        }
      }
      expect(ledger.abandoned.size).toBeGreaterThan(0);
      hub.proc.kill('SIGTERM');
      expect((await hub.exited).code).toBe(0);
    },
  );
});
