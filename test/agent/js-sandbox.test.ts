/**
 * The `js` runtime against hostile functions, and its cooperative scheduling: each attack is a
 * real job on a real agent and hub, and each test checks what a user would notice (the job's
 * error) and that the worker goes on running the next job.
 */
import { describe, expect, it } from 'vitest';
import type { JsRuntime } from '../../src/agent/runtimes/js/runtime.js';
import { api, sharedHub, testHub } from '../helpers/hub.js';
import { until } from '../helpers/worker.js';
import { final, fn, output, runOnce, sharedAgent, startAgent, submit } from './helpers.js';

// Tests on a worker with the default limits share a hub and an agent (engine threads take long
// to start); those that set limits, or kill a thread, have their own.
const shared = sharedHub();
const sharedJs = sharedAgent(() => shared.url, ['js']);

const js = (body: string) => `export default async function fetch(input) {\n${body}\n}\n`;

/** The worker still runs jobs. */
async function stillWorks(url: string): Promise<void> {
  const next = await runOnce(url, 'js', js(`return 'alive';`));
  expect(next.state, next.error ?? '').toBe('succeeded');
  expect((await output(url, next.id)).toString()).toBe('alive');
}

describe('js: hostile functions', () => {
  it('stops an endless loop at its CPU-time limit, even one that catches everything; the next job runs', async () => {
    const { url } = await testHub();
    // The CPU limit far below the job's timeout: the agent's verdict, not the hub's lease expiry.
    await startAgent(url, ['js'], {
      concurrency: 1,
      limits: { memoryBytes: 256 * 1024 ** 2, outputBytes: 1024 ** 2, cpuMs: 1_000 },
    });
    const loop = await runOnce(url, 'js', js('for (;;) {}'), '', { timeoutMs: 30_000 });
    expect(loop.state).toBe('failed');
    expect(loop.error).toBe('timeout: CPU time limit of 1000 ms exceeded');
    const stubborn = await runOnce(
      url,
      'js',
      js('for (;;) { try { for (;;) {} } catch (e) {} finally { continue; } }'),
      '',
      { timeoutMs: 30_000 },
    );
    expect(stubborn.error).toBe('timeout: CPU time limit of 1000 ms exceeded');
    await stillWorks(url);
  }, 90_000);

  it('stops a job at its CPU-time limit, and one that never stops awaiting at its wall time', async () => {
    const { url } = await testHub();
    await startAgent(url, ['js'], {
      limits: { memoryBytes: 256 * 1024 ** 2, outputBytes: 1024 ** 2, cpuMs: 300 },
    });
    const spin = await runOnce(
      url,
      'js',
      js('for (;;) { await sleep(0); for (let i = 0; i < 1e5; i++); }'),
      '',
      {
        timeoutMs: 20_000,
      },
    );
    expect(spin.state).toBe('failed');
    expect(spin.error).toBe('timeout: CPU time limit of 300 ms exceeded');
    // The hub's own deadline comes TIMEOUT_GRACE_MS later (src/core/lease.ts): the agent's
    // verdict is the one reported however busy the machine, so the limit can be short.
    const waiting = await runOnce(url, 'js', js('for (;;) await sleep(50);'), '', { timeoutMs: 2_000 });
    expect(waiting.error).toMatch(/^timeout: time limit of 2000 ms exceeded/);
    await stillWorks(url);
  }, 90_000);

  it('fails a memory bomb with a clear error, even one that catches; the next job runs', async () => {
    const { url } = await testHub();
    await startAgent(url, ['js'], { concurrency: 1, memoryBytes: 32 * 1024 ** 2 });
    const limit = `memory: memory limit of ${32 * 1024 ** 2} bytes exceeded (out of memory)`;
    const buffers = await runOnce(url, 'js', js('const a = []; for (;;) a.push(new Uint8Array(1 << 20));'));
    expect(buffers.state).toBe('failed');
    expect(buffers.error).toBe(limit);
    const doubling = await runOnce(url, 'js', js(`let s = 'x'; for (;;) s = s + s;`));
    expect(doubling.error).toMatch(/^(memory: memory limit|error: InternalError: string too long)/);
    // The limit is not an exception the function could catch and carry on from.
    const swallow = await runOnce(
      url,
      'js',
      js('const a = []; for (;;) { try { a.push(new Uint8Array(1 << 20)); } catch (e) {} }'),
    );
    expect(swallow.error).toBe(limit);
    await stillWorks(url);
  }, 90_000);

  it('has no Node APIs, files, environment or host objects to reach', async () => {
    const { url } = shared;
    const probes = [
      'typeof process',
      'typeof require',
      'typeof module',
      'typeof globalThis.process',
      'typeof Buffer',
      'typeof globalThis.fetch',
      'typeof setTimeout',
      'typeof std',
      'typeof os',
      'typeof WebAssembly',
      '(function () { return typeof this; })()',
      'Function("return typeof process")()',
      '(0, eval)("typeof require")',
      '({}).constructor.constructor("return typeof globalThis.process")()',
      'Object.getOwnPropertyNames(globalThis).filter((k) => /host|jobhub|__/i.test(k)).join("") || "undefined"',
      'typeof console.log.host',
    ];
    const code = js(`return [${probes.join(',\n')}].join(' ');`);
    const job = await runOnce(url, 'js', code);
    expect(job.state, job.error ?? '').toBe('succeeded');
    expect((await output(url, job.id)).toString().split(' ')).toEqual(probes.map(() => 'undefined'));
    for (const mod of ['fs', 'node:child_process', 'std', 'os', '/etc/passwd', './other.js']) {
      const imp = await runOnce(url, 'js', js(`return await import(${JSON.stringify(mod)});`));
      expect(imp.state, mod).toBe('failed');
      expect(imp.error).toContain('is not available in the jobhub sandbox');
    }
  });

  it('keeps jobs apart: a global set by one job is gone in the next', async () => {
    const { url } = await testHub();
    await startAgent(url, ['js'], { concurrency: 1 });
    const code = js(
      `const seen = globalThis.leftover ?? 'clean'; globalThis.leftover = 'dirty'; Array.prototype.evil = 1; return seen + ',' + ([].evil ?? 'none');`,
    );
    const f = await fn(url, 'js', code);
    for (let i = 0; i < 3; i++) {
      const job = await final(url, await submit(url, { function: f }));
      expect((await output(url, job.id)).toString()).toBe('clean,1');
    }
  });

  it('keeps jobs apart in the restored sandbox too: polluted built-ins, sandbox objects, awaits, Math.random, module state', async () => {
    const { url } = await testHub();
    await startAgent(url, ['js'], { concurrency: 1 });
    // Everything a job can change that outlives a job in one context: the global object,
    // built-in prototypes, the sandbox's own globals, a function's own properties, Math.random.
    const polluter = js(`
      globalThis.leftover = 'dirty';
      Object.prototype.polluted = 'dirty';
      JSON.stringify = () => 'dirty';
      console.log('from the polluter');
      ByteData.prototype.dirty = 'dirty';
      globalThis.sleep = () => 'dirty';
      Math.random = () => 0.5;
      return 'polluted';`);
    const checker = js(`
      const seen = [globalThis.leftover, ({}).polluted, JSON.stringify({ a: 1 }), ByteData.prototype.dirty,
        typeof (await sleep(1)), Math.random() === 0.5 ? 'dirty' : 'clean'];
      globalThis.leftover = 'dirty';
      return seen.map((v) => v ?? 'clean').join(',');`);
    const random = js('return String(Math.random());');
    // The module is compiled once per function and thread, but evaluated in every job: its
    // top-level state starts anew.
    const counter = `let runs = 0;\nglobalThis.evaluations = (globalThis.evaluations ?? 0) + 1;\n${js('runs += 1; return runs + ":" + globalThis.evaluations;')}`;
    const fp = await fn(url, 'js', polluter);
    const fc = await fn(url, 'js', checker);
    const fr = await fn(url, 'js', random);
    const outputs: string[] = [];
    for (const f of [fp, fc, fr, fp, fr, fc, fr, fc]) {
      const job = await final(url, await submit(url, { function: f }));
      expect(job.state, job.error ?? '').toBe('succeeded');
      outputs.push((await output(url, job.id)).toString());
    }
    expect(outputs.filter((o) => o.includes(','))).toEqual(
      Array(3).fill('clean,clean,{"a":1},clean,undefined,clean'),
    );
    // Each job's Math.random starts from its own seed, not the snapshot's.
    const randoms = outputs.filter((o) => /^0\./.test(o));
    expect(randoms).toHaveLength(3);
    expect(new Set(randoms).size).toBe(3);
    const fk = await fn(url, 'js', counter);
    for (let i = 0; i < 3; i++) {
      const job = await final(url, await submit(url, { function: fk }));
      expect(job.state, job.error ?? '').toBe('succeeded');
      expect((await output(url, job.id)).toString()).toBe('1:1');
    }
  });

  it('fails deep recursion, an oversized output and a promise that can never settle, cleanly', async () => {
    const { url } = await testHub();
    await startAgent(url, ['js'], { outputBytes: 1000 });
    const deep = await runOnce(url, 'js', js('const f = (n) => f(n + 1) + 1; return f(0);'));
    expect(deep.state).toBe('failed');
    expect(deep.error).toMatch(
      /^error: (RangeError: Maximum call stack size exceeded|InternalError: stack overflow)\n( {2}at f \(function\.js:2:\d+\)\n){20} {2}… \d+ more frames$/,
    );
    const big = await runOnce(url, 'js', js(`return 'x'.repeat(5000);`));
    expect(big.error).toBe('output_limit: output of 5000 bytes exceeds the limit of 1000 bytes');
    const never = await runOnce(url, 'js', js('await new Promise(() => {});'), '', { timeoutMs: 60_000 });
    expect(never.error).toMatch(/awaits a promise that nothing can settle/);
    await stillWorks(url);
  });

  it('fails the jobs of an engine thread that dies, and replaces the thread', async () => {
    const { url } = await testHub();
    const { runtimes } = await startAgent(url, ['js'], { concurrency: 1 });
    const engine = runtimes[0] as JsRuntime;
    const id = await submit(url, {
      function: await fn(url, 'js', js('await sleep(60000);')),
      timeoutMs: 120_000,
    });
    const busy = await until(async () => engine.engines.threads().find((t) => t.jobs > 0));
    await busy.worker.terminate();
    const job = await final(url, id);
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/^crash: the JavaScript engine crashed: the JavaScript engine thread exited/);
    await stillWorks(url);
  });

  it('a canceled job is dropped from its engine at once', async () => {
    const { url } = shared;
    const engine = sharedJs.runtimes[0] as JsRuntime;
    const id = await submit(url, {
      function: await fn(url, 'js', js('await sleep(60000);')),
      timeoutMs: 120_000,
    });
    await until(async () => engine.engines.threads().some((t) => t.jobs > 0));
    expect((await api(url, 'POST', `/api/v1/jobs/${id}/cancel`)).status).toBe(200);
    await until(async () => engine.engines.threads().every((t) => t.jobs === 0), 15_000);
    expect((await final(url, id)).state).toBe('canceled');
    await stillWorks(url);
  });
});

describe('js: cooperative scheduling', () => {
  // 30 jobs, at least 15 parked at once on at most 2 threads: more jobs would show nothing more
  // (100 run in `npm run chaos`: engine-load).
  it('runs many jobs awaiting sleep at once on two engine threads', async () => {
    const { url } = await testHub({ leaseMs: 15_000 });
    const { runtimes } = await startAgent(url, ['js'], { concurrency: 30 });
    const engine = runtimes[0] as JsRuntime;
    expect(engine.engines.threads().length).toBeLessThanOrEqual(2);
    const f = await fn(url, 'js', js('await sleep(2000); return "slept";'));
    const r = await api(url, 'POST', '/api/v1/jobs/batch', {
      jobs: Array.from({ length: 30 }, () => ({ function: f, maxAttempts: 1, timeoutMs: 120_000 })),
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const ids = (r.body.jobs as { id: string }[]).map((j) => j.id);
    // At some moment far more jobs are parked in the engines than there are engine threads.
    let most = 0;
    await until(async () => {
      most = Math.max(
        most,
        engine.engines.threads().reduce((n, t) => n + t.jobs, 0),
      );
      return most >= 15 || undefined;
    }, 60_000);
    for (const id of ids) {
      const job = await final(url, id, 60_000);
      expect(job.state, job.error ?? '').toBe('succeeded');
    }
    expect(most).toBeGreaterThanOrEqual(15);
  }, 90_000);
});
