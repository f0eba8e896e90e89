/**
 * Engines under load: a real agent (in this process, with the Lua and js engine threads) against
 * a hub process, given the large counts the test suite keeps small (test/agent: agent.test.ts,
 * js-sandbox.test.ts, heavy-logs.test.ts prove the behaviour with a few jobs; this shows it
 * holds with many, and over several leases):
 * - 50 jobs of one Lua function on 4 slots: all succeed, the code is downloaded once;
 * - 100 js jobs awaiting a 2 s sleep on 2 engine threads: at least 50 are parked at once;
 * - a Lua job writing 20 MB of stderr, then running on for 40 s (20 s with --quick) on 15 s
 *   leases: it succeeds, since its heartbeats (carrying the log) stay under the hub's body limit.
 * One after the other: each part is about its own load. jobs_lost counts the jobs that did not
 * succeed.
 */
import pino from 'pino';
import { Agent } from '../../src/agent/agent.js';
import { createRuntimes } from '../../src/agent/runtimes/index.js';
import type { JsRuntime } from '../../src/agent/runtimes/js/runtime.js';
import { http, round, sleep, startHub, stopHub, tempDir, type Reply, type Scenario } from '../lib.js';

/** Long enough for 100 jobs' heartbeats on a busy machine; the flood outlives several. */
const LEASE_MS = 15_000;

export const engineLoad: Scenario = {
  name: 'engine-load',
  store: 'sqlite',
  what: '50 Lua jobs of one function, 100 sleeping js jobs on 2 threads, a 20 MB stderr flood',
  async run({ quick, log }) {
    const hub = await startHub({ dataDir: tempDir(), leaseMs: LEASE_MS });
    const runtimes = createRuntimes(['dlabLua54', 'js'], {
      threads: 2,
      workDir: tempDir(),
      memoryBytes: 256 * 1024 ** 2,
    });
    const agent = new Agent({
      hub: hub.url,
      runtimes,
      concurrency: 104,
      limits: { memoryBytes: 256 * 1024 ** 2, outputBytes: 1024 ** 2 },
      log: pino({ level: 'silent' }),
    });
    const checks: { name: string; ok: boolean; detail?: string }[] = [];
    const ids: string[] = [];
    try {
      await agent.start();
      const must = (r: Reply, status: number) => {
        if (r.status !== status) throw new Error(`HTTP ${r.status}: ${JSON.stringify(r.body)}`);
        return r.body;
      };
      const fn = async (runtime: string, code: string) => {
        const blob = await fetch(`${hub.url}/api/v1/blobs`, { method: 'POST', body: code });
        const { id } = (await blob.json()) as { id: string };
        return must(await http(hub.url, 'POST', '/api/v1/functions', { runtime, codeBlobId: id }), 201)
          .id as string;
      };
      const batch = async (jobs: Record<string, unknown>[]) => {
        const body = must(await http(hub.url, 'POST', '/api/v1/jobs/batch', { jobs }), 201);
        const created = (body.jobs as { id: string }[]).map((j) => j.id);
        ids.push(...created);
        return created;
      };

      const js = runtimes.find((r) => r.base === 'js') as JsRuntime;
      let parked = 0;
      let open: string[] = [];
      /** Polls until the jobs are final (noting how many js jobs are parked at once). */
      const settle = async (batchIds: string[]) => {
        open = batchIds;
        const deadline = Date.now() + 180_000;
        while (open.length > 0 && Date.now() < deadline) {
          parked = Math.max(
            parked,
            js.engines.threads().reduce((n, t) => n + t.jobs, 0),
          );
          const states = await Promise.all(
            open.map(
              async (id) => [id, (await http(hub.url, 'GET', `/api/v1/jobs/${id}`)).body.state] as const,
            ),
          );
          open = states.filter(([, s]) => !['succeeded', 'failed', 'canceled'].includes(s)).map(([id]) => id);
          await sleep(200);
        }
      };

      const lua = await fn('dlabLua54', 'return function(x) return "<" .. x .. ">" end');
      await settle(
        await batch(Array.from({ length: 50 }, (_, i) => ({ function: lua, input: { text: String(i) } }))),
      );
      const sleeper = await fn('js', 'export default async () => { await sleep(2000); return "slept"; }');
      await settle(
        await batch(
          Array.from({ length: 100 }, () => ({ function: sleeper, maxAttempts: 1, timeoutMs: 120_000 })),
        ),
      );
      const spinS = quick ? 20 : 40;
      const noisy = await fn(
        'dlabLua54',
        `local line = string.rep("e", 16000)
         for i = 1, 1280 do io.stderr:write(i, " ", line, "\\n") end
         local t = os.clock() while os.clock() - t < ${spinS} do end io.write("done")`,
      );
      await settle(await batch([{ function: noisy, maxAttempts: 1, timeoutMs: 120_000 }]));
      const states = await Promise.all(
        ids.map(async (id) => (await http(hub.url, 'GET', `/api/v1/jobs/${id}`)).body),
      );
      const bad = states.filter((j) => j.state !== 'succeeded');
      for (const j of bad.slice(0, 5)) log(`job ${j.id}: ${j.state} ${j.error ?? ''}`);
      checks.push(
        { name: 'every job final in time', ok: open.length === 0, detail: `${open.length} still open` },
        {
          name: 'code downloaded once per function',
          ok: agent.codeDownloads === 3,
          detail: `${agent.codeDownloads}`,
        },
        { name: 'js jobs parked at once on 2 threads', ok: parked >= 50, detail: `${parked}` },
      );
      return {
        jobs_lost: bad.length,
        completed_twice: 0, // the hub completes a job once: a second completion is refused
        recovery_s: 0, // no fault is injected
        created: ids.length,
        completed: states.length - bad.length,
        checks,
        extra: { most_parked: parked, spin_s: round(spinS) },
        details: bad.slice(0, 5).map((j) => `job ${j.id}: ${j.state} ${j.error ?? ''}`),
      };
    } finally {
      await agent.drain(0);
      await Promise.all(runtimes.map((r) => r.close()));
      await stopHub(hub);
    }
  },
};
