#!/usr/bin/env node
/**
 * `npm test`: the dependency rules of src/ (.dependency-cruiser.cjs, docs/architecture.md), then
 * the main suite, then the disruptive one (tests that restart PostgreSQL, run alone). All always
 * run and all report: a failure in one must not hide the next. Exits 1 if any failed. Arguments go
 * to both test runs (e.g. `npm test -- --reporter=dot`).
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const vitest = require.resolve('vitest/vitest.mjs');
// The checker's command: its package exports only its API (src/main/index.mjs), not its bin.
const depcruise = join(
  dirname(fileURLToPath(import.meta.resolve('dependency-cruiser'))),
  '../../bin/dependency-cruise.mjs',
);
const args = process.argv.slice(2);
const suites = [
  { name: 'dependency rules', command: [depcruise, 'src', '--config', '.dependency-cruiser.cjs'] },
  { name: 'main suite', args: ['run', ...args] },
  {
    name: 'disruptive suite',
    args: ['run', '--config', 'vitest.disruptive.config.ts', '--passWithNoTests', ...args],
  },
];

const results = [];
for (const s of suites) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, s.command ?? [vitest, ...s.args], { stdio: 'inherit' });
  const ok = r.status === 0;
  results.push({ ...s, ok, seconds: Math.round((Date.now() - t0) / 1000), status: r.status ?? r.signal });
}
const lines = results.map((r) => `${r.ok ? 'passed' : 'FAILED'}: ${r.name} (${r.seconds} s)`);
process.stdout.write(`\n${lines.join('\n')}\n`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
