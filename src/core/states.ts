/**
 * The job state machine. `queued → running → succeeded | failed | canceled`, and
 * `running → queued` when a lease expires or an attempt fails with attempts left; a failed or
 * canceled job goes back to `queued` only when a requester retries it.
 * See docs/state-machine.md; every edge below has a test in test/core/states.test.ts.
 */
import { HubError } from './errors.js';

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Why a job moved; recorded for people and used to choose the next state. */
export type TransitionCause =
  | 'lease' // a worker took the job
  | 'complete' // the worker reported success
  | 'fail' // the worker reported failure
  | 'expire' // the lease ran out (no heartbeat, or the job's timeout passed)
  | 'cancel' // the requester canceled
  | 'retry'; // the requester put a failed or canceled job back in the queue

const EDGES: Record<JobState, Partial<Record<TransitionCause, readonly JobState[]>>> = {
  queued: { lease: ['running'], cancel: ['canceled'] },
  running: {
    complete: ['succeeded'],
    fail: ['queued', 'failed'],
    expire: ['queued', 'failed'],
    cancel: ['canceled'],
  },
  succeeded: {},
  failed: { retry: ['queued'] },
  canceled: { retry: ['queued'] },
};

export function isJobState(s: string): s is JobState {
  return (JOB_STATES as readonly string[]).includes(s);
}

export function isFinal(s: JobState): boolean {
  return s === 'succeeded' || s === 'failed' || s === 'canceled';
}

export function canTransition(from: JobState, cause: TransitionCause, to: JobState): boolean {
  return EDGES[from][cause]?.includes(to) ?? false;
}

/**
 * The state a running job goes to after a failed attempt or an expired lease: back to the queue
 * while attempts are left and the failure may be retried, otherwise failed.
 */
export function afterFailedAttempt(p: {
  attempts: number;
  maxAttempts: number;
  retryable: boolean;
}): JobState {
  return p.retryable && p.attempts < p.maxAttempts ? 'queued' : 'failed';
}

export function assertTransition(from: JobState, cause: TransitionCause, to: JobState): void {
  if (!canTransition(from, cause, to)) {
    throw new HubError('conflict', `a ${from} job cannot go to ${to} by ${cause}`);
  }
}

/** Pleiades v0.5 state names (Capitalised on the wire). */
export function pleiadesState(s: JobState): 'Enqueued' | 'Running' | 'Finished' | 'Cancelled' {
  switch (s) {
    case 'queued':
      return 'Enqueued';
    case 'running':
      return 'Running';
    // Pleiades has no failure state: its server ended a job whose code threw as Finished (with an
    // empty output), and its clients read the output of every finished job.
    case 'succeeded':
    case 'failed':
      return 'Finished';
    case 'canceled':
      return 'Cancelled';
  }
}

/** Contest portal state names. */
export function portalState(s: JobState): 'waiting' | 'running' | 'done' | 'aborted' | 'canceled' {
  switch (s) {
    case 'queued':
      return 'waiting';
    case 'running':
      return 'running';
    case 'succeeded':
      return 'done';
    case 'failed':
      return 'aborted';
    case 'canceled':
      return 'canceled';
  }
}
