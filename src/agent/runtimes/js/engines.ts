/**
 * The `js` runtime's engine threads. Unlike the Lua and WASI pools (one job per thread), a JS
 * engine thread holds many jobs at once: a job awaiting a timer, a blob or HTTP is parked in its
 * own QuickJS context and costs the thread nothing until the await settles. A job goes to the
 * thread with the fewest jobs.
 *
 * What a thread cannot do for itself is done here: a hard stop (a thread that has not answered a
 * job well after its wall time is terminated), and crashes (a thread that exits fails the jobs it
 * held; a replacement is started, so one broken engine never takes the worker down). A thread
 * whose wasm memory grew large says it is retiring: it gets no new jobs, exits when its jobs are
 * done, and is replaced at once.
 */
import type { Worker } from 'node:worker_threads';
import { startThread } from '../thread.js';
import { Outbox } from './outbox.js';
import type { JsFromThread, JsRunMessage, JsToThread } from './protocol.js';

export type JsDone = Extract<JsFromThread, { type: 'done' }>;
export type JsCall = Extract<JsFromThread, { type: 'call' }>;

/** How a job on an engine thread ended, as seen from here. */
export type EngineResult =
  { type: 'reply'; reply: JsDone } | { type: 'killed' } | { type: 'crash'; message: string };

export interface EngineJob {
  signal: AbortSignal;
  /** The thread is terminated if the job has not ended this long after it started. */
  killAfterMs: number;
  onLog(line: string): void;
  /** A blob or HTTP call; the answer goes back to the thread. */
  onCall(
    call: JsCall,
  ): Promise<{ ok: true; bytes?: Uint8Array; text?: string } | { ok: false; error: string }>;
}

interface Engine {
  worker: Worker;
  /** Messages for the thread not yet posted: all of one turn of the event loop go as one. */
  outbox: Outbox<JsToThread>;
  ready: Promise<void>;
  up: boolean;
  retiring: boolean;
  jobs: Map<number, { job: EngineJob; finish(r: EngineResult): void }>;
  lastError: string;
}

export class Engines {
  private readonly engines = new Set<Engine>();
  private readonly waiting: (() => void)[] = [];
  private nextId = 1;
  private closed = false;

  /** `heapBytes`: the most wasm memory one engine thread may have, all its jobs together. */
  constructor(
    private readonly size: number,
    private readonly heapBytes: number,
  ) {
    for (let i = 0; i < size; i++) this.spawn();
  }

  /** The engine threads and how many jobs each holds (diagnostics; tests kill one). */
  threads(): { worker: Worker; jobs: number }[] {
    return [...this.engines].map((e) => ({ worker: e.worker, jobs: e.jobs.size }));
  }

  async ready(): Promise<void> {
    await Promise.all([...this.engines].map((e) => e.ready));
  }

  async run(
    message: Omit<JsRunMessage, 'id' | 'type'>,
    job: EngineJob,
  ): Promise<EngineResult | { type: 'aborted' }> {
    let engine = this.pick();
    while (!engine) {
      if (this.closed) return { type: 'crash', message: 'the JavaScript runtime is closed' };
      await new Promise<void>((r) => this.waiting.push(r));
      engine = this.pick();
    }
    if (job.signal.aborted) return { type: 'aborted' };
    const id = this.nextId++;
    const e = engine;
    return new Promise((resolve) => {
      const kill = setTimeout(() => {
        // The thread did not stop the job itself (it should, at its wall time): stop the thread.
        if (e.jobs.has(id)) {
          e.lastError = `job ${id} ran past its time limit`;
          finish({ type: 'killed' });
          this.retire(e);
          void e.worker.terminate();
        }
      }, job.killAfterMs);
      const onAbort = () => {
        this.post(e, { type: 'abort', id });
        finish({ type: 'aborted' } as unknown as EngineResult);
      };
      const finish = (r: EngineResult) => {
        if (!e.jobs.delete(id)) return;
        clearTimeout(kill);
        job.signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      job.signal.addEventListener('abort', onAbort, { once: true });
      e.jobs.set(id, { job, finish });
      this.post(e, { type: 'run', id, ...message }, [message.input.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w();
    await Promise.all([...this.engines].map((e) => e.worker.terminate()));
  }

  private pick(): Engine | undefined {
    let best: Engine | undefined;
    for (const e of this.engines)
      if (e.up && !e.retiring && (!best || e.jobs.size < best.jobs.size)) best = e;
    return best;
  }

  private post(e: Engine, m: JsToThread, transfer: ArrayBuffer[] = []): void {
    e.outbox.post(m, transfer);
  }

  private spawn(): void {
    const worker = startThread(new URL('./thread.js', import.meta.url), {
      workerData: { heapBytes: this.heapBytes },
      // The QuickJS heap is wasm memory (limited per job); this bounds the JS side of the thread.
      resourceLimits: { maxOldGenerationSizeMb: 256 },
      stdout: true,
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    let markReady!: () => void;
    const e: Engine = {
      worker,
      outbox: new Outbox((batch, transfer) => {
        try {
          worker.postMessage(batch, transfer);
        } catch (err) {
          // Not deliverable (cannot happen with our messages): the thread's jobs fail, it is replaced.
          e.lastError = `a message could not be sent to the thread: ${String(err)}`;
          void worker.terminate();
        }
      }),
      ready: new Promise((r) => (markReady = r)),
      up: false,
      retiring: false,
      jobs: new Map(),
      lastError: '',
    };
    this.engines.add(e);
    worker.on('message', (batch: JsFromThread[]) => {
      for (const m of batch) this.receive(e, m, markReady);
    });
    worker.on('error', (err) => {
      e.lastError = err instanceof Error ? err.message : String(err);
    });
    worker.on('exit', (code) => {
      this.engines.delete(e);
      markReady();
      const how = e.lastError ? `: ${e.lastError}` : '';
      for (const j of [...e.jobs.values()])
        j.finish({ type: 'crash', message: `the JavaScript engine thread exited with code ${code}${how}` });
      if (!this.closed && !e.retiring) this.spawn();
    });
  }

  private receive(e: Engine, m: JsFromThread, markReady: () => void): void {
    if (m.type === 'ready') {
      e.up = true;
      markReady();
      this.wakeWaiters();
    } else if (m.type === 'retiring') this.retire(e);
    else if (m.type === 'done') e.jobs.get(m.id)?.finish({ type: 'reply', reply: m });
    else if (m.type === 'log') e.jobs.get(m.id)?.job.onLog(m.line);
    else if (m.type === 'call') {
      const entry = e.jobs.get(m.id);
      if (!entry) return;
      entry.job.onCall(m).then(
        (a) => {
          if (!e.jobs.has(m.id)) return;
          if (a.ok)
            this.post(
              e,
              { type: 'answer', id: m.id, call: m.call, ok: true, bytes: a.bytes, text: a.text },
              a.bytes ? [a.bytes.buffer as ArrayBuffer] : [],
            );
          else this.post(e, { type: 'answer', id: m.id, call: m.call, ok: false, text: a.error });
        },
        () => {},
      );
    }
  }

  /** No new job goes to `e` (it is going away), and its replacement starts now. */
  private retire(e: Engine): void {
    if (e.retiring) return;
    e.retiring = true;
    if (!this.closed) this.spawn();
  }

  private wakeWaiters(): void {
    for (const w of this.waiting.splice(0)) w();
  }
}
