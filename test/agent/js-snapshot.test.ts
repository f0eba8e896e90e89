/**
 * Memory snapshots of the QuickJS engine (src/agent/runtimes/js/snapshot.ts) on the engine build
 * the worker ships: its layout is found (a build where it is not would silently run every job
 * in a fresh context, at twenty times the cost), and a restore brings a context back to the state
 * of the snapshot, Math.random aside, which gets a seed of its own.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { newEngine } from '../../src/agent/runtimes/js/sandbox.js';
import {
  findLayout,
  findRandomState,
  MemorySnapshot,
  readModuleLayout,
  reseed,
} from '../../src/agent/runtimes/js/snapshot.js';

const wasm = readFileSync(createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm'));

describe('js engine memory snapshots', () => {
  it('finds the static data, the stack and the break of the shipped engine build', async () => {
    const mod = readModuleLayout(wasm)!;
    expect(mod).not.toBeNull();
    expect(mod.dataEnd).toBeLessThan(mod.stackTop);
    const memory = new WebAssembly.Memory({ initial: 256, maximum: 4096 });
    const qjs = await newEngine(memory);
    const raw = (qjs as unknown as { module: { _malloc(n: number): number; _free(p: number): void } }).module;
    const layout = findLayout(wasm, memory, raw._malloc, raw._free)!;
    expect(layout).not.toBeNull();
    expect(layout.brkAddr).toBeLessThan(layout.lowEnd);
    expect(layout.heapStart).toBe(mod.stackTop);
    // The word found is the break: it moves with the heap's growth.
    const brk = () => new Uint32Array(memory.buffer, layout.brkAddr, 1)[0]!;
    const before = brk();
    const p = raw._malloc(8 * 1024 * 1024);
    expect(brk() - before).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    raw._free(p);
  });

  it('restores a context to its snapshot: what a script did is gone, Math.random is reseeded', async () => {
    const memory = new WebAssembly.Memory({ initial: 256, maximum: 4096 });
    const qjs = await newEngine(memory);
    const raw = (qjs as unknown as { module: { _malloc(n: number): number; _free(p: number): void } }).module;
    const layout = findLayout(wasm, memory, raw._malloc, raw._free)!;
    const rt = qjs.newRuntime();
    const ctx = rt.newContext();
    const run = (code: string) => {
      const h = ctx.unwrapResult(ctx.evalCode(code));
      const v: unknown = ctx.dump(h);
      h.dispose();
      return v;
    };
    const ctxPtr = (ctx as unknown as { ctx: { value: number } }).ctx.value;
    const randomAt = findRandomState(memory, ctxPtr, () => run('Math.random()'));
    expect(randomAt).not.toBeNull();
    const snapshot = new MemorySnapshot(memory, layout);
    const first = run(
      'globalThis.kept = new Array(100000).fill("x").join(""); kept.length + ":" + Math.random()',
    );
    snapshot.restore();
    expect(run('typeof globalThis.kept')).toBe('undefined');
    // Same state, same "random" number: the reason for reseeding.
    expect(run('"100000:" + Math.random()')).toBe(first);
    snapshot.restore();
    reseed(memory, randomAt!);
    expect(run('"100000:" + Math.random()')).not.toBe(first);
  });
});
