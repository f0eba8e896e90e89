/**
 * `jobhub up --demo` (`npm run demo`): a running hub filled with a sample contest and sample
 * functions, so that every page of the web UI is alive within a minute. Everything goes through
 * the public APIs (the staff API loads the contest, the native API creates functions and jobs);
 * two benchmark supervisors run in-process, bound to 127.0.0.2 (team alpha's own benchmarker)
 * and 127.0.0.3 (shared), running demo/fake-bench.mjs. For the organisers' pages: a pinned and a
 * plain announcement, clarifications (one answered to everyone with the question rewritten, one
 * answered privately, one open), and a third benchmarker (127.0.0.4) that stops polling after
 * half a minute, so the health page (offline after 20 s here) shows it going offline.
 */
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Supervisor, SUPERVISOR_DEFAULTS } from '../agent/bench/supervisor.js';

/** The fake benchmark program (the same path from src/ and dist/). */
export const FAKE_BENCH = fileURLToPath(new URL('../../demo/fake-bench.mjs', import.meta.url));

export const DEMO_TEAMS = ['alpha', 'bravo', 'charlie', 'delta'].map((name, i) => ({
  name,
  password: `${name}-demo`,
  members: [`${name}-1`, `${name}-2`],
  servers: [
    { hostname: 's1', global_ip: `192.0.2.${i * 10 + 1}`, private_ip: `10.0.${i}.1`, is_bench_target: true },
    { hostname: 's2', global_ip: `192.0.2.${i * 10 + 2}`, private_ip: `10.0.${i}.2`, is_bench_target: false },
  ],
}));

/** A fresh data directory for a demo (nothing of ./data is touched). */
export function demoDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'jobhub-demo-'));
}

/** Whether this machine can send from `ip` (Linux routes all of 127/8 to loopback; macOS does not). */
export function canBind(ip: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(0, ip, () => s.close(() => resolve(true)));
  });
}

export interface BenchOptions {
  /** Portal (hub) base URL. */
  portal: string;
  sourceIp: string | null;
  durationMs?: number;
  failRate?: number;
  log?: (line: string) => void;
}

/** A benchmark supervisor running the fake benchmark, polling every 0.3 s. */
export function fakeBenchSupervisor(o: BenchOptions): { supervisor: Supervisor; done: Promise<void> } {
  const supervisor = new Supervisor({
    ...SUPERVISOR_DEFAULTS,
    portal: o.portal,
    token: null,
    intervalMs: 300,
    timeoutMs: 120_000,
    command: [
      process.execPath,
      FAKE_BENCH,
      `--duration=${o.durationMs ?? 6000}`,
      `--fail-rate=${o.failRate ?? 0.1}`,
      '--target={target}',
    ],
    sourceIp: o.sourceIp,
    reportRetryDelayMs: 500,
    killGraceMs: 1000,
    progressIntervalMs: 250,
    log: o.log ?? (() => undefined),
  });
  return { supervisor, done: supervisor.run() };
}

const SAMPLES = [
  { name: 'shout', runtime: 'dlabLua54', code: 'io.write(string.upper(io.read("a")))' },
  {
    name: 'word-count',
    runtime: 'dlabLua54',
    code: [
      'return function(input)',
      '  local n, longest = 0, ""',
      '  for w in input:gmatch("%S+") do',
      '    n = n + 1',
      '    if #w > #longest then longest = w end',
      '  end',
      '  jobhub.log("counted " .. n .. " words")',
      '  return string.format("%d words, longest: %s\\n", n, longest)',
      'end',
    ].join('\n'),
  },
  {
    name: 'slow-steps',
    runtime: 'default',
    code: '#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8; do echo "step $i of 8" >&2; sleep 1; done\ntr a-z A-Z\n',
  },
  {
    name: 'always-fails',
    runtime: 'dlabLua54',
    code: 'error("cannot parse the input: " .. io.read("a"))',
    maxAttempts: 2,
  },
];

const WORDS = [
  'hello world',
  'the quick brown fox jumps over the lazy dog',
  'jobhub demo',
  'lorem ipsum dolor sit amet',
];

/** The spare benchmarker polls this long, and counts as offline this long after. */
const SPARE_STOPS_AFTER_MS = 30_000;
const SPARE_OFFLINE_AFTER_S = 20;

type Call = (method: string, path: string, body?: unknown, raw?: boolean, token?: string) => Promise<unknown>;

/** Announcements and clarifications, through the staff and contestant APIs. */
async function deskSamples(call: Call): Promise<void> {
  await call('POST', '/api/portal/staff/announcements', {
    title: 'Welcome to the jobhub demo contest',
    body: 'Benchmarks run every few seconds. Ask the organisers from your team page (Clarifications).',
    pinned: true,
  });
  await call('POST', '/api/portal/staff/announcements', {
    title: 'Lunch',
    body: 'Lunch is served at noon on the third floor.',
  });
  const session = async (team: string) =>
    (
      (await call('POST', '/api/portal/login', { team, password: `${team}-demo` })) as {
        session_token: string;
      }
    ).session_token;
  const ask = async (team: string, question: string) =>
    (
      (await call('POST', '/api/portal/clarifications', { question }, false, await session(team))) as {
        id: number;
      }
    ).id;
  const shared = await ask('bravo', 'can we cache the /api/items answer of our s1 for a minute?');
  await call('POST', `/api/portal/staff/clarifications/${shared}/answer`, {
    answer: 'Yes, as long as every answer stays consistent with the data.',
    disclosed: true,
    question: 'May we cache API answers?',
  });
  const own = await ask('alpha', 'Our s2 does not boot. Can you look at it?');
  await call('POST', `/api/portal/staff/clarifications/${own}/answer`, {
    answer: 'We restarted it; it is up again.',
  });
  await ask('charlie', 'Is IPv6 required for the bench target?');
}

export interface DemoOptions {
  /** The hub's base URL (reachable on loopback). */
  url: string;
  /** An admin token when the hub runs with auth. */
  token?: string;
  benchDurationMs?: number;
  /** Keep enqueueing benchmarks and jobs now and then (default true). */
  activity?: boolean;
  /** When the spare benchmarker stops polling, and the offline setting (tests shorten them). */
  spareStopsAfterMs?: number;
  spareOfflineAfterS?: number;
  log?: (line: string) => void;
}

export interface Demo {
  teams: { name: string; password: string }[];
  /** Lines for people: where to go and how to log in. */
  describe(): string[];
  stop(): Promise<void>;
}

export async function startDemo(o: DemoOptions): Promise<Demo> {
  const log = o.log ?? (() => undefined);
  const call: Call = async (method, path, body, raw = false, token = o.token) => {
    const res = await fetch(o.url + path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        'content-type': raw ? 'application/octet-stream' : 'application/json',
      },
      body: body === undefined ? undefined : raw ? (body as string) : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  };

  // Two benchmarkers told apart by source address; one shared one where 127.0.0.x cannot be used.
  const split = (await canBind('127.0.0.2')) && (await canBind('127.0.0.3'));
  const benchmarkers = split
    ? [
        { name: 'bench-alpha', ip: '127.0.0.2', teams: ['alpha'] },
        { name: 'bench-shared', ip: '127.0.0.3', teams: [] },
      ]
    : [{ name: 'bench-shared', ip: '127.0.0.1', teams: [] }];
  // A benchmarker that polls for a while and then goes silent (the health page shows it offline).
  const spare =
    split && (await canBind('127.0.0.4')) ? { name: 'bench-spare', ip: '127.0.0.4', teams: [] } : null;
  const now = Date.now();
  await call('POST', '/api/portal/staff/load', {
    contest: {
      starts_at: new Date(now - 45 * 60_000).toISOString(),
      freezes_at: new Date(now + 75 * 60_000).toISOString(),
      ends_at: new Date(now + 135 * 60_000).toISOString(),
    },
    teams: DEMO_TEAMS,
    benchmarkers: spare ? [...benchmarkers, spare] : benchmarkers,
  });
  await call('PUT', '/api/portal/staff/settings', {
    offline_after_s: o.spareOfflineAfterS ?? SPARE_OFFLINE_AFTER_S,
  });
  const portal = o.url.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://127.0.0.1:');
  const sups = benchmarkers.map((b) =>
    fakeBenchSupervisor({
      portal,
      sourceIp: b.ip === '127.0.0.1' ? null : b.ip,
      durationMs: o.benchDurationMs,
      log: (line) => log(`${b.name}: ${line}`),
    }),
  );
  let spareTimer: NodeJS.Timeout | null = null;
  if (spare) {
    const s = fakeBenchSupervisor({
      portal,
      sourceIp: spare.ip,
      durationMs: o.benchDurationMs,
      log: (line) => log(`${spare.name}: ${line}`),
    });
    sups.push(s);
    spareTimer = setTimeout(() => {
      log(`${spare.name}: stops polling now (the demo's benchmarker going offline)`);
      s.supervisor.stop();
    }, o.spareStopsAfterMs ?? SPARE_STOPS_AFTER_MS);
    spareTimer.unref();
  }
  await deskSamples(call);
  const enqueue = (team: string) => call('POST', '/api/portal/staff/jobs', { team }).catch(() => undefined); // 409: busy already
  for (const t of DEMO_TEAMS) await enqueue(t.name);

  // Sample functions and a few jobs of each kind, including one nobody can run (see "explain").
  const fns = new Map<string, string>();
  for (const s of SAMPLES) {
    const blob = (await call('POST', '/api/v1/blobs', s.code, true)) as { id: string };
    const fn = (await call('POST', '/api/v1/functions', {
      name: s.name,
      runtime: s.runtime,
      codeBlobId: blob.id,
      ...(s.maxAttempts ? { maxAttempts: s.maxAttempts } : {}),
    })) as { id: string };
    fns.set(s.name, fn.id);
  }
  const submit = (name: string, text: string) =>
    call('POST', '/api/v1/jobs', { function: fns.get(name), input: { text } }).catch((err: Error) =>
      log(`demo job: ${err.message}`),
    );
  for (const w of WORDS.slice(0, 3)) await submit('shout', w);
  for (const w of WORDS.slice(1, 3)) await submit('word-count', w);
  await submit('slow-steps', 'slow and steady');
  await submit('always-fails', '{not json');
  await call('POST', '/api/v1/jobs', { runtime: 'python3', input: { text: 'print(1)' } }).catch(
    () => undefined,
  );

  // Activity: the other teams benchmark now and then, and function jobs keep arriving.
  let round = 0;
  const timer =
    o.activity === false
      ? null
      : setInterval(() => {
          round++;
          const others = DEMO_TEAMS.slice(1);
          void enqueue(others[round % others.length]!.name);
          void submit(round % 3 === 0 ? 'slow-steps' : 'shout', WORDS[round % WORDS.length]!);
        }, 8_000);
  timer?.unref();

  return {
    teams: DEMO_TEAMS.map((t) => ({ name: t.name, password: t.password })),
    describe: () => [
      `Web UI:       ${o.url}/ui/`,
      `Team logins:  ${DEMO_TEAMS.map((t) => `${t.name} / ${t.password}`).join(', ')}`,
      `Staff pages:  ${o.token ? `admin token ${o.token} (Settings in the UI)` : 'no token needed on this loopback hub'}`,
      `Benchmarkers: ${(spare ? [...benchmarkers, spare] : benchmarkers).map((b) => `${b.name} (${b.ip}${b.teams.length ? `, team ${b.teams.join(', ')}` : ', shared'})`).join('; ')}`,
    ],
    async stop() {
      if (timer) clearInterval(timer);
      if (spareTimer) clearTimeout(spareTimer);
      for (const s of sups) s.supervisor.abort();
      await Promise.all(sups.map((s) => s.done));
    },
  };
}
