/**
 * The embedded store: one SQLite file in WAL mode. Writes go through group commit (see
 * group-commit.ts) with `synchronous=FULL`, so an acknowledged write survives a crash of the
 * process and of the machine (with `durability: 'relaxed'`, `synchronous=NORMAL`: a crash of the
 * process only). Reads run directly on the same connection.
 *
 * A LIMIT that is bound is written `LIMIT ? + 0` in every statement of the SQLite stores. SQLite
 * reads the value of a bare `LIMIT ?` while it plans, so binding it again expires the statement,
 * and every run prepares it anew: 20 µs more for the lease scan, a third of its cost. A constant
 * limit is written into the SQL.
 */
import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type { Durability } from '../../config/config.js';
import type {
  BlobRecord,
  DirectLease,
  FunctionRecord,
  JobFilter,
  JobRecord,
  LeaseRequest,
  NewJob,
  Store,
  TokenRecord,
  WorkerRecord,
} from '../store.js';
import { GroupCommit } from './group-commit.js';
import { SqliteJobs } from './jobs.js';
import { SqliteSchedules } from './schedules.js';
import { SqliteWebhooks } from './webhooks.js';
import { migrate } from './migrate.js';
import {
  blobFromRow,
  functionFromRow,
  workerFromRow,
  tokenFromRow,
  type BlobRow,
  type FunctionRow,
  type TokenRow,
  type WorkerRow,
} from '../rows.js';

export interface SqliteStoreOptions {
  /** Path of the database file, or ':memory:'. */
  path: string;
  /** Default `full`; see HubConfig. */
  durability?: Durability;
}

/** A connection shared with another module's store (see SqliteStore.shared). */
export interface SqliteShared {
  db: Database.Database;
  /** Runs `fn` in the next group commit; resolves once it is durable. */
  write<T>(fn: () => T): Promise<T>;
  /** Runs a read (refused once the store is closed). */
  read<T>(fn: () => T): Promise<T>;
}

export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly writes: GroupCommit;
  private readonly jobs: SqliteJobs;
  private readonly schedules: SqliteSchedules;
  private readonly webhooks: SqliteWebhooks;
  private readonly s: Record<string, Statement>;
  private closed = false;

  private constructor(db: Database.Database) {
    this.db = db;
    this.writes = new GroupCommit(db);
    this.jobs = new SqliteJobs(db);
    this.schedules = new SqliteSchedules(db, (job, now) => this.jobs.insertOne(job, now));
    this.webhooks = new SqliteWebhooks(db);
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      blobUpsert: p(`INSERT INTO blobs (sha256, size, created_at, touched_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (sha256) DO UPDATE SET touched_at = excluded.touched_at RETURNING *`),
      blobGrant: p('INSERT INTO blob_grants (blob_id, owner) VALUES (?, ?) ON CONFLICT DO NOTHING'),
      blobUngrant: p('DELETE FROM blob_grants WHERE blob_id = ?'),
      blobReadable: p(`SELECT ${BLOB_READABLE} AS ok`),
      leaseHeldFor: p(`SELECT ${LEASE_HELD_FOR} AS ok`),
      blobGet: p('SELECT * FROM blobs WHERE id = ?'),
      blobUnreferenced: p(`SELECT * FROM blobs b WHERE touched_at < ?
        AND NOT EXISTS (SELECT 1 FROM jobs WHERE input_blob_id = b.id)
        AND NOT EXISTS (SELECT 1 FROM jobs WHERE output_blob_id = b.id)
        AND NOT EXISTS (SELECT 1 FROM functions WHERE code_blob_id = b.id)
        ORDER BY touched_at LIMIT ? + 0`),
      blobDelete: p(`DELETE FROM blobs WHERE id = ? AND touched_at < ?
        AND NOT EXISTS (SELECT 1 FROM jobs WHERE input_blob_id = blobs.id OR output_blob_id = blobs.id)
        AND NOT EXISTS (SELECT 1 FROM functions WHERE code_blob_id = blobs.id) RETURNING *`),
      fnInsert:
        p(`INSERT INTO functions (name, runtime, code_blob_id, tags, timeout_ms, max_attempts, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`),
      fnGet: p('SELECT * FROM functions WHERE id = ?'),
      fnList: p('SELECT * FROM functions WHERE id < ? ORDER BY id DESC LIMIT ? + 0'),
      workerInsert:
        p(`INSERT INTO workers (name, runtimes, tags, capacity, protocol, created_at, last_seen_at, owner)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`),
      workerGet: p('SELECT * FROM workers WHERE id = ?'),
      workerList: p('SELECT * FROM workers WHERE last_seen_at >= ? ORDER BY id DESC LIMIT ? + 0'),
      workerTouch: p('UPDATE workers SET last_seen_at = max(last_seen_at, ?) WHERE id = ?'),
      kvNsInsert: p(
        'INSERT INTO kv_namespaces (consistency, created_at, owner) VALUES (?, ?, ?) RETURNING id',
      ),
      kvNsGet: p('SELECT owner FROM kv_namespaces WHERE id = ?'),
      kvGet: p(`SELECT value FROM kv_entries WHERE namespace = ? AND key = ?
        AND (expires_at IS NULL OR expires_at > ?)`),
      kvPut: p(`INSERT INTO kv_entries (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`),
      tokenInsert: p(
        'INSERT INTO tokens (role, name, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING *',
      ),
      tokenByHash: p('SELECT * FROM tokens WHERE hash = ?'),
      tokenList: p('SELECT * FROM tokens ORDER BY id'),
      tokenDelete: p('DELETE FROM tokens WHERE id = ? RETURNING id'),
      tokenTouch: p('UPDATE tokens SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?'),
    };
  }

  /** Opens (creating if needed) and migrates the database. */
  static open(opts: SqliteStoreOptions): SqliteStore {
    const db = new Database(opts.path);
    db.pragma('journal_mode = WAL');
    // FULL: the WAL is fsynced at every commit; group commit keeps that to one fsync per batch.
    // NORMAL (relaxed): a commit is written to the WAL, which the OS holds if the hub dies, and
    // fsynced at checkpoints only.
    db.pragma(opts.durability === 'relaxed' ? 'synchronous = NORMAL' : 'synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma('cache_size = -65536'); // 64 MiB of page cache: the queue's hot pages stay in memory
    try {
      migrate(db);
      // Take the write lock once (waiting busy_timeout): a database that another process holds
      // locked, or that is read-only, fails the start with SQLITE_BUSY/READONLY instead of every
      // later write failing while the hub looks healthy.
      db.exec('BEGIN IMMEDIATE; ROLLBACK');
    } catch (err) {
      db.close();
      throw err;
    }
    return new SqliteStore(db);
  }

  private write<T>(fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return this.writes.run(fn);
  }

  private read<T>(fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * This store's connection and its two ways in, for the stores of other modules kept in the same
   * file (the contest's, built by the composition root): their writes join this group commit.
   */
  shared(): SqliteShared {
    return { db: this.db, write: (fn) => this.write(fn), read: (fn) => this.read(fn) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.writes.flush();
    this.closed = true;
    this.db.close();
  }

  ping(): Promise<boolean> {
    return this.read(() => this.db.prepare('SELECT 1 AS one').get() !== undefined);
  }

  /** Commits performed and operations they carried (group commit's effect, for metrics). */
  commitStats(): { commits: number; operations: number } {
    return { commits: this.writes.commits, operations: this.writes.operations };
  }

  blobInsert(p: { sha256: string; size: number; now: number; owner?: string | null }): Promise<BlobRecord> {
    return this.write(() => {
      const row = this.s.blobUpsert!.get(p.sha256, p.size, p.now, p.now) as BlobRow;
      if (p.owner != null) this.s.blobGrant!.run(row.id, p.owner);
      return blobFromRow(row);
    });
  }
  blobReadable(p: { id: string; token: string; now: number }): Promise<boolean> {
    if (!/^\d{1,18}$/.test(p.id)) return Promise.resolve(false);
    return this.read(
      () =>
        (this.s.blobReadable!.get({ blob: Number(p.id), token: p.token, now: p.now }) as { ok: number })
          .ok === 1,
    );
  }
  blobGet(p: { id: string }): Promise<BlobRecord | null> {
    return this.read(() => {
      const row = this.s.blobGet!.get(Number(p.id)) as BlobRow | undefined;
      return row ? blobFromRow(row) : null;
    });
  }
  blobListUnreferenced(p: { before: number; limit: number }): Promise<BlobRecord[]> {
    return this.read(() => (this.s.blobUnreferenced!.all(p.before, p.limit) as BlobRow[]).map(blobFromRow));
  }
  blobDelete(p: { ids: string[]; before: number }): Promise<BlobRecord[]> {
    return this.write(() =>
      p.ids.flatMap((id) => {
        const row = this.s.blobDelete!.get(Number(id), p.before) as BlobRow | undefined;
        if (row) this.s.blobUngrant!.run(row.id);
        return row ? [blobFromRow(row)] : [];
      }),
    );
  }

  functionInsert(p: Omit<FunctionRecord, 'id'>): Promise<FunctionRecord> {
    return this.write(() =>
      functionFromRow(
        this.s.fnInsert!.get(
          p.name,
          p.runtime,
          p.codeBlobId === null ? null : Number(p.codeBlobId),
          JSON.stringify(p.tags),
          p.timeoutMs,
          p.maxAttempts,
          p.createdAt,
        ) as FunctionRow,
      ),
    );
  }
  functionGet(p: { id: string }): Promise<FunctionRecord | null> {
    return this.read(() => {
      const row = this.s.fnGet!.get(Number(p.id)) as FunctionRow | undefined;
      return row ? functionFromRow(row) : null;
    });
  }
  functionList(p: { beforeId?: string; limit: number }): Promise<FunctionRecord[]> {
    const before = p.beforeId === undefined ? Number.MAX_SAFE_INTEGER : Number(p.beforeId);
    return this.read(() => (this.s.fnList!.all(before, p.limit) as FunctionRow[]).map(functionFromRow));
  }

  jobInsertMany(p: { jobs: NewJob[]; now: number; leases?: (DirectLease | null)[] }) {
    return this.write(() => this.jobs.insertMany(p.jobs, p.now, p.leases));
  }
  jobGet(p: { id: string }): Promise<JobRecord | null> {
    return this.read(() => this.jobs.get(p.id));
  }
  jobList(p: JobFilter): Promise<JobRecord[]> {
    return this.read(() => this.jobs.list(p));
  }
  jobLeaseNext(p: LeaseRequest): Promise<JobRecord[]> {
    return this.write(() => this.jobs.leaseNext(p));
  }
  leaseExtend(p: { jobId: string; token: string; leaseMs: number; progress?: unknown; now: number }) {
    return this.write(() => this.jobs.extend(p));
  }
  jobComplete(p: Parameters<Store['jobComplete']>[0]) {
    return this.write(() => this.jobs.complete(p));
  }
  jobFail(p: Parameters<Store['jobFail']>[0]) {
    return this.write(() => this.jobs.fail(p));
  }
  jobCancel(p: { jobId: string; now: number }) {
    return this.write(() => this.jobs.cancel(p.jobId, p.now));
  }
  scheduleInsert(p: Parameters<Store['scheduleInsert']>[0]) {
    return this.write(() => this.schedules.insert(p));
  }
  scheduleGet(p: { id: string }) {
    return this.read(() => this.schedules.get(p.id));
  }
  scheduleList(p: { owner?: string; afterId?: string; limit: number }) {
    return this.read(() => this.schedules.list(p));
  }
  scheduleDelete(p: { id: string }) {
    return this.write(() => this.schedules.delete(p.id));
  }
  scheduleSetPaused(p: { id: string; paused: boolean; nextRunAt?: number }) {
    return this.write(() => this.schedules.setPaused(p));
  }
  scheduleListDue(p: { now: number; limit: number }) {
    return this.read(() => this.schedules.due(p.now, p.limit));
  }
  scheduleNextRunAt() {
    return this.read(() => this.schedules.nextRunAt());
  }
  scheduleFire(p: Parameters<Store['scheduleFire']>[0]) {
    return this.write(() => this.schedules.fire(p));
  }
  webhookInsert(p: Parameters<Store['webhookInsert']>[0]) {
    return this.write(() => this.webhooks.insert(p));
  }
  webhookGet(p: { id: string }) {
    return this.read(() => this.webhooks.get(p.id));
  }
  webhookList(p: { owner?: string; limit: number }) {
    return this.read(() => this.webhooks.list(p));
  }
  webhookDelete(p: { id: string }) {
    return this.write(() => this.webhooks.delete(p.id));
  }
  deliveryEnqueue(p: { since: number; jobIds?: string[]; now: number }) {
    return this.write(() => this.webhooks.enqueue(p));
  }
  deliveryClaim(p: { now: number; limit: number; claimMs: number }) {
    return this.write(() => this.webhooks.claim(p));
  }
  deliveryRecord(p: Parameters<Store['deliveryRecord']>[0]) {
    return this.write(() => this.webhooks.record(p));
  }
  deliveryList(p: { webhookId: string; beforeId?: string; limit: number }) {
    return this.read(() => this.webhooks.deliveries(p));
  }
  deliveryDeleteFinished(p: { before: number; limit: number }) {
    return this.write(() => this.webhooks.deleteFinished(p.before, p.limit));
  }
  jobRetry(p: { jobId: string; now: number }) {
    return this.write(() => this.jobs.retry(p.jobId, p.now));
  }
  jobBulk(p: Parameters<Store['jobBulk']>[0]) {
    return this.write(() => this.jobs.bulk(p));
  }
  leaseReapExpired(p: { now: number; limit: number; retryDelayMs: (attempt: number) => number }) {
    return this.write(() => this.jobs.reapExpired(p));
  }
  jobNextRunAt(p: { now: number }) {
    return this.read(() => this.jobs.nextRunAt(p.now));
  }
  queueStats() {
    return this.read(() => this.jobs.stats());
  }
  jobDeleteFinished(p: { before: number; limit: number }) {
    return this.write(() => this.jobs.deleteFinished(p.before, p.limit));
  }

  groupUpsert(p: Parameters<Store['groupUpsert']>[0]) {
    return this.write(() => this.jobs.groups.upsert(p.name, p.settings, p.now));
  }
  groupList(p: { after?: string; limit: number }) {
    return this.read(() => this.jobs.groups.list(p.after, p.limit));
  }
  groupGet(p: { name: string; now: number }) {
    return this.read(() => this.jobs.groups.get(p.name, p.now));
  }

  workerInsert(p: Omit<WorkerRecord, 'id' | 'owner'> & { owner?: string | null }): Promise<WorkerRecord> {
    return this.write(() =>
      workerFromRow(
        this.s.workerInsert!.get(
          p.name,
          JSON.stringify(p.runtimes),
          JSON.stringify(p.tags),
          p.capacity,
          p.protocol,
          p.createdAt,
          p.lastSeenAt,
          p.owner ?? null,
        ) as WorkerRow,
      ),
    );
  }
  workerGet(p: { id: string }): Promise<WorkerRecord | null> {
    return this.read(() => {
      const row = this.s.workerGet!.get(Number(p.id)) as WorkerRow | undefined;
      return row ? workerFromRow(row) : null;
    });
  }
  workerList(p: { seenAfter: number; limit: number }): Promise<WorkerRecord[]> {
    return this.read(() => (this.s.workerList!.all(p.seenAfter, p.limit) as WorkerRow[]).map(workerFromRow));
  }
  workerTouch(p: { ids: string[]; now: number }): Promise<void> {
    return this.write(() => {
      for (const id of p.ids) this.s.workerTouch!.run(p.now, Number(id));
    });
  }

  leaseHeldFor(p: { worker: string; jobOwner: string; now: number }): Promise<boolean> {
    return this.read(
      () =>
        (this.s.leaseHeldFor!.get({ worker: p.worker, owner: p.jobOwner, now: p.now }) as { ok: number })
          .ok === 1,
    );
  }

  kvNamespaceInsert(p: { consistency: string; now: number; owner?: string | null }): Promise<{ id: string }> {
    return this.write(() => ({
      id: String((this.s.kvNsInsert!.get(p.consistency, p.now, p.owner ?? null) as { id: number }).id),
    }));
  }
  kvNamespaceExists(p: { id: string }): Promise<boolean> {
    return this.read(() => this.s.kvNsGet!.get(Number(p.id)) !== undefined);
  }
  kvNamespaceGet(p: { id: string }): Promise<{ owner: string | null } | null> {
    return this.read(() => {
      const row = this.s.kvNsGet!.get(Number(p.id)) as { owner: string | null } | undefined;
      return row ? { owner: row.owner } : null;
    });
  }
  kvGet(p: { namespace: string; key: string; now: number }): Promise<string | null> {
    return this.read(() => this.kvValue(p.namespace, p.key, p.now));
  }
  private kvValue(namespace: string, key: string, now: number): string | null {
    const row = this.s.kvGet!.get(Number(namespace), key, now) as { value: string } | undefined;
    return row ? row.value : null;
  }
  kvSet(p: {
    namespace: string;
    key: string;
    value: string;
    append: boolean;
    expiresAt: number | null;
    now: number;
  }) {
    return this.write(() => {
      const old = this.kvValue(p.namespace, p.key, p.now);
      const value = p.append && old !== null ? old + p.value : p.value;
      this.s.kvPut!.run(Number(p.namespace), p.key, value, p.expiresAt);
      return old;
    });
  }

  tokenInsert(p: {
    role: TokenRecord['role'];
    name: string | null;
    hash: string;
    now: number;
    expiresAt?: number | null;
  }) {
    return this.write(() =>
      tokenFromRow(this.s.tokenInsert!.get(p.role, p.name, p.hash, p.now, p.expiresAt ?? null) as TokenRow),
    );
  }
  tokenList(): Promise<TokenRecord[]> {
    return this.read(() => (this.s.tokenList!.all() as TokenRow[]).map(tokenFromRow));
  }
  tokenDelete(p: { id: string }): Promise<boolean> {
    if (!/^\d{1,18}$/.test(p.id)) return Promise.resolve(false);
    return this.write(() => this.s.tokenDelete!.get(Number(p.id)) !== undefined);
  }
  tokenTouch(p: { uses: { id: string; at: number }[] }): Promise<void> {
    return this.write(() => {
      for (const u of p.uses) this.s.tokenTouch!.run(u.at, Number(u.id));
    });
  }
  tokenFindByHash(p: { hash: string }): Promise<TokenRecord | null> {
    return this.read(() => {
      const row = this.s.tokenByHash!.get(p.hash) as TokenRow | undefined;
      return row ? tokenFromRow(row) : null;
    });
  }
}

/** blobReadable's condition (see the Store interface). */
const BLOB_READABLE = `(
  EXISTS (SELECT 1 FROM blob_grants WHERE blob_id = @blob AND owner = @token)
  OR EXISTS (SELECT 1 FROM jobs WHERE owner = @token AND input_blob_id = @blob)
  OR EXISTS (SELECT 1 FROM jobs WHERE owner = @token AND output_blob_id = @blob)
  OR EXISTS (SELECT 1 FROM jobs j JOIN workers w ON w.id = j.lease_worker_id
      LEFT JOIN functions f ON f.id = j.function_id
    WHERE j.state = 'running' AND j.lease_expires_at > @now AND w.owner = @token
      AND (j.input_blob_id = @blob OR f.code_blob_id = @blob
        OR EXISTS (SELECT 1 FROM blob_grants g WHERE g.blob_id = @blob AND g.owner = j.owner))))`;

/** leaseHeldFor's condition. */
const LEASE_HELD_FOR = `EXISTS (SELECT 1 FROM jobs j JOIN workers w ON w.id = j.lease_worker_id
  WHERE j.state = 'running' AND j.lease_expires_at > @now AND w.owner = @worker AND j.owner = @owner)`;
