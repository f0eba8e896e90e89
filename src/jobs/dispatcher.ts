/**
 * Parked lease requests. A worker that asks for work when none matches waits here, in memory.
 * When jobs are created, the dispatcher hands them straight to parked workers: the job is
 * inserted already leased to the chosen waiter, in the same commit, and the waiter is answered
 * with it (`handOff` / `deliver`). When jobs come back to the queue (retry, expiry, pipeline),
 * it wakes the waiters best placed to take them, which then claim through the store
 * (`announce`). Either way one waiter per job (up to its batch size), never all of them, and
 * nothing polls the database while waiting.
 *
 * A `generation` counter closes the gap between "the store had nothing" and "parked": a waiter
 * that parks after an announcement it could not see is woken at once.
 */
import type { CancelSignal } from '../core/cancel.js';
import { preferenceScore, tagsAllow } from '../core/tags.js';
import type { JobRecord } from '../store/store.js';

export interface WaiterSpec {
  workerId: string;
  /** Canonical job runtimes the worker accepts. */
  accepted: readonly string[];
  tags: ReadonlySet<string>;
  /** How many jobs one wake-up may bring this waiter. */
  limit: number;
  /** Lease length for jobs handed to this waiter. */
  leaseMs: number;
}

/** What the dispatcher needs to know of a job that became available. */
export interface JobSignal {
  runtime: string;
  tags: readonly string[];
  /**
   * A job of a group is never handed off: only a lease transaction can check the group's
   * limits and pause (and serve groups fairly), so its waiter is woken to claim instead.
   */
  group?: string | null;
}

export type WaitOutcome = 'woken' | 'timeout' | 'aborted' | { jobs: JobRecord[] };

/** A parked request; opaque outside the dispatcher except for its spec. */
export interface Waiter {
  readonly spec: WaiterSpec;
}

/**
 * A request that can park: `park` registers it and calls `settle` once, with how the wait ended.
 * One object per parked request, which is also its abort listener (`handleEvent`) and its timer's
 * argument: no closures per wait, since 10,000 parked workers each hold one for minutes.
 */
export abstract class ParkedWaiter implements Waiter {
  abstract readonly spec: WaiterSpec;
  /** Taken by a hand-off: no longer parked, answered by `deliver`. */
  claimed = false;
  private dispatcher: Dispatcher | null = null;
  private timer: NodeJS.Timeout | undefined = undefined;
  private signal: CancelSignal | undefined = undefined;

  /** How the wait ended; called once per `park` that parked. */
  protected abstract settle(outcome: WaitOutcome): void;

  /** The abort listener of the request's signal. */
  handleEvent(): void {
    if (!this.claimed) this.finish('aborted');
  }

  /** Ends the wait (once; later calls do nothing) and reports its outcome. */
  finish(outcome: WaitOutcome): void {
    const d = this.dispatcher;
    if (!d) return;
    this.dispatcher = null;
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this);
    this.timer = this.signal = undefined;
    d.remove(this);
    this.settle(outcome);
  }

  /** Called by the dispatcher when it parks this waiter. */
  parkIn(d: Dispatcher, waitMs: number, signal: CancelSignal | undefined): void {
    this.claimed = false;
    this.dispatcher = d;
    this.signal = signal;
    this.timer = setTimeout(timeOut, waitMs, this);
    signal?.addEventListener('abort', this, { once: true });
  }
}

function timeOut(w: ParkedWaiter): void {
  if (!w.claimed) w.finish('timeout');
}

/** The waiter behind `Dispatcher.wait`: settles a promise. */
class PromisedWaiter extends ParkedWaiter {
  constructor(
    readonly spec: WaiterSpec,
    private readonly resolve: (outcome: WaitOutcome) => void,
  ) {
    super();
  }

  protected settle(outcome: WaitOutcome): void {
    this.resolve(outcome);
  }
}

export class Dispatcher {
  /** Waiters by accepted runtime; Sets keep insertion order, so the first is the longest parked. */
  private readonly byRuntime = new Map<string, Set<ParkedWaiter>>();
  private count = 0;
  /** Bumped on every announcement. */
  generation = 0;

  get parked(): number {
    return this.count;
  }

  /**
   * Parks until woken, handed jobs, `waitMs` passes or `signal` aborts. `seenGeneration` is the
   * generation read before the caller last asked the store.
   */
  wait(
    spec: WaiterSpec,
    p: { waitMs: number; seenGeneration: number; signal?: CancelSignal },
  ): Promise<WaitOutcome> {
    return new Promise<WaitOutcome>((resolve) => {
      const waiter = new PromisedWaiter(spec, resolve);
      const now = this.park(waiter, p);
      if (now) resolve(now);
    });
  }

  /**
   * `wait` for a waiter object: parks it and returns null, and its `settle` is called later; or,
   * when there is no need to park, returns the outcome at once (and `settle` is not called).
   */
  park(
    waiter: ParkedWaiter,
    p: { waitMs: number; seenGeneration: number; signal?: CancelSignal | undefined },
  ): 'woken' | 'timeout' | 'aborted' | null {
    if (this.generation !== p.seenGeneration) return 'woken';
    if (p.signal?.aborted) return 'aborted';
    if (p.waitMs <= 0) return 'timeout';
    waiter.parkIn(this, p.waitMs, p.signal);
    for (const r of waiter.spec.accepted) {
      let set = this.byRuntime.get(r);
      if (!set) this.byRuntime.set(r, (set = new Set()));
      set.add(waiter);
    }
    this.count++;
    return null;
  }

  /** Takes a waiter off the park (its own `finish` calls this). */
  remove(w: ParkedWaiter): void {
    let present = false;
    for (const r of w.spec.accepted) {
      const set = this.byRuntime.get(r);
      if (set?.delete(w)) {
        present = true;
        if (set.size === 0) this.byRuntime.delete(r);
      }
    }
    if (present) this.count--;
  }

  /**
   * For each job, the waiter that should take it: one already chosen in this round with room
   * left, else the parked waiter with the most preference matches (the longest parked among
   * equals). `room` tracks how many more jobs each chosen waiter may take.
   */
  private choose(jobs: readonly JobSignal[]): {
    picks: (ParkedWaiter | null)[];
    room: Map<ParkedWaiter, number>;
  } {
    const room = new Map<ParkedWaiter, number>();
    const picks = jobs.map((job) => {
      if (this.count === 0) return null;
      for (const [w, left] of room) {
        if (left > 0 && w.spec.accepted.includes(job.runtime) && tagsAllow(job.tags, w.spec.tags)) {
          room.set(w, left - 1);
          return w;
        }
      }
      let chosen: ParkedWaiter | null = null;
      let best = -1;
      for (const w of this.byRuntime.get(job.runtime) ?? []) {
        if (room.has(w) || !tagsAllow(job.tags, w.spec.tags)) continue;
        const score = preferenceScore(job.tags, w.spec.tags);
        if (score > best) {
          best = score;
          chosen = w;
        }
        // Without preference tags the first eligible waiter is the answer.
        if (job.tags.length === 0) break;
      }
      if (chosen) room.set(chosen, chosen.spec.limit - 1);
      return chosen;
    });
    return { picks, room };
  }

  /**
   * Jobs about to be created: choose a parked waiter for each (null = none) and take those
   * waiters off the park, so nothing else can choose them. The caller inserts the jobs leased
   * to them and then calls `deliver` (or `release` if the insert failed).
   */
  handOff(jobs: readonly JobSignal[]): (Waiter | null)[] {
    if (this.count === 0) return jobs.map(() => null);
    const ungrouped = jobs.filter((j) => !j.group);
    if (ungrouped.length < jobs.length) {
      const picks = this.handOff(ungrouped);
      return jobs.map((j) => (j.group ? null : picks.shift()!));
    }
    const { picks, room } = this.choose(jobs);
    for (const w of room.keys()) {
      w.claimed = true;
      this.remove(w);
    }
    return picks;
  }

  /** Answers a waiter taken by `handOff` with the jobs committed for it. */
  deliver(waiter: Waiter, jobs: JobRecord[]): void {
    (waiter as ParkedWaiter).finish(jobs.length ? { jobs } : 'woken');
  }

  /** Waiters taken by `handOff` whose jobs were not created: they look again. */
  release(waiters: readonly (Waiter | null)[]): void {
    for (const w of new Set(waiters)) if (w) (w as ParkedWaiter).finish('woken');
  }

  /** Jobs became available in the store: wake the waiters best placed to claim them. */
  announce(jobs: readonly JobSignal[]): void {
    this.generation++;
    if (this.count === 0) return;
    for (const w of this.choose(jobs).room.keys()) w.finish('woken');
  }

  /** Wakes the `n` longest parked waiters, whatever they accept (a group's limit eased). */
  wakeSome(n: number): void {
    this.generation++;
    const some = new Set<ParkedWaiter>();
    for (const set of this.byRuntime.values()) {
      for (const w of set) {
        if (some.size >= n) break;
        some.add(w);
      }
    }
    for (const w of some) w.finish('woken');
  }

  /** Wakes everybody (shutdown, or a due job of unknown runtime): each looks again. */
  wakeAll(): void {
    this.generation++;
    const all = new Set<ParkedWaiter>();
    for (const set of this.byRuntime.values()) for (const w of set) all.add(w);
    for (const w of all) w.finish('woken');
  }
}
