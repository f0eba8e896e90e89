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
import { findLayout, findRandomState, MemorySnapshot, reseed, type MemoryLayout } from './snapshot.js';

export interface Sandbox {
  memory: WebAssembly.Memory;
  rt: QuickJSRuntime;
  ctx: QuickJSContext;
  start: QuickJSHandle;
  /** The job it serves now; null when free. */
  job: Job | null;
  layout: MemoryLayout;
  /** The state before any job. */
  snapshot: MemorySnapshot;
  /** The state with a function's module compiled (not run), by function key; least recently used first. */
  compiled: Map<string, MemorySnapshot>;
  /** Address of the context's Math.random state. */
  randomAt: number;
}

/** Functions whose compiled state a sandbox keeps, and the largest state kept. */
const COMPILED_KEPT = 16;
const COMPILED_MAX_BYTES = 16 * 1024 * 1024;

/** The engine's WebAssembly, compiled once for both of a thread's modules (they share V8's tiers). */
const WASM_BYTES = readFileSync(
  createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm'),
);
export const WASM_MODULE = new WebAssembly.Module(WASM_BYTES);

/**
 * A wasm memory for an engine, up to `maxPages`. The engine grows its memory through this object.
 * A growth refused at the maximum is the job running then asking for more than the worker gives:
 * `onRefused` marks it to end as a memory failure, whatever it made of the engine's out-of-memory
 * error (QuickJS throws `null` when it has no memory left to make one, and a job may catch it).
 */
export function boundedMemory(maxPages: number, onRefused: () => void): WebAssembly.Memory {
  const memory = new WebAssembly.Memory({ initial: 256, maximum: maxPages });
  memory.grow = (pages: number) => {
    try {
      return WebAssembly.Memory.prototype.grow.call(memory, pages);
    } catch (err) {
      onRefused();
      throw err;
    }
  };
  return memory;
}

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
  // The layout is the module's, the same in every instance: found on a throwaway one, since
  // finding it moves the break for good (this dlmalloc never gives memory back), and everything
  // below the break is copied by each restore.
  const probeMemory = new WebAssembly.Memory({ initial: 256, maximum: 256 });
  const probe = (await newEngine(probeMemory)) as unknown as { module: RawModule };
  const layout = findLayout(WASM_BYTES, probeMemory, probe.module._malloc, probe.module._free);
  if (!layout) return null;
  const qjs = await newEngine(memory);
  const rt = qjs.newRuntime();
  rt.setMaxStackSize(maxStackBytes);
  // Host references live in a map beside the memory; every one the sandbox has is made now and
  // lives on in the snapshot, so one freed during a job must stay in the map for the next.
  (rt as unknown as { hostRefs: { delete(id: number): void } }).hostRefs.delete = () => {};
  const sb = { memory, rt, layout, job: null, compiled: new Map() } as unknown as Sandbox;
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

/**
 * Writes back the state for a job of the function `key`: its compiled state if there is one,
 * else the state before any job; Math.random gets a new seed. Returns whether the module is
 * compiled already.
 */
export function restoreSandbox(sb: Sandbox, key: string): boolean {
  const compiled = sb.compiled.get(key);
  if (compiled) {
    sb.compiled.delete(key);
    sb.compiled.set(key, compiled);
    compiled.restore();
  } else sb.snapshot.restore();
  reseed(sb.memory, sb.randomAt);
  return compiled !== undefined;
}

/**
 * Compiles the job's module (without running it) and keeps that state for the function's next
 * jobs, which then skip compiling (QuickJS compiles about 0.1 ms per KiB of source). Called at
 * the start of the function's first job in the sandbox, inside its slice, so the time counts
 * against that job. A module that does not compile is left to the job's import, which reports it.
 */
export function compileFunction(sb: Sandbox, key: string, source: string): void {
  const r = sb.ctx.evalCode(source, 'function.js', { type: 'module', compileOnly: true });
  if (r.error) return r.error.dispose();
  r.value.dispose();
  const state = new MemorySnapshot(sb.memory, sb.layout);
  if (state.bytes > COMPILED_MAX_BYTES) return;
  sb.compiled.set(key, state);
  if (sb.compiled.size > COMPILED_KEPT) sb.compiled.delete(sb.compiled.keys().next().value!);
}
