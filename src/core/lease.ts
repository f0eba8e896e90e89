/** Lease and retry arithmetic: pure functions of the clock value they are given. */

export interface BackoffPolicy {
  /** Delay before the second attempt, in ms. */
  baseMs: number;
  /** Upper bound for any delay, in ms. */
  maxMs: number;
}

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries of
 * many jobs that failed together spread out instead of returning in one wave.
 * `attempt` is the number of the attempt that just failed (1-based).
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/**
 * How long past a job's timeout the hub waits for the worker's own report before it ends the
 * attempt itself. The worker enforces the timeout (it stops the program and reports why); the
 * hub's deadline is the backstop for a worker that keeps heartbeating but never stops the job.
 * Without the grace the two deadlines coincide, and which of the two timers fires first would
 * decide the job's fate (the worker's report is final; the hub's expiry is retried).
 */
export const TIMEOUT_GRACE_MS = 5_000;

/**
 * A lease long enough that only the job's own timeout ends it, for workers without heartbeats
 * (Pleiades workers, contest benchmarkers). They do not enforce the timeout themselves, so the hub
 * ends their attempt at the timeout exactly, without TIMEOUT_GRACE_MS: the ISUCON portal aborts
 * a benchmark at its limit ("Benchmark timeout").
 */
export const UNTIL_TIMEOUT = 10 * 365 * 24 * 3600_000;

/** The grace past the timeout for a lease of `leaseMs` (SQL: `timeoutGraceSql`). */
export const timeoutGrace = (leaseMs: number): number => (leaseMs >= UNTIL_TIMEOUT ? 0 : TIMEOUT_GRACE_MS);

/** `timeoutGrace` in SQL, for a lease length given as the bind parameter `param` (`$8`). */
export const timeoutGraceSql = (param: string): string =>
  `(CASE WHEN ${param}::bigint >= ${UNTIL_TIMEOUT} THEN 0 ELSE ${TIMEOUT_GRACE_MS} END)`;

/**
 * When a lease granted or extended at `now` ends: `leaseMs` from now, but never past the job's
 * own deadline (started + timeout + its grace), so a job that heartbeats forever still stops
 * shortly after its timeout.
 */
export function leaseExpiry(p: {
  now: number;
  leaseMs: number;
  startedAt: number;
  timeoutMs: number;
}): number {
  return Math.min(p.now + p.leaseMs, p.startedAt + p.timeoutMs + timeoutGrace(p.leaseMs));
}

/**
 * Why an expired lease ended, in words for the job's error text. A timeout reads like the
 * worker's own timeout report (`timeout: time limit of N ms exceeded …`), so the job's error
 * names the same cause whichever side ended the attempt.
 */
export function expiryReason(p: { now: number; startedAt: number; timeoutMs: number }): string {
  return p.now >= p.startedAt + p.timeoutMs
    ? `timeout: time limit of ${p.timeoutMs} ms exceeded (the worker did not report it; the hub ended the attempt)`
    : 'lease expired: the worker stopped sending heartbeats';
}
