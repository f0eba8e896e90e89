/**
 * The interface every queue under test implements (the three peers and jobhub), so that the
 * comparison scenarios in ../compare.ts drive them all through the same steps with the same job
 * count, concurrency and handler. Also: the services on this machine and a sampler of memory and
 * CPU of the processes that serve each queue.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The job's code: gets the input bytes (or null), returns output bytes (or nothing). */
export type JobHandler = (input: Buffer | null) => Buffer | null | void | Promise<Buffer | null | void>;

/**
 * How workers are started:
 * - `throughput`: the tuned settings for draining many jobs (batching, prefetch);
 * - `latency`: idle workers waiting for the next job, tuned for a quick start;
 * - `serial`: exactly one job in flight, no prefetch (for the cycle time under a backlog).
 */
export type WorkerMode = 'throughput' | 'latency' | 'serial';

export interface QueueUnderTest {
  /** Short id used on the command line and in the results: bullmq, pgboss, graphile, jobhub-sqlite, jobhub-pg. */
  readonly id: string;
  /** For tables and charts. */
  readonly label: string;
  /** What stores the jobs. */
  readonly store: 'Redis' | 'PostgreSQL' | 'SQLite';
  readonly isJobhub: boolean;
  /** The settings used, in words, for the report (what was tuned). */
  settings(mode: WorkerMode): string;
  /** A fresh, empty queue (new schema / key prefix / hub process). */
  setup(): Promise<void>;
  /** Stops everything and deletes what setup created. */
  teardown(): Promise<void>;
  /** Adds `n` jobs in one call (the peer's bulk API); `input(i)` gives each job's input. Returns the ids. */
  enqueueBatch(n: number, input?: (i: number) => Buffer): Promise<string[]>;
  /** Adds one job; returns its id. */
  enqueueOne(input?: Buffer): Promise<string>;
  /** Starts workers running `handler` with at most `concurrency` jobs at once; resolves when they wait for work. */
  startWorkers(concurrency: number, handler: JobHandler, mode: WorkerMode): Promise<void>;
  /**
   * Set by queues whose workers boot in a process of their own (the jobhub agent): the moment,
   * on the `performance.now()` clock, from which they could take jobs. A burn-down's clock starts
   * there, not at the spawn: booting a process is not draining a queue.
   */
  readonly workersReadyAt?: number;
  stopWorkers(): Promise<void>;
  /** Jobs the store has recorded as completed since setup (not what the library's callbacks claim). */
  doneCount(): Promise<number>;
  /** The output stored for a completed job. */
  output(id: string): Promise<Buffer | null>;
  /**
   * For queues that poll: the interval. The latency scenario then waits a random part of it
   * between samples, so that jobs arrive at random points of the polling cycle (a fixed short
   * gap after a completion would always land just after a poll and wait the whole interval).
   */
  readonly pollIntervalMs?: number;
  /** Processes that serve this queue (hub, Redis, PostgreSQL) and how to count their memory. */
  serverProcesses(): ServerProcess[];
}

export interface ServerProcess {
  pid: number;
  /**
   * `rss`: the whole resident set (a process of its own: the hub, Redis);
   * `anon`: private memory only (PostgreSQL processes share their buffer cache, so their RSS
   * would count it once per process).
   */
  count: 'rss' | 'anon';
}

export const REDIS = { host: '127.0.0.1', port: 6379 };
export const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A suffix that keeps concurrent runs and rounds apart (schemas, key prefixes). */
let seq = 0;
export const uniqueSuffix = () => `${process.pid}_${Date.now().toString(36)}_${seq++}`;

/** Every PostgreSQL server process on this machine (the cluster serves every PG-backed queue). */
export function postgresProcesses(): ServerProcess[] {
  const out: ServerProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === 'postgres')
        out.push({ pid: Number(name), count: 'anon' });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function status(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
}

const kB = (text: string, field: string) => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(text);
  return m ? Number(m[1]) : 0;
};

/** CPU seconds (user + system) a process has used. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (CLK_TCK = 100)
  } catch {
    return 0;
  }
}

/**
 * Samples the memory of the server processes and of this process every `everyMs`, and their CPU
 * time, from start() to stop(). Memory is reported as the peak minus the value at start, and as
 * the peak itself.
 */
export class ResourceSampler {
  private timer: NodeJS.Timeout | null = null;
  private serverStartKiB = 0;
  private serverPeakKiB = 0;
  private clientStartKiB = 0;
  private clientPeakKiB = 0;
  private cpuStart = new Map<number, number>();
  private clientCpuStart = 0;
  private t0 = 0;
  private procs: ServerProcess[] = [];

  constructor(
    private readonly getProcs: () => ServerProcess[],
    private readonly everyMs = 50,
  ) {}

  private serverKiB(): number {
    let sum = 0;
    for (const p of this.procs) {
      const s = status(p.pid);
      if (s) sum += p.count === 'rss' ? kB(s, 'VmRSS') : kB(s, 'RssAnon');
    }
    return sum;
  }

  private samples = 0;
  private sample = () => {
    // New server processes (PostgreSQL backends opened on demand) join about every 200 ms.
    if (++this.samples % Math.max(1, Math.round(200 / this.everyMs)) === 0) this.procs = this.getProcs();
    this.serverPeakKiB = Math.max(this.serverPeakKiB, this.serverKiB());
    this.clientPeakKiB = Math.max(this.clientPeakKiB, process.memoryUsage.rss() / 1024);
  };

  start(): void {
    this.procs = this.getProcs();
    this.serverStartKiB = this.serverPeakKiB = this.serverKiB();
    this.clientStartKiB = this.clientPeakKiB = process.memoryUsage.rss() / 1024;
    this.cpuStart = new Map(this.procs.map((p) => [p.pid, cpuSeconds(p.pid)]));
    const u = process.cpuUsage();
    this.clientCpuStart = (u.user + u.system) / 1e6;
    this.t0 = performance.now();
    this.timer = setInterval(this.sample, this.everyMs);
    this.timer.unref();
  }

  stop() {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const seconds = (performance.now() - this.t0) / 1000;
    // Processes that started after start() (new PostgreSQL backends) count from zero.
    const cpu = this.getProcs().reduce((s, p) => s + cpuSeconds(p.pid) - (this.cpuStart.get(p.pid) ?? 0), 0);
    const u = process.cpuUsage();
    return {
      seconds,
      serverPeakMiB: this.serverPeakKiB / 1024,
      serverGrowthMiB: (this.serverPeakKiB - this.serverStartKiB) / 1024,
      clientPeakMiB: this.clientPeakKiB / 1024,
      clientGrowthMiB: (this.clientPeakKiB - this.clientStartKiB) / 1024,
      /** Server CPU in cores used on average (1.0 = one core busy). */
      serverCores: Math.max(0, cpu) / seconds,
      clientCores: ((u.user + u.system) / 1e6 - this.clientCpuStart) / seconds,
    };
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `count()` until it reaches `n` (every `everyMs`), or throws after `timeoutMs`. */
export async function waitForCount(
  count: () => Promise<number>,
  n: number,
  timeoutMs: number,
  everyMs = 5,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const c = await count();
    if (c >= n) return;
    if (Date.now() > until) throw new Error(`timed out: ${c} of ${n} done after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/**
 * CPU used by processes that are not part of the benchmark (this process, its children, Redis
 * and PostgreSQL), sampled every second: on a shared machine this says how much the numbers of a
 * run were disturbed by others (test suites, builds).
 */
export class OtherLoad {
  private last = new Map<number, number>();
  private parent = new Map<number, number>();
  private names = new Map<string, number>();
  private otherSeconds = 0;
  private timer: NodeJS.Timeout | null = null;
  private t0 = 0;
  private maxLoad = 0;

  private isOurs(pid: number, comm: string): boolean {
    if (comm === 'postgres' || comm === 'redis-server') return true;
    for (let p = pid, i = 0; p > 1 && i < 20; i++) {
      if (p === process.pid) return true;
      p = this.parent.get(p) ?? 0;
    }
    return false;
  }

  private sample = (count: boolean) => {
    const seen = new Map<number, { comm: string; cpu: number }>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const pid = Number(name);
        this.parent.set(pid, Number(f[1]));
        seen.set(pid, { comm, cpu: (Number(f[11]) + Number(f[12])) / 100 });
      } catch {
        // gone meanwhile
      }
    }
    for (const [pid, { comm, cpu }] of seen) {
      const before = this.last.get(pid);
      this.last.set(pid, cpu);
      if (!count || this.isOurs(pid, comm)) continue;
      // A process born since the last sample counts from zero.
      const d = before === undefined ? (this.t0 && cpu < 3600 ? cpu : 0) : cpu - before;
      if (d <= 0) continue;
      this.otherSeconds += d;
      let label = comm;
      try {
        label =
          readFileSync(`/proc/${pid}/cmdline`, 'utf8')
            .split('\0')
            .filter(Boolean)
            .slice(0, 3)
            .join(' ')
            .slice(0, 80) || comm;
      } catch {
        // gone
      }
      this.names.set(label, (this.names.get(label) ?? 0) + d);
    }
    for (const pid of this.last.keys()) if (!seen.has(pid)) this.last.delete(pid);
    this.maxLoad = Math.max(this.maxLoad, Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]));
  };

  start(): void {
    this.sample(false);
    this.t0 = performance.now();
    this.timer = setInterval(() => this.sample(true), 1000);
    this.timer.unref();
  }

  /** The average number of cores used by other processes since start(), and the busiest of them. */
  stop(): { otherCores: number; maxLoadAvg: number; top: { command: string; cpuSeconds: number }[] } {
    this.sample(true);
    if (this.timer) clearInterval(this.timer);
    const seconds = (performance.now() - this.t0) / 1000;
    const top = [...this.names.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .filter(([, s]) => s >= 1)
      .map(([command, s]) => ({ command, cpuSeconds: Math.round(s) }));
    return {
      otherCores: Math.round((this.otherSeconds / seconds) * 100) / 100,
      maxLoadAvg: this.maxLoad,
      top,
    };
  }
}
