import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Run alone afterwards (vitest.disruptive.config.ts): they restart shared services.
    exclude: ['test/disruptive/**', '**/node_modules/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Tests start real servers and child processes; two cores are shared with them.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2 } },
  },
});
