import { defineConfig } from 'vitest/config';
import { scaled } from './test/helpers/time.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Run alone afterwards (vitest.disruptive.config.ts): they restart shared services.
    exclude: ['test/disruptive/**', '**/node_modules/**'],
    // Time limits come from JOBHUB_TEST_TIME_SCALE (test/helpers/time.ts).
    testTimeout: scaled(10_000),
    hookTimeout: scaled(10_000),
    // Tests start real servers and child processes; two cores are shared with them.
    // Gives the run an id, so that the CLI is built once per run (buildCli in test/helpers/worker.ts).
    globalSetup: ['./test/helpers/global-setup.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2 } },
    // One line at the end names the suites that were skipped and how to include them.
    reporters: ['default', './test/helpers/skipped-reporter.ts'],
  },
});
