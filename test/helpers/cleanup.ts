/**
 * Cleanup after each test for the helpers that start things (hubs, agents, webhook receivers,
 * benchmark supervisors). A helper registers its cleanup once, when it is first imported; the
 * setup file (setup.ts, run before every test file) runs them all after each test. Test files
 * share a worker process and its imported modules (`isolate: false` in vitest.config.ts), so a
 * hook a helper registered at import would only apply to the first file that imported it.
 */
const cleanups: (() => Promise<void> | void)[] = [];

/** Runs `fn` after every test from now on, in every test file of this process. */
export function afterEachTest(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/**
 * Runs the cleanups, the latest registered first: a helper registers after the helpers it
 * imports, so its agents stop before the hubs they talk to (as vitest runs `afterEach` hooks).
 */
export async function runCleanups(): Promise<void> {
  for (const fn of [...cleanups].reverse()) await fn();
}
