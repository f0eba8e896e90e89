/**
 * A job on an engine thread: its QuickJS runtime and context, its limits and its state; how it is
 * started and how its heap is measured.
 */
import type {
  QuickJSContext,
  QuickJSDeferredPromise,
  QuickJSHandle,
  QuickJSRuntime,
} from 'quickjs-emscripten-core';
import { dumpError } from './handles.js';
import type { JsFailureKind, JsFromThread, JsRunMessage } from './protocol.js';

export interface Job {
  msg: JsRunMessage;
  rt: QuickJSRuntime;
  ctx: QuickJSContext;
  start: QuickJSHandle | null;
  /** Runs in the thread's restored sandbox (whose runtime, context and start are shared). */
  restored: boolean;
  /** Its module was compiled in the state it was restored from. */
  compiled: boolean;
  /** Host calls not yet settled, by call number. */
  pending: Map<number, QuickJSDeferredPromise>;
  timers: Set<ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate>>;
  nextCall: number;
  cpuLeftMs: number;
  wallDeadline: number;
  interrupted: boolean;
  /** Over its memory limit (measured): ends as a memory failure. */
  oom: boolean;
  /** Asked for memory beyond the engine's maximum: ends as a memory failure. */
  heapFull: boolean;
  measuredAt: number;
  /** How long the last heap walk took (ms). */
  measureMs: number;
  /** Set by the prelude's done/fail (inside a slice). */
  result: JsFromThread | null;
  contextUs: number;
}

/** The reply of a failed job. */
export const done = (job: Job, ok: false, kind: JsFailureKind, message: string): JsFromThread => ({
  type: 'done',
  id: job.msg.id,
  ok,
  kind,
  message,
  contextUs: job.contextUs,
});

export const memoryFailure = (job: Job): JsFromThread =>
  done(job, false, 'memory', `memory limit of ${job.msg.memoryBytes} bytes exceeded (out of memory)`);

/** Calls the prelude's `start` with the job's input (inside a slice). */
export function callStart(job: Job): void {
  const input = job.ctx.newArrayBuffer(job.msg.input.slice().buffer);
  const r = job.ctx.callFunction(job.start!, job.ctx.undefined, input);
  input.dispose();
  if (r.error) {
    const text = dumpError(job.ctx, r.error);
    r.error.dispose();
    throw new Error(`the sandbox could not start the job: ${text}`);
  }
  r.value.dispose();
}

/**
 * Whether the job's heap is over its limit. QuickJS's own limit counts allocations by a size this
 * build cannot know (no malloc_usable_size), so the heap is measured instead: a walk of the
 * job's objects, strings, arrays and buffers.
 */
export function overLimit(job: Job, now: number): boolean {
  let used = 0;
  try {
    const h = job.rt.computeMemoryUsage();
    used = (job.ctx.dump(h) as { memory_used_size: number }).memory_used_size;
    h.dispose();
  } catch {
    // Measuring needs a little memory; failing to get it means the heap is full.
    used = Infinity;
  }
  job.measuredAt = performance.now();
  job.measureMs = job.measuredAt - now;
  if (used > job.msg.memoryBytes) job.oom = true;
  return job.oom;
}
