/**
 * A lease request with nothing to claim yet: it parks in the dispatcher, asks the store again
 * when woken, and parks again until its deadline. One object carries the whole wait, and is the
 * dispatcher's waiter itself: 10,000 idle workers each hold one for minutes, so a chain of
 * suspended async functions, promises and closures per request would cost the hub kilobytes each.
 */
import type { CancelSignal } from '../core/cancel.js';
import type { JobRecord } from '../store/store.js';
import type { HubContext } from './context.js';
import { ParkedWaiter, type WaitOutcome, type WaiterSpec } from './dispatcher.js';

/** The worker a parked lease counts itself against (`LiveWorker` of workers.ts). */
interface ParkingWorker {
  parked: number;
}

/** What a parked lease needs of the lease service. */
export interface LeaseGrantor<W extends ParkingWorker> {
  /** Set on shutdown: a woken lease answers with no job instead of parking again. */
  readonly closing: boolean;
  /** Records leases that were just committed; returns them. */
  granted(jobs: JobRecord[]): JobRecord[];
  /** Marks the worker as seen now. */
  seen(w: W): void;
}

export class ParkedLease<W extends ParkingWorker> extends ParkedWaiter {
  constructor(
    private readonly ctx: HubContext,
    private readonly grantor: LeaseGrantor<W>,
    private readonly worker: W,
    readonly spec: WaiterSpec,
    private readonly deadline: number,
    private readonly abortSignal: CancelSignal | undefined,
    /** Claims through the store (no wait). */
    private readonly next: () => Promise<JobRecord[]>,
    /** Settle the request's promise. */
    private readonly resolve: (jobs: JobRecord[]) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    super();
  }

  /** Claims now, and parks until the deadline when there is nothing to claim. */
  claim(): void {
    const generation = this.ctx.dispatcher.generation;
    this.next().then((jobs) => this.afterClaim(jobs, generation), this.reject);
  }

  private parkOnce(generation: number): void {
    this.worker.parked++;
    const now = this.ctx.dispatcher.park(this, {
      waitMs: this.deadline - this.ctx.clock(),
      seenGeneration: generation,
      signal: this.abortSignal,
    });
    if (now) this.settle(now);
  }

  protected settle(outcome: WaitOutcome): void {
    this.worker.parked--;
    this.grantor.seen(this.worker);
    // Handed jobs directly at their creation (already committed as leased to this worker).
    if (typeof outcome === 'object') return this.afterClaim(outcome.jobs, this.ctx.dispatcher.generation);
    if (outcome !== 'woken' || this.grantor.closing) return this.resolve([]);
    this.claim();
  }

  /** The store's answer: jobs, or park again. */
  private afterClaim(jobs: JobRecord[], generation: number): void {
    try {
      if (jobs.length > 0) this.answer(jobs);
      else this.parkOnce(generation);
    } catch (err) {
      this.reject(err);
    }
  }

  private answer(jobs: JobRecord[]): void {
    this.resolve(this.grantor.granted(jobs));
  }
}
