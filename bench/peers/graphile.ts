/**
 * Graphile Worker 0.17 on the local PostgreSQL, in a schema of its own per setup. Tuned as its
 * performance guide and the peer baseline say for throughput: `localQueue.size` 500 and
 * `completeJobBatchDelay` 0; idle workers are woken by LISTEN/NOTIFY. Graphile Worker deletes a
 * job when it succeeds, so "done" is jobs added minus jobs still in its table (a completion
 * batched behind the handler counts only once its delete has landed). It keeps no results: the
 * handler writes its output to a table in the same database.
 */
import { Logger, makeWorkerUtils, run, runMigrations, type Runner, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import {
  PG_URL,
  postgresProcesses,
  uniqueSuffix,
  type JobHandler,
  type QueueUnderTest,
  type ServerProcess,
  type WorkerMode,
} from './peer.js';

const silent = new Logger(() => () => {});

export class GraphileQueue implements QueueUnderTest {
  readonly id = 'graphile';
  readonly label = 'Graphile Worker';
  readonly store = 'PostgreSQL' as const;
  readonly isJobhub = false;
  private schema = '';
  private utils: WorkerUtils | null = null;
  private db: pg.Pool | null = null;
  private runners: Runner[] = [];
  private added = 0;

  settings(mode: WorkerMode): string {
    if (mode === 'serial') return '`concurrency` 1, no local queue, completions not batched (the defaults)';
    if (mode === 'latency') return '`concurrency` N, defaults (no local queue; LISTEN/NOTIFY wake-up)';
    return '`concurrency` N, `localQueue.size` 500, `completeJobBatchDelay` 0; `addJobs` for batches';
  }

  async setup(): Promise<void> {
    this.schema = `bench_graphile_${uniqueSuffix()}`;
    this.added = 0;
    await runMigrations({ connectionString: PG_URL, schema: this.schema, logger: silent });
    this.utils = await makeWorkerUtils({ connectionString: PG_URL, schema: this.schema, logger: silent });
    this.db = new pg.Pool({ connectionString: PG_URL, max: 2 });
    await this.db.query(
      `create table ${this.schema}.bench_output (job_id bigint primary key, data bytea not null)`,
    );
  }

  async teardown(): Promise<void> {
    await this.stopWorkers();
    await this.utils?.release();
    this.utils = null;
    await this.db?.query(`drop schema if exists ${this.schema} cascade`);
    await this.db?.end();
    this.db = null;
  }

  async enqueueBatch(n: number, input?: (i: number) => Buffer): Promise<string[]> {
    const jobs = await this.utils!.addJobs(
      Array.from({ length: n }, (_, i) => ({
        identifier: 'noop',
        payload: input ? { b64: input(i).toString('base64') } : {},
      })),
    );
    this.added += jobs.length;
    return jobs.map((j) => String(j.id));
  }

  async enqueueOne(input?: Buffer): Promise<string> {
    const job = await this.utils!.addJob('noop', input ? { b64: input.toString('base64') } : {});
    this.added++;
    return String(job.id);
  }

  async startWorkers(concurrency: number, handler: JobHandler, mode: WorkerMode): Promise<void> {
    const worker = mode === 'throughput' ? { localQueue: { size: 500 }, completeJobBatchDelay: 0 } : {};
    const runner = await run({
      connectionString: PG_URL,
      schema: this.schema,
      concurrency: mode === 'serial' ? 1 : concurrency,
      noHandleSignals: true,
      logger: silent,
      preset: { worker },
      taskList: {
        noop: async (payload, helpers) => {
          const b64 = (payload as { b64?: string }).b64;
          const out = await handler(b64 === undefined ? null : Buffer.from(b64, 'base64'));
          if (out)
            await helpers.query(`insert into ${this.schema}.bench_output (job_id, data) values ($1, $2)`, [
              helpers.job.id,
              out,
            ]);
        },
      },
    });
    this.runners.push(runner);
  }

  async stopWorkers(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.stop()));
    this.runners = [];
  }

  async doneCount(): Promise<number> {
    const r = await this.db!.query(`select count(*)::int as n from ${this.schema}._private_jobs`);
    return this.added - (r.rows[0].n as number);
  }

  async output(id: string): Promise<Buffer | null> {
    const r = await this.db!.query(`select data from ${this.schema}.bench_output where job_id = $1`, [id]);
    return (r.rows[0]?.data as Buffer | undefined) ?? null;
  }

  serverProcesses(): ServerProcess[] {
    return postgresProcesses();
  }
}
