/**
 * A pool of runtime threads (Lua engines, WASI hosts), one job per thread at a time. The pool
 * owns what a thread cannot do for itself: the hard time limit (a thread stuck in a long native
 * call is terminated), aborts (cancel, lost lease: terminate), and crashes (the thread exits
 * while running a job). A terminated or dead thread is replaced, so the pool keeps its size.
 */
import type { ResourceLimits, Transferable, Worker } from 'node:worker_threads';
import { startThread } from './thread.js';

/** How a job on a thread ended, as seen from outside the thread. */
export type ThreadResult<R> =
  | { type: 'reply'; reply: R }
  | { type: 'timeout' }
  | { type: 'aborted' }
  /** `retryable: false` when the job is known to have caused the crash. */
  | { type: 'crash'; message: string; retryable?: boolean };

/** One job on a thread: messages other than the final reply go to `onMessage`. */
export interface ThreadJob {
  signal: AbortSignal;
  /** Hard limit: the thread is terminated this long after the job started. */
  killAfterMs: number;
  onMessage?(message: unknown): void;
  /** Anything the thread's side channels need while this job runs (e.g. blob access). */
  context?: unknown;
}

export interface PooledThread {
  worker: Worker;
  /** The running job's context, or undefined when idle. */
  context(): unknown;
}

export interface PoolOptions {
  name: string;
  entry: URL;
  size: number;
  resourceLimits?: ResourceLimits;
  /** Per-thread start data; `attach` is called once the thread exists (side channels). */
  setup?(): { data: unknown; transfer: Transferable[]; attach?(t: PooledThread): void; detach?(): void };
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  active: { id: number; job: ThreadJob; finish(r: ThreadResult<unknown>): void } | null;
  detach?: () => void;
  /** Set when we terminate the thread on purpose (timeout, abort, close). */
  stopping: boolean;
}

/**
 * Threads answer a job with `{type: 'done', id, ...}` (adding `retire: true` when they exit right
 * after, e.g. to give back memory); other messages with the job's id go to `onMessage`.
 */
export class ThreadPool<M extends { id: number }, R extends { type: string; id: number }> {
  private readonly slots = new Set<Slot>();
  private readonly idle: Slot[] = [];
  private readonly waiting: ((s: Slot) => void)[] = [];
  private nextId = 1;
  private closed = false;

  constructor(private readonly o: PoolOptions) {
    for (let i = 0; i < o.size; i++) this.spawn();
  }

  /** The threads now, and whether each runs a job (diagnostics; tests kill one to simulate a crash). */
  threads(): { worker: Worker; busy: boolean }[] {
    return [...this.slots].map((s) => ({ worker: s.worker, busy: s.active !== null }));
  }

  /** Resolves when every thread has started (the runtime is warm). */
  async ready(): Promise<void> {
    await Promise.all([...this.slots].map((s) => s.ready));
  }

  /** Runs one job on a free thread; `build` makes the message with the id the pool assigns. */
  async run(
    build: (id: number) => { message: M; transfer?: Transferable[] },
    job: ThreadJob,
  ): Promise<ThreadResult<R>> {
    if (job.signal.aborted) return { type: 'aborted' };
    const slot = await this.acquire();
    if (job.signal.aborted) {
      this.release(slot);
      return { type: 'aborted' };
    }
    const id = this.nextId++;
    const { message, transfer } = build(id);
    return new Promise<ThreadResult<R>>((resolve) => {
      const timer = setTimeout(() => this.stop(slot, { type: 'timeout' }), job.killAfterMs);
      const onAbort = () => this.stop(slot, { type: 'aborted' });
      job.signal.addEventListener('abort', onAbort, { once: true });
      slot.active = {
        id,
        job,
        finish: (r) => {
          clearTimeout(timer);
          job.signal.removeEventListener('abort', onAbort);
          slot.active = null;
          if (!slot.stopping) this.release(slot);
          resolve(r as ThreadResult<R>);
        },
      };
      slot.worker.postMessage(message, transfer ?? []);
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

  private spawn(): void {
    const extra = this.o.setup?.();
    const worker = startThread(this.o.entry, {
      workerData: extra?.data,
      transferList: extra?.transfer,
      resourceLimits: this.o.resourceLimits,
      // The threads' stdio is not the job's: keep anything they print out of ours.
      stdout: true,
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    let markReady!: () => void;
    const slot: Slot = {
      worker,
      ready: new Promise((r) => (markReady = r)),
      active: null,
      detach: extra?.detach,
      stopping: false,
    };
    extra?.attach?.({ worker, context: () => slot.active?.job.context });
    this.slots.add(slot);
    let lastError = '';
    worker.on('message', (m: R | { type: 'ready' }) => {
      if (m.type === 'ready') {
        markReady();
        this.release(slot);
        return;
      }
      const active = slot.active;
      if (!active || (m as R).id !== active.id) return;
      if (m.type === 'done') {
        // A thread that exits after this reply (to give back its memory) takes no next job.
        if ((m as { retire?: boolean }).retire) slot.stopping = true;
        active.finish({ type: 'reply', reply: m });
      } else active.job.onMessage?.(m);
    });
    worker.on('error', (err) => {
      lastError = err instanceof Error ? err.message : String(err);
    });
    worker.on('exit', (code) => {
      this.slots.delete(slot);
      const i = this.idle.indexOf(slot);
      if (i >= 0) this.idle.splice(i, 1);
      slot.detach?.();
      markReady();
      const how = lastError ? `: ${lastError}` : '';
      slot.active?.finish({
        type: 'crash',
        message: `the ${this.o.name} thread exited with code ${code}${how}`,
      });
      if (!this.closed) this.spawn();
    });
  }

  private stop(slot: Slot, result: ThreadResult<unknown>): void {
    if (!slot.active || slot.stopping) return;
    slot.stopping = true;
    slot.active.finish(result);
    void slot.worker.terminate();
  }

  private acquire(): Promise<Slot> {
    const s = this.idle.pop();
    if (s) return Promise.resolve(s);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: Slot): void {
    if (slot.stopping || !this.slots.has(slot)) return;
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.idle.push(slot);
  }
}
