/**
 * A job that logs heavily still finishes: its stderr reaches the hub over heartbeats that stay
 * under the hub's body limit, so every heartbeat extends the lease. Real hub, in-process agent,
 * the Lua runtime in its engine threads.
 */
import { describe, expect, it } from 'vitest';
import { testHub } from '../helpers/hub.js';
import { runOnce, startAgent } from './helpers.js';

/** Writes `lines` stderr lines of 16 kB, then spins for `spinS` seconds (several leases). */
const noisy = (lines: number, spinS: number) => `
local line = string.rep("e", 16000)
for i = 1, ${lines} do io.stderr:write(i, " ", line, "\\n") end
local t = os.clock()
while os.clock() - t < ${spinS} do end
io.write("done")
`;

/** Longer than the tests' 5 s lease, so that only accepted heartbeats keep the job alive. */
const SPIN_S = 7;

describe('heavy stderr', () => {
  it('a job writing 20 MB of stderr, then running on for several leases, succeeds', async () => {
    // 5 s leases and 7 s of running after the flood: the job outlives its first lease, so it
    // succeeds only if heartbeats are accepted. Before, each carried 1000 lines (16 MB, over the hub's 8 MiB limit), was refused,
    // and was sent again unchanged until the lease expired. (The lease is long enough for a busy
    // machine to get the flood through before the first heartbeat.)
    const { url } = await testHub({ leaseMs: 5_000 });
    await startAgent(url, ['dlabLua54'], { concurrency: 1 });
    const job = await runOnce(url, 'dlabLua54', noisy(1_280, SPIN_S), '', {
      timeoutMs: 90_000,
      maxAttempts: 1,
    });
    expect(job.error, JSON.stringify(job)).toBe(null);
    expect(job.state).toBe('succeeded');
    expect(job.attempts).toBe(1);
  }, 120_000);

  it('heartbeats fit a hub with a small body limit', async () => {
    // 64 KiB: four 16 kB lines already exceed it; each heartbeat carries what fits.
    const { url } = await testHub({ leaseMs: 5_000, maxJsonBytes: 64 * 1024 });
    await startAgent(url, ['dlabLua54'], { concurrency: 1 });
    const job = await runOnce(url, 'dlabLua54', noisy(200, SPIN_S), '', {
      timeoutMs: 90_000,
      maxAttempts: 1,
    });
    expect(job.error, JSON.stringify(job)).toBe(null);
    expect(job.state).toBe('succeeded');
  }, 120_000);
});
