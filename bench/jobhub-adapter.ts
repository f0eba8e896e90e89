/**
 * jobhub as a queue under test: a hub in its own process (`node bin/jobhub.js server`, the
 * compiled build) on SQLite or PostgreSQL, driven over HTTP/1.1 keep-alive exactly like remote
 * clients and workers would. Workers are either the real agent (`jobhub worker`, a process of its
 * own, when the build has it) or simulated in this process with the native worker protocol:
 * register, lease up to the free prefetch with a long-poll, run the handler with at most N jobs at
 * once, report each leased batch in one `POST /api/v1/complete`. A job counts as done only once
 * the hub has acknowledged its completion (acknowledged means committed).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { HubClient } from '../src/agent/client.js';
import type { Durability } from '../src/config/config.js';
import { startHubProcess, type HubProcess } from './lib.js';
import {
  PG_URL,
  postgresProcesses,
  sleep,
  uniqueSuffix,
  type JobHandler,
  type QueueUnderTest,
  type ServerProcess,
  type WorkerMode,
} from './peers/peer.js';

const ROOT = new URL('..', import.meta.url).pathname;

/**
 * Where the hub and the agent are started from: a private copy of the build made by run.ts
 * (BENCH_HUB_ROOT), so that a rebuild of the shared dist/ during a long run cannot pull files out
 * from under a starting hub; the work tree itself otherwise.
 */
const hubRoot = () => process.env.BENCH_HUB_ROOT ?? ROOT;

/** Copies bin/ and dist/ to a temporary directory that resolves packages from this tree. */
export function snapshotBuild(): { root: string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'jobhub-bench-build-'));
  cpSync(join(ROOT, 'dist'), join(root, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'bin'), join(root, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  return { root: root + '/', remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** Like lib.ts's startHubProcess, from hubRoot(): `jobhub server` on a free port, a fresh data directory. */
async function startHub(extraArgs: string[], env: NodeJS.ProcessEnv): Promise<HubProcess> {
  if (hubRoot() === ROOT) return startHubProcess(extraArgs, env);
  const dataDir = mkdtempSync(join(tmpdir(), 'jobhub-bench-'));
  const child = spawn(
    process.execPath,
    [
      // Node flags for the hub, e.g. HUB_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
      ...(process.env.HUB_NODE_ARGS ? process.env.HUB_NODE_ARGS.split(' ') : []),
      join(hubRoot(), 'bin/jobhub.js'),
      'server',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'info',
      ...extraArgs,
      ...(process.env.HUB_ARGS?.split(' ').filter(Boolean) ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const m = /"url":"([^"]+)"/.exec(buf);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`hub exited with ${code}`)));
  });
  child.stdout!.resume();
  return {
    url,
    pid: child.pid!,
    child,
    dataDir,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
const INLINE_BYTES = 64 * 1024; // the hub's default inline limit for inputs and outputs

export interface JobhubOptions {
  store: 'sqlite' | 'pg';
  /** Simulated workers (processes) for throughput; each leases up to `prefetch` jobs ahead. */
  workers?: number;
  prefetch?: number;
  /** Use the real agent (`jobhub worker`) for the throughput scenario when the build has it. */
  agent?: boolean;
  /** The hub's `--durability` (default full). */
  durability?: Durability;
  /** The hub's `--max-wait-ms` (default the hub's, 30 s). */
  maxWaitMs?: number;
  /**
   * The hub's cap on open connections (`JOBHUB_MAX_CONNECTIONS`; by default half the open-file
   * limit, 9,968 with this machine's 20,000: fewer than 10,000 parked workers need).
   */
  maxConnections?: number;
}

/** Hubs and agents alive now: killed if the benchmark exits early (Ctrl-C, a failed scenario). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

/** Whether `jobhub worker` exists in the current build. */
export function agentAvailable(): boolean {
  const r = spawnSync(process.execPath, [`${hubRoot()}bin/jobhub.js`, 'worker', '--help'], {
    encoding: 'utf8',
  });
  return r.status === 0 && /--concurrency/.test(r.stdout);
}

/** The no-op job the real agent runs: a Lua function that returns its input. */
export const AGENT_RUNTIME = 'dlabLua54';
export const AGENT_CODE = 'return function(x) return x end';

type Json = Record<string, any>;

/**
 * The bench's side of the native API: the client the agent and the CLI ship with (HubClient),
 * so the numbers are what a user's worker gets, not those of a client written for the bench.
 */
class Http {
  private readonly client: HubClient;
  constructor(url: string, connections: number) {
    this.client = new HubClient({ url, connections });
  }
  json<T = Json>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    headers: Record<string, string> = {},
  ): Promise<T> {
    return this.client.json<T>(method, path, { json: body, signal, headers });
  }
  bytes(path: string): Promise<Buffer> {
    return this.client.bytes(path);
  }
  async upload(data: Buffer): Promise<string> {
    const r = await this.client.json<{ id: string }>('POST', '/api/v1/blobs', {
      body: data,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
    });
    return r.id;
  }
  close() {
    return this.client.close();
  }
}

/** At most `n` handlers at once across all simulated workers. */
class Slots {
  private free: number;
  private waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

interface LeasedJob {
  id: string;
  token: string;
  input: { base64?: string; blobId?: string } | null;
}

/** One simulated worker process: leases ahead up to `prefetch`, reports each leased batch at once. */
class SimWorker {
  id = '';
  private held = 0;
  private wake: () => void = () => {};
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  constructor(
    private readonly http: Http,
    private readonly o: {
      prefetch: number;
      waitMs: number;
      slots: Slots;
      handler: JobHandler;
      onDone(n: number): void;
      onError(e: unknown): void;
    },
  ) {}

  async start(): Promise<void> {
    const w = await this.http.json('POST', '/api/v1/workers', {
      runtimes: ['noop'],
      capacity: this.o.prefetch,
    });
    this.id = w.id;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const free = this.o.prefetch - this.held;
      if (free <= 0) {
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      let jobs: LeasedJob[];
      try {
        const r = await this.http.json<{ jobs: LeasedJob[] }>(
          'POST',
          `/api/v1/workers/${this.id}/lease`,
          { limit: Math.min(free, 1000), waitMs: this.o.waitMs },
          signal,
        );
        jobs = r.jobs;
      } catch (err) {
        if (signal.aborted) return;
        this.o.onError(err);
        await sleep(100);
        continue;
      }
      if (jobs.length === 0) continue;
      this.held += jobs.length;
      void this.process(jobs).then(
        () => {
          this.held -= jobs.length;
          this.wake();
        },
        (err) => this.o.onError(err),
      );
    }
  }

  private async process(jobs: LeasedJob[]): Promise<void> {
    const completions = await Promise.all(
      jobs.map(async (job) => {
        await this.o.slots.take();
        let out: Buffer | null | void;
        try {
          let input: Buffer | null = null;
          if (job.input?.base64 !== undefined) input = Buffer.from(job.input.base64, 'base64');
          else if (job.input?.blobId !== undefined)
            input = await this.http.bytes(`/api/v1/blobs/${job.input.blobId}`);
          out = await this.o.handler(input);
        } finally {
          this.o.slots.give();
        }
        const c: Json = { jobId: job.id, token: job.token };
        if (out)
          c.output =
            out.length <= INLINE_BYTES
              ? { base64: out.toString('base64') }
              : { blobId: await this.http.upload(out) };
        return c;
      }),
    );
    for (let i = 0; i < completions.length; i += 1000) {
      const r = await this.http.json<{ results: { ok: boolean }[] }>('POST', '/api/v1/complete', {
        completions: completions.slice(i, i + 1000),
      });
      this.o.onDone(r.results.filter((x) => x.ok).length);
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.wake();
    await this.loop;
  }
}

/**
 * One simulated worker with exactly one job in flight: lease 1, run, then complete it and lease
 * the next in one request (`POST /api/v1/complete` with `next`), repeat.
 */
class SerialWorker {
  private stopped = false;
  private loop: Promise<void> | null = null;
  constructor(
    private readonly http: Http,
    private readonly handler: JobHandler,
    private readonly onDone: (n: number) => void,
  ) {}
  async start(): Promise<void> {
    const w = await this.http.json('POST', '/api/v1/workers', { runtimes: ['noop'], capacity: 1 });
    const next = { workerId: w.id as string, limit: 1, waitMs: 200 };
    this.loop = (async () => {
      let job: LeasedJob | undefined;
      while (!this.stopped) {
        if (!job) {
          const r = await this.http.json<{ jobs: LeasedJob[] }>('POST', `/api/v1/workers/${w.id}/lease`, {
            limit: 1,
            waitMs: 200,
          });
          job = r.jobs[0];
          if (!job) continue;
        }
        await this.handler(job.input?.base64 !== undefined ? Buffer.from(job.input.base64, 'base64') : null);
        const r = await this.http.json<{ results: { ok: boolean }[]; next: { jobs: LeasedJob[] } }>(
          'POST',
          '/api/v1/complete',
          { completions: [{ jobId: job.id, token: job.token }], ...(this.stopped ? {} : { next }) },
        );
        if (r.results[0]?.ok) this.onDone(1);
        job = r.next?.jobs[0];
      }
    })();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

export class JobhubQueue implements QueueUnderTest {
  readonly id: string;
  readonly label: string;
  readonly store: 'SQLite' | 'PostgreSQL';
  readonly isJobhub = true;
  readonly workers: number;
  readonly prefetch: number;
  readonly useAgent: boolean;
  hub: HubProcess | null = null;
  private http: Http | null = null;
  private workerHttp: Http | null = null;
  private schema = '';
  private done = 0;
  /** Outputs that came inline with a create-and-wait reply (payload scenario). */
  private readonly outputs = new Map<string, Buffer>();
  private sims: (SimWorker | SerialWorker)[] = [];
  private agents: ChildProcess[] = [];
  private functionId: string | null = null;
  workersReadyAt: number | undefined = undefined;
  private errors = 0;

  constructor(private readonly o: JobhubOptions) {
    this.store = o.store === 'sqlite' ? 'SQLite' : 'PostgreSQL';
    this.useAgent = o.agent ?? false;
    const relaxed = o.durability === 'relaxed';
    this.id = `jobhub-${o.store}${relaxed ? '-relaxed' : ''}`;
    this.label = `jobhub (${this.store}${this.useAgent ? ', agent' : ''}${relaxed ? ', relaxed durability' : ''})`;
    this.workers = o.workers ?? 4;
    this.prefetch = o.prefetch ?? 250;
  }

  settings(mode: WorkerMode): string {
    if (mode === 'serial')
      return 'one simulated worker: lease `limit` 1, run, then `POST /api/v1/complete` with `next` (complete it and lease the next in one request), repeat';
    if (mode === 'latency')
      return `${this.workers} simulated workers parked on a lease long-poll (\`waitMs\` 30 s)`;
    if (this.useAgent)
      return `the real agent (\`jobhub worker --runtimes ${AGENT_RUNTIME} --concurrency N\`) running \`${AGENT_CODE}\`; \`POST /api/v1/jobs/batch\` for batches`;
    return `${this.workers} simulated workers × prefetch ${this.prefetch} (lease \`limit\` = free prefetch, long-poll 1 s), N handlers at once, one \`POST /api/v1/complete\` per leased batch; \`POST /api/v1/jobs/batch\` (\`Prefer: return=minimal\`) for batches`;
  }

  get url(): string {
    return this.hub!.url;
  }

  async setup(): Promise<void> {
    const args: string[] = [];
    if (this.o.store === 'pg') {
      this.schema = `bench_jobhub_${uniqueSuffix()}`;
      args.push('--database', `${PG_URL}?schema=${this.schema}`);
    }
    if (this.o.durability === 'relaxed') args.push('--durability', 'relaxed');
    if (this.o.maxWaitMs !== undefined) args.push('--max-wait-ms', String(this.o.maxWaitMs));
    const env = this.o.maxConnections ? { JOBHUB_MAX_CONNECTIONS: String(this.o.maxConnections) } : {};
    this.hub = await startHub(args, env);
    const hubChild = this.hub.child;
    live.add(hubChild);
    hubChild.once('exit', () => live.delete(hubChild));
    this.http = new Http(this.hub.url, 16);
    this.workerHttp = new Http(this.hub.url, 64);
    this.done = 0;
    this.errors = 0;
    this.functionId = null;
    if (this.useAgent) {
      const code = await this.http.upload(Buffer.from(AGENT_CODE));
      const fn = await this.http.json('POST', '/api/v1/functions', {
        runtime: AGENT_RUNTIME,
        codeBlobId: code,
        name: 'bench-noop',
      });
      this.functionId = fn.id;
    }
  }

  async teardown(): Promise<void> {
    await this.stopWorkers();
    await this.http?.close();
    await this.workerHttp?.close();
    this.http = this.workerHttp = null;
    await this.hub?.stop();
    this.hub = null;
    if (this.schema) {
      const db = new pg.Client({ connectionString: PG_URL });
      await db.connect();
      await db.query(`drop schema if exists ${this.schema} cascade`);
      await db.end();
      this.schema = '';
    }
  }

  private async inputField(data: Buffer): Promise<Json> {
    return data.length <= INLINE_BYTES
      ? { base64: data.toString('base64') }
      : { blobId: await this.http!.upload(data) };
  }

  private jobSpec(): Json {
    return this.functionId ? { function: this.functionId } : { runtime: 'noop' };
  }

  async enqueueBatch(n: number, input?: (i: number) => Buffer): Promise<string[]> {
    const jobs = await Promise.all(
      Array.from({ length: n }, async (_, i) =>
        input ? { ...this.jobSpec(), input: await this.inputField(input(i)) } : this.jobSpec(),
      ),
    );
    // Jobs with small inputs (the payload scenario) are created and waited for in one request:
    // the reply carries each output inline, so reading them back is no further request.
    const wait = input !== undefined && !this.useAgent;
    const r = await this.http!.json<{ jobs: { id: string; output?: { base64?: string } | null }[] }>(
      'POST',
      `/api/v1/jobs/batch${wait ? '?waitMs=60000' : ''}`,
      { jobs },
      undefined,
      {
        prefer: 'return=minimal',
      },
    );
    for (const j of r.jobs)
      if (j.output?.base64 !== undefined) this.outputs.set(j.id, Buffer.from(j.output.base64, 'base64'));
    return r.jobs.map((j) => j.id);
  }

  async enqueueOne(input?: Buffer): Promise<string> {
    const body = input ? { ...this.jobSpec(), input: await this.inputField(input) } : this.jobSpec();
    return (await this.http!.json('POST', '/api/v1/jobs', body)).id;
  }

  async startWorkers(concurrency: number, handler: JobHandler, mode: WorkerMode): Promise<void> {
    const onDone = (n: number) => (this.done += n);
    this.workersReadyAt = undefined;
    if (mode === 'serial') {
      const w = new SerialWorker(this.workerHttp!, handler, onDone);
      await w.start();
      this.sims.push(w);
      return;
    }
    if (mode === 'throughput' && this.useAgent) {
      const child = spawn(
        process.execPath,
        [
          `${hubRoot()}bin/jobhub.js`,
          'worker',
          '--hub',
          this.hub!.url,
          '--runtimes',
          AGENT_RUNTIME,
          '--concurrency',
          String(process.env.BENCH_AGENT_CONCURRENCY ?? concurrency),
          '--log-level',
          'warn',
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      this.agents.push(child);
      live.add(child);
      child.once('exit', () => live.delete(child));
      // Its start-up (a Node process, Lua engine threads warmed up before it registers) is not part
      // of the measurement: the agent can take jobs from its registration on, which happened after
      // the last check that did not see it began (so the clock may start a little early, never late).
      const until = Date.now() + 60_000;
      this.workersReadyAt = performance.now();
      for (;;) {
        const checkedAt = performance.now();
        if ((await this.metric('jobhub_workers_alive')) >= 1) break;
        if (child.exitCode !== null || Date.now() > until) throw new Error('the agent did not register');
        this.workersReadyAt = checkedAt;
        await sleep(20);
      }
      return;
    }
    const slots = new Slots(concurrency);
    const onError = (err: unknown) => {
      if (this.errors++ < 5) console.error('jobhub simulated worker:', (err as Error).message);
    };
    for (let i = 0; i < this.workers; i++) {
      const w = new SimWorker(this.workerHttp!, {
        prefetch: mode === 'latency' ? Math.max(1, Math.ceil(concurrency / this.workers)) : this.prefetch,
        waitMs: mode === 'latency' ? 30_000 : 1000,
        slots,
        handler,
        onDone,
        onError,
      });
      await w.start();
      this.sims.push(w);
    }
    if (mode === 'latency') await this.waitParked(this.workers);
  }

  /** Waits until `n` lease requests are parked on the hub. */
  async waitParked(n: number, timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while ((await this.metric('jobhub_parked_lease_requests')) < n) {
      if (Date.now() > until) throw new Error(`fewer than ${n} lease requests parked after ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  /** The sum of a metric's series in the hub's /metrics. */
  async metric(name: string, labelFilter?: string): Promise<number> {
    const text = (await this.http!.bytes('/metrics')).toString('utf8');
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const m = /^(\S+?)(\{[^}]*\})?\s+(\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      if (labelFilter && !(m[2] ?? '').includes(labelFilter)) continue;
      sum += Number(m[3]);
    }
    return sum;
  }

  async stopWorkers(): Promise<void> {
    await Promise.all(this.sims.map((w) => w.stop()));
    this.sims = [];
    await Promise.all(
      this.agents.map(async (child) => {
        if (child.exitCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }),
    );
    this.agents = [];
  }

  async doneCount(): Promise<number> {
    if (this.useAgent && this.agents.length)
      return this.metric('jobhub_jobs_finished_total', 'state="succeeded"');
    return this.done;
  }

  output(id: string): Promise<Buffer | null> {
    const known = this.outputs.get(id);
    if (known) {
      this.outputs.delete(id);
      return Promise.resolve(known);
    }
    return this.http!.bytes(`/api/v1/jobs/${id}/output`);
  }

  /** The agent processes running now (their CPU is the workers' side of the cost). */
  agentPids(): number[] {
    return this.agents.filter((c) => c.exitCode === null && c.pid !== undefined).map((c) => c.pid!);
  }

  /** The hub's own memory peak so far (VmHWM), MiB. */
  hubPeakMiB(): number {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.hub!.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  }

  serverProcesses(): ServerProcess[] {
    const hub: ServerProcess[] = this.hub ? [{ pid: this.hub.pid, count: 'rss' }] : [];
    return this.o.store === 'pg' ? [...hub, ...postgresProcesses()] : hub;
  }
}
