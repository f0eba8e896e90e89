/**
 * The regression gate (`npm run bench -- --quick --check`): compares jobhub's numbers from this
 * run with the last committed results file and fails on a large drop. A drop counts only when it
 * shows both in absolute terms and relative to the best peer of the same run, so that a slower
 * or busier machine (which slows the peers too) does not trip it. CI does not run it: timings on
 * a shared 2-core machine vary by about ±15% between passes.
 */
import { execFileSync } from 'node:child_process';

/** Throughput may fall to (1 − this) of the baseline, latency may grow to (1 + 2 × this) + 1 ms. */
const TOLERANCE = Number(process.env.BENCH_CHECK_TOLERANCE ?? 0.35);

type Report = Record<string, any>;

/** The newest committed results file, quick ones preferred (the gate runs quick). */
export function lastCommitted(): { path: string; report: Report } | null {
  let files: string[];
  try {
    files = execFileSync('git', ['ls-files', 'bench/results'], { encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.json') && !f.endsWith('-partial.json'));
  } catch {
    return null;
  }
  const byDate = (a: string, b: string) => b.localeCompare(a);
  const ordered = [
    ...files.filter((f) => f.endsWith('-quick.json')).sort(byDate),
    ...files.filter((f) => !f.endsWith('-quick.json')).sort(byDate),
  ];
  for (const path of ordered) {
    try {
      const report = JSON.parse(
        execFileSync('git', ['show', `HEAD:${path}`], { encoding: 'utf8' }),
      ) as Report;
      if (report.throughput?.burn || report.latency?.byQueue) return { path, report };
    } catch {
      // not in HEAD, or an older format: try the next
    }
  }
  return null;
}

interface Metric {
  name: string;
  /** Reads the value for one queue id; undefined when the run has none. */
  get(r: Report, id: string): number | undefined;
  higherIsBetter: boolean;
}

const med = (x: any): number | undefined =>
  typeof x?.median === 'number' && Number.isFinite(x.median) ? x.median : undefined;

const METRICS: Metric[] = [
  {
    name: 'burn-down jobs/s',
    get: (r, id) => med(r.throughput?.burn?.[id]?.jobsPerSecond),
    higherIsBetter: true,
  },
  {
    name: 'steady jobs/s',
    get: (r, id) => med(r.throughput?.steady?.[id]?.jobsPerSecond),
    higherIsBetter: true,
  },
  { name: 'latency p50 ms', get: (r, id) => med(r.latency?.byQueue?.[id]?.p50Ms), higherIsBetter: false },
];

const PEERS = ['bullmq', 'bullmq-durable', 'pgboss', 'graphile'];

/** The best peer's value in a run (highest or lowest), if any peer ran. */
function bestPeer(r: Report, m: Metric): number | undefined {
  const vals = PEERS.map((p) => m.get(r, p)).filter((v): v is number => v !== undefined);
  if (!vals.length) return undefined;
  return m.higherIsBetter ? Math.max(...vals) : Math.min(...vals);
}

function worse(m: Metric, now: number, before: number): boolean {
  return m.higherIsBetter ? now < before * (1 - TOLERANCE) : now > before * (1 + 2 * TOLERANCE) + 1;
}

/** Prints the comparison; returns false when some jobhub number dropped a lot. */
export function check(current: Report, base = lastCommitted()): boolean {
  if (!base) {
    console.log('check: no committed results in bench/results to compare with; nothing to check');
    return true;
  }
  console.log(
    `\ncheck: against ${base.path} (${base.report.date}), tolerance ${Math.round(TOLERANCE * 100)}%`,
  );
  let ok = true;
  const rows: string[] = [];
  for (const id of ['jobhub-sqlite', 'jobhub-pg']) {
    for (const m of METRICS) {
      const now = m.get(current, id);
      const before = m.get(base.report, id);
      if (now === undefined || before === undefined) continue;
      let verdict = 'ok';
      if (worse(m, now, before)) {
        // Relative to the best peer of each run: if the peers slowed down as much, the machine did.
        const peerNow = bestPeer(current, m);
        const peerBefore = bestPeer(base.report, m);
        const relWorse =
          peerNow === undefined || peerBefore === undefined || worse(m, now / peerNow, before / peerBefore);
        verdict = relWorse ? 'REGRESSION' : 'slower, but so are the peers (machine)';
        if (relWorse) ok = false;
      }
      rows.push(
        `  ${id.padEnd(14)} ${m.name.padEnd(17)} ${fmt(before).padStart(9)} -> ${fmt(now).padStart(9)}  ${verdict}`,
      );
    }
  }
  if (!rows.length) {
    console.log(
      'check: the committed results have no jobhub numbers in common with this run; nothing to check',
    );
    return true;
  }
  console.log(rows.join('\n'));
  console.log(
    ok ? 'check: passed' : 'check: FAILED (a large drop; rerun on a quiet machine before trusting it)',
  );
  return ok;
}

const fmt = (x: number) => (x >= 100 ? String(Math.round(x)) : x.toFixed(2));
