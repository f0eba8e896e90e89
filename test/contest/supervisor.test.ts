/**
 * The supervisor (`jobhub bench-worker`) end to end: the real CLI in a child process, bound to
 * 127.0.0.2, against a hub, running a fake benchmark program that passes, fails, crashes, prints
 * garbage, hangs (and ignores SIGTERM), or prints a lot; then draining on SIGTERM; then, in
 * process, against a minimal foreign portal that speaks only the seed API and fails reports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Supervisor, SUPERVISOR_DEFAULTS } from '../../src/agent/bench/supervisor.js';
import { testHub } from '../helpers/hub.js';
import { buildCli, ROOT, sleep, until } from '../helpers/worker.js';
import { enqueue, loadContest, staff } from './helpers.js';
import { scaled } from '../helpers/time.js';

const FAKE = join(ROOT, 'test/contest/fixtures/fake-bench.mjs');
const children = new Set<ChildProcess>();

beforeAll(() => buildCli(), scaled(60_000));
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
});

function benchWorker(portal: string, extra: string[] = []) {
  const proc = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/jobhub.js'),
      'bench-worker',
      '--portal',
      portal,
      '--interval',
      '0.1',
      '--timeout',
      '2',
      '--kill-grace',
      '0.5',
      '--source-ip',
      '127.0.0.2',
      ...extra,
      '--',
      process.execPath,
      FAKE,
      '--target={target}',
      '--all={all_addresses}',
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.add(proc);
  const log: string[] = [];
  proc.stderr!.on('data', (c: Buffer) => log.push(c.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      resolve({ code, signal });
    }),
  );
  return { proc, log, exited };
}

const MODES = ['pass', 'fail', 'crash', 'garbage', 'hang', 'big'];

function contest() {
  return {
    teams: [...MODES, 'slow'].map((name, i) => ({
      name,
      password: 'pw',
      servers: [
        {
          hostname: 'target',
          global_ip: `203.0.113.${i + 1}`,
          private_ip: `10.0.${i}.1`,
          is_bench_target: true,
        },
        {
          hostname: 'other',
          global_ip: `203.0.113.${i + 101}`,
          private_ip: `10.0.${i}.2`,
          is_bench_target: false,
        },
      ],
    })),
    benchmarkers: [{ name: 'supervisor', ip: '127.0.0.2', teams: [] }],
  };
}

describe('jobhub bench-worker', () => {
  it(
    'runs the program for each job and reports done or aborted with a human reason',
    async () => {
      const { url } = await testHub();
      await loadContest(url, contest());
      const ids = new Map<string, number>();
      for (const m of MODES) ids.set(m, await enqueue(url, m));
      const w = benchWorker(url);
      const final = async (mode: string) => {
        const r = await staff(url, 'GET', `/jobs/${ids.get(mode)}`);
        return ['done', 'aborted'].includes(r.body.status) ? r.body : null;
      };
      const results = new Map<string, any>();
      for (const m of MODES) results.set(m, await until(() => final(m), scaled(20_000), 50));

      expect(results.get('pass')).toMatchObject({
        status: 'done',
        score: 1234,
        is_passed: true,
        reason: 'all good',
      });
      // The placeholders and the environment carry the target (global address) and all addresses.
      expect(results.get('pass').stderr).toContain(
        'args=["--target=203.0.113.1","--all=203.0.113.1,203.0.113.101"]',
      );
      expect(results.get('pass').stderr).toContain('target=203.0.113.1 all=203.0.113.1,203.0.113.101');
      expect(results.get('fail')).toMatchObject({
        status: 'done',
        score: 0,
        is_passed: false,
        reason: 'GET / returned 500\ntoo slow',
      });
      expect(results.get('crash')).toMatchObject({
        status: 'aborted',
        score: 0,
        reason: 'The benchmark crashed (exit code 2)',
      });
      expect(results.get('crash').stderr).toContain('panic: runtime error');
      expect(results.get('garbage')).toMatchObject({
        status: 'aborted',
        reason: expect.stringMatching(/could not be read/),
      });
      expect(results.get('garbage').stdout).toBe('this is not JSON at all\n');
      expect(results.get('hang')).toMatchObject({
        status: 'aborted',
        reason: 'Benchmark timed out after 2 s',
      });
      // The whole process group went, the grandchild too.
      const grandchild = Number(/grandchild=(\d+)/.exec(results.get('hang').stderr)![1]);
      await until(async () => {
        try {
          process.kill(grandchild, 0);
          return false;
        } catch {
          return true;
        }
      });
      const big = results.get('big');
      expect(big).toMatchObject({ status: 'done', score: 7, is_passed: true });
      expect(Buffer.byteLength(big.stdout)).toBeLessThanOrEqual(48 * 1024);
      expect(Buffer.byteLength(big.stdout)).toBeGreaterThan(40 * 1024);
      expect(big.stdout.trimEnd().endsWith('{"pass":true,"score":7,"messages":[]}')).toBe(true);

      // Drain: a SIGTERM during a run lets it finish and be reported, then the worker exits 0.
      const slow = await enqueue(url, 'slow');
      await until(
        async () => (await staff(url, 'GET', `/jobs/${slow}`)).body.status === 'running',
        5_000,
        20,
      );
      w.proc.kill('SIGTERM');
      expect(await w.exited).toEqual({ code: 0, signal: null });
      expect((await staff(url, 'GET', `/jobs/${slow}`)).body).toMatchObject({
        status: 'done',
        score: 55,
        is_passed: true,
      });
      expect(w.log.join('')).toMatch(/stopping after the running benchmark/);
    },
    scaled(30_000),
  );

  it(
    'exits at once on SIGTERM while idle, and a second signal aborts a running benchmark',
    async () => {
      const { url } = await testHub();
      await loadContest(url, contest());
      const idle = benchWorker(url);
      await until(async () => /polling/.test(idle.log.join('')), scaled(10_000), 20);
      idle.proc.kill('SIGTERM');
      expect(await idle.exited).toEqual({ code: 0, signal: null });

      const id = await enqueue(url, 'hang');
      const w = benchWorker(url, ['--timeout', '60']);
      await until(
        async () => (await staff(url, 'GET', `/jobs/${id}`)).body.status === 'running',
        scaled(5_000),
        20,
      );
      await sleep(200);
      w.proc.kill('SIGTERM');
      await sleep(100);
      w.proc.kill('SIGINT');
      expect((await w.exited).code).toBe(0);
      expect((await staff(url, 'GET', `/jobs/${id}`)).body).toMatchObject({
        status: 'aborted',
        reason: 'The benchmarker was stopped during the run',
      });
    },
    scaled(15_000),
  );
});

describe('Supervisor against a foreign seed-API portal', () => {
  let server: Server | null = null;
  afterEach(() => {
    server?.close();
    server = null;
  });

  it('retries a report the portal fails to take, and uses only the seed endpoints', async () => {
    const seen: string[] = [];
    const reports: any[] = [];
    let served = false;
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url}`);
        if (req.url === '/internal/job/dequeue/') {
          if (served) {
            res.writeHead(204).end();
            return;
          }
          served = true;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              id: 36,
              team: {
                id: 1,
                owner: 2,
                name: 'pass',
                servers: [
                  {
                    id: 1,
                    hostname: 'server0',
                    global_ip: '192.55.229.0',
                    private_ip: '121.84.88.0',
                    is_bench_target: true,
                  },
                ],
              },
              status: 'running',
              score: 0,
              reason: '',
              stdout: '',
              stderr: '',
            }),
          );
          return;
        }
        if (req.url === '/internal/job/36/report/') {
          reports.push({
            type: req.headers['content-type'],
            body: JSON.parse(Buffer.concat(chunks).toString()),
          });
          res.writeHead(reports.length < 3 ? 503 : 200, { 'content-type': 'application/json' }).end('{}');
          return;
        }
        res.writeHead(404).end(); // no progress endpoint here
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const lines: string[] = [];
    const sup = new Supervisor({
      ...SUPERVISOR_DEFAULTS,
      portal: `http://127.0.0.1:${port}`,
      token: null,
      intervalMs: 50,
      command: [process.execPath, FAKE, '{target}'],
      sourceIp: null,
      address: 'private',
      reportRetryDelayMs: 50,
      log: (l) => lines.push(l),
    });
    const running = sup.run();
    await until(async () => reports.length >= 3, scaled(10_000), 20);
    sup.stop();
    await running;
    expect(reports).toHaveLength(3);
    expect(reports[2].type).toBe('application/json');
    expect(reports[2].body).toMatchObject({
      id: 36,
      status: 'done',
      score: 1234,
      is_passed: true,
      reason: 'all good',
    });
    expect(reports[2].body.stderr).toContain('target=121.84.88.0');
    expect(sup.stats).toMatchObject({ runs: 1, reported: 1, reportFailures: 0 });
    expect(new Set(seen.map((s) => s.replace(/\d+/, 'N')))).toEqual(
      new Set([
        'POST /internal/job/dequeue/',
        'POST /internal/job/N/report/',
        'POST /internal/job/N/progress/',
      ]),
    );
  });
});
