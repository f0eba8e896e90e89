/**
 * The restored sandbox of an engine thread: a second QuickJS module with its own wasm memory,
 * holding one runtime and context with the prelude in place, whose memory is written back from
 * a snapshot (snapshot.ts) before each job. Every job still starts from a context nobody has
 * used, with its own limits, at a twentieth of the cost of making one.
 *
 * It holds one job at a time: its memory is that job's whole state. A job that awaits a host
 * call (a timer, a blob, HTTP) keeps it until it ends, and the thread runs other jobs in fresh
 * contexts meanwhile; the function's later jobs go to fresh contexts from the start (see
 * thread.ts), so the sandbox serves the functions that run to their end without waiting.
 *
 * What lives outside the wasm memory must stay true for every restored state, so all of it is
 * made before the snapshot and never changed after: the host functions (their host references),
 * the interrupt handler and module loader (they ask `current()` for the job), and the handles
 * quickjs-emscripten makes lazily and caches (the global object, BigInt, Symbol, the runtime's
 * service context for memory measurement). Handles a job makes are dropped without being
 * freed: the restore frees them. Math.random's state is reseeded for each job.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import releaseSync from '@jitl/quickjs-wasmfile-release-sync';
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSSyncVariant,
} from 'quickjs-emscripten-core';
import { installPrelude, type HostEnv } from './host.js';
import type { Job } from './job.js';
import { findLayout, findRandomState, MemorySnapshot, reseed } from './snapshot.js';

export interface Sandbox {
  memory: WebAssembly.Memory;
  rt: QuickJSRuntime;
  ctx: QuickJSContext;
  start: QuickJSHandle;
  /** The job it serves now; null when free. */
  job: Job | null;
  /** The memory holds a past job's state: restore before the next. */
  dirty: boolean;
  snapshot: MemorySnapshot;
  /** Address of the context's Math.random state. */
  randomAt: number;
}

/** The engine's WebAssembly, compiled once for both of a thread's modules (they share V8's tiers). */
const WASM_BYTES = readFileSync(
  createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm'),
);
export const WASM_MODULE = new WebAssembly.Module(WASM_BYTES);

/** A QuickJS module on `memory` (the engine's variant, its wasm compiled once). */
export function newEngine(memory: WebAssembly.Memory) {
  return newQuickJSWASMModuleFromVariant(
    newVariant(releaseSync as unknown as QuickJSSyncVariant, { wasmMemory: memory, wasmModule: WASM_MODULE }),
  );
}

/** Touches every library global of the prelude (each compiles on first touch). */
const PRELOAD = `void [console, TextEncoder, TextDecoder, ByteData, HttpClient, globalThis[Symbol.for('jobhub.pleiades')]]`;

interface RawModule {
  _malloc(n: number): number;
  _free(p: number): void;
}

/**
 * Makes the sandbox in `memory` (a fresh one, used by nothing else). `setUp` gives the runtime
 * its interrupt handler and module loader. Null when this build's memory layout is not one
 * snapshots are known to be sound for.
 */
export async function makeSandbox(
  memory: WebAssembly.Memory,
  setUp: (rt: QuickJSRuntime, current: () => Job | null) => void,
  env: HostEnv,
  maxStackBytes: number,
): Promise<Sandbox | null> {
  const qjs = await newEngine(memory);
  const raw = (qjs as unknown as { module: RawModule }).module;
  const layout = findLayout(WASM_BYTES, memory, raw._malloc, raw._free);
  if (!layout) return null;
  const rt = qjs.newRuntime();
  rt.setMaxStackSize(maxStackBytes);
  // Host references live in a map beside the memory; every one the sandbox has is made now and
  // lives on in the snapshot, so one freed during a job must stay in the map for the next.
  (rt as unknown as { hostRefs: { delete(id: number): void } }).hostRefs.delete = () => {};
  const sb = { memory, rt, job: null, dirty: false } as unknown as Sandbox;
  setUp(rt, () => sb.job);
  const ctx = rt.newContext();
  sb.ctx = ctx;
  sb.start = installPrelude(ctx, () => sb.job!, env);
  // The sandbox's libraries, compiled now rather than by each job that touches one (a no-op
  // returning its input needs one to copy its bytes out).
  ctx.unwrapResult(ctx.evalCode(PRELOAD)).dispose();
  // The lazily made handles, made now (see above).
  void ctx.global;
  ctx.getWellKnownSymbol('iterator').dispose();
  const big = ctx.unwrapResult(ctx.evalCode('1n'));
  ctx.getBigInt(big);
  big.dispose();
  rt.computeMemoryUsage().dispose();
  const ctxPtr = (ctx as unknown as { ctx: { value: number } }).ctx.value;
  const randomAt = findRandomState(memory, ctxPtr, () =>
    ctx.unwrapResult(ctx.evalCode('Math.random()')).dispose(),
  );
  if (randomAt === null) return null;
  sb.randomAt = randomAt;
  sb.snapshot = new MemorySnapshot(memory, layout);
  return sb;
}

/** Writes the snapshot back and gives Math.random a new state. */
export function restoreSandbox(sb: Sandbox): void {
  sb.snapshot.restore();
  reseed(sb.memory, sb.randomAt);
  sb.dirty = false;
}
