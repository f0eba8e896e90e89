import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { testHub } from '../helpers/hub.js';
import { newJob, storeConformance } from './conformance.js';
import { storeOwnerConformance } from './conformance-owners.js';
import { storeSchedulingConformance } from './conformance-scheduling.js';
import { storeTeamConformance } from './conformance-teams.js';
import { everyEdgeSeen, watchTransitions } from './transitions.js';
import { storeGroupConformance } from './conformance-groups.js';

const dirs: string[] = [];
function freshPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'jobhub-sqlite-'));
  dirs.push(dir);
  return join(dir, 'hub.db');
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const openSqlite = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobhub-conf-'));
  const store = SqliteStore.open({ path: join(dir, 'hub.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
storeConformance('sqlite', watchTransitions(openSqlite));
storeTeamConformance('sqlite', watchTransitions(openSqlite));
storeOwnerConformance('sqlite', openSqlite);
storeSchedulingConformance('sqlite', openSqlite);
storeGroupConformance('sqlite', openSqlite);

describe('SqliteStore state machine', () => {
  it('wrote every edge of core/states.ts, and only those, in the conformance suite', everyEdgeSeen);
});

describe('SqliteStore specifics', () => {
  const T0 = 1_000_000;

  it('records migrations and applies none twice on reopen', async () => {
    const path = freshPath();
    const first = SqliteStore.open({ path });
    await first.close();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as {
      version: number;
      name: string;
    }[];
    db.close();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0]).toEqual({ version: 1, name: '001_initial.sql' });
    expect(rows.map((r) => r.version)).toEqual(
      [...new Set(rows.map((r) => r.version))].sort((a, b) => a - b),
    );

    const again = SqliteStore.open({ path });
    expect(await again.ping()).toBe(true);
    await again.close();
    const db2 = new Database(path, { readonly: true });
    const after = db2.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
    db2.close();
    expect(after).toEqual(rows);
  });

  it('flushes every commit by default, and at checkpoints only with relaxed durability', async () => {
    // PRAGMA synchronous is a setting of the connection, so it is read on the store's own.
    const synchronous = (s: SqliteStore) =>
      (s as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true });
    const full = SqliteStore.open({ path: freshPath() });
    const relaxed = SqliteStore.open({ path: freshPath(), durability: 'relaxed' });
    try {
      expect(synchronous(full)).toBe(2); // FULL
      expect(synchronous(relaxed)).toBe(1); // NORMAL
    } finally {
      await full.close();
      await relaxed.close();
    }
  });

  it('is opened by the hub with the durability of its configuration', async () => {
    for (const durability of ['full', 'relaxed'] as const) {
      const hub = await testHub({ durability });
      const store = hub.hub.ctx.store as unknown as { db: Database.Database };
      expect(store.db.pragma('synchronous', { simple: true })).toBe(durability === 'full' ? 2 : 1);
    }
  });

  it('uses WAL journaling', async () => {
    const path = freshPath();
    const store = SqliteStore.open({ path });
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('keeps data across close and reopen', async () => {
    const path = freshPath();
    const store = SqliteStore.open({ path });
    const blob = await store.blobInsert({ sha256: 'a'.repeat(64), size: 3, now: T0 });
    const [inserted] = await store.jobInsertMany({
      jobs: [newJob({ inputBlobId: blob.id, tags: ['x'], idempotencyKey: 'k' })],
      now: T0,
    });
    const job = inserted!.job;
    const token = await store.tokenInsert({ role: 'client', name: 'c', hash: 'h'.repeat(64), now: T0 });
    await store.close();
    await expect(store.jobGet({ id: job.id })).rejects.toThrow(/closed/);

    const reopened = SqliteStore.open({ path });
    expect(await reopened.jobGet({ id: job.id })).toEqual(job);
    expect(await reopened.blobGet({ id: blob.id })).toEqual(blob);
    expect(await reopened.tokenFindByHash({ hash: 'h'.repeat(64) })).toEqual(token);
    const [again] = await reopened.jobInsertMany({ jobs: [newJob({ idempotencyKey: 'k' })], now: T0 + 1 });
    expect(again).toEqual({ job, created: false });
    await reopened.close();
  });

  it('commits writes queued before close', async () => {
    const path = freshPath();
    const store = SqliteStore.open({ path });
    const pending = store.jobInsertMany({ jobs: [newJob()], now: T0 });
    await store.close();
    const job = (await pending)[0]!.job;
    const reopened = SqliteStore.open({ path });
    expect(await reopened.jobGet({ id: job.id })).not.toBeNull();
    await reopened.close();
  });

  it('group commit: many concurrent writes share few commits', async () => {
    const store = SqliteStore.open({ path: freshPath() });
    const before = store.commitStats();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        store.jobInsertMany({ jobs: [newJob({ owner: `o${i}` })], now: T0 }),
      ),
    );
    const after = store.commitStats();
    const commits = after.commits - before.commits;
    const operations = after.operations - before.operations;
    expect(operations).toBe(200);
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThanOrEqual(10);
    expect(new Set(results.map((r) => r[0]!.job.id)).size).toBe(200);
    expect(await store.jobList({ limit: 1_000 })).toHaveLength(200);
    await store.close();
  });

  it('group commit: a failing operation rolls back alone', async () => {
    const path = freshPath();
    const store = SqliteStore.open({ path });
    const before = store.commitStats();
    const good1 = store.jobInsertMany({ jobs: [newJob({ owner: 'good1' })], now: T0 });
    // Two jobs in one operation; the second breaks a NOT NULL column, so the first must go too.
    const bad = store.jobInsertMany({
      jobs: [
        newJob({ owner: 'bad-first' }),
        newJob({ owner: 'bad-second', runtime: null as unknown as string }),
      ],
      now: T0,
    });
    const good2 = store.blobInsert({ sha256: 'b'.repeat(64), size: 1, now: T0 });
    const badBlob = store.blobInsert({ sha256: null as unknown as string, size: 1, now: T0 });
    const good3 = store.jobInsertMany({ jobs: [newJob({ owner: 'good3' })], now: T0 });
    const settled = await Promise.allSettled([good1, bad, good2, badBlob, good3]);
    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    const after = store.commitStats();
    expect(after.commits - before.commits).toBe(1);
    await store.close();

    const reopened = SqliteStore.open({ path });
    const owners = (await reopened.jobList({ limit: 100 })).map((j) => j.owner).sort();
    expect(owners).toEqual(['good1', 'good3']);
    const blob = (settled[2] as PromiseFulfilledResult<{ id: string }>).value;
    expect(await reopened.blobGet({ id: blob.id })).not.toBeNull();
    await reopened.close();
  });

  it('refuses to work after close', async () => {
    const store = SqliteStore.open({ path: freshPath() });
    await store.close();
    await store.close();
    await expect(store.ping()).rejects.toThrow(/closed/);
    await expect(store.jobInsertMany({ jobs: [newJob()], now: T0 })).rejects.toThrow(/closed/);
  });
});

describe('sqlite statements', () => {
  // SQLite reads a bare `LIMIT ?` while planning; binding it again expires the statement, which is
  // then prepared anew on every run (it made a lone worker's cycle a third slower). See store.ts.
  const bareBoundLimit = /\bLIMIT\s+(?:\?|[@:]\w+\b)(?!\s*\+\s*0)/i;
  const sources = () => {
    const dir = new URL('../../src/store/sqlite/', import.meta.url).pathname;
    return [
      ...readdirSync(dir).map((f) => join(dir, f)),
      new URL('../../src/contest/store/sqlite.ts', import.meta.url).pathname,
    ].filter((f) => f.endsWith('.ts'));
  };

  it('bind no LIMIT bare (a bound limit is written `? + 0`)', () => {
    expect(bareBoundLimit.test('SELECT * FROM jobs ORDER BY id LIMIT ?')).toBe(true);
    expect(bareBoundLimit.test('SELECT * FROM jobs ORDER BY id LIMIT @limit')).toBe(true);
    expect(bareBoundLimit.test('SELECT * FROM jobs ORDER BY id LIMIT ? + 0')).toBe(false);
    expect(bareBoundLimit.test('SELECT * FROM jobs ORDER BY id LIMIT @limit + 0')).toBe(false);
    const found = sources().flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => ({ at: `${f}:${i + 1}`, line }))
        .filter(({ line }) => !/^\s*(\*|\/\/)/.test(line) && bareBoundLimit.test(line)),
    );
    expect(found).toEqual([]);
    expect(sources().length).toBeGreaterThan(5);
  });
});
