/**
 * The package as users install it: `npm pack`, unpacked into a temporary directory with its
 * production dependencies only (no devDependencies, as `npm install --omit=dev` and the Docker
 * image's `npm prune --omit=dev` leave it), then `jobhub --version`, a hub, a worker and one job,
 * all from the unpacked copy. Catches a runtime import of a devDependency and a file the package
 * leaves out. The dependencies are hard-linked from this checkout's node_modules as `npm ls
 * --omit=dev` lists them (the tree the lockfile gives a production install), so no registry is
 * needed.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, tempDir } from '../helpers/hub.js';
import { scaled } from '../helpers/time.js';
import { ROOT, buildCli, killSpawned, runProcess, spawnHub, until } from '../helpers/worker.js';

beforeAll(() => buildCli(), scaled(60_000));
afterEach(() => killSpawned());

async function sh(cmd: string, args: string[], cwd: string): Promise<string> {
  const r = await runProcess(cmd, args, cwd, scaled(60_000));
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

/** Packs this checkout (already built) and unpacks it with its production dependencies. */
async function installProduction(): Promise<string> {
  const dir = tempDir('jobhub-install-');
  // --ignore-scripts: `prepare` would build again; buildCli() has just built dist/.
  const [packed] = JSON.parse(
    await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT),
  );
  await sh('tar', ['xzf', join(dir, packed.filename)], dir);
  const pkg = join(dir, 'package');
  const prod = (await sh('npm', ['ls', '--omit=dev', '--all', '--parseable'], ROOT))
    .split('\n')
    .filter((p) => p.startsWith(join(ROOT, 'node_modules') + '/'))
    .map((p) => relative(ROOT, p))
    // Top-level packages carry their own nested node_modules along.
    .filter((p) => p.split('node_modules/').length === 2);
  // One cp for all (GNU --parents keeps each `node_modules/...` path): one per package took
  // seconds of process start-ups.
  await sh('cp', ['-al', '--parents', ...prod, pkg], ROOT);
  return pkg;
}

describe('the packed package, with production dependencies only', () => {
  it('runs jobhub --version, a hub, a worker and a job', { timeout: scaled(30_000) }, async () => {
    const pkg = await installProduction();
    const bin = join(pkg, 'bin/jobhub.js');
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    const v = await runProcess(process.execPath, [bin, '--version'], pkg, scaled(20_000));
    expect(v.stderr).toBe('');
    expect(v.stdout.trim()).toBe(version);

    const hub = await spawnHub(tempDir(), [], scaled(10_000), { bin });
    const worker = spawn(
      process.execPath,
      [bin, 'worker', '--hub', hub.url, '--runtimes', 'dlabLua54', '--log-level', 'warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const workerOutput: string[] = [];
    worker.stdout.on('data', (c: Buffer) => workerOutput.push(c.toString()));
    worker.stderr.on('data', (c: Buffer) => workerOutput.push(c.toString()));
    const workerExit = new Promise<number | null>((r) => worker.once('exit', (code) => r(code)));
    try {
      // The worker from the package registers (else `run` would warn that nobody offers Lua).
      await until(
        async () => (await api(hub.url, 'GET', '/api/v1/workers')).body.workers?.length === 1,
        scaled(10_000),
      ).catch((err: Error) => {
        throw new Error(`${err.message}; the worker said:\n${workerOutput.join('')}`);
      });
      const script = join(tempDir(), 'shout.lua');
      writeFileSync(script, 'io.write(string.upper(io.read("a")))');
      const run = await runProcess(
        process.execPath,
        [bin, 'run', '--hub', hub.url, '--runtime', 'dlabLua54', '--quiet', script],
        pkg,
        scaled(20_000),
        'installed and running',
      );
      expect(run, workerOutput.join('')).toEqual({ status: 0, stdout: 'INSTALLED AND RUNNING', stderr: '' });
    } finally {
      worker.kill('SIGTERM');
      await workerExit;
    }
  });
});
