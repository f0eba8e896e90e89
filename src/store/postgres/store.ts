/**
 * The PostgreSQL store: many hub processes on one database. Each write is its own transaction
 * on a pooled connection; concurrent commits share WAL flushes in PostgreSQL itself, so the
 * store needs no batching of its own. Rows are read in the same shape as SQLite's (JSON as text,
 * bigint as number) so both dialects share the row mapping.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { PoolClient } from 'pg';
import type { Durability } from '../../config/config.js';
import { HubError } from '../../core/errors.js';
import {
  blobFromRow,
  functionFromRow,
  jobFromRow,
  workerFromRow,
  type BlobRow,
  type FunctionRow,
  type JobRow,
  type WorkerRow,
} from '../rows.js';
import type {
  BlobRecord,
  CompleteOutcome,
  CompleteParams,
  DirectLease,
  FunctionRecord,
  JobFilter,
  JobRecord,
  LeaseRequest,
  NewJob,
  Store,
  WorkerRecord,
} from '../store.js';
import * as jobs from './jobs.js';
import * as schedules from './schedules.js';
import * as webhooks from './webhooks.js';
import { getGroup, GroupPresence, leaseFair, listGroups, upsertGroup } from './groups.js';
import { migrate } from './migrate.js';
import { createPool } from './connection.js';
import { Runner } from './runner.js';
import { PostgresKvTokens } from './kv-tokens.js';
import { BLOB_READABLE, LEASE_HELD_FOR } from './access.js';
import { NotificationListener, notifyQueued, type JobsAvailable } from './notify.js';

export interface PostgresStoreOptions {
  /** postgres://user@host:port/db */
  connectionString: string;
  /** Schema holding the tables (tests use one per suite). */
  schema?: string;
  /** Pool size. */
  maxConnections?: number;
  /** Default `full` (the server's `synchronous_commit`); see HubConfig. */
  durability?: Durability;
}

export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  private closed = false;

  /** Names this process in its notifications, so it can ignore its own. */
  private readonly origin = randomUUID();
  private readonly listener: NotificationListener;
  private readonly channel: string;
  private completions: {
    p: CompleteParams;
    resolve: (o: CompleteOutcome) => void;
    reject: (e: unknown) => void;
  }[] = [];

  /** Whether leases must look at groups (see groups.ts). */
  private readonly groupPresence = new GroupPresence();
  /** When a lease of this process last took an ungrouped job: that lane's turn among groups. */
  private readonly plainLane = { servedAt: 0 };

  /** Transactions, single statements and reads, with the retries each allows. */
  private readonly db: Runner;
  private readonly kvTokens: PostgresKvTokens;

  private constructor(
    private readonly pool: pg.Pool,
    readonly schema: string,
    connectionString: string,
    /** What an acknowledged write survives (the hub's `--durability`). */
    readonly durability: Durability,
  ) {
    this.db = new Runner(pool, () => this.closed);
    this.kvTokens = new PostgresKvTokens(this.db);
    this.channel = `jobhub_${schema.toLowerCase()}`;
    this.listener = new NotificationListener(connectionString, this.channel, this.origin);
  }

  onJobsAvailable(fn: (e: JobsAvailable) => void): () => void {
    return this.listener.subscribe(fn);
  }

  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    // `?schema=name` in the URL selects the schema (several deployments can share one database).
    const url = new URL(opts.connectionString);
    const schema = opts.schema ?? url.searchParams.get('schema') ?? 'public';
    url.searchParams.delete('schema');
    const connectionString = url.toString();
    const durability = opts.durability ?? 'full';
    const pool = createPool(connectionString, schema, opts.maxConnections ?? 10, durability);
    const client = await pool.connect();
    try {
      await migrate(client, schema);
    } finally {
      client.release();
    }
    return new PostgresStore(pool, schema, connectionString, durability);
  }

  /** Reads for the job functions, with the same retries. */
  private readonly reader = {
    query: async (sql: string, args?: unknown[]) => ({ rows: await this.db.query(sql, args) }),
  } as unknown as Pick<PoolClient, 'query'>;

  private async one<R>(sql: string, args: unknown[]): Promise<R | undefined> {
    return (await this.db.query<R>(sql, args))[0];
  }

  /** A single-statement write that is not idempotent: run in a transaction for safe retries. */
  private async write<R>(sql: string, args: unknown[]): Promise<R | undefined> {
    return this.db.tx(async (c) => (await c.query(sql, args)).rows[0] as R | undefined);
  }

  /**
   * This store's pool and transaction helper (retries, `unavailable`), for the stores of other
   * modules on the same database (the contest's, built by the composition root).
   */
  shared(): Runner {
    return this.db;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener.close();
    await this.pool.end();
  }

  /**
   * `synchronous_commit` as the hub's sessions see it: the server's, database's or role's setting,
   * or the URL's options, unless relaxed durability turned it off itself.
   */
  async synchronousCommit(): Promise<string> {
    return (await this.one<{ synchronous_commit: string }>('SHOW synchronous_commit', []))!
      .synchronous_commit;
  }

  async ping(): Promise<boolean> {
    return (await this.one<{ one: number }>('SELECT 1 AS one', []))?.one === 1;
  }

  async blobInsert(p: { sha256: string; size: number; now: number; owner?: string | null }) {
    // One statement: the row and its grant commit together (idempotent, so safe to retry).
    const row = await this.one<BlobRow>(
      `WITH b AS (INSERT INTO blobs (sha256, size, created_at, touched_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (sha256) DO UPDATE SET touched_at = excluded.touched_at RETURNING *),
       g AS (INSERT INTO blob_grants (blob_id, owner) SELECT id, $4::text FROM b WHERE $4::text IS NOT NULL
         ON CONFLICT DO NOTHING)
       SELECT * FROM b`,
      [p.sha256, p.size, p.now, p.owner ?? null],
    );
    return blobFromRow(row!);
  }
  async blobReadable(p: { id: string; token: string; now: number }): Promise<boolean> {
    if (!/^\d{1,18}$/.test(p.id)) return false;
    const row = await this.one<{ ok: boolean }>(`SELECT ${BLOB_READABLE} AS ok`, [
      Number(p.id),
      p.token,
      p.now,
    ]);
    return row?.ok === true;
  }
  async blobGet(p: { id: string }): Promise<BlobRecord | null> {
    const row = await this.one<BlobRow>('SELECT * FROM blobs WHERE id = $1', [Number(p.id)]);
    return row ? blobFromRow(row) : null;
  }
  async blobListUnreferenced(p: { before: number; limit: number }): Promise<BlobRecord[]> {
    const rows = await this.db.query<BlobRow>(
      `SELECT * FROM blobs b WHERE touched_at < $1
         AND NOT EXISTS (SELECT 1 FROM jobs WHERE input_blob_id = b.id)
         AND NOT EXISTS (SELECT 1 FROM jobs WHERE output_blob_id = b.id)
         AND NOT EXISTS (SELECT 1 FROM functions WHERE code_blob_id = b.id)
       ORDER BY touched_at LIMIT $2`,
      [p.before, p.limit],
    );
    return rows.map(blobFromRow);
  }
  async blobDelete(p: { ids: string[]; before: number }): Promise<BlobRecord[]> {
    const rows = await this.db.query<BlobRow>(
      `DELETE FROM blobs b WHERE id = ANY($1::bigint[]) AND touched_at < $2
         AND NOT EXISTS (SELECT 1 FROM jobs WHERE input_blob_id = b.id OR output_blob_id = b.id)
         AND NOT EXISTS (SELECT 1 FROM functions WHERE code_blob_id = b.id) RETURNING *`,
      [p.ids.map(Number), p.before],
    );
    return rows.map(blobFromRow);
  }

  async functionInsert(p: Omit<FunctionRecord, 'id'>): Promise<FunctionRecord> {
    const row = await this.write<FunctionRow>(
      `INSERT INTO functions (name, runtime, code_blob_id, tags, timeout_ms, max_attempts, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [
        p.name,
        p.runtime,
        p.codeBlobId === null ? null : Number(p.codeBlobId),
        JSON.stringify(p.tags),
        p.timeoutMs,
        p.maxAttempts,
        p.createdAt,
      ],
    );
    return functionFromRow(row!);
  }
  async functionGet(p: { id: string }): Promise<FunctionRecord | null> {
    const row = await this.one<FunctionRow>('SELECT * FROM functions WHERE id = $1', [Number(p.id)]);
    return row ? functionFromRow(row) : null;
  }
  async functionList(p: { beforeId?: string; limit: number }): Promise<FunctionRecord[]> {
    const before = p.beforeId === undefined ? Number.MAX_SAFE_INTEGER : Number(p.beforeId);
    return (
      await this.db.query<FunctionRow>('SELECT * FROM functions WHERE id < $1 ORDER BY id DESC LIMIT $2', [
        before,
        p.limit,
      ])
    ).map(functionFromRow);
  }

  jobInsertMany(p: { jobs: NewJob[]; now: number; leases?: (DirectLease | null)[] }) {
    if (p.jobs.some((j) => j.group)) this.groupPresence.saw();
    // One job handed straight to a parked worker: a single INSERT, nothing to notify, so no
    // transaction around it (BEGIN and COMMIT would be two more round trips on the latency path).
    const only = p.jobs.length === 1 ? p.jobs[0]! : null;
    if (only && only.idempotencyKey === null && p.leases?.[0]) {
      const leases = [{ ...p.leases[0], token: randomUUID() }];
      return this.db
        .single((c) => jobs.insertMany(c, p.jobs, p.now, leases))
        .catch(async (err: unknown) => {
          if (!(err instanceof HubError && err.code === 'unavailable')) throw err;
          // The connection dropped: the INSERT may have committed or not. Its lease token tells;
          // if it did not, it is made again like any transaction (retried across reconnects).
          const [row] = await this.db.query<JobRow>('SELECT * FROM jobs WHERE lease_token = $1', [
            leases[0]!.token,
          ]);
          if (row) return [{ job: jobFromRow(row), created: true }];
          return this.db.tx((c) => jobs.insertMany(c, p.jobs, p.now, leases));
        });
    }
    return this.db.tx(async (c) => {
      const results = await jobs.insertMany(c, p.jobs, p.now, p.leases);
      await notifyQueued(
        c,
        this.channel,
        this.origin,
        results.filter((r) => r.created).map((r) => r.job),
      );
      return results;
    });
  }
  jobGet(p: { id: string }): Promise<JobRecord | null> {
    return jobs.get(this.reader, p.id);
  }
  jobList(p: JobFilter): Promise<JobRecord[]> {
    return jobs.list(this.reader, p);
  }
  async jobLeaseNext(p: LeaseRequest): Promise<JobRecord[]> {
    // Once groups exist, a transaction that serves them fairly (and falls back to the plain
    // path inside it when no group has work for this worker).
    if (await this.groupPresence.active(this.reader)) {
      return this.db.tx(
        async (c) =>
          (await leaseFair(c, p, this.plainLane)) ??
          (p.tags.length === 0 ? jobs.leaseInOrder(c, p) : jobs.leaseNext(c, p)),
      );
    }
    // Without worker tags the claim is one statement; with them, a ranked window in a transaction.
    if (p.tags.length === 0) return jobs.leaseInOrder(this.reader, p);
    return this.db.tx((c) => jobs.leaseNext(c, p));
  }
  leaseExtend(p: { jobId: string; token: string; leaseMs: number; progress?: unknown; now: number }) {
    return this.db.tx((c) => jobs.extend(c, p));
  }
  /**
   * Completions arriving in the same turn of the event loop (a worker's batch, many workers at
   * once) share one transaction and one UPDATE: group commit for the busiest write of the queue.
   */
  jobComplete(p: CompleteParams): Promise<CompleteOutcome> {
    return new Promise((resolve, reject) => {
      this.completions.push({ p, resolve, reject });
      if (this.completions.length === 1) setImmediate(() => void this.flushCompletions());
    });
  }

  private async flushCompletions(): Promise<void> {
    const batch = this.completions.splice(0);
    try {
      const outcomes = await this.db.tx(async (c) => {
        const out = await jobs.completeBatch(
          c,
          batch.map((b) => b.p),
        );
        await notifyQueued(
          c,
          this.channel,
          this.origin,
          out.flatMap((o) => (o.ok ? o.created : [])),
        );
        return out;
      });
      batch.forEach((b, i) => b.resolve(outcomes[i]!));
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
  jobFail(p: Parameters<Store['jobFail']>[0]) {
    return this.db.tx(async (c) => {
      const check = await jobs.fail(c, p);
      if (check.ok) await notifyQueued(c, this.channel, this.origin, [check.job]);
      return check;
    });
  }
  jobCancel(p: { jobId: string; now: number }) {
    return this.db.tx((c) => jobs.cancel(c, p.jobId, p.now));
  }
  scheduleInsert(p: Parameters<Store['scheduleInsert']>[0]) {
    return this.db.tx((c) => schedules.insert(c, p));
  }
  scheduleGet(p: { id: string }) {
    return schedules.get(this.reader, p.id);
  }
  scheduleList(p: { owner?: string; afterId?: string; limit: number }) {
    return schedules.list(this.reader, p);
  }
  scheduleDelete(p: { id: string }) {
    return this.db.tx((c) => schedules.remove(c, p.id));
  }
  scheduleSetPaused(p: { id: string; paused: boolean; nextRunAt?: number }) {
    return this.db.tx((c) => schedules.setPaused(c, p));
  }
  scheduleListDue(p: { now: number; limit: number }) {
    return schedules.due(this.reader, p.now, p.limit);
  }
  scheduleNextRunAt() {
    return schedules.nextRunAt(this.reader);
  }
  scheduleFire(p: Parameters<Store['scheduleFire']>[0]) {
    return this.db.tx(async (c) => {
      const outcome = await schedules.fire(c, p);
      if (outcome.claimed && outcome.job) await notifyQueued(c, this.channel, this.origin, [outcome.job]);
      return outcome;
    });
  }
  webhookInsert(p: Parameters<Store['webhookInsert']>[0]) {
    return this.db.tx((c) => webhooks.insert(c, p));
  }
  webhookGet(p: { id: string }) {
    return webhooks.get(this.reader, p.id);
  }
  webhookList(p: { owner?: string; limit: number }) {
    return webhooks.list(this.reader, p);
  }
  webhookDelete(p: { id: string }) {
    return this.db.tx((c) => webhooks.remove(c, p.id));
  }
  deliveryEnqueue(p: { since: number; jobIds?: string[]; now: number }) {
    return this.db.tx((c) => webhooks.enqueue(c, p));
  }
  deliveryClaim(p: { now: number; limit: number; claimMs: number }) {
    return this.db.tx((c) => webhooks.claim(c, p));
  }
  deliveryRecord(p: Parameters<Store['deliveryRecord']>[0]) {
    return this.db.tx((c) => webhooks.record(c, p));
  }
  deliveryList(p: { webhookId: string; beforeId?: string; limit: number }) {
    return webhooks.deliveries(this.reader, p);
  }
  deliveryDeleteFinished(p: { before: number; limit: number }) {
    return this.db.tx((c) => webhooks.deleteFinished(c, p.before, p.limit));
  }
  jobRetry(p: { jobId: string; now: number }) {
    return this.db.tx(async (c) => {
      const outcome = await jobs.retry(c, p.jobId, p.now);
      if (outcome?.changed) await notifyQueued(c, this.channel, this.origin, [outcome.job]);
      return outcome;
    });
  }
  jobBulk(p: Parameters<Store['jobBulk']>[0]) {
    return this.db.tx(async (c) => {
      const changed = await jobs.bulk(c, p);
      if (p.action === 'retry') await notifyQueued(c, this.channel, this.origin, changed);
      return changed;
    });
  }
  leaseReapExpired(p: { now: number; limit: number; retryDelayMs: (attempt: number) => number }) {
    return this.db.tx(async (c) => {
      const reaped = await jobs.reapExpired(c, p);
      await notifyQueued(c, this.channel, this.origin, reaped);
      return reaped;
    });
  }
  jobNextRunAt(p: { now: number }) {
    return jobs.nextRunAt(this.reader, p.now);
  }
  queueStats() {
    return jobs.stats(this.reader);
  }
  jobDeleteFinished(p: { before: number; limit: number }) {
    return this.db.tx((c) => jobs.deleteFinished(c, p.before, p.limit));
  }

  groupUpsert(p: Parameters<Store['groupUpsert']>[0]) {
    this.groupPresence.saw();
    return this.db.tx((c) => upsertGroup(c, p.name, p.settings, p.now));
  }
  groupList(p: { after?: string; limit: number }) {
    return listGroups(this.reader, p.after, p.limit);
  }
  groupGet(p: { name: string; now: number }) {
    return getGroup(this.reader, p.name, p.now);
  }

  async workerInsert(p: Omit<WorkerRecord, 'id' | 'owner'> & { owner?: string | null }) {
    const row = await this.write<WorkerRow>(
      `INSERT INTO workers (name, runtimes, tags, capacity, protocol, created_at, last_seen_at, owner)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [
        p.name,
        JSON.stringify(p.runtimes),
        JSON.stringify(p.tags),
        p.capacity,
        p.protocol,
        p.createdAt,
        p.lastSeenAt,
        p.owner ?? null,
      ],
    );
    return workerFromRow(row!);
  }
  async workerGet(p: { id: string }): Promise<WorkerRecord | null> {
    const row = await this.one<WorkerRow>('SELECT * FROM workers WHERE id = $1', [Number(p.id)]);
    return row ? workerFromRow(row) : null;
  }
  async workerList(p: { seenAfter: number; limit: number }): Promise<WorkerRecord[]> {
    return (
      await this.db.query<WorkerRow>(
        'SELECT * FROM workers WHERE last_seen_at >= $1 ORDER BY id DESC LIMIT $2',
        [p.seenAfter, p.limit],
      )
    ).map(workerFromRow);
  }
  async workerTouch(p: { ids: string[]; now: number }): Promise<void> {
    await this.db.query(
      'UPDATE workers SET last_seen_at = greatest(last_seen_at, $1) WHERE id = ANY($2::bigint[])',
      [p.now, p.ids.map(Number)],
    );
  }

  async leaseHeldFor(p: { worker: string; jobOwner: string; now: number }): Promise<boolean> {
    const row = await this.one<{ ok: boolean }>(`SELECT ${LEASE_HELD_FOR} AS ok`, [
      p.worker,
      p.jobOwner,
      p.now,
    ]);
    return row?.ok === true;
  }

  // Key-value and token tables: kv-tokens.ts.
  kvNamespaceInsert: Store['kvNamespaceInsert'] = (p) => this.kvTokens.kvNamespaceInsert(p);
  kvNamespaceExists: Store['kvNamespaceExists'] = (p) => this.kvTokens.kvNamespaceExists(p);
  kvNamespaceGet: Store['kvNamespaceGet'] = (p) => this.kvTokens.kvNamespaceGet(p);
  kvGet: Store['kvGet'] = (p) => this.kvTokens.kvGet(p);
  kvSet: Store['kvSet'] = (p) => this.kvTokens.kvSet(p);
  tokenInsert: Store['tokenInsert'] = (p) => this.kvTokens.tokenInsert(p);
  tokenFindByHash: Store['tokenFindByHash'] = (p) => this.kvTokens.tokenFindByHash(p);
  tokenList: Store['tokenList'] = () => this.kvTokens.tokenList();
  tokenDelete: Store['tokenDelete'] = (p) => this.kvTokens.tokenDelete(p);
  tokenTouch: Store['tokenTouch'] = (p) => this.kvTokens.tokenTouch(p);
}
