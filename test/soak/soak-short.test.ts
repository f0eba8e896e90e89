/**
 * A short soak in the test suite: 200 simulated workers parked on a hub process and 100 jobs/s
 * for 20 s. The hub's memory stays flat, its p99 lease latency does not climb, every job is
 * completed, and its file descriptors return to the baseline once the workers leave. The long
 * run (1,000 workers, 10 minutes) is `npm run soak`; figures in docs/reliability.md.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runSoak } from '../../chaos/soak.js';
import { buildCli } from '../helpers/worker.js';

beforeAll(() => buildCli(), 120_000);

describe('soak (short)', () => {
  it('200 workers × 20 s: memory, p99 lease latency and file descriptors stay flat; nothing is lost', async () => {
    const r = await runSoak({ workers: 200, durationMs: 20_000, rate: 100, warmupMs: 4_000, windows: 4 });
    const summary = JSON.stringify({ ...r, options: undefined }, null, 1);
    for (const c of r.checks) expect(c.ok, `${c.name}: ${c.detail}\n${summary}`).toBe(true);
    expect(r.created).toBeGreaterThan(1000);
  }, 90_000);
});
