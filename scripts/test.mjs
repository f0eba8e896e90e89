#!/usr/bin/env node
/**
 * `npm test`: the main suite, then the disruptive one (tests that restart PostgreSQL, run alone).
 * Both always run and both report: a failure in the first must not hide the second. Exits 1 if
 * either failed. Arguments go to both runs (e.g. `npm test -- --reporter=dot`).
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import process from 'node:process';

const vitest = createRequire(import.meta.url).resolve('vitest/vitest.mjs');
const args = process.argv.slice(2);
const suites = [
  { name: 'main suite', args: ['run', ...args] },
  {
    name: 'disruptive suite',
    args: ['run', '--config', 'vitest.disruptive.config.ts', '--passWithNoTests', ...args],
  },
];

const results = [];
for (const s of suites) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [vitest, ...s.args], { stdio: 'inherit' });
  const ok = r.status === 0;
  results.push({ ...s, ok, seconds: Math.round((Date.now() - t0) / 1000), status: r.status ?? r.signal });
}
const lines = results.map((r) => `${r.ok ? 'passed' : 'FAILED'}: ${r.name} (${r.seconds} s)`);
process.stdout.write(`\n${lines.join('\n')}\n`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
