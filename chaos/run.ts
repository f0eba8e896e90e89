/**
 * `npm run chaos [-- --quick] [-- --only=kill9,net-cut] [-- --store=sqlite|postgres] [-- --no-build]`
 *
 * Runs every chaos scenario against real hub processes and prints, per scenario and store,
 * jobs_lost (must be 0), completed_twice (must be 0) and recovery_s. Results go to
 * chaos/results/<date>[-quick].json; hub logs stay in a temporary directory named at the end.
 * Exits 1 when any scenario lost a job, completed one twice, did not recover, or failed a check.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  ROOT,
  build,
  closeLogs,
  killChildren,
  passed,
  privatePostgresProblem,
  startPrivatePostgres,
  tempDir,
  type PrivatePostgres,
  type Scenario,
  type ScenarioResult,
} from './lib.js';
import { kill9Postgres, kill9Repeated, kill9Sqlite } from './scenarios/kill9.js';
import { workerKill } from './scenarios/workers.js';
import { pgRestart, pgTerminate } from './scenarios/postgres.js';
import { diskFull } from './scenarios/disk.js';
import { netCut } from './scenarios/network.js';
import { soakShort } from './scenarios/soak.js';
import { engineLoad } from './scenarios/engines.js';

const SCENARIOS: Scenario[] = [
  kill9Sqlite,
  kill9Repeated,
  kill9Postgres,
  workerKill('sqlite'),
  workerKill('postgres'),
  pgRestart('fast'),
  pgRestart('immediate'),
  pgTerminate,
  diskFull('blobs'),
  diskFull('all'),
  netCut('sqlite'),
  netCut('postgres'),
  soakShort,
  engineLoad,
];

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = args.includes('--quick');
const only = flag('only')?.split(',');
const store = flag('store');
const chosen = SCENARIOS.filter((s) => (!only || only.includes(s.name)) && (!store || s.store === store));
if (chosen.length === 0) {
  console.error(`no scenario matches; scenarios: ${[...new Set(SCENARIOS.map((s) => s.name))].join(', ')}`);
  process.exit(2);
}

if (!args.includes('--no-build')) {
  console.log('building…');
  build();
}

const runDir = tempDir('jobhub-chaos-run-');
let pg: PrivatePostgres | null = null;
let pgProblem: string | null = null;
if (chosen.some((s) => s.store === 'postgres')) {
  pgProblem = privatePostgresProblem();
  if (!pgProblem) {
    try {
      pg = await startPrivatePostgres();
      console.log(`private PostgreSQL at ${pg.url} (${pg.dir})`);
    } catch (err) {
      pgProblem = (err as Error).message;
    }
  }
  if (pgProblem) console.log(`PostgreSQL scenarios will be skipped: ${pgProblem}`);
}

const results: ScenarioResult[] = [];
const cleanup = async () => {
  await killChildren();
  await pg?.stop();
  await closeLogs();
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

for (const s of chosen) {
  console.log(`\n▶ ${s.name} (${s.store}): ${s.what}`);
  const t0 = Date.now();
  let r: ScenarioResult;
  try {
    const out = await s.run({ quick, runDir, pg, pgProblem, log: (m) => console.log(m) });
    r = { scenario: s.name, store: s.store, seconds: Math.round((Date.now() - t0) / 1000), ...out };
  } catch (err) {
    r = {
      scenario: s.name,
      store: s.store,
      seconds: Math.round((Date.now() - t0) / 1000),
      jobs_lost: NaN,
      completed_twice: NaN,
      recovery_s: NaN,
      created: 0,
      completed: 0,
      checks: [
        { name: 'the scenario ran to the end', ok: false, detail: (err as Error).stack ?? String(err) },
      ],
      extra: {},
      details: [],
    };
  }
  results.push(r);
  const verdict = r.skipped ? `SKIPPED (${r.skipped})` : passed(r) ? 'ok' : 'FAILED';
  console.log(
    `  jobs_lost=${r.jobs_lost} completed_twice=${r.completed_twice} recovery_s=${r.recovery_s} ` +
      `created=${r.created} completed=${r.completed} ${JSON.stringify(r.extra)} → ${verdict}`,
  );
  for (const c of r.checks) if (!c.ok) console.log(`  ✗ ${c.name}${c.detail ? `: ${c.detail}` : ''}`);
  for (const d of r.details.slice(0, 10)) console.log(`  · ${d}`);
}

await cleanup();

const pad = (s: string, n: number) => s.padEnd(n);
console.log(
  `\n${pad('scenario', 18)}${pad('store', 10)}${pad('jobs_lost', 11)}${pad('twice', 7)}${pad('recovery_s', 12)}verdict`,
);
for (const r of results) {
  const verdict = r.skipped ? 'skipped' : passed(r) ? 'ok' : 'FAILED';
  console.log(
    `${pad(r.scenario, 18)}${pad(r.store, 10)}${pad(String(r.jobs_lost), 11)}${pad(String(r.completed_twice), 7)}` +
      `${pad(String(r.recovery_s), 12)}${verdict}`,
  );
}

const report = {
  date: new Date().toISOString(),
  quick,
  machine: {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
  },
  results,
};
const dir = join(ROOT, 'chaos/results');
mkdirSync(dir, { recursive: true });
const partial = only || store ? `-${[...(only ?? []), store ?? ''].filter(Boolean).join('-')}` : '';
const file = join(dir, `${report.date.slice(0, 10)}${quick ? '-quick' : ''}${partial}.json`);
writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
console.log(`\nresults: ${file}\nhub logs: ${runDir}`);
process.exit(results.every(passed) ? 0 : 1);
