/**
 * A short soak among the chaos scenarios (it was in the test suite; it measures a hub over time,
 * which a test on a shared machine cannot do fairly): 200 simulated workers parked on a hub process
 * and 100 jobs/s for 20 s (10 s with --quick). The hub's memory stays flat, its p99 lease latency
 * does not climb, every job is completed once, and its file descriptors return to the baseline
 * once the workers leave. The long run is `npm run soak`; figures in docs/reliability.md.
 */
import { runSoak } from '../soak.js';
import type { Scenario } from '../lib.js';

export const soakShort: Scenario = {
  name: 'soak-short',
  store: 'sqlite',
  what: '200 parked workers, 100 jobs/s: memory, p99 lease latency and file descriptors stay flat',
  async run({ quick, log }) {
    const r = await runSoak({
      workers: 200,
      durationMs: quick ? 10_000 : 20_000,
      rate: 100,
      warmupMs: 4_000,
      windows: 4,
      log,
    });
    return {
      jobs_lost: r.jobs_lost,
      completed_twice: r.completed_twice,
      recovery_s: 0, // no fault is injected
      created: r.created,
      completed: r.completed,
      checks: [
        ...r.checks,
        {
          name: 'the load ran',
          ok: r.created > (quick ? 500 : 1000),
          detail: `${r.created} jobs created`,
        },
      ],
      extra: {
        rss_growth_mb: r.rss_growth_mb,
        p99_first_ms: r.p99_first_ms,
        p99_last_ms: r.p99_last_ms,
        fds_after: r.fds_after,
      },
      details: [],
    };
  },
};
