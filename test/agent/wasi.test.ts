/** wasi end to end with hand-assembled modules (test/agent/fixtures/wasm.ts). */
import { describe, expect, it } from 'vitest';
import { limitMemory, WASM_PAGE } from '../../src/agent/runtimes/wasi/limits.js';
import type { WasiRuntime } from '../../src/agent/runtimes/wasi/runtime.js';
import { testHub } from '../helpers/hub.js';
import { until } from '../helpers/worker.js';
import { echoModule, exitModule, floodModule, hangModule, hogModule, trapModule } from './fixtures/wasm.js';
import { final, fn, output, runOnce, startAgent, submit } from './helpers.js';

describe('wasi', () => {
  it('runs a module: stdin is the input, stdout the output', async () => {
    const { url } = await testHub();
    await startAgent(url, ['wasi']);
    const input = Buffer.alloc(200_000, 'abc');
    const job = await runOnce(url, 'wasi', echoModule(), input);
    expect(job.state).toBe('succeeded');
    expect((await output(url, job.id)).equals(input)).toBe(true);
  });

  it('fails on a non-zero exit status (with the exit status) and on a trap', async () => {
    const { url } = await testHub();
    await startAgent(url, ['wasi']);
    const exit = await runOnce(url, 'wasi', exitModule(3));
    expect(exit.state).toBe('failed');
    expect(exit.exitStatus).toBe(3);
    expect(exit.error).toMatch(/exit: the module exited with status 3/);
    const trap = await runOnce(url, 'wasi', trapModule());
    expect(trap.state).toBe('failed');
    expect(trap.error).toMatch(/wasm trap: unreachable/);
  });

  it('refuses a code blob that is not a wasm module, without retrying', async () => {
    const { url } = await testHub();
    await startAgent(url, ['wasi']);
    const job = await runOnce(url, 'wasi', 'not wasm', '', { maxAttempts: 3 });
    expect(job.state).toBe('failed');
    expect(job.attempts).toBe(1);
    expect(job.error).toMatch(/bad_code: .*not a WebAssembly module/);
  });

  it('stops a hanging module at the job timeout', async () => {
    const { url } = await testHub();
    await startAgent(url, ['wasi']);
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
      /crash: the WASI host crashed: the WASI engine process died while running this job alone \(signal SIGKILL\)/,
    );
    const next = await runOnce(url, 'wasi', echoModule(), 'alive');
    expect((await output(url, next.id)).toString()).toBe('alive');
    expect(wasi.pool.generation).toBe(generation + 1);
  });
});

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
