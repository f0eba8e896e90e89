import { describe, it, expect } from 'vitest';
import { HubError } from '../../src/core/errors.js';
import {
  JOB_STATES,
  afterFailedAttempt,
  assertTransition,
  canTransition,
  isFinal,
  isJobState,
  pleiadesState,
  portalState,
  type JobState,
  type TransitionCause,
} from '../../src/core/states.js';

const CAUSES: TransitionCause[] = ['lease', 'complete', 'fail', 'expire', 'cancel', 'retry'];

/** The machine as DESIGN.md states it; everything not listed here must be refused. */
const ALLOWED = new Set([
  'queued lease running',
  'queued cancel canceled',
  'running complete succeeded',
  'running fail queued',
  'running fail failed',
  'running expire queued',
  'running expire failed',
  'running cancel canceled',
  'failed retry queued',
  'canceled retry queued',
]);

const combos: [JobState, TransitionCause, JobState][] = [];
for (const from of JOB_STATES)
  for (const cause of CAUSES) for (const to of JOB_STATES) combos.push([from, cause, to]);

describe('job state machine', () => {
  it('has the five states of the design', () => {
    expect([...JOB_STATES]).toEqual(['queued', 'running', 'succeeded', 'failed', 'canceled']);
  });

  it('covers all 125 (from, cause, to) combinations', () => {
    expect(combos).toHaveLength(150);
  });

  it.each(combos)('%s --%s--> %s', (from, cause, to) => {
    const allowed = ALLOWED.has(`${from} ${cause} ${to}`);
    expect(canTransition(from, cause, to)).toBe(allowed);
    if (allowed) {
      expect(() => assertTransition(from, cause, to)).not.toThrow();
    } else {
      let error: unknown;
      try {
        assertTransition(from, cause, to);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(HubError);
      expect((error as HubError).code).toBe('conflict');
      expect((error as HubError).status).toBe(409);
    }
  });

  it("final states have no outgoing edge but a requester's retry (succeeded: none at all)", () => {
    for (const from of JOB_STATES.filter(isFinal)) {
      for (const cause of CAUSES) {
        for (const to of JOB_STATES) {
          const retry = cause === 'retry' && to === 'queued' && from !== 'succeeded';
          expect(canTransition(from, cause, to)).toBe(retry);
        }
      }
    }
  });

  it('knows which states are final', () => {
    expect(JOB_STATES.filter(isFinal)).toEqual(['succeeded', 'failed', 'canceled']);
    expect(isFinal('queued')).toBe(false);
    expect(isFinal('running')).toBe(false);
  });

  it('recognises state names', () => {
    for (const s of JOB_STATES) expect(isJobState(s)).toBe(true);
    for (const s of ['', 'Queued', 'done', 'cancelled', 'waiting', 'Running'])
      expect(isJobState(s)).toBe(false);
  });
});

describe('afterFailedAttempt', () => {
  it('requeues a retryable failure while attempts are left', () => {
    expect(afterFailedAttempt({ attempts: 1, maxAttempts: 3, retryable: true })).toBe('queued');
    expect(afterFailedAttempt({ attempts: 2, maxAttempts: 3, retryable: true })).toBe('queued');
  });

  it('fails when the last attempt is used up', () => {
    expect(afterFailedAttempt({ attempts: 3, maxAttempts: 3, retryable: true })).toBe('failed');
    expect(afterFailedAttempt({ attempts: 4, maxAttempts: 3, retryable: true })).toBe('failed');
    expect(afterFailedAttempt({ attempts: 1, maxAttempts: 1, retryable: true })).toBe('failed');
  });

  it('fails a non-retryable failure even with attempts left', () => {
    expect(afterFailedAttempt({ attempts: 1, maxAttempts: 5, retryable: false })).toBe('failed');
  });

  it('only ever answers a state reachable from running by fail and expire', () => {
    for (const retryable of [true, false]) {
      for (let attempts = 0; attempts <= 4; attempts++) {
        const to = afterFailedAttempt({ attempts, maxAttempts: 3, retryable });
        expect(canTransition('running', 'fail', to)).toBe(true);
        expect(canTransition('running', 'expire', to)).toBe(true);
      }
    }
  });
});

describe('state views', () => {
  it('maps to Pleiades v0.5 names', () => {
    const map = Object.fromEntries(JOB_STATES.map((s) => [s, pleiadesState(s)]));
    expect(map).toEqual({
      queued: 'Enqueued',
      running: 'Running',
      succeeded: 'Finished',
      failed: 'Finished',
      canceled: 'Cancelled',
    });
  });

  it('maps to contest portal names', () => {
    const map = Object.fromEntries(JOB_STATES.map((s) => [s, portalState(s)]));
    expect(map).toEqual({
      queued: 'waiting',
      running: 'running',
      succeeded: 'done',
      failed: 'aborted',
      canceled: 'canceled',
    });
  });
});
