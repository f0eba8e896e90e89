/**
 * pg-boss 10 on the local PostgreSQL, in a schema of its own per setup. pg-boss only polls: a
 * worker fetches a batch, runs the handler, then sleeps what is left of its polling interval.
 * Tuned as in the peer baseline: N workers × `batchSize` 50, polling every 0.5 s (the minimum
 * pg-boss accepts). pg-boss's worker loop does not wait for its own completion write, so "done"
 * is read from the job table.
 */
import PgBoss from 'pg-boss';
import pg from 'pg';
import {
  PG_URL,
  postgresProcesses,
  sleep,
  uniqueSuffix,
  type JobHandler,
  type QueueUnderTest,
  type ServerProcess,
  type WorkerMode,
} from './peer.js';

const POLL_SECONDS = 0.5;
const BATCH = 50;

export class PgbossQueue implements QueueUnderTest {
  readonly id = 'pgboss';
  readonly label = 'pg-boss';
  readonly store = 'PostgreSQL' as const;
  readonly isJobhub = false;
  readonly pollIntervalMs = POLL_SECONDS * 1000;
  private schema = '';
  private readonly name = 'bench';
  private boss: PgBoss | null = null;
  private db: pg.Pool | null = null;
  private serial: { stop: boolean; loops: Promise<void>[] } | null = null;

  settings(mode: WorkerMode): string {
    if (mode === 'serial')
      return 'one `fetch` + `complete` loop (its worker would sleep the polling interval between jobs)';
    if (mode === 'latency')
      return `N workers × \`batchSize\` 1, \`pollingIntervalSeconds\` ${POLL_SECONDS} (the minimum)`;
    return `N workers × \`batchSize\` ${BATCH}, \`pollingIntervalSeconds\` ${POLL_SECONDS} (the minimum); \`insert\` for batches`;
  }

  async setup(): Promise<void> {
    this.schema = `bench_pgboss_${uniqueSuffix()}`;
    this.db = new pg.Pool({ connectionString: PG_URL, max: 2 });
    this.boss = new PgBoss({
      connectionString: PG_URL,
      schema: this.schema,
      schedule: false,
      supervise: false,
    });
    this.boss.on('error', (err: Error) => console.error('pg-boss:', err.message));
    await this.boss.start();
    await this.boss.createQueue(this.name);
  }

  async teardown(): Promise<void> {
    await this.stopWorkers();
    await this.boss?.stop({ graceful: false, wait: true, timeout: 1000 });
    this.boss = null;
    await this.db?.query(`drop schema if exists ${this.schema} cascade`);
    await this.db?.end();
    this.db = null;
  }

  async enqueueBatch(n: number, input?: (i: number) => Buffer): Promise<string[]> {
    // `insert` returns nothing; ids are given so that outputs can be read back.
    const jobs = Array.from({ length: n }, (_, i) => ({
      id: crypto.randomUUID(),
      name: this.name,
      data: input ? { b64: input(i).toString('base64') } : {},
    }));
    await this.boss!.insert(jobs);
    return jobs.map((j) => j.id);
  }

  async enqueueOne(input?: Buffer): Promise<string> {
    const id = await this.boss!.send(this.name, input ? { b64: input.toString('base64') } : {});
    return id!;
  }

  private async run(job: PgBoss.Job<{ b64?: string }>, handler: JobHandler): Promise<void> {
    const out = await handler(job.data.b64 === undefined ? null : Buffer.from(job.data.b64, 'base64'));
    // pg-boss stores a return value only for single-job batches; complete with the output here.
    if (out) await this.boss!.complete(this.name, job.id, { b64: out.toString('base64') });
  }

  async startWorkers(concurrency: number, handler: JobHandler, mode: WorkerMode): Promise<void> {
    if (mode === 'serial') {
      const state = { stop: false, loops: [] as Promise<void>[] };
      this.serial = state;
      state.loops.push(
        (async () => {
          while (!state.stop) {
            const [job] = await this.boss!.fetch<{ b64?: string }>(this.name);
            if (!job) {
              await sleep(2);
              continue;
            }
            await this.run(job, handler);
            await this.boss!.complete(this.name, job.id);
          }
        })(),
      );
      return;
    }
    const batchSize = mode === 'latency' ? 1 : BATCH;
    for (let i = 0; i < concurrency; i++) {
      await this.boss!.work<{ b64?: string }>(
        this.name,
        { batchSize, pollingIntervalSeconds: POLL_SECONDS },
        async (jobs) => {
          for (const job of jobs) await this.run(job, handler);
        },
      );
    }
  }

  async stopWorkers(): Promise<void> {
    if (this.serial) {
      this.serial.stop = true;
      await Promise.all(this.serial.loops);
      this.serial = null;
    }
    await this.boss?.offWork(this.name);
  }

  async doneCount(): Promise<number> {
    const r = await this.db!.query(
      `select count(*)::int as n from ${this.schema}.job where name = $1 and state = 'completed'`,
      [this.name],
    );
    return r.rows[0].n as number;
  }

  async output(id: string): Promise<Buffer | null> {
    const job = (await this.boss!.getJobById(this.name, id)) as { output?: { b64?: string } } | null;
    return job?.output?.b64 === undefined ? null : Buffer.from(job.output.b64, 'base64');
  }

  serverProcesses(): ServerProcess[] {
    return postgresProcesses();
  }
}
