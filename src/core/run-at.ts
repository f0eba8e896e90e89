/**
 * When a delayed job may first run: from an RFC 3339 time or a delay, checked against bounds.
 * Pure: the caller passes the clock's `now`. A time a little in the past is accepted and means
 * "at once" (clocks of clients and hubs differ); one far in the past or future is a mistake.
 */
import { HubError } from './errors.js';

/** How far in the past a `runAt` may be (clock skew, a retried request): it then runs at once. */
export const RUN_AT_PAST_MS = 24 * 3600_000;
/** How far ahead a job may be scheduled. */
export const RUN_AT_FUTURE_MS = 366 * 24 * 3600_000;

/** RFC 3339 date-time: date, `T` (or space), time with optional fraction, and a zone. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 time to ms since the epoch; `validation_failed` naming `field` otherwise. */
export function parseRfc3339(text: string, field: string): number {
  const ms = RFC3339.test(text) ? Date.parse(text.replace(' ', 'T')) : NaN;
  if (!Number.isFinite(ms)) {
    throw new HubError('validation_failed', `${field} must be an RFC 3339 time such as 2030-01-31T12:00:00Z`);
  }
  return ms;
}

/**
 * The first run time of a job asked for with `runAt` (ms) or `delayMs`; null when neither (now).
 * Both, a negative delay, or a time outside the bounds: `validation_failed`.
 */
export function firstRunAt(p: { runAt?: number; delayMs?: number; now: number }): number | null {
  if (p.runAt !== undefined && p.delayMs !== undefined)
    throw new HubError('validation_failed', 'give runAt or delayMs, not both');
  if (p.delayMs !== undefined) {
    if (!Number.isInteger(p.delayMs) || p.delayMs < 0 || p.delayMs > RUN_AT_FUTURE_MS) {
      throw new HubError(
        'validation_failed',
        `delayMs must be an integer from 0 to ${RUN_AT_FUTURE_MS} (366 days)`,
      );
    }
    return p.delayMs === 0 ? null : p.now + p.delayMs;
  }
  if (p.runAt === undefined) return null;
  if (p.runAt < p.now - RUN_AT_PAST_MS)
    throw new HubError('validation_failed', 'runAt is more than a day in the past');
  if (p.runAt > p.now + RUN_AT_FUTURE_MS)
    throw new HubError('validation_failed', 'runAt is more than 366 days ahead');
  return p.runAt <= p.now ? null : p.runAt;
}
