/**
 * Ordinary mistakes with the real `jobhub` command (child processes): each ends with exactly one
 * line on stderr that names the fix, no stack trace, and its own exit status (src/cli/exit-codes.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.js';
import { api, tempDir } from '../helpers/hub.js';
import { buildCli, killSpawned, registerWorker, ROOT, spawnHub, until } from '../helpers/worker.js';

beforeAll(() => buildCli(), 120_000);
afterEach(() => killSpawned());

/** The CLI without blocking this process (for runs that need a hub child to answer meanwhile). */
function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'bin/jobhub.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, JOBHUB_TOKEN: '', JOBHUB_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const sync = (args: string[]) => cli(args);

/** Exactly one line on stderr, matching `fix`, no stack trace, and status `code`. */
function oneLine(r: { status: number | null; stderr: string }, code: number, fix: RegExp): void {
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toContain('    at ');
  expect(lines[0]).toMatch(fix);
  expect(r.status, r.stderr).toBe(code);
}

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('usage mistakes: status 2', { timeout: 120_000 }, () => {
  it('bad numbers, bad URLs and unknown commands name the flag', async () => {
    oneLine(await sync(['up', '--port', 'abc']), EXIT.USAGE, /--port.*abc is not an integer/);
    oneLine(await sync(['server', '--port', 'abc']), EXIT.USAGE, /--port.*abc is not an integer/);
    oneLine(
      await sync(['worker', '--concurrency', '-1']),
      EXIT.USAGE,
      /--concurrency.*not a non-negative integer/,
    );
    oneLine(
      await sync(['run', '--runtime', 'default', '--timeout-ms', 'soon', 'x']),
      EXIT.USAGE,
      /--timeout-ms/,
    );
    oneLine(
      await sync(['bench-worker', '--portal', 'http://127.0.0.1:1', '--interval', 'abc', '--', 'true']),
      EXIT.USAGE,
      /--interval.*not a number of seconds/,
    );
    oneLine(
      await sync(['run', '--runtime', 'default', '--hub', 'ftp://hub', 'x']),
      EXIT.USAGE,
      /--hub.*http:\/\//,
    );
    oneLine(await sync(['portal', 'jobs', '--hub', 'http://']), EXIT.USAGE, /--hub.*not a URL/);
    oneLine(
      await cli(['get', '1'], { JOBHUB_URL: 'gopher://x' }),
      EXIT.USAGE,
      /--hub "gopher:\/\/x" must be an http/,
    );
    oneLine(await sync(['frobnicate']), EXIT.USAGE, /unknown command 'frobnicate'/);
    oneLine(
      await sync(['server', '--database', 'mysql://x', '--data-dir', tempDir()]),
      EXIT.USAGE,
      /postgres:\/\//,
    );
    expect((await sync(['--help'])).status).toBe(0);
  });
});

describe('files, hubs and tokens', { timeout: 120_000 }, () => {
  it('a missing input file is status 66 with its path', async () => {
    const missing = join(tempDir(), 'shout.lua');
    oneLine(
      await sync(['run', '--runtime', 'dlabLua54', missing]),
      EXIT.NO_INPUT,
      /cannot read .*shout\.lua: no such file/,
    );
    oneLine(
      await sync(['submit', '--runtime', 'default', '--input', missing]),
      EXIT.NO_INPUT,
      /cannot read .*shout\.lua: no such file/,
    );
    oneLine(await sync(['portal', 'load', missing]), EXIT.NO_INPUT, /cannot read .*shout\.lua: no such file/);
    oneLine(await sync(['portal', 'load', tempDir()]), EXIT.NO_INPUT, /it is a directory/);
    const notJson = join(tempDir(), 'contest.json');
    writeFileSync(notJson, '{ teams: ');
    oneLine(await sync(['portal', 'load', notJson]), EXIT.DATA, /contest\.json is not JSON/);
  });

  it('an unreachable hub is status 69 naming how to start one', async () => {
    const port = await freePort();
    const code = join(tempDir(), 'f.sh');
    writeFileSync(code, '#!/bin/sh\ncat\n');
    for (const args of [
      ['run', '--runtime', 'default', code, '--hub', `127.0.0.1:${port}`],
      ['get', '1', '--hub', `http://127.0.0.1:${port}`],
      ['portal', 'jobs', '--hub', `127.0.0.1:${port}`],
    ])
      oneLine(
        await sync(args),
        EXIT.UNAVAILABLE,
        new RegExp(`cannot reach the hub at http://127\\.0\\.0\\.1:${port}.*jobhub server`),
      );
  });

  it('host:port means http:// against a live hub; a wrong token is 77; an unknown job is 65', async () => {
    const hub = await spawnHub(tempDir(), ['--auth']);
    const hostPort = hub.url.replace('http://', '');
    const denied = await cli([
      'submit',
      '--runtime',
      'default',
      '--input',
      '/dev/null',
      '--hub',
      hostPort,
      '--token',
      'jh_wrong',
    ]);
    oneLine(denied, EXIT.NO_PERMISSION, /refused the token.*--token or JOBHUB_TOKEN/);
    oneLine(
      await cli(['worker', '--hub', hostPort, '--token', 'jh_wrong', '--runtimes', 'dlabLua54']),
      EXIT.NO_PERMISSION,
      /refused the token/,
    );
    oneLine(await cli(['portal', 'jobs', '--hub', hostPort]), EXIT.NO_PERMISSION, /admin token/);
    const dir = hub.output.join('\n').match(/"dataDir":"([^"]+)"/)![1]!;
    const token = (await sync(['token', 'create', '--role', 'client', '--data-dir', dir])).stdout.trim();
    const ok = await cli([
      'submit',
      '--runtime',
      'default',
      '--input',
      '/dev/null',
      '--hub',
      hostPort,
      '--token',
      token,
    ]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toMatch(/^\d+$/);
    oneLine(await cli(['get', '999999', '--hub', hostPort, '--token', token]), EXIT.DATA, /999999/);
  });
});

describe('a runtime no worker offers', { timeout: 120_000 }, () => {
  it('run fails after the grace period naming the runtimes live workers offer, and cancels the job', async () => {
    const hub = await spawnHub(tempDir());
    await registerWorker(hub.url, { runtimes: ['default', 'wasi'] });
    const code = join(tempDir(), 'shout.lua');
    writeFileSync(code, 'print("hi")');
    const r = await cli(['run', '--runtime', 'lua', code, '--hub', hub.url, '--worker-grace-ms', '300']);
    oneLine(
      r,
      EXIT.UNAVAILABLE,
      /no live worker offers runtime lua \(live workers offer: default, wasi\); job (\d+) canceled.*--wait-for-worker/,
    );
    const id = /job (\d+) canceled/.exec(r.stderr)![1]!;
    expect((await api(hub.url, 'GET', `/api/v1/jobs/${id}`)).body.state).toBe('canceled');
  });

  it('--wait-for-worker keeps the job queued past the grace period (with the warning) until it is canceled', async () => {
    const hub = await spawnHub(tempDir());
    const code = join(tempDir(), 'shout.lua');
    writeFileSync(code, 'print("hi")');
    const run = cli([
      'run',
      '--runtime',
      'lua',
      code,
      '--hub',
      hub.url,
      '--worker-grace-ms',
      '1',
      '--wait-for-worker',
    ]);
    // The job exists and stays queued while the command waits (no deadline races: we look at state).
    let ended = false;
    void run.then(() => (ended = true));
    const job = await until(async () => (await api(hub.url, 'GET', '/api/v1/jobs')).body.jobs[0], 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(ended).toBe(false);
    expect((await api(hub.url, 'GET', `/api/v1/jobs/${job.id}`)).body.state).toBe('queued');
    await api(hub.url, 'POST', `/api/v1/jobs/${job.id}/cancel`);
    const r = await run;
    expect(r.status).toBe(EXIT.JOB_FAILED);
    expect(r.stderr).toMatch(/warning: no live worker offers runtime lua/);
    expect(r.stderr).toMatch(/canceled/);
  });
});

describe('startup failures of server, up and token', { timeout: 120_000 }, () => {
  const startups = (dir: string) => [
    ['server', '--port', '0', '--data-dir', dir],
    ['up', '--port', '0', '--data-dir', dir, '--runtimes', 'dlabLua54'],
    ['token', 'create', '--role', 'admin', '--data-dir', dir],
  ];
  let holder: Server | null = null;
  afterAll(() => holder?.close());

  it('a busy port is status 75 naming the port', async () => {
    holder = createServer();
    await new Promise<void>((r) => holder!.listen(0, '127.0.0.1', r));
    const port = String((holder.address() as { port: number }).port);
    for (const args of [
      ['server', '--port', port, '--data-dir', tempDir()],
      ['up', '--port', port, '--data-dir', tempDir(), '--runtimes', 'dlabLua54'],
    ])
      oneLine(
        await cli(args),
        EXIT.IN_USE,
        new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use.*--port`),
      );
  });

  it('a corrupt SQLite file is status 74; a data dir that is a file is 73', async () => {
    const corrupt = tempDir();
    writeFileSync(join(corrupt, 'jobhub.db'), 'this is not a database, '.repeat(200));
    for (const args of startups(corrupt))
      oneLine(await sync(args), EXIT.IO, /damaged or not a database.*--data-dir/);
    const file = join(tempDir(), 'plain-file');
    writeFileSync(file, 'x');
    for (const args of startups(file)) oneLine(await sync(args), EXIT.CANT_CREATE, /plain-file.*--data-dir/);
  });

  it('a database another process holds locked is status 75', async () => {
    const dir = tempDir();
    expect((await sync(['token', 'create', '--role', 'admin', '--data-dir', dir])).status).toBe(0);
    const db = new Database(join(dir, 'jobhub.db'));
    db.exec('BEGIN EXCLUSIVE');
    try {
      oneLine(
        await sync(['server', '--port', '0', '--data-dir', dir]),
        EXIT.IN_USE,
        /locked by another process/,
      );
    } finally {
      db.close();
    }
  });

  /**
   * A full disk and a read-only one: a tiny tmpfs when this process may mount (root with
   * CAP_SYS_ADMIN). Elsewhere a directory without write permission stands in for read-only (which
   * does not stop root), and the full disk cannot be made: that case is skipped, said below.
   */
  const mountable = (() => {
    if (process.getuid?.() !== 0) return false;
    const probe = mkdtempSync(join(tmpdir(), 'jobhub-mnt-'));
    const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]).status === 0;
    if (ok) spawnSync('umount', [probe]);
    return ok;
  })();
  const mounts: string[] = [];
  afterAll(() => {
    for (const m of mounts) spawnSync('umount', [m]);
  });
  const tmpfs = (opts: string): string => {
    const dir = mkdtempSync(join(tmpdir(), 'jobhub-mnt-'));
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir]).status).toBe(0);
    mounts.push(dir);
    return dir;
  };

  it.skipIf(!mountable)('a full disk is status 74 (root: a pre-filled 64 KiB tmpfs)', async () => {
    const dir = tmpfs('size=64k');
    // Fill it: writes stop at ENOSPC.
    spawnSync('sh', ['-c', `head -c 1048576 /dev/zero > ${dir}/fill`]);
    for (const args of startups(dir)) oneLine(await sync(args), EXIT.IO, /disk .*full.*--data-dir/);
    for (const args of startups(join(dir, 'sub'))) oneLine(await sync(args), EXIT.IO, /full|no space/);
  });

  // Root ignores permissions: without mount, root has no way to make a read-only directory here.
  const rootWithoutMount = process.getuid?.() === 0 && !mountable;
  it.skipIf(rootWithoutMount)(
    'a read-only data dir is status 73 (root: a read-only tmpfs; otherwise a dir without write permission)',
    async () => {
      let dir: string;
      if (mountable) dir = tmpfs('size=64k,ro');
      else {
        dir = join(tempDir(), 'ro');
        mkdirSync(dir, { mode: 0o555 });
      }
      for (const args of startups(dir)) oneLine(await sync(args), EXIT.CANT_CREATE, /--data-dir/);
      for (const args of startups(join(dir, 'sub')))
        oneLine(await sync(args), EXIT.CANT_CREATE, /--data-dir/);
    },
  );
});

describe('PostgreSQL at startup', { timeout: 120_000 }, () => {
  it('an unreachable server is status 69', async () => {
    const port = await freePort();
    oneLine(
      await sync(['server', '--port', '0', '--database', `postgres://postgres@127.0.0.1:${port}/test`]),
      EXIT.UNAVAILABLE,
      new RegExp(`cannot reach 127\\.0\\.0\\.1:${port}.*PostgreSQL.*--database`),
    );
  });

  const pg = process.env.JOBHUB_TEST_PG;
  it.skipIf(!pg)('an unknown role or database is status 78 (needs JOBHUB_TEST_PG)', async () => {
    const url = new URL(pg!);
    const role = new URL(url);
    role.username = 'nobody';
    for (const args of [
      ['server', '--port', '0', '--database', role.href],
      ['token', 'create', '--role', 'admin', '--database', role.href],
    ])
      oneLine(await sync(args), EXIT.CONFIG, /role "nobody" does not exist.*--database/);
    const db = new URL(url);
    db.pathname = '/jobhub_no_such_db';
    oneLine(
      await sync(['server', '--port', '0', '--database', db.href]),
      EXIT.CONFIG,
      /database "jobhub_no_such_db" does not exist.*--database/,
    );
  });
});
