/**
 * Limits of a whole exec job, across all its processes (the `default` runtime's watchdog), and
 * the job users of root workers. Each attack stays under the per-process limit in every process
 * and goes over the job's limit together; the job must fail naming the limit, long before its
 * timeout, and leave nothing running. Sized by outcome: nothing here depends on how fast the
 * machine forks or allocates.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DefaultRuntime, type DefaultRuntimeOptions } from '../../src/agent/runtimes/default/runtime.js';
import { detectTools } from '../../src/agent/runtimes/default/sandbox.js';
import { claimUidRange, JOB_UID_BASE, UIDS_PER_SLOT } from '../../src/agent/runtimes/default/uids.js';
import { testHub } from '../helpers/hub.js';
import { ROOT } from '../helpers/worker.js';
import { output, runOnce, startAgent } from './helpers.js';

const tools = detectTools();
const sandboxed = it.skipIf(tools.bwrap === null);
const asRoot = it.skipIf(tools.bwrap === null || process.getuid?.() !== 0 || !tools.setpriv);
const MiB = 1024 ** 2;

/** Processes on the host whose command line matches `re` (a marker only the test's jobs use). */
const count = (re: string) =>
  Number(spawnSync('pgrep', ['-fc', re], { encoding: 'utf8' }).stdout.trim() || 0);

async function gone(re: string): Promise<number> {
  for (let i = 0; i < 100 && count(re) > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return count(re);
}

async function agentWith(
  o: Partial<DefaultRuntimeOptions>,
  limits: { memoryBytes?: number; cpuMs?: number } = {},
) {
  // Leases long enough for a machine busy with the attack (these tests are not about leases).
  const { url } = await testHub({ leaseMs: 10_000 });
  const memoryBytes = limits.memoryBytes ?? 256 * MiB;
  await startAgent(url, (dir) => [new DefaultRuntime({ workDir: dir, ...o })], {
    memoryBytes,
    limits: { memoryBytes, outputBytes: MiB, cpuMs: limits.cpuMs },
  });
  return url;
}

describe('limits of the whole exec job', () => {
  sandboxed(
    'five processes each under the memory limit, over it together: the job fails by memory',
    async () => {
      const url = await agentWith({}, { memoryBytes: 128 * MiB });
      // 60 MB each, written (so resident): under the 128 MiB address-space limit of each process.
      const job = await runOnce(
        url,
        'default',
        '#!/bin/sh\nfor i in 1 2 3 4 5; do python3 -c \'import time; b = b"x" * (60 << 20); time.sleep(314159)\' & done\nwait\necho DONE\n',
        '',
        { timeoutMs: 120_000 },
      );
      expect(job.state).toBe('failed');
      expect(job.error).toMatch(
        /^memory: the job's processes used \d+ MB, over the limit of 128 MB \(killed\)/,
      );
      expect(Number(/used (\d+) MB/.exec(job.error!)![1])).toBeGreaterThan(128);
      expect(await gone('time.sleep\\(314159\\)'), 'processes of the job left on the host').toBe(0);
    },
    150_000,
  );

  sandboxed(
    'memory shared after fork counts once: one copy held by five processes passes',
    async () => {
      const url = await agentWith({}, { memoryBytes: 128 * MiB });
      // 80 MB written, then four forks that only read it: resident 5 × 80 MB, proportional 80 MB.
      const script = `#!/usr/bin/env python3
import os, time
b = b"y" * (80 << 20)
kids = [os.fork() for _ in range(4)]
if 0 in kids:
    time.sleep(3)
    os._exit(0 if b[-1] == ord("y") else 1)
time.sleep(3)
ok = all(os.waitpid(k, 0)[1] == 0 for k in kids)
print("shared ok" if ok else "child failed")
`;
      const job = await runOnce(url, 'default', script, '', { timeoutMs: 120_000 });
      expect(job.error).toBeNull();
      expect(job.state).toBe('succeeded');
      expect((await output(url, job.id)).toString()).toBe('shared ok\n');
    },
    150_000,
  );

  sandboxed(
    'a job holding too many open files across its processes fails by open files',
    async () => {
      const url = await agentWith({ maxOpenFiles: 1000 });
      // 400 files each: under the per-process limit (1,000), 1,600 together.
      const job = await runOnce(
        url,
        'default',
        '#!/bin/sh\nfor i in 1 2 3 4; do python3 -c \'import time; fs = [open("/dev/null") for _ in range(400)]; time.sleep(271828)\' & done\nwait\n',
        '',
        { timeoutMs: 120_000 },
      );
      expect(job.state).toBe('failed');
      expect(job.error).toMatch(
        /^open_files: the job's processes held \d+ open files, over the limit of 1000 \(killed\)/,
      );
      expect(await gone('time.sleep\\(271828\\)'), 'processes of the job left on the host').toBe(0);
    },
    150_000,
  );

  sandboxed(
    'scratch space: /tmp alone is stopped by its size, /tmp and /dev/shm together by the watchdog',
    async () => {
      const url = await agentWith({ tmpBytes: 32 * MiB });
      // One tmpfs is full at its size: the write fails (no space), the job goes on and succeeds.
      const full = await runOnce(
        url,
        'default',
        '#!/bin/sh\nhead -c 100000000 /dev/zero > /tmp/big 2>/dev/null\necho "TMP $(wc -c < /tmp/big)"\n',
        '',
        { timeoutMs: 60_000 },
      );
      expect(full.state, full.error ?? '').toBe('succeeded');
      const size = Number(/TMP (\d+)/.exec((await output(url, full.id)).toString())![1]);
      expect(size).toBeGreaterThan(16 * MiB);
      expect(size).toBeLessThanOrEqual(32 * MiB);
      // Under each size, over the job's scratch space together.
      const both = await runOnce(
        url,
        'default',
        '#!/bin/sh\nhead -c 24000000 /dev/zero > /tmp/a\nhead -c 24000000 /dev/zero > /dev/shm/b\nexec sleep 173205\n',
        '',
        { timeoutMs: 60_000 },
      );
      expect(both.state).toBe('failed');
      expect(both.error).toMatch(
        /^disk: the job wrote \d+ MB to \/tmp and \/dev\/shm, over the limit of 32 MB \(killed\)/,
      );
      // Seen at some point of the second write: over 32, at most the 48 written.
      const wrote = Number(/wrote (\d+) MB/.exec(both.error!)![1]);
      expect(wrote).toBeGreaterThan(32);
      expect(wrote).toBeLessThanOrEqual(48);
      expect(await gone('sleep 173205'), 'processes of the job left on the host').toBe(0);
    },
    150_000,
  );

  sandboxed(
    'CPU time is counted across processes: four busy children fail the job by CPU time',
    async () => {
      const url = await agentWith({}, { cpuMs: 3_000 });
      // Each child alone stays under the per-process CPU limit (3 s) until the job's total passes it.
      const job = await runOnce(
        url,
        'default',
        "#!/bin/sh\nfor i in 1 2 3 4; do sh -c 'while :; do :; done; : 1414213' & done\nwait\necho DONE\n",
        '',
        { timeoutMs: 120_000 },
      );
      expect(job.state).toBe('failed');
      expect(job.error).toMatch(
        /^timeout: CPU time limit of 3000 ms exceeded: the job's processes used \d+ ms \(killed\)/,
      );
      const used = Number(/used (\d+) ms/.exec(job.error!)![1]);
      expect(used).toBeGreaterThan(3_000);
      expect(await gone('1414213'), 'processes of the job left on the host').toBe(0);
    },
    150_000,
  );
});

describe('job users of root workers', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  asRoot(
    'two agents on one machine run their jobs as disjoint users',
    async () => {
      const { url: a } = await testHub({ leaseMs: 10_000 });
      const { url: b } = await testHub({ leaseMs: 10_000 });
      const ra = (await startAgent(a, ['default'])).runtimes[0] as DefaultRuntime;
      const rb = (await startAgent(b, ['default'])).runtimes[0] as DefaultRuntime;
      const [x, y] = [(await ra.uidRange())!, (await rb.uidRange())!];
      expect(x.first).toBeGreaterThanOrEqual(JOB_UID_BASE);
      expect(x.end <= y.first || y.end <= x.first, `${x.first}..${x.end} and ${y.first}..${y.end}`).toBe(
        true,
      );
      // One job on each, at once: seen from the host, each runs as a user of its worker's range.
      const jobs = [
        runOnce(a, 'default', '#!/bin/sh\nexec sleep 6.23606\n', '', { timeoutMs: 60_000 }),
        runOnce(b, 'default', '#!/bin/sh\nexec sleep 6.44948\n', '', { timeoutMs: 60_000 }),
      ];
      // Read /proc directly (a pgrep per poll would block this process, where the hubs run too),
      // and only the command lines of job users' processes (reading one can wait on its memory).
      const uidOf = async (cmdline: string) => {
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
            try {
              const uid = statSync(`/proc/${pid}`).uid;
              if (uid < JOB_UID_BASE || readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== cmdline) continue;
              return uid;
            } catch {
              // gone meanwhile
            }
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        return -1;
      };
      const [ua, ub] = await Promise.all([uidOf('sleep\x006.23606\x00'), uidOf('sleep\x006.44948\x00')]);
      const done = await Promise.all(jobs);
      for (const job of done) expect(job.state, job.error ?? '').toBe('succeeded');
      expect(ua).toBeGreaterThanOrEqual(x.first);
      expect(ua).toBeLessThan(x.end);
      expect(ub).toBeGreaterThanOrEqual(y.first);
      expect(ub).toBeLessThan(y.end);
    },
    150_000,
  );

  asRoot(
    'a slot is held by another process until it dies, then free again',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'jobhub-uid-slots-'));
      dirs.push(dir);
      // Another worker process: claims a slot and keeps it (until killed, without any clean-up).
      const other = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          `import { claimUidRange } from './src/agent/runtimes/default/uids.ts';
         const r = await claimUidRange(${JSON.stringify(tools.flock)}, ${JSON.stringify(dir)});
         console.log('SLOT', r.slot); setInterval(() => {}, 1000);`,
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const slot = await new Promise<number>((resolve, reject) => {
        let out = '';
        other.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /SLOT (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        other.once('exit', (code) => reject(new Error(`the other process ended (${code}): ${out}`)));
      });
      expect(slot).toBe(0);
      const mine = await claimUidRange(tools.flock!, dir);
      expect(mine.slot).toBe(1);
      expect(mine.first).toBe(JOB_UID_BASE + UIDS_PER_SLOT);
      // The other worker crashes: its slot is free without anyone cleaning up after it.
      other.kill('SIGKILL');
      await new Promise((r) => other.once('exit', r));
      let again = -1;
      for (let i = 0; i < 100 && again !== 0; i++) {
        const r = await claimUidRange(tools.flock!, dir);
        again = r.slot;
        r.release();
        if (again !== 0) await new Promise((res) => setTimeout(res, 50));
      }
      expect(again).toBe(0);
      // A slot given back is free at once for the next claim.
      mine.release();
      let next = -1;
      for (let i = 0; i < 100 && next !== 1; i++) {
        const a = await claimUidRange(tools.flock!, dir);
        const b = await claimUidRange(tools.flock!, dir);
        next = b.slot;
        a.release();
        b.release();
        if (next !== 1) await new Promise((res) => setTimeout(res, 50));
      }
      expect(next).toBe(1);
    },
    120_000,
  );
});
