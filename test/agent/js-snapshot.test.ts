/**
 * Memory snapshots of the QuickJS engine (src/agent/runtimes/js/snapshot.ts) on the engine build
 * the worker ships: its layout is found (a build where it is not would silently run every job
 * in a fresh context, at twenty times the cost), and a restore brings a context back to the state
 * of the snapshot, Math.random aside, which gets a seed of its own.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  compileFunction,
  makeSandbox,
  newEngine,
  restoreSandbox,
} from '../../src/agent/runtimes/js/sandbox.js';
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
    // The word found is the break: past the end of every block, and it never goes back.
    const brk = () => new Uint32Array(memory.buffer, layout.brkAddr, 1)[0]!;
    const p = raw._malloc(8 * 1024 * 1024);
    const q = raw._malloc(100);
    expect(brk()).toBeGreaterThanOrEqual(Math.max(p + 8 * 1024 * 1024, q + 100));
    const grown = brk();
    raw._free(p);
    raw._free(q);
    expect(brk()).toBe(grown);
  });

  it("restores a function's compiled state after other functions were compiled and run", async () => {
    const memory = new WebAssembly.Memory({ initial: 256, maximum: 4096 });
    const sb = (await makeSandbox(
      memory,
      (rt) => rt.setModuleLoader(() => ({ error: new Error('compiled in advance only') })),
      {
        post() {},
        call: () => {
          throw new Error('no host calls here');
        },
        sliceLeftMs: () => 1_000,
      },
      512 * 1024,
    ))!;
    expect(sb).not.toBeNull();
    const run = () => {
      const h = sb.ctx.unwrapResult(
        sb.ctx.evalCode(
          `import('function.js').then((m) => m.default()).then((v) => { globalThis.out = String(v); }, (e) => { globalThis.out = 'error: ' + e; })`,
        ),
      );
      h.dispose();
      while (sb.ctx.unwrapResult(sb.rt.executePendingJobs(-1)) > 0);
      const out = sb.ctx.unwrapResult(sb.ctx.evalCode('globalThis.out'));
      const v: unknown = sb.ctx.dump(out);
      out.dispose();
      return v;
    };
    const mod = (body: string) => `export default function f() { ${body} }`;
    const first = mod('return [1, 2, 3].map((x) => x * 2).join("+");');
    const other = mod('globalThis.big = new Array(50000).fill("y").join(""); return "other";');
    restoreSandbox(sb, 'first');
    compileFunction(sb, 'first', first);
    expect(run()).toBe('2+4+6');
    restoreSandbox(sb, 'other');
    compileFunction(sb, 'other', other);
    expect(run()).toBe('other');
    // The first function's state, written back over the other's: its bytecode is intact.
    expect(restoreSandbox(sb, 'first')).toBe(true);
    expect(run()).toBe('2+4+6');
    expect(sb.ctx.dump(sb.ctx.unwrapResult(sb.ctx.evalCode('typeof globalThis.big')))).toBe('undefined');
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
