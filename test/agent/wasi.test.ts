/**
 * wasi end to end with hand-assembled modules (test/agent/fixtures/wasm.ts). Tests that only run
 * jobs share one hub and one agent (its engine host takes long to start); those that need other
 * limits, or kill the host, start their own.
 */
import { describe, expect, it } from 'vitest';
import { checkModule, limitMemory, MODULE_CAPS, WASM_PAGE } from '../../src/agent/runtimes/wasi/limits.js';
import { WasiRuntime } from '../../src/agent/runtimes/wasi/runtime.js';
import { sharedHub, testHub } from '../helpers/hub.js';
import { until } from '../helpers/worker.js';
import {
  bareModule,
  echoModule,
  exitModule,
  floodModule,
  hangModule,
  hogModule,
  hugeTableModule,
  recursionModule,
  stderrFloodModule,
  tableGrowModule,
  tables,
  trapModule,
} from './fixtures/wasm.js';
import { final, fn, output, runOnce, sharedAgent, startAgent, submit } from './helpers.js';

const shared = sharedHub();
const sharedWasi = sharedAgent(() => shared.url, ['wasi']);

describe('wasi', () => {
  it('runs a module: stdin is the input, stdout the output', async () => {
    const { url } = shared;
    const input = Buffer.alloc(200_000, 'abc');
    const job = await runOnce(url, 'wasi', echoModule(), input);
    expect(job.state).toBe('succeeded');
    expect((await output(url, job.id)).equals(input)).toBe(true);
  });

  it('fails on a non-zero exit status (with the exit status) and on a trap', async () => {
    const { url } = shared;
    const exit = await runOnce(url, 'wasi', exitModule(3));
    expect(exit.state).toBe('failed');
    expect(exit.exitStatus).toBe(3);
    expect(exit.error).toMatch(/exit: the module exited with status 3/);
    const trap = await runOnce(url, 'wasi', trapModule());
    expect(trap.state).toBe('failed');
    expect(trap.error).toMatch(/wasm trap: unreachable/);
  });

  it('refuses a code blob that is not a wasm module, without retrying', async () => {
    const { url } = shared;
    const job = await runOnce(url, 'wasi', 'not wasm', '', { maxAttempts: 3 });
    expect(job.state).toBe('failed');
    expect(job.attempts).toBe(1);
    expect(job.error).toMatch(/bad_code: .*not a WebAssembly module/);
  });

  it('stops a hanging module at the job timeout', async () => {
    const { url } = shared;
    const job = await runOnce(url, 'wasi', hangModule(), '', { timeoutMs: 400 });
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/timeout: time limit of 400 ms exceeded/);
    const after = await runOnce(url, 'wasi', echoModule(), 'ok');
    expect((await output(url, after.id)).toString()).toBe('ok');
  });

  it('stops a module whose output goes over the limit, and one that grows past the memory limit', async () => {
    const { url } = await testHub();
    await startAgent(url, ['wasi'], { outputBytes: 100_000, memoryBytes: 16 * 1024 ** 2 });
    const flood = await runOnce(url, 'wasi', floodModule());
    expect(flood.state).toBe('failed');
    expect(flood.error).toMatch(/output_limit: output exceeds the limit of 100000 bytes/);
    const hog = await runOnce(url, 'wasi', hogModule());
    expect(hog.state).toBe('failed');
    expect(hog.error).toMatch(/memory: wasm trap/);
  });

  it('fails the job when its engine host dies, and starts a new host', async () => {
    const { url } = await testHub();
    const { runtimes } = await startAgent(url, ['wasi'], { concurrency: 1 });
    const wasi = runtimes[0] as WasiRuntime;
    const id = await submit(url, { function: await fn(url, 'wasi', hangModule()), timeoutMs: 60_000 });
    await until(async () => wasi.pool.busy > 0);
    const generation = wasi.pool.generation;
    process.kill(wasi.pool.pid!, 'SIGKILL');
    const job = await final(url, id);
    expect(job.error).toMatch(
      /crash: the WASI engine process died while running this job alone \(signal SIGKILL\); the worker replaced it/,
    );
    const next = await runOnce(url, 'wasi', echoModule(), 'alive');
    expect((await output(url, next.id)).toString()).toBe('alive');
    expect(wasi.pool.generation).toBe(generation + 1);
  });
});

describe('wasi: hostile modules', () => {
  it('refuses the 59-byte module declaring a 10M-entry table at once, without retrying; the next job runs', async () => {
    const { url } = shared;
    const { runtimes } = sharedWasi;
    const wasi = runtimes[0] as WasiRuntime;
    const generation = wasi.pool.generation;
    const job = await runOnce(url, 'wasi', hugeTableModule(), '', { maxAttempts: 3 });
    expect(job.state).toBe('failed');
    expect(job.attempts).toBe(1);
    expect(job.error).toMatch(
      /bad_code: the module's tables have 10000000 entries at start; at most 1000000 are allowed/,
    );
    const next = await runOnce(url, 'wasi', echoModule(), 'alive');
    expect((await output(url, next.id)).toString()).toBe('alive');
    expect(wasi.pool.generation).toBe(generation);
  });

  it('stops table.grow without end and unbounded recursion; the host lives on', async () => {
    const { url } = shared;
    const { runtimes } = sharedWasi;
    const wasi = runtimes[0] as WasiRuntime;
    const generation = wasi.pool.generation;
    // The table's maximum was written in: growth is refused (-1) and the module traps.
    const grow = await runOnce(url, 'wasi', tableGrowModule());
    expect(grow.state).toBe('failed');
    expect(grow.error).toMatch(/error: wasm trap: unreachable/);
    const deep = await runOnce(url, 'wasi', recursionModule());
    expect(deep.state).toBe('failed');
    expect(deep.error).toMatch(/error: wasm trap: Maximum call stack size exceeded/);
    const next = await runOnce(url, 'wasi', echoModule(), 'alive');
    expect((await output(url, next.id)).toString()).toBe('alive');
    expect(wasi.pool.generation).toBe(generation);
  }, 120_000);

  it('bounds a stderr flood without newlines: the job ends at its timeout, the host lives on', async () => {
    // The hub's default lease: the tests' 1 s lease is shorter than one heartbeat carrying 2 MiB
    // of log takes on a busy machine (the flood is NUL bytes, six JSON characters each).
    const { url } = await testHub({ leaseMs: 15_000 });
    const { runtimes } = await startAgent(url, ['wasi']);
    const wasi = runtimes[0] as WasiRuntime;
    const generation = wasi.pool.generation;
    const flood = await runOnce(url, 'wasi', stderrFloodModule(), '', { timeoutMs: 3_000 });
    expect(flood.state).toBe('failed');
    // A timeout, reported by the agent or, when shipping the last 2 MiB of log makes the report
    // later than the lease's end on a busy machine, by the hub. Not "lease expired": heartbeats
    // carrying the flood are accepted.
    expect(flood.error).toMatch(/timeout: time limit of 3000 ms exceeded|timed out after 3 s/);
    const next = await runOnce(url, 'wasi', echoModule(), 'alive');
    expect((await output(url, next.id)).toString()).toBe('alive');
    expect(wasi.pool.generation).toBe(generation);
  }, 120_000);

  it('a module that makes V8 abort its process kills only the engine host: the job fails, the next runs', async () => {
    const { url } = await testHub();
    // Caps raised to V8's own limits: the engine itself then aborts, as it would on any allocation
    // our checks did not foresee. Without the engine host it would take this test process along.
    const caps = { ...MODULE_CAPS, tableEntries: 100_000_000 };
    const { runtimes } = await startAgent(url, (dir) => {
      void dir;
      return [new WasiRuntime({ threads: 2, memoryBytes: 256 * 1024 ** 2, caps })];
    });
    const wasi = runtimes[0] as WasiRuntime;
    const generation = wasi.pool.generation;
    const f = await fn(url, 'wasi', bareModule([], [tables(8, 10_000_000)]));
    // Sized by outcome: building the tables takes seconds on a busy machine.
    const job = await final(url, await submit(url, { function: f, maxAttempts: 3 }), 90_000);
    expect(job.state).toBe('failed');
    expect(job.attempts).toBe(1);
    expect(job.error).toMatch(
      /crash: the WASI engine process died while running this job alone \(FATAL ERROR: .*heap/,
    );
    const next = await runOnce(url, 'wasi', echoModule(), 'alive');
    expect((await output(url, next.id)).toString()).toBe('alive');
    expect(wasi.pool.generation).toBe(generation + 1);
  }, 180_000);
});

describe('checkModule', () => {
  const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];
  it('refuses each declaration above its cap, with a message naming it', () => {
    const many = (n: number, item: number[]) => Array.from({ length: n }, () => item);
    const cases: [Uint8Array, RegExp][] = [
      [bareModule([], [tables(101, 0)]), /declares 101 tables; at most 100/],
      [bareModule([], [tables(2, 600_000)]), /tables have 1200000 entries at start; at most 1000000/],
      [
        bareModule([], [[6, vec(many(100_001, [0x7f, 0x00, 0x41, 0x00, 0x0b]))]]),
        /100001 globals; at most 100000/,
      ],
      [bareModule([], [[11, vec(many(100_001, [0x01, 0x00]))]]), /100001 data segments; at most 100000/],
      [
        bareModule(
          [],
          [tables(1, 1), [9, [1, 0x00, 0x41, 0x00, 0x0b, ...leb(1_000_001), ...many(1_000_001, [0]).flat()]]],
        ),
        /1000001 table elements in its element segments; at most 1000000/,
      ],
      [bareModule([], [[5, [2, 0x00, 1, 0x00, 1]]]), /2 memories; at most 1/],
      [bareModule([], [[5, [1, 0x03, 1, 1]]]), /shared or 64-bit wasm memories/],
      [bareModule([], [[2, [1, 1, 0x61, 1, 0x62, 0x01, 0x70, 0x00, 1]]]), /import a table/],
      [bareModule([], [[14, [0]]]), /section of unknown id 14/],
    ];
    for (const [module, message] of cases)
      expect(() => checkModule(module, 16), String(message)).toThrow(message);
    expect(() => checkModule(echoModule(), 16, { ...MODULE_CAPS, bytes: 100 })).toThrow(
      /at most 100 are allowed/,
    );
  });

  it('keeps what is within the caps valid, writing in table maxima that share out the entry budget', () => {
    const module = bareModule([], [tables(4, 10)]);
    const checked = checkModule(module, 16);
    expect(WebAssembly.validate(checked)).toBe(true);
    // Each table: funcref, flags 1, min 10, max 10 + (1,000,000 - 40) / 4 = 250,000.
    expect(Buffer.from(checked).includes(Buffer.from([0x70, 1, 10, ...leb(250_000)]))).toBe(true);
    const declared = checkModule(bareModule([], [tables(1, 1, 5)]), 16);
    expect(Buffer.from(declared).includes(Buffer.from([0x70, 1, 1, 5]))).toBe(true);
  });
});

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

describe('limitMemory', () => {
  it('writes a maximum into a memory without one, and refuses a module that needs more at start', async () => {
    const limited = limitMemory(echoModule(), 10);
    const mod = await WebAssembly.compile(limited);
    expect(WebAssembly.Module.imports(mod).map((i) => i.name)).toEqual(['fd_read', 'fd_write', 'proc_exit']);
    expect(() => limitMemory(echoModule(), 0)).toThrow(/needs 65536 bytes/);
    expect(() => limitMemory(Buffer.from('nope'), 10)).toThrow(/not a WebAssembly module/);
    expect(WASM_PAGE).toBe(65_536);
  });
});
