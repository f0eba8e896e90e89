import { defineConfig } from 'vitest/config';
import { scaled } from './test/helpers/time.js';

/**
 * Tests that disturb shared services (restarting PostgreSQL). They run alone, after the main
 * suite: `npm test` runs both configs in turn (scripts/test.mjs).
 */
export default defineConfig({
  test: {
    include: ['test/disruptive/**/*.test.ts'],
    testTimeout: scaled(40_000),
    hookTimeout: scaled(20_000),
    // Gives the run an id, so that the CLI is built once per run (buildCli in test/helpers/worker.ts).
    globalSetup: ['./test/helpers/global-setup.ts'],
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    // The helpers' cleanup after each test (test/helpers/cleanup.ts).
    setupFiles: ['./test/helpers/setup.ts'],
    reporters: ['default', './test/helpers/skipped-reporter.ts'],
  },
});
