/**
 * A vitest reporter that adds one line after the summary when tests were skipped, saying why and
 * how to include them: tests that need PostgreSQL (JOBHUB_TEST_PG), Chromium, bubblewrap or root
 * skip themselves on machines without them, and the count alone would not say which or why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { File, Task } from 'vitest';
import type { Reporter } from 'vitest/node';

/** What this machine lacks for some tests, each with the way to include them. */
export function missingForTests(): string[] {
  const missing: string[] = [];
  if (!process.env.JOBHUB_TEST_PG)
    missing.push('PostgreSQL (set JOBHUB_TEST_PG=postgres://user@127.0.0.1:5432/db to include them)');
  if (!existsSync(process.env.JOBHUB_CHROMIUM ?? '/usr/bin/chromium'))
    missing.push('Chromium (apt-get install chromium, or JOBHUB_CHROMIUM=/path/to/chromium)');
  if (spawnSync('sh', ['-c', 'command -v bwrap'], { stdio: 'ignore' }).status !== 0)
    missing.push('bubblewrap (apt-get install bubblewrap)');
  if (process.getuid?.() !== 0) missing.push('root (the root-worker tests run only as root)');
  return missing;
}

export default class SkippedReporter implements Reporter {
  // onFinished (not onTestRunEnd): it runs after the default reporter has printed its summary.
  onFinished(files: File[] = []): void {
    const count = (t: Task): number =>
      t.type === 'suite' ? t.tasks.reduce((n, c) => n + count(c), 0) : t.mode === 'skip' ? 1 : 0;
    const skipped = files.reduce((n, f) => n + count(f), 0);
    if (skipped === 0) return;
    const missing = missingForTests();
    const why = missing.length ? `this machine lacks ${missing.join('; ')}` : 'see the skip reasons above';
    console.log(`\n ${skipped} tests skipped: ${why}\n`);
  }
}
