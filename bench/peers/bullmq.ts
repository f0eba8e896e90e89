/**
 * BullMQ on the local Redis. Settings: the library's defaults (completed jobs are kept, which is
 * also how the store is asked what is done: the completed set's size). Payloads are base64 in the
 * job's data and the return value, as BullMQ stores JSON.
 *
 * The machine's Redis keeps nothing on disk: an acknowledged job is lost if Redis is killed. The
 * durable variant runs its own `redis-server` with `appendonly yes` and `appendfsync always` (every
 * write in the append-only file and fsynced before the reply), which is the promise jobhub and the
 * PostgreSQL queues make, so that the cost of durability can be read off side by side.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  REDIS,
  uniqueSuffix,
  type JobHandler,
  type QueueUnderTest,
  type ServerProcess,
  type WorkerMode,
} from './peer.js';

interface Data {
  b64?: string;
}

export class BullmqQueue implements QueueUnderTest {
  readonly id: string;
  readonly label: string;
  readonly store = 'Redis' as const;
  readonly isJobhub = false;
  private prefix = '';
  private readonly name = 'bench';
  private queue: Queue<Data> | null = null;
  private workers: Worker<Data>[] = [];
  private admin: Redis | null = null;
  private redisPid = 0;
  private redis = REDIS;
  private own: { child: ChildProcess; dir: string } | null = null;

  constructor(private readonly o: { durable?: boolean } = {}) {
    this.id = o.durable ? 'bullmq-durable' : 'bullmq';
    this.label = o.durable ? 'BullMQ (Redis AOF, fsync always)' : 'BullMQ';
  }

  settings(mode: WorkerMode): string {
    if (mode === 'serial') return 'one Worker, concurrency 1 (fetches the next job in the completing call)';
    return 'one Worker with `concurrency` N; defaults otherwise (completed jobs kept); `addBulk` for batches';
  }

  async setup(): Promise<void> {
    this.prefix = `jhbench_${uniqueSuffix()}`;
    if (this.o.durable) await this.startOwnRedis();
    this.admin = new Redis({ ...this.redis, lazyConnect: false });
    const info = await this.admin.info('server');
    this.redisPid = Number(/process_id:(\d+)/.exec(info)?.[1] ?? 0);
    this.queue = new Queue<Data>(this.name, { connection: { ...this.redis }, prefix: this.prefix });
    await this.queue.waitUntilReady();
  }

  async teardown(): Promise<void> {
    await this.stopWorkers();
    await this.queue?.close();
    this.queue = null;
    // Delete this run's keys (UNLINK frees memory in the background).
    if (this.admin) {
      let cursor = '0';
      do {
        const [next, keys] = await this.admin.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 10_000);
        cursor = next;
        if (keys.length) await this.admin.unlink(...keys);
      } while (cursor !== '0');
      await this.admin.quit();
      this.admin = null;
    }
    await this.stopOwnRedis();
  }

  /**
   * A private redis-server that appends and fsyncs every write before it answers, on TCP like the
   * machine's Redis. A random port may be taken: the server must be the child started here (its
   * pid) with `appendfsync always`, or another port is tried.
   */
  private async startOwnRedis(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'jhbench-redis-'));
      const port = 20_000 + Math.floor(Math.random() * 20_000);
      const child = spawn(
        'redis-server',
        [
          '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
          '--appendonly', 'yes', '--appendfsync', 'always', '--daemonize', 'no',
        ], // prettier-ignore
        { stdio: 'ignore' },
      );
      const failed = new Promise<Error>((resolve) => child.once('error', resolve));
      this.own = { child, dir };
      this.redis = { host: '127.0.0.1', port };
      const problem = await Promise.race([this.ownRedisReady(child), failed]);
      if (problem === null) return;
      await this.stopOwnRedis();
      if (attempt >= 5)
        throw new Error(`redis-server (appendfsync always) did not start: ${problem.message}`);
    }
  }

  /** null when the server on our port is our child, durable; else what is wrong. */
  private async ownRedisReady(child: ChildProcess): Promise<Error | null> {
    const until = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis({
        ...this.redis,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      probe.on('error', () => undefined); // refused until the server listens: retried below
      try {
        await probe.connect();
        const pid = Number(/process_id:(\d+)/.exec(await probe.info('server'))?.[1]);
        const fsync = (await probe.config('GET', 'appendfsync')) as string[];
        await probe.quit();
        if (pid !== child.pid || fsync[1] !== 'always')
          return new Error(`port ${this.redis.port} answered by another Redis (pid ${pid})`);
        return null;
      } catch (err) {
        probe.disconnect();
        if (child.exitCode !== null || Date.now() > until) return err as Error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private async stopOwnRedis(): Promise<void> {
    if (!this.own) return;
    const { child, dir } = this.own;
    this.own = null;
    this.redis = REDIS;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }

  async enqueueBatch(n: number, input?: (i: number) => Buffer): Promise<string[]> {
    const jobs = await this.queue!.addBulk(
      Array.from({ length: n }, (_, i) => ({
        name: 'noop',
        data: input ? { b64: input(i).toString('base64') } : {},
      })),
    );
    return jobs.map((j) => j.id!);
  }

  async enqueueOne(input?: Buffer): Promise<string> {
    const job = await this.queue!.add('noop', input ? { b64: input.toString('base64') } : {});
    return job.id!;
  }

  async startWorkers(concurrency: number, handler: JobHandler, mode: WorkerMode): Promise<void> {
    const worker = new Worker<Data>(
      this.name,
      async (job) => {
        const out = await handler(job.data.b64 === undefined ? null : Buffer.from(job.data.b64, 'base64'));
        return out ? out.toString('base64') : undefined;
      },
      {
        connection: { ...this.redis, maxRetriesPerRequest: null },
        prefix: this.prefix,
        concurrency: mode === 'serial' ? 1 : concurrency,
      },
    );
    worker.on('error', (err) => console.error('bullmq worker:', err.message));
    await worker.waitUntilReady();
    this.workers.push(worker);
  }

  async stopWorkers(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    this.workers = [];
  }

  doneCount(): Promise<number> {
    return this.queue!.getCompletedCount();
  }

  async output(id: string): Promise<Buffer | null> {
    const job = await Job.fromId(this.queue!, id);
    const rv = job?.returnvalue as string | undefined;
    return typeof rv === 'string' ? Buffer.from(rv, 'base64') : null;
  }

  serverProcesses(): ServerProcess[] {
    return this.redisPid ? [{ pid: this.redisPid, count: 'rss' }] : [];
  }
}
