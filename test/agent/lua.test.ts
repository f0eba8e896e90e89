/**
 * dlabLua54 end to end: a real hub, an in-process agent, Lua engine threads. Tests on a worker
 * with the default limits share one hub and agent (engine threads take long to start); those
 * that set limits, or kill a thread, have their own.
 */
import { describe, expect, it } from 'vitest';
import type { LuaRuntime } from '../../src/agent/runtimes/lua/runtime.js';
import { sharedHub, testHub } from '../helpers/hub.js';
import { scaled } from '../helpers/time.js';
import { openEvents, until, uploadBlob, type SseEvent } from '../helpers/worker.js';
import { final, fn, output, runOnce, sharedAgent, startAgent, submit } from './helpers.js';

const shared = sharedHub();
sharedAgent(() => shared.url, ['dlabLua54']);

describe('dlabLua54', () => {
  it('runs a script that reads with io.read and writes with io.write/print', async () => {
    const { url } = shared;
    const job = await runOnce(
      url,
      'dlabLua54',
      'local s = io.read("a")\nio.write(s:upper())\nprint("", 42)',
      'hello',
    );
    expect(job.state).toBe('succeeded');
    expect((await output(url, job.id)).toString()).toBe('HELLO\t42\n');
  });

  it('calls a returned function with the input; its return value is the output (binary safe)', async () => {
    const { url } = shared;
    const input = Buffer.from([0, 1, 2, 255, 254, 10, 0]);
    const job = await runOnce(url, 'dlabLua54', 'return function(x) return x:reverse() end', input);
    expect(job.state).toBe('succeeded');
    expect([...(await output(url, job.id))]).toEqual([...input].reverse());
  });

  it('fails a job with the Lua error message and line', async () => {
    const { url } = shared;
    const job = await runOnce(url, 'dlabLua54', 'local x = 1\n\nerror("boom")');
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/script:3: boom/);
    const syntax = await runOnce(url, 'dlabLua54', 'this is not lua');
    expect(syntax.state).toBe('failed');
    expect(syntax.error).toMatch(/script:1:/);
  });

  it('refuses os.execute, io.open, io.popen, os.getenv and C modules cleanly; the agent keeps running', async () => {
    // Its own agent: it counts the agent's failures, and a shared agent counts the previous
    // test's last one only after the hub has it as final.
    const { url } = await testHub();
    const { agent } = await startAgent(url, ['dlabLua54']);
    for (const [code, what] of [
      ['os.execute("id")', 'os.execute'],
      ['io.open("/etc/passwd")', 'io.open'],
      ['io.popen("ls")', 'io.popen'],
      ['print(os.getenv("HOME"))', 'os.getenv'],
      ['require("socket")', "module 'socket'"],
      ['dofile("/etc/passwd")', 'dofile'],
    ] as const) {
      const job = await runOnce(url, 'dlabLua54', code);
      expect(job.state, code).toBe('failed');
      expect(job.error).toContain(`${what} is not available in the jobhub sandbox`);
    }
    const bin = await runOnce(url, 'dlabLua54', 'local f, err = load("\\27Lua") print(f == nil, err)');
    expect((await output(url, bin.id)).toString()).toMatch(/^true\t.*binary chunk/);
    const ok = await runOnce(url, 'dlabLua54', 'print("still here")');
    expect((await output(url, ok.id)).toString()).toBe('still here\n');
    expect(agent.stats.failed).toBe(6);
  });

  it('stops a hanging script at the job timeout', async () => {
    const { url } = shared;
    const t0 = Date.now();
    const job = await runOnce(url, 'dlabLua54', 'while true do end', '', { timeoutMs: 500 });
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/timeout: time limit of 500 ms/);
    expect(Date.now() - t0).toBeLessThan(scaled(5_000)); // an endless loop, stopped
    // Also when the script swallows the error with pcall: the thread is terminated.
    const stubborn = await runOnce(
      url,
      'dlabLua54',
      'while true do pcall(function() while true do end end) end',
      '',
      { timeoutMs: 300 },
    );
    expect(stubborn.error).toMatch(/timeout/);
  });

  it('fails a job whose output goes over the limit, and one over the memory limit', async () => {
    const { url } = await testHub();
    await startAgent(url, ['dlabLua54'], { outputBytes: 10_000, memoryBytes: 32 * 1024 ** 2 });
    const big = await runOnce(url, 'dlabLua54', 'while true do io.write(string.rep("x", 1000)) end');
    expect(big.state).toBe('failed');
    expect(big.error).toMatch(/output_limit: .*10000 bytes/);
    const hog = await runOnce(url, 'dlabLua54', 'local t = {} for i = 1, 1e9 do t[i] = i end');
    expect(hog.state).toBe('failed');
    expect(hog.error).toMatch(/memory: memory limit/);
  });

  it('fails the job when its engine thread dies, and replaces the thread', async () => {
    const { url } = await testHub();
    const { runtimes } = await startAgent(url, ['dlabLua54'], { concurrency: 1 });
    const lua = runtimes[0] as LuaRuntime;
    const id = await submit(url, {
      function: await fn(url, 'dlabLua54', 'while true do end'),
      timeoutMs: 60_000,
    });
    const busy = await until(async () => lua.pool.threads().find((t) => t.busy));
    await busy.worker.terminate();
    const job = await final(url, id);
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/crash: the Lua engine crashed: the Lua engine thread exited/);
    const next = await runOnce(url, 'dlabLua54', 'io.write("alive")');
    expect((await output(url, next.id)).toString()).toBe('alive');
  });

  it('hostile scripts fail with a clear error and the engine runs the next job', async () => {
    const { url } = await testHub();
    const { runtimes } = await startAgent(url, ['dlabLua54'], {
      concurrency: 1,
      memoryBytes: 64 * 1024 ** 2,
    });
    const lua = runtimes[0] as LuaRuntime;
    const thread = lua.pool.threads()[0]!.worker;
    const bombs: [string, RegExp][] = [
      [
        'local t = setmetatable({}, {}) getmetatable(t).__index = function(t, k) return t[k] end return t.x',
        /error: Lua error: script:1: C stack overflow/,
      ],
      [
        'local function f(s) return (string.gsub(s, ".", f)) end f("x")',
        /error: Lua error: C stack overflow/,
      ],
      ['local function f() return coroutine.wrap(f)() end f()', /error: Lua error: .*C stack overflow/],
      [
        'local t t = setmetatable({}, {__tostring = function() return tostring(t) end}) tostring(t)',
        /C stack overflow/,
      ],
      [
        'assert(load("return " .. string.rep("{", 1e5) .. string.rep("}", 1e5)))()',
        /error: Lua error: .*(C stack overflow|too many)/,
      ],
      [
        'local s = string.rep("x", 2^40)',
        /error: Lua error: .*resulting string too large|memory: memory limit/,
      ],
      [
        'local t = {} for i = 1, 1e8 do t[i] = coroutine.create(function() end) end',
        /memory: memory limit of 67108864 bytes/,
      ],
    ];
    for (const [code, message] of bombs) {
      const job = await runOnce(url, 'dlabLua54', code);
      expect(job.state, code).toBe('failed');
      expect(job.error, code).toMatch(message);
    }
    // A 4 MB error message: the thread takes its first 16,000 bytes, not 4 MB of JS string.
    const loud = await runOnce(url, 'dlabLua54', 'error(string.rep("x", 2^22))');
    expect(loud.error).toMatch(/^error: Lua error: script:1: x{1000}/);
    expect(loud.error!.length).toBeLessThan(17_000);
    const next = await runOnce(url, 'dlabLua54', 'io.write("alive")');
    expect((await output(url, next.id)).toString()).toBe('alive');
    // None of it cost the engine thread.
    expect(lua.pool.threads()[0]!.worker).toBe(thread);
  }, 60_000);

  it("finalizers left to run when the state closes are held to the job's memory limit", async () => {
    const { url } = await testHub();
    await startAgent(url, ['dlabLua54'], { concurrency: 1, memoryBytes: 16 * 1024 ** 2 });
    // Without the limit at close, this __gc would allocate until the job's timeout killed the thread.
    const code =
      'setmetatable({}, {__gc = function() local t = {} for i = 1, 1e9 do t[i] = {} end end}) io.write("done")';
    const job = await runOnce(url, 'dlabLua54', code, '', { timeoutMs: 30_000 });
    expect(job.state, job.error ?? '').toBe('succeeded');
    expect((await output(url, job.id)).toString()).toBe('done');
  }, 60_000);

  // Fills 288 MB of Lua strings: slow wherever memory is.
  it(
    'replaces an engine thread whose heap grew large, without losing the job or the next',
    { timeout: scaled(20_000) },
    async () => {
      const { url } = await testHub();
      const { runtimes } = await startAgent(url, ['dlabLua54'], {
        concurrency: 1,
        memoryBytes: 512 * 1024 ** 2,
      });
      const lua = runtimes[0] as LuaRuntime;
      const before = lua.pool.threads()[0]!.worker;
      const big = await runOnce(
        url,
        'dlabLua54',
        'local t = {} for i = 1, 36 do t[i] = string.rep("x", 8 * 1024 * 1024) .. i end io.write(#t)',
      );
      expect(big.state, big.error ?? '').toBe('succeeded');
      expect((await output(url, big.id)).toString()).toBe('36');
      const next = await runOnce(url, 'dlabLua54', 'io.write("small")');
      expect((await output(url, next.id)).toString()).toBe('small');
      expect(lua.pool.threads()[0]!.worker).not.toBe(before);
    },
  );

  it('+pcli: the script gets and puts blobs through the hub', async () => {
    const { url } = shared;
    const blob = await uploadBlob(url, Buffer.from('stored bytes'));
    const code = `
      local p = require('pleiades')
      local data = p.get(io.read('a'))
      local id = p.put(data:upper())
      io.write(id)`;
    const job = await runOnce(url, 'dlabLua54+pcli', code, blob.id);
    expect(job.state, job.error ?? '').toBe('succeeded');
    const newId = (await output(url, job.id)).toString();
    const res = await fetch(`${url}/api/v1/blobs/${newId}`);
    expect(await res.text()).toBe('STORED BYTES');
    // Without the feature there is no pleiades module.
    const plain = await runOnce(url, 'dlabLua54', "require('pleiades')");
    expect(plain.error).toMatch(/module 'pleiades' is not available/);
    const missing = await runOnce(url, 'dlabLua54+pcli', 'pleiades.get("999999")');
    expect(missing.error).toMatch(/not found/);
  });

  it('ships progress and stderr lines with heartbeats', async () => {
    const { url } = await testHub({ leaseMs: 300 });
    await startAgent(url, ['dlabLua54']);
    const code = `jobhub.progress(0.25) io.stderr:write("line one\\n") local t = os.clock() while os.clock() - t < 0.4 do end print("done")`;
    const f = await fn(url, 'dlabLua54', code);
    const id = await submit(url, { runtime: 'nobody-runs-this', input: { text: '' } }).then(() =>
      submit(url, { function: f }),
    );
    const events = await openEvents(`${url}/api/v1/jobs/${id}/events`);
    const seen: SseEvent[] = [];
    for (let e = await events.next(); e; e = await events.next()) seen.push(e);
    events.close();
    expect(seen.find((e) => e.event === 'progress')?.data).toMatchObject({ progress: 0.25 });
    expect(
      seen.filter((e) => e.event === 'log').flatMap((e) => (e.data as { lines: string[] }).lines),
    ).toContain('line one');
    const job = await final(url, id);
    expect(job.state).toBe('succeeded');
    expect(job.progress).toBe(0.25);
  });
});
