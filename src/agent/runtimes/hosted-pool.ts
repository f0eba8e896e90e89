/**
 * A pool of engine threads in a child process (the engine host, host.ts), for engines that can
 * still abort the process they run in whatever we check beforehand. The worker talks to the host
 * over IPC; when the host dies, the jobs that ran in it fail with a clear error naming what
 * killed it (V8's own fatal message, from the host's stderr), a new host is started, and the
 * worker and its other runtimes go on. One long-lived host, not one per job: starting a Node
 * process costs tens of milliseconds, sending a job to a living one a few microseconds.
 *
 * When a host dies running a single job, that job killed it: it fails without retry (another
 * attempt would only kill another host). When several ran, none can be singled out; they fail
 * retryable, and a repeat offender is caught when it runs alone.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import type { HostConfig, HostReply, HostRequest } from './host.js';
import type { ThreadJob, ThreadResult } from './pool.js';
import { Tail } from './runtime.js';

export interface HostedPoolOptions {
  /** For messages, e.g. `WASI`. */
  name: string;
  /** The engine thread's compiled entry, e.g. `new URL('./thread.js', import.meta.url)`. */
  entry: URL;
  size: number;
  resourceLimits?: ResourceLimits;
  /** The host's own JS heap (its main thread only relays messages). */
  hostHeapMb?: number;
}

/** A code blob the host keeps across jobs (sent once per host), under a key such as its sha256. */
export interface PoolCode {
  key: string;
  bytes: Uint8Array;
}

interface Active {
  job: ThreadJob;
  finish(r: ThreadResult<unknown>): void;
}

/** Time the host gets beyond a job's own hard limit before we take it for wedged and kill it. */
const HOST_GRACE_MS = 10_000;
/** Consecutive hosts that die before they are ready: then jobs fail at once instead of waiting. */
const START_FAILURES = 3;

export class HostedPool<M extends { id: number }, R extends { type: string; id: number }> {
  private child: ChildProcess | null = null;
  /** Resolves when a host is ready (or none can start, or the pool closed). */
  private started: Promise<void> = Promise.resolve();
  private markStarted: (() => void) | null = null;
  private readonly active = new Map<number, Active>();
  /** Code keys the current host has (it gets the bytes the first time only). */
  private known = new Set<string>();
  private nextId = 1;
  private closed = false;
  private startFailures = 0;
  private hostReady = false;
  /** Hosts started so far (diagnostics; tests check that a dead host was replaced). */
  generation = 0;

  constructor(private readonly o: HostedPoolOptions) {
    this.spawn();
  }

  /** The host's process id (tests kill it to simulate an engine abort). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Jobs in the host now. */
  get busy(): number {
    return this.active.size;
  }

  ready(): Promise<void> {
    return this.started;
  }

  async run(
    build: (id: number) => { message: Omit<M, 'code'> },
    job: ThreadJob & { code?: PoolCode },
  ): Promise<ThreadResult<R>> {
    if (job.signal.aborted) return { type: 'aborted' };
    // A host being replaced is waited for: it reads no message before it is ready.
    while (!this.hostReady && this.startFailures < START_FAILURES && !this.closed) await this.started;
    if (job.signal.aborted) return { type: 'aborted' };
    const child = this.child;
    if (!child || !this.hostReady)
      return { type: 'crash', message: `the ${this.o.name} engine host cannot start` };
    const id = this.nextId++;
    const { message } = build(id);
    return new Promise<ThreadResult<R>>((resolve) => {
      const timer = setTimeout(() => {
        finish({ type: 'timeout' });
        child.kill('SIGKILL');
      }, job.killAfterMs + HOST_GRACE_MS);
      const onAbort = () => {
        finish({ type: 'aborted' });
        this.send(child, { type: 'abort', id });
      };
      const finish = (r: ThreadResult<unknown>) => {
        if (!this.active.delete(id)) return;
        clearTimeout(timer);
        job.signal.removeEventListener('abort', onAbort);
        resolve(r as ThreadResult<R>);
      };
      job.signal.addEventListener('abort', onAbort, { once: true });
      this.active.set(id, { job, finish });
      let code: { key: string; bytes?: Uint8Array } | undefined;
      if (job.code) {
        code = this.known.has(job.code.key) ? { key: job.code.key } : job.code;
        this.known.add(job.code.key);
      }
      this.send(child, {
        type: 'run',
        id,
        message: message as Record<string, unknown>,
        killAfterMs: job.killAfterMs,
        code,
      });
    });
  }

  /** The code cache dropped `key`: the host may drop it too. */
  forget(key: string): void {
    if (this.known.delete(key) && this.child) this.send(this.child, { type: 'forget', key });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.resolveStarted();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  private resolveStarted(): void {
    const mark = this.markStarted;
    this.markStarted = null;
    mark?.();
  }

  private send(child: ChildProcess, m: HostRequest): void {
    // A host that just died has no channel; its exit fails the job.
    if (child.connected) child.send(m);
  }

  private spawn(): void {
    const jsPath = fileURLToPath(new URL('./host.js', import.meta.url));
    const fromSource = !existsSync(jsPath);
    const config: HostConfig = {
      name: this.o.name,
      entry: this.o.entry.href,
      size: this.o.size,
      resourceLimits: this.o.resourceLimits,
    };
    const child = fork(fromSource ? jsPath.replace(/\.js$/, '.ts') : jsPath, [JSON.stringify(config)], {
      // Running from the TypeScript sources (tests): the host loads them through tsx too.
      execArgv: [
        `--max-old-space-size=${this.o.hostHeapMb ?? 256}`,
        ...(fromSource ? ['--import', 'tsx'] : []),
      ],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child = child;
    this.known = new Set();
    this.generation++;
    const stderr = new Tail(8192);
    child.stderr!.setEncoding('utf8').on('data', (c: string) => stderr.push(c));
    let isReady = false;
    this.hostReady = false;
    if (!this.markStarted) this.started = new Promise((r) => (this.markStarted = r));
    child.on('message', (m: HostReply) => {
      if (m.type === 'ready') {
        isReady = true;
        this.hostReady = true;
        this.startFailures = 0;
        this.resolveStarted();
      } else if (m.type === 'message') this.active.get(m.id)?.job.onMessage?.(m.message);
      else this.active.get(m.id)?.finish(m.result);
    });
    child.on('error', () => {}); // a failed send or spawn; 'exit' follows and says the rest
    child.once('exit', (code, signal) => {
      if (this.child === child) {
        this.child = null;
        this.hostReady = false;
      }
      const why = fatalLine(stderr.toString()) ?? (signal ? `signal ${signal}` : `exit code ${code}`);
      const victims = [...this.active.values()];
      const alone = victims.length === 1;
      for (const v of victims) {
        const message = alone
          ? `the ${this.o.name} engine process died while running this job alone (${why}); the worker replaced it`
          : `the ${this.o.name} engine process died while running ${victims.length} jobs (${why}); this job may not be the cause`;
        v.finish({ type: 'crash', message, retryable: !alone });
      }
      if (!isReady) this.startFailures++;
      // Waiting jobs wait for the next host, unless none is coming or hosts keep failing to start.
      if (this.closed || this.startFailures >= START_FAILURES) this.resolveStarted();
      if (this.closed) return;
      // A host that cannot even start is retried slowly; one that died at work is replaced now.
      if (isReady) this.spawn();
      else setTimeout(() => !this.closed && this.spawn(), 1_000).unref();
    });
  }
}

/** The line of the host's stderr that says why it died (V8's fatal messages), if any. */
function fatalLine(stderr: string): string | null {
  const lines = stderr.split('\n').map((l) => l.trim());
  return lines.find((l) => /FATAL ERROR|Fatal (JavaScript|process)|out of memory/i.test(l)) ?? null;
}
