/**
 * A JavaScript engine thread: many jobs at once, each in a context nobody used before. A job
 * runs in the restored sandbox when it is free (sandbox.ts: one QuickJS module whose memory is
 * written back from a snapshot before each job, 20–30 µs), otherwise in a fresh QuickJS runtime
 * and context of the thread's other module (0.4–0.5 ms), as do the jobs of functions seen to
 * await host calls. A job runs only in short slices: its start, and each time something it
 * awaits settles (a timer, a blob, an HTTP answer). Between slices it holds no thread, so
 * hundreds of jobs awaiting `sleep` share one.
 *
 * Limits: memory by measuring the job's heap and by the wasm memory's maximum; CPU time through the interrupt handler,
 * which stops a slice once the job's CPU budget (time spent in its slices) or its wall deadline
 * is used up; the wall deadline through a timer that drops a job parked on an await. A job that
 * awaits something that can never settle fails at once. If the engine itself breaks (a wasm trap,
 * a failed dispose), every job here fails as a crash and the thread exits: the runtime replaces it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type {
  QuickJSContext,
  QuickJSDeferredPromise,
  QuickJSHandle,
  QuickJSRuntime,
} from 'quickjs-emscripten-core';
import { copyBytes } from './handles.js';
import { installPrelude } from './host.js';
import { callStart, done, memoryFailure, overLimit, type Job } from './job.js';
import { Outbox } from './outbox.js';
import { PLEIADES_MODULE, WARM_UP_SOURCE } from './prelude.js';
import type { JsFromThread, JsHostOp, JsRunMessage, JsToThread } from './protocol.js';
import {
  boundedMemory,
  compileFunction,
  makeSandbox,
  newEngine,
  restoreSandbox,
  type Sandbox,
} from './sandbox.js';

/** Wasm memory never shrinks: past this, the thread is replaced once its jobs are done. */
const RECYCLE_HEAP_BYTES = 512 * 1024 ** 2;
/** The C stack a job's JavaScript may use (deep recursion becomes a RangeError). */
const MAX_STACK_BYTES = 512 * 1024;

const port = parentPort!;
/** The most wasm memory this thread may have (all its jobs together): the worker's bound. */
const { heapBytes } = workerData as { heapBytes: number };
const PAGE = 64 * 1024;
const MAX_PAGES = Math.ceil(heapBytes / PAGE);
// The package's types describe its CommonJS face; its ES module's default export is the variant.
/** The slice running now (one at a time: this thread is single-threaded). */
let sliceDeadline = Infinity;
let sliceJob: Job | null = null;
/** An engine's wasm memory; a growth refused at the bound is the running job's memory failure. */
const engineMemory = () =>
  boundedMemory(MAX_PAGES, () => {
    if (sliceJob) sliceJob.heapFull = true;
  });
/** The engine of the fresh contexts: many jobs at once, each in its own runtime. */
const wasmMemory = engineMemory();
const QJS = await newEngine(wasmMemory);
/**
 * Slice time between two measurements of a job's heap. The measurement walks the heap, so with
 * millions of objects one walk takes tens of milliseconds: the gap is also at least
 * MEASURE_GAP_FACTOR times the last walk, which keeps measuring under a tenth of the job's time
 * (without it, a job filling its heap with small objects spent most of its time being measured).
 */
const MEASURE_EVERY_MS = 5;
const MEASURE_GAP_FACTOR = 10;

const jobs = new Map<number, Job>();
let retiring = false;
/** Each engine's wasm memory size after its last slice. */
const heapSeen = new Map<WebAssembly.Memory, number>();
let broken = false;
/**
 * Functions (by key) whose jobs await host calls: they run in fresh contexts, since a job
 * awaiting keeps the restored sandbox to itself until it ends. Forgotten past a bound.
 */
const awaiting = new Set<string>();
const AWAITING_KEPT = 1_000;

/**
 * Messages to the main thread go in batches: everything posted in one turn of this thread's event
 * loop (the replies of a batch of jobs, their log lines) is one postMessage, whose fixed cost was
 * a tenth of a no-op job's.
 */
const outbox = new Outbox<JsFromThread>((batch, transfer) => port.postMessage(batch, transfer));
const post = (m: JsFromThread, transfer?: ArrayBuffer[]) => outbox.post(m, transfer);
/** Leaves the thread with everything posted so far delivered. */
function exit(code: number): never {
  outbox.flush();
  process.exit(code);
}
/**
 * A fresh runtime and context with the sandbox prelude in place, not yet bound to a job. One is
 * made ahead, while the thread is idle, so that a job does not wait for it.
 */
function freshJob(): Job {
  const t0 = performance.now();
  const rt = QJS.newRuntime();
  rt.setMaxStackSize(MAX_STACK_BYTES);
  const job = newJob(rt, false);
  setUp(rt, () => job);
  job.ctx = rt.newContext();
  job.start = installPrelude(job.ctx, () => job, env);
  job.contextUs = Math.round((performance.now() - t0) * 1000);
  return job;
}

/** A job's state, not yet bound to a message. */
function newJob(rt: QuickJSRuntime, restored: boolean): Job {
  return {
    msg: null as unknown as JsRunMessage,
    rt,
    ctx: null as unknown as QuickJSContext,
    start: null,
    restored,
    compiled: false,
    pending: new Map(),
    timers: new Set(),
    nextCall: 1,
    cpuLeftMs: Infinity,
    wallDeadline: Infinity,
    interrupted: false,
    oom: false,
    heapFull: false,
    measuredAt: 0,
    measureMs: 0,
    result: null,
    contextUs: 0,
  };
}

/** The interrupt handler (limits) and module loader of a runtime serving `current()`. */
function setUp(rt: QuickJSRuntime, current: () => Job | null): void {
  rt.setInterruptHandler(() => {
    const job = current();
    if (!job || sliceJob !== job) return false;
    const now = performance.now();
    const gap = Math.max(MEASURE_EVERY_MS, MEASURE_GAP_FACTOR * job.measureMs);
    if (now - job.measuredAt >= gap && overLimit(job, now)) return (job.interrupted = true);
    if (now <= sliceDeadline) return false;
    return (job.interrupted = true);
  });
  rt.setModuleLoader((name) => {
    if (name === 'function.js') return current()!.msg.source;
    if (name === 'pleiades') return PLEIADES_MODULE;
    return {
      error: new Error(`module '${name}' is not available in the jobhub sandbox (only 'pleiades' is)`),
    };
  });
}

const env = { post, call: hostCall, sliceLeftMs: () => sliceDeadline - performance.now() };

/** The restored sandbox (null if this build cannot have one); made before the thread is ready. */
let sandbox: Sandbox | null = null;

/** A job in the restored sandbox: the snapshot written back, the context as new. */
function restoredJob(sb: Sandbox, key: string): Job {
  const t0 = performance.now();
  const compiled = restoreSandbox(sb, key);
  const job = newJob(sb.rt, true);
  job.compiled = compiled;
  job.ctx = sb.ctx;
  job.start = sb.start;
  sb.job = job;
  job.contextUs = Math.round((performance.now() - t0) * 1000);
  return job;
}

/** Starts a job; the first of a function in the sandbox keeps the function's compiled state first. */
function startJob(job: Job): void {
  if (job.restored && !job.compiled) compileFunction(sandbox!, job.msg.key, job.msg.source);
  callStart(job);
}

/** Where a job runs: the restored sandbox when it is free and the function is not one that awaits. */
function jobFor(msg: JsRunMessage): Job {
  if (sandbox && !sandbox.job && !awaiting.has(msg.key)) return restoredJob(sandbox, msg.key);
  const job = spare ?? freshJob();
  spare = null;
  makeSpare();
  return job;
}

let spare: Job | null = null;
function makeSpare(): void {
  setImmediate(() => {
    if (spare || broken || retiring) return;
    try {
      spare = freshJob();
    } catch (err) {
      crash(`the JavaScript engine failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
}

function begin(msg: JsRunMessage): void {
  const job = jobFor(msg);
  job.msg = msg;
  job.rt.setMemoryLimit(msg.memoryBytes);
  job.cpuLeftMs = msg.cpuMs > 0 ? msg.cpuMs : Infinity;
  job.wallDeadline = Date.now() + msg.wallMs;
  jobs.set(msg.id, job);
  slice(job, () => startJob(job));
  // The first slice keeps to the wall deadline itself; a timer is needed only by a job that
  // parks on an await (most short jobs end in their first slice and never pay for one).
  if (jobs.get(msg.id) !== job) return;
  const wall = setTimeout(
    () => {
      if (jobs.get(msg.id) === job) finish(job, done(job, false, 'timeout', timeoutText(msg)));
    },
    Math.max(0, job.wallDeadline - Date.now()),
  );
  job.timers.add(wall);
}

/** Warm-up: at most this many jobs, or this long, whichever ends first. */
const WARM_UP_JOBS = 150;
const WARM_UP_MS = 400;

/**
 * V8 compiles the engine's WebAssembly lazily and in a baseline tier first, so a cold thread's
 * first hundred contexts cost up to ten times a warm one's (measured: p90 15 ms, then 0.6 ms).
 * A few jobs that nobody waits for pay that before the thread says it is ready.
 */
function warmUp(): void {
  const until = performance.now() + WARM_UP_MS;
  for (let i = 0; i < WARM_UP_JOBS && performance.now() < until; i++) {
    const job = sandbox && i % 2 === 1 ? restoredJob(sandbox, 'warm-up') : freshJob();
    job.msg = {
      type: 'run',
      id: 0,
      source: WARM_UP_SOURCE,
      key: 'warm-up',
      input: new Uint8Array([i]),
      timeoutMs: 1_000,
      wallMs: 1_000,
      cpuMs: 1_000,
      memoryBytes: heapBytes,
      outputBytes: 1024,
    };
    // Not in `jobs`: its end is reported to no one.
    slice(job, () => startJob(job));
    drop(job);
  }
}

const timeoutText = (msg: JsRunMessage) => `time limit of ${msg.timeoutMs} ms exceeded`;

/** A host call: timers here; blobs and HTTP through the main thread. Returns the promise handle. */
function hostCall(job: Job, op: string, arg: string, bytes: QuickJSHandle | undefined): QuickJSHandle {
  if (job.restored) {
    if (awaiting.size >= AWAITING_KEPT) awaiting.clear();
    awaiting.add(job.msg.key);
  }
  const call = job.nextCall++;
  const deferred = job.ctx.newPromise();
  job.pending.set(call, deferred);
  if (op === 'sleep' || op === 'yield') {
    const wake = () => {
      job.timers.delete(t);
      settle(job, call, (d) => d.resolve());
    };
    const t = op === 'sleep' ? setTimeout(wake, Number(arg)) : setImmediate(wake);
    job.timers.add(t);
  } else {
    let data: Uint8Array | undefined;
    if (bytes && job.ctx.typeof(bytes) === 'object') data = copyBytes(job.ctx, bytes);
    post(
      { type: 'call', id: job.msg.id, call, op: op as JsHostOp, arg, ...(data ? { bytes: data } : {}) },
      data ? [data.buffer as ArrayBuffer] : [],
    );
  }
  return deferred.handle;
}

/** Settles one host call of a job and runs what that unblocks, as one slice. */
function settle(job: Job, call: number, how: (d: QuickJSDeferredPromise, ctx: QuickJSContext) => void): void {
  if (jobs.get(job.msg.id) !== job) return;
  const d = job.pending.get(call);
  if (!d) return;
  job.pending.delete(call);
  slice(job, () => {
    how(d, job.ctx);
    d.dispose();
  });
}

/** Runs `fn` and then every promise job it made ready, counting the time against the job's CPU budget. */
function slice(job: Job, fn: () => void): void {
  const t0 = performance.now();
  sliceJob = job;
  sliceDeadline = Math.min(t0 + job.cpuLeftMs, t0 + (job.wallDeadline - Date.now()));
  try {
    fn();
    for (;;) {
      const r = job.rt.executePendingJobs(-1);
      if (r.error) {
        r.error.dispose();
        if (job.interrupted) break;
        continue;
      }
      if (r.value === 0) break;
    }
  } catch (err) {
    if (!job.interrupted) {
      const message = err instanceof Error ? err.message : String(err);
      if ((err as Error)?.constructor?.name === 'RuntimeError' || broken)
        return crash(`the JavaScript engine failed: ${message}`);
      if (/out of memory/i.test(message)) job.result ??= memoryFailure(job);
      else job.result ??= done(job, false, 'error', message);
    }
  } finally {
    const t1 = performance.now();
    job.cpuLeftMs -= t1 - t0;
    sliceJob = null;
    sliceDeadline = Infinity;
    // Measured after a slice that grew the engine's memory or ran long enough to allocate much;
    // a no-op job's slices do neither and skip the heap walk.
    const memory = job.restored ? sandbox!.memory : wasmMemory;
    const heap = memory.buffer.byteLength;
    if (!job.oom && (heap > (heapSeen.get(memory) ?? 0) || t1 - t0 >= MEASURE_EVERY_MS)) overLimit(job, t1);
    heapSeen.set(memory, heap);
  }
  if (job.oom || job.heapFull) return finish(job, memoryFailure(job));
  // An interrupt is a timeout even though the prelude's catch saw it as an error.
  if (job.result && !job.interrupted) return finish(job, job.result);
  if (job.interrupted) {
    const cpu = job.cpuLeftMs <= 0 && job.msg.cpuMs > 0 && Date.now() < job.wallDeadline;
    return finish(
      job,
      done(
        job,
        false,
        'timeout',
        cpu ? `CPU time limit of ${job.msg.cpuMs} ms exceeded` : timeoutText(job.msg),
      ),
    );
  }
  if (job.pending.size === 0)
    finish(
      job,
      done(
        job,
        false,
        'error',
        'the function awaits a promise that nothing can settle (it would never finish)',
      ),
    );
}

/** Reports a job and frees everything it had in the engine. */
function finish(job: Job, reply: JsFromThread): void {
  if (jobs.get(job.msg.id) !== job) return;
  jobs.delete(job.msg.id);
  drop(job);
  if (reply.type === 'done' && reply.ok) post(reply, [reply.output.buffer as ArrayBuffer]);
  else post(reply);
  afterJob();
}

function drop(job: Job): void {
  for (const t of job.timers) {
    clearTimeout(t as ReturnType<typeof setTimeout>);
    clearImmediate(t as ReturnType<typeof setImmediate>);
  }
  if (job.restored) {
    // Its handles point into memory the next restore rewrites: dropped, not freed.
    if (sandbox?.job === job) sandbox.job = null;
    return;
  }
  try {
    for (const d of job.pending.values()) d.dispose();
    job.start?.dispose();
    job.ctx.dispose();
    job.rt.dispose();
  } catch (err) {
    // A runtime that cannot be freed leaves the module in an unknown state: replace the thread
    // (QuickJS's own checks fail so after some out-of-memory ends). Said at once, in the same
    // batch as the job's reply, so that no new job is sent here in the meantime.
    goAway();
    setImmediate(() => crash(`the JavaScript engine failed to free a job: ${String(err)}`));
  }
}

function afterJob(): void {
  const grown = Math.max(wasmMemory.buffer.byteLength, sandbox?.memory.buffer.byteLength ?? 0);
  if (!retiring && grown > RECYCLE_HEAP_BYTES) {
    retiring = true;
    post({ type: 'retiring' });
  }
  if ((retiring || broken) && jobs.size === 0) exit(0);
}

/** The thread will take no job again: the main thread stops sending it any and starts another. */
function goAway(): void {
  broken = true;
  if (!retiring) post({ type: 'retiring' });
  retiring = true;
}

/** The engine is unusable: every job here fails as a crash, and the thread exits. */
function crash(message: string): void {
  goAway();
  for (const job of jobs.values()) post(done(job, false, 'crash', message));
  jobs.clear();
  exit(1);
}

port.on('message', (batch: JsToThread[]) => {
  for (const m of batch) {
    if (broken) return;
    receive(m);
  }
});

function receive(m: JsToThread): void {
  try {
    if (m.type === 'run') begin(m);
    else if (m.type === 'abort') {
      const job = jobs.get(m.id);
      if (job) {
        jobs.delete(m.id);
        drop(job);
        afterJob();
      }
    } else if (m.type === 'answer') {
      const job = jobs.get(m.id);
      if (!job) return;
      settle(job, m.call, (d, ctx) => {
        const value = !m.ok
          ? ctx.newError(m.text ?? 'host call failed')
          : m.bytes
            ? ctx.newArrayBuffer(
                m.bytes.buffer.slice(m.bytes.byteOffset, m.bytes.byteOffset + m.bytes.byteLength),
              )
            : ctx.newString(m.text ?? '');
        if (m.ok) d.resolve(value);
        else d.reject(value);
        value.dispose();
      });
    }
  } catch (err) {
    crash(`the JavaScript engine failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

sandbox = await makeSandbox(engineMemory(), setUp, env, MAX_STACK_BYTES);
warmUp();
spare = freshJob();
post({ type: 'ready' });
outbox.flush();
