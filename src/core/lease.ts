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
 * When a lease granted or extended at `now` ends: `leaseMs` from now, but never past the job's
 * own deadline (started + timeout), so a job that heartbeats forever still stops at its timeout.
 */
export function leaseExpiry(p: {
  now: number;
  leaseMs: number;
  startedAt: number;
  timeoutMs: number;
}): number {
  return Math.min(p.now + p.leaseMs, p.startedAt + p.timeoutMs);
}

/** Why an expired lease ended, in words for the job's error text. */
export function expiryReason(p: { now: number; startedAt: number; timeoutMs: number }): string {
  return p.now >= p.startedAt + p.timeoutMs
    ? `timed out after ${p.timeoutMs / 1000} s`
    : 'lease expired: the worker stopped sending heartbeats';
}
