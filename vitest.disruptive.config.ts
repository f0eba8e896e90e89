import { defineConfig } from 'vitest/config';

/**
 * Tests that disturb shared services (restarting PostgreSQL). They run alone, after the main
 * suite: `npm test` runs both configs in turn.
 */
export default defineConfig({
  test: {
    include: ['test/disruptive/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
  },
});
