/**
 * Job groups, as pure rules: what a group name may be, how many more jobs a group may start
 * (its concurrency and rate limits), why a group holds its jobs back, and the fair order in
 * which one lease takes jobs from several lanes (groups, and the ungrouped jobs as one more
 * lane). Both stores apply these same rules inside their lease transaction.
 */
import { HubError } from './errors.js';

export const GROUP_NAME_MAX = 200;

export interface GroupSettings {
  /** Most jobs of the group running at once; null: no limit. */
  concurrency: number | null;
  /** Most jobs of the group started per second; null: no limit. */
  perSecond: number | null;
  paused: boolean;
}

/** What a group is using now, counted in the same transaction as the lease. */
export interface GroupUsage {
  running: number;
  /** Jobs of the group started within the rate window (see rateWindow) before now. */
  recentStarts: number;
}

export type GroupBlock = 'group_paused' | 'group_concurrency_limit' | 'group_rate_limited';

/** A group name: 1 to 200 characters, no control characters (it travels in URL paths and logs). */
export function validateGroupName(name: string): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > GROUP_NAME_MAX ||
    [...name].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)
  ) {
    throw new HubError(
      'validation_failed',
      `group: 1 to ${GROUP_NAME_MAX} characters without control characters`,
    );
  }
  return name;
}

/**
 * A rate of `perSecond` as "at most `starts` starts in any `windowMs`", checked against the
 * jobs' start times (a sliding window: no burst of two windows' worth at a boundary). Rates
 * below one per second become one start per 1/rate seconds; fractional rates above one keep
 * their average (2.5/s: 2 starts per 800 ms).
 */
export function rateWindow(perSecond: number): { starts: number; windowMs: number } {
  const starts = Math.max(1, Math.floor(perSecond));
  return { starts, windowMs: Math.round((1000 * starts) / perSecond) };
}

/** Why the group lets none of its jobs start now, or null when it lets at least one. */
export function groupBlock(s: GroupSettings, u: GroupUsage): GroupBlock | null {
  if (s.paused) return 'group_paused';
  if (s.concurrency !== null && u.running >= s.concurrency) return 'group_concurrency_limit';
  if (s.perSecond !== null && u.recentStarts >= rateWindow(s.perSecond).starts) return 'group_rate_limited';
  return null;
}

/** How many more jobs of the group may start now (Infinity: no limit). */
export function groupAllowance(s: GroupSettings, u: GroupUsage): number {
  if (s.paused) return 0;
  const byConcurrency = s.concurrency === null ? Infinity : s.concurrency - u.running;
  const byRate = s.perSecond === null ? Infinity : rateWindow(s.perSecond).starts - u.recentStarts;
  return Math.max(0, Math.min(byConcurrency, byRate));
}

/** A source of jobs for one lease: a group, or the ungrouped jobs. */
export interface Lane<J extends { priority: number; id: number }> {
  /** Candidates in the lane's own order (priority first, then FIFO or preference). */
  jobs: J[];
  /** When the lane was last served: the least recently served goes first among equals. */
  servedAt: number;
  /** Most jobs this lane may give now. */
  allowance: number;
}

/**
 * Takes up to `limit` jobs from the lanes: always the highest priority on offer; among lanes
 * whose next job has that priority, the least recently served lane (then the older job), one
 * job at a time, so each lane with work gets a turn per round: a lane with 100,000 jobs queued
 * gives one before a lane with one job gives its second. Returns the jobs in the order taken;
 * the lanes' `servedAt` are updated to `servedBase + turn` for the turns they got.
 */
export function pickFair<J extends { priority: number; id: number }>(
  lanes: Lane<J>[],
  limit: number,
  servedBase: number,
): J[] {
  const next = lanes.map(() => 0);
  const taken: J[] = [];
  for (let turn = 1; taken.length < limit; turn++) {
    let best = -1;
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i]!;
      const job = lane.jobs[next[i]!];
      if (!job || next[i]! >= lane.allowance) continue;
      if (best < 0) {
        best = i;
        continue;
      }
      const b = lanes[best]!;
      const bj = b.jobs[next[best]!]!;
      if (
        job.priority > bj.priority ||
        (job.priority === bj.priority &&
          (lane.servedAt < b.servedAt || (lane.servedAt === b.servedAt && job.id < bj.id)))
      ) {
        best = i;
      }
    }
    if (best < 0) break;
    const lane = lanes[best]!;
    taken.push(lane.jobs[next[best]!]!);
    next[best]!++;
    lane.servedAt = servedBase + turn;
  }
  return taken;
}
