/**
 * The real `jobhub worker`, `up` and `run` in child processes (compiled build): redelivery after
 * kill -9 with fencing of the dead worker's token, a SIGTERM drain that loses no job, and the CLI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, tempDir, testHub } from '../helpers/hub.js';
import { ROOT, buildCli, until } from '../helpers/worker.js';
import { final, fn, output, submit } from './helpers.js';
import { scaled } from '../helpers/time.js';

beforeAll(() => buildCli(), scaled(60_000));

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
});

interface Proc {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log line matching `re`. */
  line(re: RegExp, timeoutMs?: number): Promise<string>;
}

function start(args: string[], stdin?: string): Proc {
  const proc = spawn(process.execPath, [join(ROOT, 'bin/jobhub.js'), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, JOBHUB_LOG_LEVEL: '' },
  });
  children.add(proc);
  proc.stdin.on('error', () => {}); // a process that exits early closes its input: not this test's point
  proc.stdin.end(stdin ?? '');
  const lines: string[] = [];
  let partial = '';
  const onData = (c: Buffer) => {
    const parts = (partial + c.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal })),
  );
  return {
    proc,
    lines,
    exited,
    line: (re, timeoutMs = 15_000) => until(async () => lines.find((l) => re.test(l)), timeoutMs),
  };
}

const worker = (hub: string, ...extra: string[]) =>
  start(['worker', '--hub', hub, '--lease-wait', '1000', '--log-level', 'info', ...extra]);

describe('worker process', () => {
  it(
    'kill -9 of a worker holding a job: another worker gets it after the lease expires; the old token is refused',
    async () => {
      const running = await testHub({ leaseMs: 1_000 });
      const { url } = running;
      const a = worker(url, '--runtimes', 'default', '--concurrency', '1');
      await a.line(/worker registered/);
      const f = await fn(url, 'default', '#!/bin/sh\nsleep 1\necho finished\n');
      const id = await submit(url, { function: f, maxAttempts: 3 });
      const held = await until(async () => {
        const j = await running.hub.ctx.store.jobGet({ id });
        return j?.state === 'running' ? j : null;
      });
      a.proc.kill('SIGKILL');
      await a.exited;
      const b = worker(url, '--runtimes', 'default', '--concurrency', '1');
      const job = await final(url, id, scaled(15_000));
      expect(job.state).toBe('succeeded');
      expect(job.attempts).toBe(2);
      expect(job.errors[0]?.message).toMatch(/lease expired/);
      expect((await output(url, id)).toString()).toBe('finished\n');
      // The dead worker's attempt, arriving late, changes nothing.
      const late = await api(url, 'POST', `/api/v1/jobs/${id}/complete`, {
        token: held.leaseToken,
        output: { text: 'late' },
      });
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe('lease_stale');
      expect((await output(url, id)).toString()).toBe('finished\n');
      b.proc.kill('SIGTERM');
      expect((await b.exited).code).toBe(0);
    },
    scaled(15_000),
  );

  it(
    'SIGTERM drains: running jobs finish, queued ones stay for the next worker; none is lost',
    async () => {
      const { url } = await testHub({ leaseMs: 1_000 });
      const a = worker(url, '--runtimes', 'dlabLua54', '--concurrency', '2');
      await a.line(/worker registered/);
      const f = await fn(
        url,
        'dlabLua54',
        'local t = os.clock() while os.clock() - t < 1 do end io.write(io.read("a"))',
      );
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push(await submit(url, { function: f, input: { text: `job ${i}` }, maxAttempts: 3 }));
      await until(async () => {
        const r = await api(url, 'GET', '/api/v1/jobs?state=running');
        return r.body.jobs.length === 2;
      });
      a.proc.kill('SIGTERM');
      expect((await a.exited).code).toBe(0);
      expect(a.lines.join('\n')).toMatch(/draining/);
      const afterA = await Promise.all(
        ids.map((id) => api(url, 'GET', `/api/v1/jobs/${id}`).then((r) => r.body)),
      );
      expect(afterA.filter((j) => j.state === 'succeeded')).toHaveLength(2);
      expect(afterA.filter((j) => j.state === 'queued')).toHaveLength(3);
      const b = worker(url, '--runtimes', 'dlabLua54', '--concurrency', '3');
      for (const [i, id] of ids.entries()) {
        const job = await final(url, id, scaled(15_000));
        expect(job.state).toBe('succeeded');
        expect(job.attempts).toBe(1);
        expect((await output(url, id)).toString()).toBe(`job ${i}`);
      }
      b.proc.kill('SIGTERM');
      expect((await b.exited).code).toBe(0);
    },
    scaled(15_000),
  );
});

describe('jobhub up and run', () => {
  it(
    'up runs a hub with a local worker; run prints the output, or the error with exit status 1',
    async () => {
      const up = start([
        'up',
        '--port',
        '0',
        '--data-dir',
        tempDir(),
        '--concurrency',
        '2',
        '--log-level',
        'info',
      ]);
      const ready = await up.line(/jobhub is up/, 20_000);
      const url = (JSON.parse(ready) as { url: string }).url;
      const dir = tempDir();
      writeFileSync(join(dir, 'upper.lua'), 'io.write(io.read("a"):upper())');
      writeFileSync(join(dir, 'bad.lua'), 'local x = nil\nreturn x.y');
      const run = (file: string, input: string) =>
        spawnSync(
          process.execPath,
          [join(ROOT, 'bin/jobhub.js'), 'run', '--hub', url, '--runtime', 'dlabLua54', join(dir, file)],
          {
            input,
            encoding: 'utf8',
            timeout: 20_000,
          },
        );
      const ok = run('upper.lua', 'hello from run');
      expect(ok.stderr).toBe('');
      expect(ok.status).toBe(0);
      expect(ok.stdout).toBe('HELLO FROM RUN');
      const bad = run('bad.lua', '');
      expect(bad.status).toBe(1);
      expect(bad.stdout).toBe('');
      expect(bad.stderr).toMatch(/job \d+ failed: error: Lua error: script:2: attempt to index a nil value/);

      const cli = (...args: string[]) =>
        spawnSync(process.execPath, [join(ROOT, 'bin/jobhub.js'), ...args, '--hub', url], {
          encoding: 'utf8',
          input: 'abc',
          timeout: 20_000,
        });
      const sub = cli('submit', '--runtime', 'dlabLua54', join(dir, 'upper.lua'));
      expect(sub.status, sub.stderr).toBe(0);
      const id = sub.stdout.trim();
      expect(id).toMatch(/^\d+$/);
      const waited = cli('wait', id, '--json');
      expect(waited.status).toBe(0);
      expect(JSON.parse(waited.stdout).state).toBe('succeeded');
      expect(cli('get', id, '--output').stdout).toBe('ABC');
      // Running the same script again reuses its function; other code or another runtime does not.
      expect(run('upper.lua', 'again').stdout).toBe('AGAIN');
      const fns = (await (await fetch(`${url}/api/v1/functions`)).json()) as {
        functions: { name: string; runtime: string }[];
      };
      expect(fns.functions.map((f) => f.name).sort()).toEqual(['bad.lua', 'upper.lua']);
      up.proc.kill('SIGTERM');
      expect((await up.exited).code).toBe(0);
    },
    scaled(20_000),
  );
});
