/**
 * The host functions of a job's sandbox, and the prelude that wraps them (see prelude.ts): made
 * in every fresh context, bound to its job. What they need of the engine thread comes in `env`.
 */
import type { QuickJSContext, QuickJSHandle, VmCallResult } from 'quickjs-emscripten-core';
import { copyBytes, tidyStack } from './handles.js';
import { done, memoryFailure, type Job } from './job.js';
import { JS_LIBS, JS_PRELUDE } from './prelude.js';
import type { JsFromThread } from './protocol.js';

export interface HostEnv {
  /** A message to the main thread (log lines). */
  post(m: JsFromThread): void;
  /** A host call of the job (timers, blobs, HTTP); returns the promise handle it settles. */
  call(job: Job, op: string, arg: string, bytes: QuickJSHandle | undefined): QuickJSHandle;
  /** Time left in the running slice (ms). */
  sliceLeftMs(): number;
}

const utf8 = new TextDecoder('utf-8');
const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

/**
 * Evaluates the prelude with the host functions; returns its `start` function. `current` is the
 * job the context serves now: one job for a fresh context, the job of the moment for a context
 * restored from a snapshot for each job.
 */
export function installPrelude(ctx: QuickJSContext, current: () => Job, env: HostEnv): QuickJSHandle {
  const host = ctx.newObject();
  const fns: Record<
    string,
    (...args: QuickJSHandle[]) => QuickJSHandle | VmCallResult<QuickJSHandle> | undefined
  > = {
    log: (level, text) => {
      const job = current();
      const lines = ctx.getString(text!).split('\n');
      const tag = ctx.getString(level!);
      for (const line of lines)
        env.post({ type: 'log', id: job.msg.id, line: tag === 'info' ? line : `[${tag}] ${line}` });
      return undefined;
    },
    encode: (text) => {
      const b = Buffer.from(ctx.getString(text!), 'utf8');
      return ctx.newArrayBuffer(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    },
    decode: (buf, fatal) => {
      const bytes = copyBytes(ctx, buf!);
      try {
        return ctx.newString((ctx.dump(fatal!) ? utf8Fatal : utf8).decode(bytes));
      } catch {
        throw new TypeError('TextDecoder: the data is not valid UTF-8');
      }
    },
    blockingSleep: (ms) => {
      // Holds this thread on purpose (that is what it is for), but never past the slice's end.
      const want = ctx.getNumber(ms!);
      const left = Math.max(0, Math.min(want, env.sliceLeftMs()));
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, left);
      return undefined;
    },
    call: (op, arg, bytes) => env.call(current(), ctx.getString(op!), ctx.getString(arg!), bytes),
    lib: (name) => {
      const source = JS_LIBS[ctx.getString(name!)];
      if (source === undefined) throw new TypeError('no such sandbox library');
      return ctx.evalCode(source, 'jobhub:prelude', { strict: true });
    },
    done: (kind, value) => {
      const job = current();
      const k = ctx.getNumber(kind!);
      let out: Uint8Array;
      if (k === 0) out = new Uint8Array();
      else if (k === 1) out = copyBytes(ctx, value!);
      else out = Buffer.from(ctx.getString(value!), 'utf8');
      job.result =
        out.length > job.msg.outputBytes
          ? done(
              job,
              false,
              'output_limit',
              `output of ${out.length} bytes exceeds the limit of ${job.msg.outputBytes} bytes`,
            )
          : { type: 'done', id: job.msg.id, ok: true, output: out, contextUs: job.contextUs };
      return undefined;
    },
    fail: (message, stack, oom) => {
      const job = current();
      if (ctx.dump(oom!)) job.result = memoryFailure(job);
      else {
        const m = ctx.getString(message!);
        const s = tidyStack(ctx.getString(stack!));
        job.result = done(job, false, 'error', s ? `${m}\n${s}` : m);
      }
      return undefined;
    },
  };
  for (const [name, fn] of Object.entries(fns)) {
    const h = ctx.newFunction(name, fn);
    ctx.setProp(host, name, h);
    h.dispose();
  }
  const factory = ctx.unwrapResult(ctx.evalCode(JS_PRELUDE, 'jobhub:prelude', { strict: true }));
  const r = ctx.callFunction(factory, ctx.undefined, host);
  factory.dispose();
  host.dispose();
  return ctx.unwrapResult(r);
}
