/**
 * dlabLua54's batched hand-over (runtimes/batch-pool.ts): several jobs on one engine thread in one
 * message, each in a fresh Lua state; a thread that dies takes only the job it ran, the jobs that
 * waited behind it run on its replacement; a job aborted while it waits is answered at once.
 * The runtime is driven directly (no hub), with one thread holding all jobs.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { LuaRuntime } from '../../src/agent/runtimes/lua/runtime.js';
import type { RunContext } from '../../src/agent/runtimes/runtime.js';
import { scaled } from '../helpers/time.js';
import { sleep } from '../helpers/worker.js';

const runtimes: LuaRuntime[] = [];
afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.close();
});

async function oneThread(jobs: number) {
  const lua = new LuaRuntime({ threads: jobs, maxThreads: 1 });
  runtimes.push(lua);
  await lua.ready();
  return lua;
}

const prepare = (lua: LuaRuntime, code: string) => {
  const bytes = Buffer.from(code);
  return lua.prepare({ sha256: createHash('sha256').update(bytes).digest('hex'), bytes });
};

function ctx(input: string, signal = new AbortController().signal, timeoutMs = scaled(10_000)): RunContext {
  const bytes = Buffer.from(input);
  return {
    jobId: 'j',
    runtime: 'dlabLua54',
    input: { size: bytes.length, bytes: async () => bytes, stream: async () => Readable.from([bytes]) },
    limits: {
      timeoutMs,
      wallMs: timeoutMs,
      cpuMs: timeoutMs,
      memoryBytes: 64 * 1024 ** 2,
      outputBytes: 1024 ** 2,
    },
    signal,
    log: () => {},
    progress: () => {},
    blobs: { get: async () => Buffer.alloc(0), put: async () => '0' },
  };
}

const text = (r: Awaited<ReturnType<LuaRuntime['run']>>) =>
  r.ok && 'bytes' in r.output ? r.output.bytes.toString() : `failed: ${r.ok ? '' : r.failure.message}`;

/** Busy for about `ms` in Lua (the count hook keeps the deadline). */
const busy = (ms: number) =>
  `return function(x) local t = os.clock() + ${ms / 1000} while os.clock() < t do end return x end`;

describe('dlabLua54 batched hand-over', () => {
  it('runs the jobs handed over together on one thread, each in a fresh state', async () => {
    const lua = await oneThread(8);
    const p = await prepare(lua, 'counter = (counter or 0) + 1\nreturn function(x) return x .. counter end');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => lua.run(p, ctx(`job${i}:`))));
    expect(results.map(text)).toEqual(Array.from({ length: 8 }, (_, i) => `job${i}:1`));
    expect(lua.pool.threads()).toHaveLength(1);
  });

  it('a thread that dies fails only the job it ran; the jobs waiting behind it run on its replacement', async () => {
    const lua = await oneThread(4);
    const slow = await prepare(lua, busy(scaled(2_000)));
    const fast = await prepare(lua, 'return function(x) return x:upper() end');
    const first = lua.run(slow, ctx('slow'));
    const rest = ['a', 'b', 'c'].map((x) => lua.run(fast, ctx(x)));
    const thread = lua.pool.threads()[0]!.worker;
    await sleep(scaled(300));
    await thread.terminate();
    const r = await first;
    expect(r.ok).toBe(false);
    expect(!r.ok && r.failure.kind).toBe('crash');
    expect((await Promise.all(rest)).map(text)).toEqual(['A', 'B', 'C']);
    expect(lua.pool.threads()[0]!.worker).not.toBe(thread);
  });

  it('a job aborted while it waits is answered at once; the running one is not disturbed', async () => {
    const lua = await oneThread(2);
    const slow = await prepare(lua, busy(scaled(1_000)));
    const fast = await prepare(lua, 'return function(x) return x end');
    const first = lua.run(slow, ctx('slow'));
    const abort = new AbortController();
    const waiting = lua.run(fast, ctx('never', abort.signal));
    await sleep(scaled(100));
    const t0 = performance.now();
    abort.abort();
    const r = await waiting;
    expect(r.ok).toBe(false);
    expect(!r.ok && r.failure.kind).toBe('aborted');
    expect(performance.now() - t0).toBeLessThan(scaled(500));
    expect(text(await first)).toBe('slow');
  });

  it('time spent waiting behind another job counts against the waiting job’s timeout', async () => {
    const lua = await oneThread(2);
    const slow = await prepare(lua, busy(scaled(1_500)));
    const hang = await prepare(lua, 'return function(x) while true do end end');
    const first = lua.run(slow, ctx('slow'));
    const second = lua.run(hang, ctx('x', undefined, scaled(1_000)));
    const r = await second;
    expect(r.ok).toBe(false);
    expect(!r.ok && r.failure.kind).toBe('timeout');
    expect(text(await first)).toBe('slow');
  });
});
