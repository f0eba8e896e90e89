/** A job on an engine thread: its QuickJS runtime and context, its limits and its state. */
import type {
  QuickJSContext,
  QuickJSDeferredPromise,
  QuickJSHandle,
  QuickJSRuntime,
} from 'quickjs-emscripten-core';
import type { JsFailureKind, JsFromThread, JsRunMessage } from './protocol.js';

export interface Job {
  msg: JsRunMessage;
  rt: QuickJSRuntime;
  ctx: QuickJSContext;
  start: QuickJSHandle | null;
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
