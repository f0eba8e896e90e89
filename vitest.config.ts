import { availableParallelism, loadavg } from 'node:os';
import { defineConfig } from 'vitest/config';
import { scaled } from './test/helpers/time.js';

const forks = testForks();

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Run alone afterwards (vitest.disruptive.config.ts): they restart shared services.
    exclude: ['test/disruptive/**', '**/node_modules/**'],
    // Time limits come from JOBHUB_TEST_TIME_SCALE (test/helpers/time.ts).
    testTimeout: scaled(10_000),
    hookTimeout: scaled(10_000),
    // Gives the run an id, so that the CLI is built once per run (buildCli in test/helpers/worker.ts).
    globalSetup: ['./test/helpers/global-setup.ts'],
    // Forks, not threads: tests kill, signal and count processes, and load native modules.
    // How many files run at once follows the load when the run starts (testForks below): on a
    // busy machine two, since the suite must pass with two CPU hogs beside it on two cores and
    // more files at once there only add contention (a third made CLI tests time out at a load of
    // 30); on a quiet one two files more than the idle cores, which fills the time files spend
    // waiting on leases, timeouts and child processes. JOBHUB_TEST_FORKS sets the number.
    // Not isolated: the files a fork runs share its imported modules, so that each file does not
    // load the hub's sources again (that was 1.2 s of CPU per file, a fifth of the suite's). The
    // helpers' cleanup after each test therefore runs from the setup file (test/helpers/cleanup.ts),
    // and a test that changes process-wide state (an environment variable, fake timers) restores it.
    // As many forks at the start as at most: with fewer, tinypool retires idle forks on a timer
    // that can race vitest's own recycling of the same fork after the last file, and the second
    // retirement's teardown rejects unhandled ("Terminating worker thread") after every test passed.
    pool: 'forks',
    poolOptions: { forks: { maxForks: forks, minForks: forks, isolate: false } },
    setupFiles: ['./test/helpers/setup.ts'],
    // One line at the end names the suites that were skipped and how to include them.
    reporters: ['default', './test/helpers/skipped-reporter.ts'],
  },
});

/**
 * JOBHUB_TEST_FORKS, or from the load: 2 when less than one and a quarter cores are idle (the
 * core count less the one-minute load average), otherwise two more than the idle cores rounded
 * up, at most 8. A quiet two-core machine gives 4: as much contention as two forks beside two
 * CPU hogs, which the suite must pass anyway, and 3m44s against 4m04s with 3 forks. Two CPU hogs
 * on it give 2.
 */
function testForks(): number {
  const raw = process.env.JOBHUB_TEST_FORKS;
  if (raw === undefined || raw === '') {
    const idle = availableParallelism() - loadavg()[0]!;
    return idle < 1.25 ? 2 : Math.min(8, Math.ceil(idle) + 2);
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`JOBHUB_TEST_FORKS must be a whole number ≥ 1, not ${raw}`);
  return n;
}
