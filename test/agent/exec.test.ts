/** The `default` runtime end to end: executables in a bubblewrap sandbox with limits. */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  DefaultRuntime,
  NO_SANDBOX_MESSAGE,
  hardProcesses,
} from '../../src/agent/runtimes/default/runtime.js';
import { detectTools } from '../../src/agent/runtimes/default/sandbox.js';
import { JOB_UID_BASE } from '../../src/agent/runtimes/default/uids.js';
import { testHub } from '../helpers/hub.js';
import { scaled } from '../helpers/time.js';
import { until } from '../helpers/worker.js';
import { output, runOnce, startAgent } from './helpers.js';

const tools = detectTools();
const sandboxed = it.skipIf(tools.bwrap === null);
const noSandbox = { ...tools, bwrap: null, bwrapProblem: 'bubblewrap (bwrap) is not installed' };

/**
 * Processes of job users with this exact command line (read from /proc: pgrep would block this
 * process, where the hub and agent run; and a command line is read only of job users' processes,
 * since reading one can wait on the process's memory).
 */
function countOnHost(cmdline: string): number {
  let n = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (statSync(`/proc/${pid}`).uid < JOB_UID_BASE) continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1') === cmdline) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

describe('default runtime (exec)', () => {
  sandboxed('runs an executable: stdin in, stdout out', async () => {
    const { url } = await testHub();
    await startAgent(url, ['default']);
    const job = await runOnce(url, 'default', '#!/bin/sh\ntr a-z A-Z\n', 'hello exec');
    expect(job.state).toBe('succeeded');
    expect(job.exitStatus).toBe(0);
    expect((await output(url, job.id)).toString()).toBe('HELLO EXEC');
  });

  // The kernel exempts root from the process-count limit, and a job that escaped its sandbox
  // should not be root: a root worker runs each job as an unprivileged user of its own.
  it.skipIf(tools.bwrap === null || process.getuid?.() !== 0)(
    'runs the jobs of a root worker as users of their own, not root',
    async () => {
      expect(tools.rootProblem).toBeNull();
      const { url } = await testHub();
      await startAgent(url, ['default'], { concurrency: 2 });
      // Two jobs at once; seen from the host while they run, whose processes are they?
      const running = ['2.71828', '3.14159'].map((t) =>
        runOnce(url, 'default', `#!/bin/sh\nexec sleep ${t}\n`),
      );
      const owners = async () => {
        for (let i = 0; i < 150; i++) {
          const r = spawnSync('pgrep', ['-f', '^sleep (2.71828|3.14159)$'], { encoding: 'utf8' });
          const pids = r.stdout.split('\n').filter(Boolean);
          if (pids.length === 2)
            return pids.map((pid) =>
              Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]),
            );
          await new Promise((r) => setTimeout(r, 20));
        }
        return [];
      };
      const uids = await owners();
      expect(uids).toHaveLength(2);
      for (const uid of uids) expect(uid).toBeGreaterThanOrEqual(JOB_UID_BASE);
      expect(uids[0]).not.toBe(uids[1]);
      for (const job of await Promise.all(running)) expect(job.state).toBe('succeeded');
    },
  );

  it.skipIf(tools.bwrap === null || process.getuid?.() !== 0)(
    "stops a root worker's fork bomb at the process limit without starving the job beside it",
    async () => {
      // Leases long enough for a machine busy with the bomb (the test is not about leases).
      const { url } = await testHub({ leaseMs: 10_000 });
      // A low limit: the bomb reaches it in well under a second even when forks are slow.
      const LIMIT = 64;
      await startAgent(url, (dir) => [new DefaultRuntime({ workDir: dir, maxProcesses: LIMIT })], {
        concurrency: 2,
      });
      // Bounded by the test (1,500) so that a missing limit cannot hurt the machine. The loop runs
      // in a child shell (dash exits when a fork fails); the job then spins on builtins only.
      const bomb = runOnce(
        url,
        'default',
        "#!/bin/sh\nsh -c 'i=0; while [ $i -lt 1500 ]; do sleep 161803 2>/dev/null & i=$((i+1)); done'\nwhile :; do :; done\n",
        '',
        { timeoutMs: 120_000 },
      );
      // Watch the bomb's processes from the host until it ends: the most ever seen at once.
      let most = 0;
      let ended = false;
      const watching = (async () => {
        while (!ended) {
          most = Math.max(most, countOnHost('sleep\x00161803\x00'));
          // Not more often: this process runs the hub and the agent too.
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      // Beside it, a job that forks: its own user, its own process count.
      const beside = runOnce(
        url,
        'default',
        '#!/bin/sh\nfor n in 1 2 3 4 5; do (echo $n) & done; wait; echo ok\n',
        '',
        { timeoutMs: 60_000 },
      );
      const b = await bomb;
      ended = true;
      await watching;
      expect(b.state).toBe('failed');
      expect(b.error).toMatch(
        /^processes: the job ran \d+ processes and threads, over the limit of 64 \(killed\)/,
      );
      // Ended at the limit (not at its timeout), and the kernel's bound held: the bomb never had
      // more processes than its user may (bubblewrap's outer process is one of them).
      const cap = hardProcesses(LIMIT, true);
      const ran = Number(/ran (\d+) processes/.exec(b.error!)![1]);
      expect(ran).toBeGreaterThan(LIMIT);
      expect(ran).toBeLessThan(cap);
      expect(most, 'bomb processes seen at once').toBeLessThan(cap);
      const done = await beside;
      expect(done.state, done.error ?? '').toBe('succeeded');
      // Every one of its forks worked.
      expect((await output(url, done.id)).toString().split('\n').sort()).toEqual([
        '',
        '1',
        '2',
        '3',
        '4',
        '5',
        'ok',
      ]);
      for (let i = 0; i < 100 && countOnHost('sleep\x00161803\x00') > 0; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(countOnHost('sleep\x00161803\x00'), 'processes of the bomb left on the host').toBe(0);
    },
    150_000,
  );

  sandboxed('fails on a non-zero exit with the status and the stderr tail', async () => {
    const { url } = await testHub();
    await startAgent(url, ['default']);
    const job = await runOnce(url, 'default', '#!/bin/sh\necho "something broke" >&2\nexit 3\n');
    expect(job.state).toBe('failed');
    expect(job.exitStatus).toBe(3);
    expect(job.error).toBe('exit: the job exited with status 3; stderr: something broke');
  });

  sandboxed('reports a job that kills itself with the signal', async () => {
    const { url } = await testHub();
    await startAgent(url, ['default']);
    const job = await runOnce(url, 'default', '#!/bin/sh\necho dying >&2\nkill -9 $$\n');
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/^signal: the job was killed by SIGKILL; stderr: dying/);
  });

  sandboxed('kills a hanging job at its timeout', async () => {
    const { url } = await testHub();
    const { agent } = await startAgent(url, ['default']);
    const t0 = Date.now();
    const job = await runOnce(url, 'default', '#!/bin/sh\nsleep 30\n', '', { timeoutMs: 500 });
    expect(job.state).toBe('failed');
    // The worker's own report ("killed"), not the hub's backstop: the hub waits TIMEOUT_GRACE_MS
    // past the timeout for it.
    expect(job.error).toMatch(/^timeout: time limit of 500 ms exceeded \(killed\)/);
    // Ended at its timeout, long before the program would have ended (30 s).
    expect(Date.now() - t0).toBeLessThan(scaled(5_000));
    // The slot is free once the report is through (the job turns final a moment before that).
    await until(async () => agent.active === 0);
  });

  sandboxed('kills a job whose output goes over the limit; large output is uploaded as a blob', async () => {
    const { url } = await testHub();
    await startAgent(url, (dir) => [new DefaultRuntime({ workDir: dir, spillBytes: 50_000 })], {
      outputBytes: 300_000,
    });
    const flood = await runOnce(url, 'default', '#!/bin/sh\nyes\n');
    expect(flood.state).toBe('failed');
    expect(flood.error).toMatch(/^output_limit: output exceeds the limit of 300000 bytes/);
    const big = await runOnce(url, 'default', "#!/bin/sh\nhead -c 200000 /dev/zero | tr '\\0' a\n");
    expect(big.state).toBe('succeeded');
    expect(big.output).toEqual({ blobId: expect.any(String) });
    const bytes = await output(url, big.id);
    expect(bytes.length).toBe(200_000);
    expect(bytes.every((b) => b === 0x61)).toBe(true);
  });

  sandboxed(
    "cannot read the hub's data, open a network connection, write the system or see the worker's secrets",
    async () => {
      const running = await testHub();
      const { url } = running;
      const secretFile = join(running.hub.ctx.config.dataDir, 'secret.txt');
      writeFileSync(secretFile, 'top secret');
      process.env.JOBHUB_TEST_SECRET = 'hunter2';
      try {
        await startAgent(url, ['default']);
        const read = await runOnce(url, 'default', `#!/bin/sh\ncat ${secretFile}\n`);
        expect(read.state).toBe('failed');
        expect(read.error).toMatch(/No such file or directory/);

        const port = new URL(url).port;
        const probe = `#!/bin/bash\nif (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null; then echo CONNECTED; else echo BLOCKED; fi\n`;
        const net = await runOnce(url, 'default', probe);
        expect((await output(url, net.id)).toString()).toBe('BLOCKED\n');

        const env = await runOnce(
          url,
          'default',
          '#!/bin/sh\nenv\ntouch /usr/x 2>/dev/null && echo WROTE-USR\necho ok > /tmp/x && cat /tmp/x\nid -u\n',
        );
        const text = (await output(url, env.id)).toString();
        expect(text).not.toContain('hunter2');
        expect(text).not.toContain('JOBHUB_TEST_SECRET');
        expect(text).not.toContain('WROTE-USR');
        const names = text
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => l.split('=')[0]);
        expect(names.filter((n) => !['PWD', 'SHLVL', '_'].includes(n!)).sort()).toEqual([
          'HOME',
          'LANG',
          'PATH',
        ]);
        expect(text).toContain('ok\n65534\n');
      } finally {
        delete process.env.JOBHUB_TEST_SECRET;
      }
    },
  );

  it('without bubblewrap: warns at start and fails exec jobs (not retried) with a clear message', async () => {
    const { url } = await testHub();
    const lines: string[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }),
    );
    const { agent } = await startAgent(
      url,
      (dir) => [new DefaultRuntime({ workDir: dir, tools: noSandbox })],
      { log },
    );
    expect(lines.join('')).toMatch(/bubblewrap \(bwrap\) is not installed; exec jobs will be failed/);
    const job = await runOnce(url, 'default', '#!/bin/sh\necho hi\n', '', { maxAttempts: 3 });
    expect(job.state).toBe('failed');
    expect(job.attempts).toBe(1);
    expect(job.error).toBe(`refused: ${NO_SANDBOX_MESSAGE}`);
    expect(agent.active).toBe(0);
  });

  it('with --unsafe-no-sandbox and no bubblewrap: runs the job unconfined (the network probe connects)', async () => {
    const { url } = await testHub();
    await startAgent(url, (dir) => [
      new DefaultRuntime({ workDir: dir, tools: noSandbox, unsafeNoSandbox: true }),
    ]);
    const port = new URL(url).port;
    const probe = `#!/bin/bash\nif (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null; then echo CONNECTED; else echo BLOCKED; fi\n`;
    const job = await runOnce(url, 'default', probe);
    expect((await output(url, job.id)).toString()).toBe('CONNECTED\n');
  });
});
