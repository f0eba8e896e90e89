/**
 * One scale factor for every time limit in the tests. A limit says how long a test waits for an
 * outcome before it calls it missing; it never says how fast something must be. Tests write the
 * limit a quiet machine needs and wrap it in `scaled()`; the vitest configs derive their test and
 * hook timeouts from the same factor.
 *
 * JOBHUB_TEST_TIME_SCALE (default 3: a two-core machine with two CPU hogs beside the suite
 * passes). Raise it on slower machines; 1 makes a hang show up sooner on a fast quiet one.
 */
const raw = process.env.JOBHUB_TEST_TIME_SCALE;
const parsed = raw === undefined || raw === '' ? 3 : Number(raw);
if (!(parsed > 0) || !Number.isFinite(parsed)) {
  throw new Error(`JOBHUB_TEST_TIME_SCALE must be a positive number, not ${JSON.stringify(raw)}`);
}

export const TIME_SCALE = parsed;

/** `ms` times the scale factor: the time to wait for an outcome before the test fails. */
export function scaled(ms: number): number {
  return Math.round(ms * TIME_SCALE);
}
