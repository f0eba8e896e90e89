/**
 * Chaos toolkit: real hub processes (`node bin/jobhub.js server`), a private PostgreSQL cluster
 * that may be restarted and have its connections killed without disturbing anyone else, a TCP
 * proxy that can black-hole a connection, simulated producers and workers speaking the native
 * protocol over real HTTP, and the ledger that turns what clients were *told* into the two
 * figures that matter: jobs_lost and completed_twice.
 *
 * Nothing here imports vitest: the chaos runner is a plain program (`npm run chaos`), and the
 * soak test reuses these pieces.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  type WriteStream,
} from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const run = promisify(execFile);

// ---------------------------------------------------------------------------------------------
// Small utilities

export function tempDir(prefix = 'jobhub-chaos-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A TCP port that was free a moment ago (the hub is restarted on the same port after kill -9). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** `npm run build`, serialised with the test suite's builds (flock on the same lock file). */
export function build(): void {
  const lock = join(tmpdir(), 'jobhub-test-build.lock');
  const hasFlock = spawnSync('sh', ['-c', 'command -v flock'], { stdio: 'ignore' }).status === 0;
  const [cmd, args] = hasFlock
    ? ['flock', [lock, 'npm', 'run', 'build', '--silent']]
    : ['npm', ['run', 'build', '--silent']];
  const r = spawnSync(cmd, args as string[], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`npm run build failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- foreign JSON, checked by callers
}

/** JSON over HTTP with a deadline; throws on a network error or timeout (the caller decides). */
export async function http(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  o: { timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? o.headers : { 'content-type': 'application/json', ...o.headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}

/** Every HTTP status the simulated clients received, by status (a scenario may reset it). */
export const statusCounts = new Map<number, number>();

/** Like `http`, but a network error or timeout is `null`. */
export async function tryHttp(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  o: { timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<Reply | null> {
  try {
    const r = await http(base, method, path, body, o);
    statusCounts.set(r.status, (statusCounts.get(r.status) ?? 0) + 1);
    return r;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Hub processes

export interface HubProc {
  proc: ChildProcess;
  pid: number;
  url: string;
  port: number;
  dataDir: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive: boolean;
}

export interface HubOptions {
  dataDir: string;
  /** Fixed port (so a restarted hub is found at the same URL); 0 = any. */
  port?: number;
  database?: string;
  leaseMs?: number;
  extra?: string[];
  /** Hub output (JSON log lines) is appended here. */
  logFile?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

const logStreams = new Map<string, WriteStream>();
function logStream(file: string): WriteStream {
  let s = logStreams.get(file);
  if (!s) logStreams.set(file, (s = createWriteStream(file, { flags: 'a' })));
  return s;
}
export async function closeLogs(): Promise<void> {
  await Promise.all([...logStreams.values()].map((s) => new Promise<void>((r) => s.end(() => r()))));
  logStreams.clear();
}

const children = new Set<ChildProcess>();

/** Kills (SIGKILL) every child this process started that still runs. */
export async function killChildren(): Promise<void> {
  await Promise.all(
    [...children].map(
      (p) =>
        new Promise<void>((r) => {
          if (p.exitCode !== null || p.signalCode !== null) return r();
          p.once('exit', () => r());
          p.kill('SIGKILL');
        }),
    ),
  );
}
process.once('exit', () => {
  for (const p of children) p.kill('SIGKILL');
});

/** Starts `jobhub server` and resolves once it logged its URL. */
export async function startHub(o: HubOptions): Promise<HubProc> {
  const args = [
    join(ROOT, 'bin/jobhub.js'),
    'server',
    '--port',
    String(o.port ?? 0),
    '--data-dir',
    o.dataDir,
    '--log-level',
    'info',
    '--lease-ms',
    String(o.leaseMs ?? 1000),
    ...(o.database ? ['--database', o.database] : []),
    ...(o.extra ?? []),
  ];
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, JOBHUB_LOG_LEVEL: '', ...o.env },
  });
  children.add(proc);
  const log = o.logFile ? logStream(o.logFile) : null;
  const lines: string[] = [];
  const hub: Partial<HubProc> = { proc, pid: proc.pid!, dataDir: o.dataDir, alive: true };
  hub.exited = new Promise((resolve) =>
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      hub.alive = false;
      resolve({ code, signal });
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`hub did not start:\n${lines.slice(-20).join('\n')}`)),
      o.timeoutMs ?? 30_000,
    );
    let found = false;
    for (const stream of [proc.stdout!, proc.stderr!]) {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        log?.write(chunk);
        if (found) return;
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (lines.length < 200) lines.push(line);
          try {
            const entry = JSON.parse(line) as { url?: string };
            if (entry.url) {
              found = true;
              clearTimeout(timer);
              resolve(entry.url);
            }
          } catch {
            // not a JSON log line
          }
        }
      });
    }
    void hub.exited!.then((e) => {
      clearTimeout(timer);
      reject(
        new Error(`hub exited (${e.code ?? e.signal}) before listening:\n${lines.slice(-20).join('\n')}`),
      );
    });
  });
  hub.url = url;
  hub.port = Number(new URL(url).port);
  return hub as HubProc;
}

export async function kill9(hub: HubProc): Promise<void> {
  hub.proc.kill('SIGKILL');
  await hub.exited;
}

export async function stopHub(hub: HubProc, timeoutMs = 15_000): Promise<void> {
  if (!hub.alive) return;
  hub.proc.kill('SIGTERM');
  const t = setTimeout(() => hub.proc.kill('SIGKILL'), timeoutMs);
  await hub.exited;
  clearTimeout(t);
}

/** Resident memory (bytes) and open file descriptors of a process, from /proc. */
export function processStats(pid: number): { rss: number; fds: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    return { rss, fds };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// A private PostgreSQL cluster: restarting it or killing its connections disturbs nobody else.

export interface PrivatePostgres {
  url: string;
  dir: string;
  port: number;
  /** `pg_ctl restart` with a mode: fast (clean) or immediate (crash, WAL recovery at start). */
  restart(mode: 'fast' | 'immediate'): Promise<void>;
  /** Terminates every other backend of the database (the hubs' pooled and LISTEN connections). */
  terminateBackends(): Promise<number>;
  stop(): Promise<void>;
}

const PG_BIN = (() => {
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort();
    const v = versions[versions.length - 1];
    return v ? `/usr/lib/postgresql/${v}/bin` : null;
  } catch {
    return null;
  }
})();

/** Why a private cluster cannot be made here, or null when it can. */
export function privatePostgresProblem(): string | null {
  if (!PG_BIN || !existsSync(join(PG_BIN, 'initdb'))) return 'PostgreSQL server binaries not found';
  if (process.getuid?.() !== 0) return 'needs root (initdb runs as the postgres user through runuser)';
  if (spawnSync('id', ['postgres'], { stdio: 'ignore' }).status !== 0) return 'no postgres user';
  return null;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const problem = privatePostgresProblem();
  if (problem) throw new Error(`cannot start a private PostgreSQL: ${problem}`);
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const dir = tempDir('jobhub-chaos-pg-');
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const port = await freePort();
  const as = (cmd: string, args: string[]) =>
    run('runuser', ['-u', 'postgres', '--', join(PG_BIN!, cmd), ...args], { cwd: dir });
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on`;
  const ctl = (args: string[]) =>
    as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', opts, '-w', ...args]);
  await ctl(['start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const psql = async (sql: string) =>
    (
      await run(join(PG_BIN!, 'psql'), [url, '-qAtc', sql], {
        env: { ...process.env, PGCONNECT_TIMEOUT: '5' },
      })
    ).stdout;
  return {
    url,
    dir,
    port,
    async restart(mode) {
      await ctl(['restart', '-m', mode]);
    },
    async terminateBackends() {
      const out = await psql(
        `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
      );
      return Number(out.trim());
    },
    async stop() {
      await ctl(['stop', '-m', 'immediate']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A database URL with a fresh schema name. */
export function withSchema(url: string, prefix = 'chaos'): string {
  const u = new URL(url);
  u.searchParams.set('schema', `${prefix}_${randomBytes(5).toString('hex')}`);
  return u.toString();
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy that can cut the network: in black-hole mode nothing passes in either direction
// (bytes wait in kernel buffers, as with a partition that TCP rides out) and new connections
// are accepted but go nowhere until it heals.

export class CutProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<{ a: Socket; b: Socket | null }>();
  private held: (() => void)[] = [];
  blackhole = false;
  port = 0;

  constructor(private target: { host: string; port: number }) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  retarget(target: { host: string; port: number }): void {
    this.target = target;
  }

  async start(): Promise<void> {
    this.server = createServer((a) => {
      const pair: { a: Socket; b: Socket | null } = { a, b: null };
      this.pairs.add(pair);
      a.on('error', () => undefined);
      a.on('close', () => {
        pair.b?.destroy();
        this.pairs.delete(pair);
      });
      a.pause();
      const open = () => {
        if (a.destroyed) return;
        const b = connect(this.target.port, this.target.host);
        pair.b = b;
        b.on('error', () => a.destroy());
        b.on('close', () => a.destroy());
        a.on('data', (d: Buffer) => b.write(d));
        b.on('data', (d: Buffer) => a.write(d));
        if (this.blackhole) b.pause();
        else a.resume();
      };
      if (this.blackhole) this.held.push(open);
      else open();
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  cut(): void {
    this.blackhole = true;
    for (const p of this.pairs) {
      p.a.pause();
      p.b?.pause();
    }
  }

  heal(): void {
    this.blackhole = false;
    for (const p of this.pairs) {
      p.a.resume();
      p.b?.resume();
    }
    for (const open of this.held.splice(0)) open();
  }

  async close(): Promise<void> {
    for (const p of this.pairs) {
      p.a.destroy();
      p.b?.destroy();
    }
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

// ---------------------------------------------------------------------------------------------
// The ledger: what clients were told.

export interface Completion {
  token: string;
  attempt: number;
  output: string;
  at: number;
  worker: string;
}

export class Ledger {
  /** Job id → when its creation was acknowledged (201, or 200 for a repeated idempotency key). */
  readonly created = new Map<string, number>();
  /** Job id → every acknowledged completion (a repeat with the same token is one completion). */
  readonly completions = new Map<string, Completion[]>();
  /** Completions refused as stale (409): fencing at work. */
  stale = 0;
  /** Requests that got no answer or a 5xx (the hub was down or busy). */
  refused = 0;
  /** Leases granted (job id → count). */
  readonly leases = new Map<string, number>();

  acknowledgeCreate(id: string): void {
    if (!this.created.has(id)) this.created.set(id, Date.now());
  }

  acknowledgeComplete(id: string, c: Completion): void {
    const list = this.completions.get(id) ?? [];
    if (!list.some((x) => x.token === c.token)) list.push(c);
    this.completions.set(id, list);
  }

  leased(id: string): void {
    this.leases.set(id, (this.leases.get(id) ?? 0) + 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Simulated clients over the native API.

export interface Targets {
  /** Hub URLs to try, in order of preference for request number `n` (failover on errors). */
  (n: number): string[];
}

export const fixed =
  (...urls: string[]): Targets =>
  () =>
    urls;

/** Round-robin over a live list of URLs (the list may change while the load runs). */
export const roundRobin =
  (urls: () => string[]): Targets =>
  (n) => {
    const all = urls();
    return all.map((_, i) => all[(n + i) % all.length]!);
  };

/** Sends a request to the first target that answers with a non-5xx status, trying each once. */
async function firstAnswer(
  targets: string[],
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<Reply | null> {
  for (const base of targets) {
    const r = await tryHttp(base, method, path, body, { timeoutMs });
    if (r && r.status < 500) return r;
  }
  return null;
}

export interface LoadHandle {
  stop(): Promise<void>;
}

/**
 * Producers: create jobs (single and batch, each with an idempotency key) at about `rate` jobs/s
 * in total; a request without an answer is retried with the same key until acknowledged, so a
 * crash mid-request neither loses nor duplicates it.
 */
export function produce(
  targets: Targets,
  ledger: Ledger,
  o: {
    runtime: string;
    rate: number;
    producers?: number;
    maxAttempts?: number;
    batch?: number;
    tag?: string;
  },
): LoadHandle {
  let running = true;
  const producers = o.producers ?? 3;
  const run = randomBytes(4).toString('hex');
  const perProducerInterval = (1000 * producers) / o.rate;
  const job = (key: string) => ({
    runtime: o.runtime,
    maxAttempts: o.maxAttempts ?? 100,
    idempotencyKey: key,
    input: { text: key },
  });
  const loop = async (p: number) => {
    let n = 0;
    let next = Date.now();
    while (running) {
      const batch = o.batch && n % 3 === 0 ? o.batch : 0;
      const keys = Array.from({ length: batch || 1 }, (_, i) => `${o.tag ?? 'job'}-${run}-${p}-${n}-${i}`);
      n++;
      // Retried until acknowledged (or the load stops): same keys, so at most one job per key.
      for (let attempt = 0; running || attempt === 0; attempt++) {
        const r = await firstAnswer(
          targets(n + p),
          'POST',
          batch ? '/api/v1/jobs/batch' : '/api/v1/jobs',
          batch ? { jobs: keys.map(job) } : job(keys[0]!),
          5_000,
        );
        if (r && (r.status === 201 || r.status === 200)) {
          if (batch) for (const j of r.body.jobs as { id: string }[]) ledger.acknowledgeCreate(j.id);
          else ledger.acknowledgeCreate(r.body.id as string);
          break;
        }
        ledger.refused++;
        await sleep(50 + Math.random() * 100);
        if (!running && attempt > 40) break;
      }
      next += perProducerInterval * (batch || 1);
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      else if (wait < -2000) next = Date.now();
    }
  };
  const all = Promise.all(Array.from({ length: producers }, (_, p) => loop(p)));
  return {
    async stop() {
      running = false;
      await all;
    },
  };
}

export interface WorkerOptions {
  runtime: string;
  /** Jobs per lease request. */
  limit?: number;
  /** How long each job "runs" (uniform in [min, max] ms); heartbeats flow meanwhile. */
  workMs?: [number, number];
  /** The hub's lease length (heartbeat every third). */
  leaseMs?: number;
  waitMs?: number;
  /** Request deadline: a black-holed request is given up after this long. */
  timeoutMs?: number;
  name?: string;
  /** Called with every event (the worker-process wrapper prints them). */
  onEvent?: (e: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'registered'; worker: string; at: number }
  | { type: 'leased'; worker: string; jobId: string; token: string; attempt: number; at: number }
  | {
      type: 'completed';
      worker: string;
      jobId: string;
      token: string;
      attempt: number;
      output: string;
      at: number;
    }
  | { type: 'stale'; worker: string; jobId: string; at: number };

/**
 * One simulated worker: registers (again, on any hub, when its id is unknown), leases, runs each
 * job for a while with heartbeats, and completes it with an output naming the attempt. A
 * completion without an answer is retried with the same token (as a real worker does); a 409
 * means the lease was lost and the result is dropped.
 */
export function simWorker(
  targets: Targets,
  ledger: Ledger,
  o: WorkerOptions,
): LoadHandle & { id(): string | null } {
  let running = true;
  let id: string | null = null;
  const leaseMs = o.leaseMs ?? 1000;
  const timeoutMs = o.timeoutMs ?? Math.max(2_000, leaseMs * 2);
  const [minWork, maxWork] = o.workMs ?? [0, 20];
  const emit = (e: WorkerEvent) => o.onEvent?.(e);
  let n = 0;

  const register = async () => {
    while (running) {
      const r = await firstAnswer(
        targets(n++),
        'POST',
        '/api/v1/workers',
        {
          runtimes: [o.runtime],
          name: o.name ?? null,
        },
        timeoutMs,
      ).catch(() => null);
      if (r?.status === 201) {
        id = r.body.id as string;
        emit({ type: 'registered', worker: id, at: Date.now() });
        return;
      }
      await sleep(100);
    }
  };

  const runJob = async (job: { id: string; token: string; attempt: number }) => {
    const worker = id!;
    ledger.leased(job.id);
    emit({ type: 'leased', worker, jobId: job.id, token: job.token, attempt: job.attempt, at: Date.now() });
    const until = Date.now() + minWork + Math.random() * (maxWork - minWork);
    let lost = false;
    while (Date.now() < until && !lost) {
      await sleep(Math.min(leaseMs / 3, until - Date.now()));
      if (Date.now() >= until) break;
      const hb = await firstAnswer(
        targets(n++),
        'POST',
        `/api/v1/jobs/${job.id}/heartbeat`,
        { token: job.token },
        timeoutMs,
      );
      if (hb?.status === 409 || hb?.body?.cancel === true) lost = true;
    }
    if (lost) {
      ledger.stale++;
      emit({ type: 'stale', worker, jobId: job.id, at: Date.now() });
      return;
    }
    const output = `out:${job.id}:${job.attempt}:${worker}`;
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await firstAnswer(
        targets(n++),
        'POST',
        `/api/v1/jobs/${job.id}/complete`,
        { token: job.token, output: { text: output } },
        timeoutMs,
      );
      if (r?.status === 200) {
        const c = { token: job.token, attempt: job.attempt, output, at: Date.now(), worker };
        ledger.acknowledgeComplete(job.id, c);
        emit({ type: 'completed', jobId: job.id, ...c });
        return;
      }
      if (r && r.status >= 400 && r.status < 500) {
        ledger.stale++;
        emit({ type: 'stale', worker, jobId: job.id, at: Date.now() });
        return;
      }
      ledger.refused++;
      await sleep(100 + attempt * 50);
    }
  };

  const loop = async () => {
    await register();
    while (running) {
      const r = await firstAnswer(
        targets(n++),
        'POST',
        `/api/v1/workers/${id}/lease`,
        { limit: o.limit ?? 4, waitMs: o.waitMs ?? 500 },
        timeoutMs + (o.waitMs ?? 500),
      );
      if (!r) {
        ledger.refused++;
        await sleep(50 + Math.random() * 100);
        continue;
      }
      if (r.status === 404) {
        await register(); // a hub that lost the worker (never with a durable store) or a new id space
        continue;
      }
      if (r.status !== 200) {
        await sleep(100);
        continue;
      }
      const jobs = r.body.jobs as { id: string; token: string; attempt: number }[];
      if (!running) {
        // Stopping: hand the jobs back rather than sit on them.
        await Promise.all(
          jobs.map((j) =>
            firstAnswer(
              targets(n++),
              'POST',
              `/api/v1/jobs/${j.id}/fail`,
              { token: j.token, error: 'stopping' },
              timeoutMs,
            ),
          ),
        );
        break;
      }
      await Promise.all(jobs.map(runJob));
    }
  };
  const done = loop();
  return {
    id: () => id,
    async stop() {
      running = false;
      await done;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Probes and verification

/**
 * One job end to end through `base`: created, leased by a probe worker and completed, each step
 * acknowledged. Resolves true when it worked.
 */
export async function probe(base: string, timeoutMs = 3000): Promise<boolean> {
  const runtime = `probe${randomBytes(4).toString('hex')}`;
  const o = { timeoutMs };
  try {
    const w = await http(base, 'POST', '/api/v1/workers', { runtimes: [runtime] }, o);
    if (w.status !== 201) return false;
    const j = await http(base, 'POST', '/api/v1/jobs', { runtime, input: { text: 'probe' } }, o);
    if (j.status !== 201) return false;
    const l = await http(base, 'POST', `/api/v1/workers/${w.body.id}/lease`, { limit: 1, waitMs: 1000 }, o);
    const leased = (l.body?.jobs ?? []) as { id: string; token: string }[];
    if (l.status !== 200 || leased.length !== 1) return false;
    const c = await http(
      base,
      'POST',
      `/api/v1/jobs/${leased[0]!.id}/complete`,
      { token: leased[0]!.token },
      o,
    );
    return c.status === 200;
  } catch {
    return false;
  }
}

/** Seconds from `since` until `probe` succeeds on every base (polled every 100 ms). */
export async function recoveredAfter(
  bases: () => string[],
  since: number,
  timeoutMs = 60_000,
): Promise<number> {
  const pending = new Set(bases());
  while (pending.size) {
    for (const b of [...pending]) if (await probe(b)) pending.delete(b);
    if (!pending.size) break;
    if (Date.now() - since > timeoutMs) return Infinity;
    await sleep(100);
  }
  return (Date.now() - since) / 1000;
}

export interface JobView {
  id: string;
  state: string;
  attempts: number;
  error: string | null;
  output: { size: number; base64?: string; blobId?: string } | null;
}

/** Every job in the hub (newest first, paged). */
export async function listJobs(base: string, query = ''): Promise<Map<string, JobView>> {
  const jobs = new Map<string, JobView>();
  let before: string | null = null;
  for (;;) {
    const r = await http(
      base,
      'GET',
      `/api/v1/jobs?limit=1000${query}${before ? `&before=${before}` : ''}`,
      undefined,
      {
        timeoutMs: 30_000,
      },
    );
    if (r.status !== 200) throw new Error(`listing jobs: ${r.status} ${JSON.stringify(r.body)}`);
    for (const j of r.body.jobs as JobView[]) jobs.set(j.id, j);
    before = r.body.next as string | null;
    if (!before) return jobs;
  }
}

/** Waits until no job of `runtime` is queued or running (or the timeout passes). */
export async function drained(bases: () => string[], runtime: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const base of bases()) {
      const r = await tryHttp(base, 'GET', `/api/v1/jobs?state=queued,running&runtime=${runtime}&limit=1`);
      if (r?.status === 200) {
        if ((r.body.jobs as unknown[]).length === 0) return true;
        break;
      }
    }
    await sleep(200);
  }
  return false;
}

export interface Figures {
  jobs_lost: number;
  completed_twice: number;
  created: number;
  completed: number;
  details: string[];
}

const outputText = (o: JobView['output']) =>
  o?.base64 !== undefined ? Buffer.from(o.base64, 'base64').toString() : null;

/**
 * Compares the ledger with the hub. A job is lost when its creation was acknowledged and it is
 * missing or did not end `succeeded`, or when an acknowledged completion is not what the hub
 * holds. A job is completed twice when two different lease tokens were both told "completed",
 * or the stored output is not the acknowledged one.
 */
export async function verify(base: string, runtime: string, ledger: Ledger): Promise<Figures> {
  const jobs = await listJobs(base, `&runtime=${runtime}`);
  const details: string[] = [];
  let lost = 0;
  let twice = 0;
  for (const id of ledger.created.keys()) {
    const j = jobs.get(id);
    if (!j) {
      lost++;
      if (details.length < 20) details.push(`job ${id}: acknowledged but missing`);
    } else if (j.state !== 'succeeded') {
      lost++;
      if (details.length < 20) details.push(`job ${id}: ended ${j.state} (${j.error ?? ''})`);
    }
  }
  for (const [id, list] of ledger.completions) {
    const j = jobs.get(id);
    if (list.length > 1) {
      twice++;
      if (details.length < 20) details.push(`job ${id}: completions acknowledged for ${list.length} leases`);
    }
    if (!j || j.state !== 'succeeded') {
      if (!ledger.created.has(id)) lost++;
      continue;
    }
    const stored = outputText(j.output);
    if (list.length === 1 && stored !== list[0]!.output) {
      twice++;
      if (details.length < 20)
        details.push(`job ${id}: output ${stored} is not the acknowledged ${list[0]!.output}`);
    }
  }
  return {
    jobs_lost: lost,
    completed_twice: twice,
    created: ledger.created.size,
    completed: ledger.completions.size,
    details,
  };
}

// ---------------------------------------------------------------------------------------------
// Mounts (disk-full scenarios)

/** Mounts a tmpfs of `size` (e.g. "8m") on `dir`; returns an error text instead of throwing. */
export async function mountTmpfs(dir: string, size: string): Promise<string | null> {
  mkdirSync(dir, { recursive: true });
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
    return null;
  } catch (err) {
    return (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
  }
}

export async function resizeTmpfs(dir: string, size: string): Promise<void> {
  await run('mount', ['-o', `remount,size=${size}`, dir]);
}

export async function unmount(dir: string): Promise<void> {
  await run('umount', ['-l', dir]).catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------
// Scenarios

export type StoreKind = 'sqlite' | 'postgres';

export interface ScenarioContext {
  quick: boolean;
  /** Logs of this run (hub output per scenario). */
  runDir: string;
  /** The private PostgreSQL cluster, when one could be started. */
  pg: PrivatePostgres | null;
  pgProblem: string | null;
  log(message: string): void;
}

export interface ScenarioResult {
  scenario: string;
  store: StoreKind;
  jobs_lost: number;
  completed_twice: number;
  /** Seconds from the fault (or its end, for faults that last) until service is whole again. */
  recovery_s: number;
  created: number;
  completed: number;
  /** Set when the scenario could not run here; the figures are then meaningless. */
  skipped?: string;
  /** Anything else the scenario checked (clear errors, fencing refusals…). */
  checks: { name: string; ok: boolean; detail?: string }[];
  extra: Record<string, number | string>;
  details: string[];
  seconds: number;
}

export interface Scenario {
  name: string;
  store: StoreKind;
  /** One line for the report. */
  what: string;
  run(ctx: ScenarioContext): Promise<Omit<ScenarioResult, 'scenario' | 'store' | 'seconds'>>;
}

export function skipped(reason: string): Omit<ScenarioResult, 'scenario' | 'store' | 'seconds'> {
  return {
    jobs_lost: 0,
    completed_twice: 0,
    recovery_s: 0,
    created: 0,
    completed: 0,
    skipped: reason,
    checks: [],
    extra: {},
    details: [],
  };
}

/** A scenario passes when nothing was lost or completed twice and every check held. */
export function passed(r: ScenarioResult): boolean {
  return (
    r.skipped !== undefined ||
    (r.jobs_lost === 0 &&
      r.completed_twice === 0 &&
      Number.isFinite(r.recovery_s) &&
      r.checks.every((c) => c.ok))
  );
}

/** The end of every load scenario: let the queue drain, stop the workers, compare with the hub. */
export async function settle(
  bases: () => string[],
  runtime: string,
  ledger: Ledger,
  workers: LoadHandle[],
  drainMs = 60_000,
): Promise<Figures & { drained: boolean }> {
  const ok = await drained(bases, runtime, drainMs);
  await Promise.all(workers.map((w) => w.stop()));
  let figures: Figures | null = null;
  for (let i = 0; !figures; i++) {
    const all = bases();
    try {
      figures = await verify(all[i % all.length]!, runtime, ledger);
    } catch (err) {
      if (i > 20) throw err;
      await sleep(250);
    }
  }
  if (!ok) figures.details.unshift(`the queue did not drain within ${drainMs / 1000} s`);
  return { ...figures, drained: ok };
}
