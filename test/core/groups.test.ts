/** The pure rules of job groups: names, the rate window, allowance and block, fair picking. */
import { describe, expect, it } from 'vitest';
import {
  groupAllowance,
  groupBlock,
  pickFair,
  rateWindow,
  validateGroupName,
  type Lane,
} from '../../src/core/groups.js';

const none = { concurrency: null, perSecond: null, paused: false };
const job = (id: number, priority = 0) => ({ id, priority });

describe('group rules', () => {
  it('accepts 1 to 200 characters without control characters', () => {
    expect(validateGroupName('tenant/a b é')).toBe('tenant/a b é');
    expect(validateGroupName('x'.repeat(200))).toHaveLength(200);
    for (const bad of ['', 'x'.repeat(201), 'a\nb', 'tab\there', 'del\u007f'])
      expect(() => validateGroupName(bad)).toThrow(/1 to 200 characters/);
  });

  it('turns a rate into starts per window', () => {
    expect(rateWindow(5)).toEqual({ starts: 5, windowMs: 1000 });
    expect(rateWindow(2.5)).toEqual({ starts: 2, windowMs: 800 });
    expect(rateWindow(0.5)).toEqual({ starts: 1, windowMs: 2000 });
  });

  it('allows what the tighter limit leaves, and names what blocks', () => {
    expect(groupAllowance(none, { running: 100, recentStarts: 100 })).toBe(Infinity);
    const limited = { concurrency: 3, perSecond: 2, paused: false };
    expect(groupAllowance(limited, { running: 1, recentStarts: 0 })).toBe(2);
    expect(groupAllowance(limited, { running: 0, recentStarts: 1 })).toBe(1);
    expect(groupBlock(limited, { running: 3, recentStarts: 0 })).toBe('group_concurrency_limit');
    expect(groupBlock(limited, { running: 0, recentStarts: 2 })).toBe('group_rate_limited');
    expect(groupBlock({ ...limited, paused: true }, { running: 0, recentStarts: 0 })).toBe('group_paused');
    expect(groupAllowance({ ...none, paused: true }, { running: 0, recentStarts: 0 })).toBe(0);
    expect(groupBlock(limited, { running: 0, recentStarts: 0 })).toBeNull();
  });

  it('takes one job per lane per turn, least recently served first, priority before all', () => {
    const lanes: Lane<{ id: number; priority: number }>[] = [
      { jobs: [job(1), job(2), job(3), job(4)], servedAt: 5, allowance: Infinity },
      { jobs: [job(10), job(11)], servedAt: 1, allowance: Infinity },
      { jobs: [job(20, 1), job(21)], servedAt: 9, allowance: 1 },
    ];
    const taken = pickFair(lanes, 6, 100).map((j) => j.id);
    // The priority-1 job first; then lanes in served order; the third lane's allowance is spent.
    expect(taken).toEqual([20, 10, 1, 11, 2, 3]);
    expect(lanes.map((l) => l.servedAt)).toEqual([106, 104, 101]);
  });
});
