/**
 * `jobhub up --demo` as a user runs it: it comes up with its sample contest in a temp data
 * directory of its own, and Ctrl-C (SIGINT) stops it and takes that directory away.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../helpers/worker.js';

const ROOT = join(import.meta.dirname, '../..');

describe('jobhub up --demo', () => {
  beforeAll(() => buildCli(), 180_000);

  // Ctrl-C lets the demo's running jobs finish (a sample job sleeps for seconds) before it exits.
  it('removes its temp data directory when stopped with Ctrl-C', async () => {
    const p = spawn(
      process.execPath,
      [join(ROOT, 'bin/jobhub.js'), 'up', '--demo', '--port', '0', '--log-level', 'silent'],
      { cwd: ROOT, env: { ...process.env, JOBHUB_DATA_DIR: '' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    const dir = await new Promise<string>((resolve, reject) => {
      p.stderr.setEncoding('utf8').on('data', (s: string) => {
        stderr += s;
        const m = /jobhub demo \(data in (.+)\):/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`exited with ${code} before the demo was up: ${stderr}`)));
    });
    expect(existsSync(join(dir, 'jobhub.db')) || existsSync(dir)).toBe(true);
    p.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(existsSync(dir), `${dir} is left behind`).toBe(false);
  }, 90_000);
});
