/**
 * A pool of engine threads that take jobs in batches: for short jobs (a Lua no-op runs in tens of
 * microseconds) handing a job to a thread costs more than running it, mostly in `postMessage`
 * (the copy, then waking the thread). So jobs handed over in one turn of the event loop go to a
 * thread in one message, and the thread answers the jobs of one batch in one message.
 *
 * Each job still runs alone in its own fresh engine state; a thread runs the jobs it holds one
 * after another. The thread says which job it runs in a shared cell (no message), which is how
 * the pool tells the job to blame from the jobs that merely waited behind it:
 * - a job's hard time limit (its deadline, counted from the hand-over, plus a grace) or an abort
 *   while it runs terminates the thread; the jobs it held and did not answer are handed to
 *   another thread (a job is a pure function of its input, and an attempt is reported once);
 * - a job aborted or timed out while it waits is answered at once; the thread still runs it later,
 *   and its answer is dropped;
 * - a thread that dies (not on our order) fails the job it ran, and the others go elsewhere.
 *
 * Threads post `{type: 'ready'}` once, `{type: 'done', id, ...}` per job (gathered in
 * `{type: 'batch', replies}`), and anything else with a job id goes to that job's `onMessage`.
 */
import type { Worker } from 'node:worker_threads';
import type { PoolOptions, PooledThread, ThreadJob, ThreadResult } from './pool.js';
import { startThread } from './thread.js';

export interface BatchPoolOptions extends PoolOptions {
  /** Most jobs one thread holds at once (running and waiting). */
  perThread: number;
}

/** What every batched thread gets in `workerData.running`: the id of the job it runs, 0 when idle. */
export interface BatchThreadData {
  running: SharedArrayBuffer;
}

interface Held<M> {
  id: number;
  message: M;
  job: ThreadJob;
  timer: NodeJS.Timeout;
  onAbort: () => void;
  resolve(r: ThreadResult<unknown>): void;
}

interface Slot<M> {
  worker: Worker;
  ready: Promise<void>;
  isReady: boolean;
  running: Int32Array;
  held: Map<number, Held<M>>;
  /** Messages to post at the end of this turn. */
  outbox: M[];
  stopping: boolean;
}

export class BatchPool<M extends { id: number }, R extends { type: string; id: number }> {
  private readonly slots = new Set<Slot<M>>();
  /** Jobs waiting for room on a thread, in order. */
  private readonly queue: Held<M>[] = [];
  private nextId = 1;
  private closed = false;
  private flushScheduled = false;

  constructor(private readonly o: BatchPoolOptions) {
    for (let i = 0; i < o.size; i++) this.spawn();
  }

  /**
   * The threads, each busy while it runs a job: holding jobs is not enough, since a job handed
   * over this turn reaches its thread only at the flush, and a thread that dies before running it
   * passes it on instead of failing it.
   */
  threads(): { worker: Worker; busy: boolean }[] {
    return [...this.slots].map((s) => ({ worker: s.worker, busy: Atomics.load(s.running, 0) !== 0 }));
  }

  async ready(): Promise<void> {
    await Promise.all([...this.slots].map((s) => s.ready));
  }

  run(build: (id: number) => { message: M }, job: ThreadJob): Promise<ThreadResult<R>> {
    if (job.signal.aborted) return Promise.resolve({ type: 'aborted' });
    const id = this.nextId++;
    const { message } = build(id);
    return new Promise<ThreadResult<R>>((resolve) => {
      const held: Held<M> = {
        id,
        message,
        job,
        timer: setTimeout(() => this.stop(held, { type: 'timeout' }), job.killAfterMs),
        onAbort: () => this.stop(held, { type: 'aborted' }),
        resolve: resolve as (r: ThreadResult<unknown>) => void,
      };
      job.signal.addEventListener('abort', held.onAbort, { once: true });
      this.queue.push(held);
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.slots].map((s) => {
        s.stopping = true;
        return s.worker.terminate();
      }),
    );
  }

  /** Hands waiting jobs to threads with room: the fullest first, so one turn's jobs go together. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      let best: Slot<M> | null = null;
      for (const s of this.slots) {
        if (!s.isReady || s.stopping || s.held.size >= this.o.perThread) continue;
        if (
          !best ||
          s.outbox.length > best.outbox.length ||
          (s.outbox.length === best.outbox.length && s.held.size < best.held.size)
        )
          best = s;
      }
      if (!best) return;
      const held = this.queue.shift()!;
      best.held.set(held.id, held);
      best.outbox.push(held.message);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After the current turn: the jobs started together travel together.
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const s of this.slots) {
      if (s.outbox.length === 0 || s.stopping) continue;
      const jobs = s.outbox;
      s.outbox = [];
      s.worker.postMessage({ type: 'batch', jobs });
    }
  }

  /** Ends a job from outside (time limit, abort); terminates its thread only if it is running it. */
  private stop(held: Held<M>, result: ThreadResult<unknown>): void {
    const slot = this.slotOf(held);
    if (!slot) {
      const i = this.queue.indexOf(held);
      if (i >= 0) this.queue.splice(i, 1);
      return this.finish(held, result);
    }
    if (Atomics.load(slot.running, 0) !== held.id) {
      // Waiting behind another job: answered now; the thread's later answer is dropped.
      slot.held.delete(held.id);
      const j = slot.outbox.indexOf(held.message);
      if (j >= 0) slot.outbox.splice(j, 1);
      this.finish(held, result);
      return this.dispatch();
    }
    slot.held.delete(held.id);
    this.finish(held, result);
    slot.stopping = true;
    void slot.worker.terminate();
  }

  private slotOf(held: Held<M>): Slot<M> | undefined {
    for (const s of this.slots) if (s.held.get(held.id) === held) return s;
    return undefined;
  }

  private finish(held: Held<M>, result: ThreadResult<unknown>): void {
    clearTimeout(held.timer);
    held.job.signal.removeEventListener('abort', held.onAbort);
    held.resolve(result);
  }

  private spawn(): void {
    const extra = this.o.setup?.();
    const running = new SharedArrayBuffer(4);
    const worker = startThread(this.o.entry, {
      workerData: { ...(extra?.data as object), running } satisfies BatchThreadData,
      transferList: extra?.transfer,
      resourceLimits: this.o.resourceLimits,
      stdout: true,
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    let markReady!: () => void;
    const slot: Slot<M> = {
      worker,
      ready: new Promise((r) => (markReady = r)),
      isReady: false,
      running: new Int32Array(running),
      held: new Map(),
      outbox: [],
      stopping: false,
    };
    const thread: PooledThread = {
      worker,
      context: () => slot.held.get(Atomics.load(slot.running, 0))?.job.context,
    };
    extra?.attach?.(thread);
    this.slots.add(slot);
    let lastError = '';
    const reply = (m: R) => {
      const held = slot.held.get(m.id);
      if (!held) return;
      if (m.type !== 'done') return held.job.onMessage?.(m);
      slot.held.delete(m.id);
      // A thread that exits after this reply (to give back its memory) takes no next job.
      if ((m as { retire?: boolean }).retire) slot.stopping = true;
      this.finish(held, { type: 'reply', reply: m });
    };
    worker.on('message', (m: R | { type: 'ready' } | { type: 'batch'; replies: R[] }) => {
      if (m.type === 'ready') {
        slot.isReady = true;
        markReady();
      } else if (m.type === 'batch') for (const r of (m as { replies: R[] }).replies) reply(r);
      else reply(m as R);
      this.dispatch();
    });
    worker.on('error', (err) => {
      lastError = err instanceof Error ? err.message : String(err);
    });
    worker.on('exit', (code) => {
      this.slots.delete(slot);
      extra?.detach?.();
      markReady();
      const victim = Atomics.load(slot.running, 0);
      const how = lastError ? `: ${lastError}` : '';
      const orphans: Held<M>[] = [];
      for (const held of slot.held.values()) {
        if (held.id === victim && !slot.stopping) {
          this.finish(held, {
            type: 'crash',
            message: `the ${this.o.name} thread exited with code ${code}${how}`,
          });
        } else orphans.push(held);
      }
      slot.held.clear();
      // Jobs that waited behind the one that ended the thread run elsewhere, in their order.
      this.queue.unshift(...orphans);
      if (!this.closed) this.spawn();
      else for (const held of orphans) this.finish(held, { type: 'aborted' });
      this.dispatch();
    });
  }
}
