/**
 * Contest portal benchmark: a compiled hub in its own process (SQLite, the default), 500 teams,
 * 50 shared benchmarkers each on its own loopback address (127.0.0.2…51).
 *
 *   1. Cycles: every benchmarker loops dequeue → report over raw HTTP with keep-alive, and the
 *      reported team enqueues again (staff API, not awaited by the benchmarker). Counted:
 *      completed dequeue + report pairs per second.
 *   2. The same with each benchmark taking 1 s (about 50 results/s: a busy contest).
 *   Meanwhile, and once more idle, the leaderboard is read at 20 requests/s (open loop; half
 *   audience, half logged-in teams, no revalidation) from a worker thread, so that the load
 *   generator's own event loop does not time itself: p50/p99/max latency in ms.
 *
 * Run: npm run build && node --import tsx bench/portal.ts [--seconds 20] [--teams 500] [--benchmarkers 50]
 */
import { Agent, request } from 'node:http';
import { Worker } from 'node:worker_threads';
import { percentile, round, startHubProcess } from './lib.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg('seconds', 20);
const TEAMS = arg('teams', 500);
const BENCHMARKERS = arg('benchmarkers', 50);
const LB_RATE = arg('rate', 20);

/** The leaderboard sampler (plain JS, run in a worker thread): open loop, half with a session. */
const SAMPLER = `
const { workerData, parentPort } = require('node:worker_threads');
const http = require('node:http');
const { base, seconds, rate, sessions } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const url = new URL('/api/portal/leaderboard', base);
const get = (headers) => new Promise((resolve, reject) => {
  const t = performance.now();
  const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, agent, headers }, (res) => {
    res.resume();
    res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t) : reject(new Error('status ' + res.statusCode))));
  });
  req.on('error', reject);
  req.end();
});
(async () => {
  const pending = [];
  const start = performance.now();
  for (let i = 0; performance.now() - start < seconds * 1000; i++) {
    const due = start + (i * 1000) / rate;
    await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    pending.push(get(i % 2 ? { cookie: sessions[i % sessions.length] } : {}));
  }
  parentPort.postMessage(await Promise.all(pending));
})();
`;

const agents = new Map<string, Agent>();
function http(
  base: string,
  method: string,
  path: string,
  o: { from?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }> {
  const from = o.from ?? '127.0.0.1';
  let agent = agents.get(from);
  if (!agent) agents.set(from, (agent = new Agent({ keepAlive: true, localAddress: from, maxSockets: 32 })));
  const url = new URL(path, base);
  const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        agent,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          'content-length': String(payload === undefined ? 0 : Buffer.byteLength(payload)),
          ...o.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString(), headers: res.headers }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function main(): Promise<void> {
  const hub = await startHubProcess();
  try {
    const base = hub.url;
    const names = Array.from({ length: TEAMS }, (_, i) => `team${i}`);
    const t0 = performance.now();
    const load = await http(base, 'POST', '/api/portal/staff/load', {
      body: {
        teams: names.map((name, i) => ({
          name,
          password: `pw-${i}`,
          servers: [
            {
              hostname: 's1',
              global_ip: `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}`,
              private_ip: '10.0.0.1',
              is_bench_target: true,
            },
          ],
        })),
        benchmarkers: Array.from({ length: BENCHMARKERS }, (_, i) => ({
          name: `bench${i}`,
          ip: `127.0.0.${i + 2}`,
          teams: [],
        })),
      },
    });
    if (load.status !== 200) throw new Error(`load failed: ${load.status} ${load.text}`);
    console.log(
      `loaded ${TEAMS} teams and ${BENCHMARKERS} benchmarkers in ${round((performance.now() - t0) / 1000)} s`,
    );
    for (const name of names) {
      const r = await http(base, 'POST', '/api/portal/staff/jobs', { body: { team: name } });
      if (r.status !== 201) throw new Error(`enqueue failed: ${r.status} ${r.text}`);
    }
    const sessions: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await http(base, 'POST', '/api/portal/login', {
        body: { team: `team${i}`, password: `pw-${i}` },
      });
      sessions.push(String(r.headers['set-cookie']).split(';')[0]!);
    }

    /** Leaderboard reads at LB_RATE/s, timed in a worker thread (its own event loop, not the load's). */
    const leaderboard = async (seconds: number) => {
      const worker = new Worker(SAMPLER, {
        eval: true,
        workerData: { base, seconds, rate: LB_RATE, sessions },
      });
      const latencies = await new Promise<number[]>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      await worker.terminate();
      latencies.sort((a, b) => a - b);
      return {
        requests: latencies.length,
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        max: round(latencies[latencies.length - 1]!),
      };
    };

    /** Benchmarkers loop dequeue → (hold: the benchmark's run time) → report, until stopped. */
    const cyclePhase = async (seconds: number, holdMs: number) => {
      let cycles = 0;
      let empty = 0;
      let stop = false;
      const enqueues = new Set<Promise<void>>();
      const worker = async (ip: string) => {
        while (!stop) {
          const d = await http(base, 'POST', '/internal/job/dequeue/', { from: ip });
          if (d.status === 204) {
            empty++;
            await new Promise((r) => setTimeout(r, 5));
            continue;
          }
          if (d.status !== 200) throw new Error(`dequeue ${d.status} ${d.text}`);
          const job = JSON.parse(d.text) as { id: number; team: { name: string } };
          if (holdMs) await new Promise((r) => setTimeout(r, holdMs));
          const score = Math.floor(Math.random() * 10_000);
          const r = await http(base, 'POST', `/internal/job/${job.id}/report/`, {
            from: ip,
            body: {
              id: job.id,
              status: 'done',
              score,
              is_passed: score % 7 !== 0,
              reason: '',
              stdout: 'ok',
              stderr: '',
            },
          });
          if (r.status !== 200) throw new Error(`report ${r.status} ${r.text}`);
          cycles++;
          // The team enqueues again on its own (contestants do not wait for benchmarkers).
          const e = http(base, 'POST', '/api/portal/staff/jobs', { body: { team: job.team.name } }).then(
            (e) => {
              if (e.status !== 201) throw new Error(`re-enqueue ${e.status} ${e.text}`);
            },
          );
          enqueues.add(e);
          void e.finally(() => enqueues.delete(e));
        }
      };
      const started = performance.now();
      const workers = Array.from({ length: BENCHMARKERS }, (_, i) => worker(`127.0.0.${i + 2}`));
      const board = await leaderboard(seconds);
      stop = true;
      await Promise.all(workers);
      await Promise.all(enqueues);
      const elapsed = (performance.now() - started) / 1000;
      return {
        seconds: round(elapsed),
        cycles,
        cyclesPerSecond: round(cycles / elapsed),
        emptyDequeues: empty,
        leaderboard: board,
      };
    };

    const saturated = await cyclePhase(SECONDS, 0);
    const contestLike = await cyclePhase(SECONDS, 1000);
    const idle = await leaderboard(Math.min(SECONDS, 10));
    const result = {
      teams: TEAMS,
      benchmarkers: BENCHMARKERS,
      leaderboardRate: LB_RATE,
      saturated,
      contestLike: { ...contestLike, note: 'each benchmark takes 1 s' },
      leaderboardIdle: idle,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    for (const a of agents.values()) a.destroy();
    await hub.stop();
  }
}

await main();
