/**
 * The state machine in one place: every job state change a store writes in SQL (either dialect)
 * must be an edge of core/states.ts. `watchTransitions` wraps a store so that, after each call,
 * the jobs are read back and every state that changed is checked with `canTransition` against
 * the cause of the call that made it (jobLeaseNext = lease, jobComplete = complete, ...). Run
 * under the whole conformance suite, this drives every store operation; `everyEdgeSeen` then
 * proves the check was not vacuous: each edge of the machine was written at least once.
 */
import { expect } from 'vitest';
import { canTransition, JOB_STATES, type JobState, type TransitionCause } from '../../src/core/states.js';
import type { Store } from '../../src/store/store.js';
import type { OpenStore } from './conformance.js';

/** What each store method may do to a job's state; any other method must change none. */
const CAUSES: Partial<Record<keyof Store, TransitionCause>> = {
  // Jobs may be created already leased to a parked worker (queued and leased in one commit).
  jobInsertMany: 'lease',
  jobLeaseNext: 'lease',
  jobComplete: 'complete',
  jobFail: 'fail',
  jobCancel: 'cancel',
  leaseReapExpired: 'expire',
};

/** Edges written by some store, `from cause to`, over every store this process watched. */
const seen = new Set<string>();

/** Every edge of the machine, `from cause to`. */
function allEdges(): string[] {
  const causes: TransitionCause[] = ['lease', 'complete', 'fail', 'expire', 'cancel'];
  return JOB_STATES.flatMap((from) =>
    causes.flatMap((cause) =>
      JOB_STATES.filter((to) => canTransition(from, cause, to)).map((to) => `${from} ${cause} ${to}`),
    ),
  );
}

/** Fails the test unless every edge of the machine was seen written by the watched stores. */
export function everyEdgeSeen(): void {
  expect(allEdges().filter((e) => !seen.has(e))).toEqual([]);
}

async function states(store: Store): Promise<Map<string, JobState>> {
  const out = new Map<string, JobState>();
  let beforeId: string | undefined;
  for (;;) {
    const page = await store.jobList({ limit: 1000, beforeId });
    for (const j of page) out.set(j.id, j.state);
    if (page.length < 1000) return out;
    beforeId = page[page.length - 1]!.id;
  }
}

/** `open`, with each store wrapped so that every job state change it makes is checked. */
export function watchTransitions(open: OpenStore): OpenStore {
  return async () => {
    const opened = await open();
    const store = opened.store;
    let known = new Map<string, JobState>();
    // Calls not yet accounted for: a change read back after one call may be another's, when
    // calls overlap, so it may have been made by any call still in flight.
    const inflight: (TransitionCause | null)[] = [];
    let chain: Promise<void> = Promise.resolve();
    let closed = false;
    const check = (method: string) =>
      (chain = chain.then(async () => {
        if (closed) return;
        const now = await states(store);
        const causes = new Set(inflight);
        for (const [id, to] of now) {
          const from = known.get(id);
          if (from === to) continue;
          // A new job starts queued (and may have been leased in the same commit).
          const start: JobState = 'queued';
          const before = from ?? start;
          if (before === to) continue;
          const cause = [...causes].find((c) => c !== null && canTransition(before, c, to));
          expect(
            cause,
            `job ${id} went ${from ?? 'new'} -> ${to} in ${method} (causes in flight: ${[...causes].join(', ')}), which core/states.ts does not allow`,
          ).toBeDefined();
          seen.add(`${before} ${cause} ${to}`);
        }
        known = now;
      }));
    const wrapped = new Proxy(store, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        const method = String(prop);
        // Job and lease writes are watched; reads, and the other tables, pass straight through.
        if (!/^(job|lease)/.test(method) || /^(jobGet|jobList|jobNextRunAt|leaseHeldFor)$/.test(method))
          return value.bind(target);
        return async (...args: unknown[]) => {
          const cause = CAUSES[method as keyof Store] ?? null;
          inflight.push(cause);
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } finally {
            await check(method);
            inflight.splice(inflight.indexOf(cause), 1);
          }
        };
      },
    });
    const cleanup = async () => {
      await chain.catch(() => undefined);
      closed = true;
      await opened.cleanup();
    };
    return { ...opened, store: wrapped, cleanup };
  };
}
