import { describe, it, expect } from 'vitest';
import {
  TIMEOUT_GRACE_MS,
  backoffDelay,
  expiryReason,
  leaseExpiry,
  UNTIL_TIMEOUT,
  type BackoffPolicy,
} from '../../src/core/lease.js';

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
  // Deadline of the job below: started 1,000,000 + timeout 600,000 + the grace for the worker's report.
  const deadline = 1_600_000 + TIMEOUT_GRACE_MS;

  it('is now + leaseMs while the job deadline is further', () => {
    expect(leaseExpiry({ now: 1_000_000, leaseMs: 15_000, startedAt: 1_000_000, timeoutMs: 600_000 })).toBe(
      1_015_000,
    );
    expect(leaseExpiry({ now: 1_100_000, leaseMs: 15_000, startedAt: 1_000_000, timeoutMs: 600_000 })).toBe(
      1_115_000,
    );
  });

  it('is capped at the job deadline (started + timeout + the grace for the worker to report)', () => {
    expect(TIMEOUT_GRACE_MS).toBeGreaterThan(0);
    expect(leaseExpiry({ now: 1_590_000, leaseMs: 15_000, startedAt: 1_000_000, timeoutMs: 600_000 })).toBe(
      deadline,
    );
    expect(
      leaseExpiry({ now: 1_000_000, leaseMs: 3_600_000, startedAt: 1_000_000, timeoutMs: 600_000 }),
    ).toBe(deadline);
  });

  it('ends a lease until the timeout (no heartbeats, no timeout of the worker) at the timeout exactly', () => {
    for (const leaseMs of [UNTIL_TIMEOUT, 1e12])
      expect(leaseExpiry({ now: 1_000_000, leaseMs, startedAt: 1_000_000, timeoutMs: 600_000 })).toBe(
        1_600_000,
      );
  });

  it('equals the deadline exactly at the boundary', () => {
    expect(
      leaseExpiry({ now: deadline - 15_000, leaseMs: 15_000, startedAt: 1_000_000, timeoutMs: 600_000 }),
    ).toBe(deadline);
  });

  it('never extends past a deadline that already passed', () => {
    expect(leaseExpiry({ now: 2_000_000, leaseMs: 15_000, startedAt: 1_000_000, timeoutMs: 600_000 })).toBe(
      deadline,
    );
  });
});

describe('expiryReason', () => {
  // The same words as a worker's own timeout report ("timeout: time limit of N ms exceeded (killed)").
  it('says the time limit was exceeded once the job deadline is reached', () => {
    const timeout = /^timeout: time limit of 600000 ms exceeded \(the worker did not report it/;
    expect(expiryReason({ now: 1_600_000, startedAt: 1_000_000, timeoutMs: 600_000 })).toMatch(timeout);
    expect(expiryReason({ now: 1_700_000, startedAt: 1_000_000, timeoutMs: 600_000 })).toMatch(timeout);
    expect(expiryReason({ now: 1_001_500, startedAt: 1_000_000, timeoutMs: 1_500 })).toMatch(
      /^timeout: time limit of 1500 ms exceeded /,
    );
  });

  it('blames missing heartbeats before the deadline', () => {
    const r = expiryReason({ now: 1_599_999, startedAt: 1_000_000, timeoutMs: 600_000 });
    expect(r).toContain('lease expired');
    expect(r).toContain('heartbeat');
  });
});
