import { describe, it, expect } from 'vitest';
import { backoffDelay, expiryReason, leaseExpiry, type BackoffPolicy } from '../../src/core/lease.js';

const policy: BackoffPolicy = { baseMs: 1_000, maxMs: 60_000 };
const fixed = (v: number) => () => v;

describe('backoffDelay', () => {
  it('is half the exponential delay with random 0', () => {
    expect(backoffDelay(1, policy, fixed(0))).toBe(500);
    expect(backoffDelay(2, policy, fixed(0))).toBe(1_000);
    expect(backoffDelay(3, policy, fixed(0))).toBe(2_000);
  });

  it('approaches the full exponential delay with random near 1', () => {
    expect(backoffDelay(1, policy, fixed(0.999999))).toBe(1_000);
    expect(backoffDelay(4, policy, fixed(0.999999))).toBe(8_000);
  });

  it('is three quarters with random 0.5', () => {
    expect(backoffDelay(1, policy, fixed(0.5))).toBe(750);
    expect(backoffDelay(3, policy, fixed(0.5))).toBe(3_000);
  });

  it('stays within [exp/2, exp] for every attempt', () => {
    for (let attempt = 1; attempt <= 20; attempt++) {
      const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
      for (const r of [0, 0.1, 0.5, 0.9, 0.999]) {
        const d = backoffDelay(attempt, policy, fixed(r));
        expect(d).toBeGreaterThanOrEqual(exp / 2);
        expect(d).toBeLessThanOrEqual(exp);
      }
    }
  });

  it('never grows with lower attempts and never passes the cap', () => {
    let prev = 0;
    for (let attempt = 1; attempt <= 64; attempt++) {
      const d = backoffDelay(attempt, policy, fixed(0.999999));
      expect(d).toBeGreaterThanOrEqual(prev);
      expect(d).toBeLessThanOrEqual(policy.maxMs);
      prev = d;
    }
    expect(backoffDelay(1_000, policy, fixed(0))).toBe(30_000);
    expect(backoffDelay(1_000, policy, fixed(0.999999))).toBe(60_000);
  });

  it('treats attempt 0 or less like the first attempt', () => {
    expect(backoffDelay(0, policy, fixed(0))).toBe(500);
    expect(backoffDelay(-3, policy, fixed(0))).toBe(500);
  });

  it('caps even the first delay when base exceeds the cap', () => {
    expect(backoffDelay(1, { baseMs: 10_000, maxMs: 4_000 }, fixed(0.999999))).toBe(4_000);
  });

  it('returns whole milliseconds', () => {
    expect(Number.isInteger(backoffDelay(1, { baseMs: 3, maxMs: 100 }, fixed(0.3)))).toBe(true);
  });

  it('uses Math.random by default and stays in bounds', () => {
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(2, policy);
      expect(d).toBeGreaterThanOrEqual(1_000);
      expect(d).toBeLessThanOrEqual(2_000);
    }
  });
});

describe('leaseExpiry', () => {
  it('is now + leaseMs while the job deadline is further', () => {
    expect(leaseExpiry({ now: 1_000_000, leaseMs: 15_000, startedAt: 1_000_000, timeoutMs: 600_000 })).toBe(
      1_015_000,
    );
    expect(leaseExpiry({ now: 1_100_000, leaseMs: 15_000, startedAt: 1_000_000, timeoutMs: 600_000 })).toBe(
      1_115_000,
    );
  });

  it('is capped at the job deadline (started + timeout)', () => {
    expect(leaseExpiry({ now: 1_590_000, leaseMs: 15_000, startedAt: 1_000_000, timeoutMs: 600_000 })).toBe(
      1_600_000,
    );
    expect(leaseExpiry({ now: 1_000_000, leaseMs: 1e12, startedAt: 1_000_000, timeoutMs: 600_000 })).toBe(
      1_600_000,
    );
  });

  it('equals the deadline exactly at the boundary', () => {
    expect(leaseExpiry({ now: 1_585_000, leaseMs: 15_000, startedAt: 1_000_000, timeoutMs: 600_000 })).toBe(
      1_600_000,
    );
  });

  it('never extends past a deadline that already passed', () => {
    expect(leaseExpiry({ now: 2_000_000, leaseMs: 15_000, startedAt: 1_000_000, timeoutMs: 600_000 })).toBe(
      1_600_000,
    );
  });
});

describe('expiryReason', () => {
  it('says timed out once the job deadline is reached', () => {
    expect(expiryReason({ now: 1_600_000, startedAt: 1_000_000, timeoutMs: 600_000 })).toBe(
      'timed out after 600 s',
    );
    expect(expiryReason({ now: 1_700_000, startedAt: 1_000_000, timeoutMs: 600_000 })).toBe(
      'timed out after 600 s',
    );
    expect(expiryReason({ now: 1_001_500, startedAt: 1_000_000, timeoutMs: 1_500 })).toBe(
      'timed out after 1.5 s',
    );
  });

  it('blames missing heartbeats before the deadline', () => {
    const r = expiryReason({ now: 1_599_999, startedAt: 1_000_000, timeoutMs: 600_000 });
    expect(r).toContain('lease expired');
    expect(r).toContain('heartbeat');
  });
});
