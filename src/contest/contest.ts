/**
 * The contest schedule as explicit UTC instants, and what follows from the clock: whether teams
 * may enqueue, whether the leaderboard is frozen, which results count. Times are compared as
 * epoch milliseconds only; ISO 8601 strings appear at the API edge (with an explicit offset or Z).
 */
import { HubError } from '../core/errors.js';
import type { ContestRecord } from './store/store.js';

export type Phase = 'unscheduled' | 'before' | 'running' | 'frozen' | 'ended';

export function phase(c: ContestRecord, now: number): Phase {
  if (c.startsAt === null || c.endsAt === null) return 'unscheduled';
  if (now < c.startsAt) return 'before';
  if (now >= c.endsAt) return 'ended';
  if (c.freezesAt !== null && now >= c.freezesAt) return 'frozen';
  return 'running';
}

/** Contestants may enqueue from the start until the end (freeze included). */
export function isOpen(c: ContestRecord, now: number): boolean {
  const p = phase(c, now);
  return p === 'running' || p === 'frozen';
}

/** Whether other teams' results are hidden from contestants and the audience at `now`. */
export function isFrozen(c: ContestRecord, now: number): boolean {
  return c.freezesAt !== null && now >= c.freezesAt;
}

/** Results finished at or before this count at all (the end; no end = all). */
export function liveCutoff(c: ContestRecord): number {
  return c.endsAt ?? Number.MAX_SAFE_INTEGER;
}

/** Results visible to others during the freeze: those finished before the freeze (and the end). */
export function frozenCutoff(c: ContestRecord): number {
  return Math.min(c.freezesAt ?? Number.MAX_SAFE_INTEGER, liveCutoff(c));
}

/** Results finished before the start (staff check runs) do not count. */
export function startCutoff(c: ContestRecord): number {
  return c.startsAt ?? Number.MIN_SAFE_INTEGER;
}

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** An ISO 8601 instant with a date, a time and an explicit offset (or Z); null stays null. */
export function parseInstant(raw: unknown, field: string): number | null {
  if (raw === null || raw === undefined) return null;
  if (
    typeof raw !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(raw)
  ) {
    throw new HubError(
      'validation_failed',
      `${field} must be an ISO 8601 instant with an offset, e.g. 2026-05-01T10:00:00+09:00, got ${JSON.stringify(raw)}`,
    );
  }
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) throw new HubError('validation_failed', `${field} is not a valid date: ${raw}`);
  return ms;
}

/** Checks the schedule's order: start ≤ freeze ≤ end. */
export function checkSchedule(c: Pick<ContestRecord, 'startsAt' | 'freezesAt' | 'endsAt'>): void {
  const { startsAt: s, freezesAt: f, endsAt: e } = c;
  if (s !== null && e !== null && e <= s)
    throw new HubError('validation_failed', 'ends_at must be after starts_at');
  if (f !== null && s !== null && f < s)
    throw new HubError('validation_failed', 'freezes_at must not be before starts_at');
  if (f !== null && e !== null && f > e)
    throw new HubError('validation_failed', 'freezes_at must not be after ends_at');
}

export function contestJson(c: ContestRecord, now: number) {
  return {
    starts_at: iso(c.startsAt),
    freezes_at: iso(c.freezesAt),
    ends_at: iso(c.endsAt),
    phase: phase(c, now),
    now: iso(now),
  };
}
