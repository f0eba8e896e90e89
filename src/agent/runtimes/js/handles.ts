/** Small helpers for the JS engine thread: values out of QuickJS handles, tidy stack traces. */
import type { QuickJSContext, QuickJSHandle } from 'quickjs-emscripten-core';

/** Stack frames kept in a failed job's error (deep recursion would otherwise fill it). */
const MAX_FRAMES = 20;

/** Keeps the stack frames of the job's own module; the sandbox's frames say only how we called it. */
export function tidyStack(stack: string): string {
  const frames = stack
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.includes('jobhub:prelude'));
  const shown = frames.slice(0, MAX_FRAMES).map((l) => `  ${l}`);
  if (frames.length > MAX_FRAMES) shown.push(`  … ${frames.length - MAX_FRAMES} more frames`);
  return shown.join('\n');
}

/** A copy of an ArrayBuffer's bytes out of wasm memory. */
export function copyBytes(ctx: QuickJSContext, h: QuickJSHandle): Uint8Array {
  const view = ctx.getArrayBuffer(h);
  try {
    return view.value.slice();
  } finally {
    view.dispose();
  }
}

export function dumpError(ctx: QuickJSContext, h: QuickJSHandle): string {
  try {
    return JSON.stringify(ctx.dump(h));
  } catch {
    return 'unknown error';
  }
}
