/**
 * The store conformance suite against PostgreSQL, when JOBHUB_TEST_PG names a database
 * (.ci/run sets it to the machine's running PostgreSQL). Each suite gets its own schema.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { stopHub, testHub } from '../helpers/hub.js';
import { newJob, storeConformance } from './conformance.js';
import { storeOwnerConformance } from './conformance-owners.js';
import { storeSchedulingConformance } from './conformance-scheduling.js';
import { storeTeamConformance } from './conformance-teams.js';
import { storeGroupConformance } from './conformance-groups.js';

const url = process.env.JOBHUB_TEST_PG;

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
}

const freshSchema = () => `jobhub_test_${randomBytes(6).toString('hex')}`;

const defaultWorker = (store: PostgresStore, now: number) =>
  store.workerInsert({
    name: null,
    runtimes: ['default'],
    tags: [],
    capacity: 1,
    protocol: 'v1',
    createdAt: now,
    lastSeenAt: now,
  });

if (!url) {
  describe('PostgresStore', () => {
    it.skip('needs JOBHUB_TEST_PG=postgres://… to run (the conformance suite runs against SQLite regardless)', () => {});
  });
} else {
  const openPostgres = async () => {
    const schema = freshSchema();
    const store = await PostgresStore.open({ connectionString: url, schema, maxConnections: 8 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropSchema(schema);
      },
    };
  };
  storeConformance('postgres', openPostgres);
  storeTeamConformance('postgres', openPostgres);
  storeOwnerConformance('postgres', openPostgres);
  storeSchedulingConformance('postgres', openPostgres);
  storeGroupConformance('postgres', openPostgres);

  describe('PostgresStore specifics', () => {
    it('waits for the WAL flush by default, and not with relaxed durability', async () => {
      // synchronous_commit is a setting of each session, so it is read on the store's own pool.
      const setting = async (s: PostgresStore) =>
        (await (s as unknown as { pool: pg.Pool }).pool.query('SHOW synchronous_commit')).rows[0]
          .synchronous_commit as string;
      const schema = freshSchema();
      const full = await PostgresStore.open({ connectionString: url, schema, maxConnections: 2 });
      const relaxed = await PostgresStore.open({
        connectionString: url,
        schema,
        maxConnections: 2,
        durability: 'relaxed',
      });
      try {
        // `full` keeps whatever the server says (on, unless it was configured otherwise).
        const server = new pg.Client({ connectionString: url });
        await server.connect();
        const serverSetting = (await server.query('SHOW synchronous_commit')).rows[0].synchronous_commit;
        await server.end();
        expect(await setting(full)).toBe(serverSetting);
        expect(await setting(relaxed)).toBe('off');
        // Both see the same jobs: the setting changes when a commit is acknowledged, not what it holds.
        await relaxed.jobInsertMany({ jobs: [newJob()], now: 1_000_000 });
        expect(await full.jobList({ limit: 10 })).toHaveLength(1);
      } finally {
        await full.close();
        await relaxed.close();
        await dropSchema(schema);
      }
    });

    it("keeps the URL's own connection options without losing its schema or durability", async () => {
      // pg lets a URL's `options` replace the pool's; the store must merge them instead.
      const schema = freshSchema();
      const withOptions = new URL(url);
      withOptions.searchParams.set('options', '-c statement_timeout=4321 -c application_name=jobhub_test');
      const store = await PostgresStore.open({
        connectionString: withOptions.toString(),
        schema,
        maxConnections: 2,
        durability: 'relaxed',
      });
      try {
        const pool = (store as unknown as { pool: pg.Pool }).pool;
        const show = async (name: string) =>
          Object.values((await pool.query(`SHOW ${name}`)).rows[0] as Record<string, string>)[0];
        expect(await show('statement_timeout')).toBe('4321ms');
        expect(await show('application_name')).toBe('jobhub_test');
        expect(await show('search_path')).toBe(`"${schema}"`);
        expect(await show('synchronous_commit')).toBe('off');
        // The store works in its schema: the job lands there, not in public.
        await store.jobInsertMany({ jobs: [newJob()], now: 1_000_000 });
        const check = new pg.Client({ connectionString: url });
        await check.connect();
        const n = (await check.query(`SELECT count(*)::int AS n FROM "${schema}".jobs`)).rows[0].n;
        await check.end();
        expect(n).toBe(1);
      } finally {
        await store.close();
        await dropSchema(schema);
      }
    });

    it('warns at startup when full durability meets sessions that do not wait for the flush', async () => {
      const warnings = async (database: string, durability: 'full' | 'relaxed' = 'full') => {
        const lines: string[] = [];
        const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
        await stopHub(await testHub({ database, durability }, { log }));
        return lines.filter((l) => l.includes('synchronous_commit'));
      };
      const schema = freshSchema();
      try {
        const off = new URL(url);
        off.searchParams.set('schema', schema);
        off.searchParams.set('options', '-c synchronous_commit=off');
        const warned = await warnings(off.toString());
        expect(warned).toHaveLength(1);
        expect(JSON.parse(warned[0]!)).toMatchObject({ level: 40, synchronous_commit: 'off' });
        expect(warned[0]).toContain('can lose acknowledged writes');
        // Relaxed asks for exactly that: nothing to warn about.
        expect(await warnings(off.toString(), 'relaxed')).toEqual([]);
        // The server's own setting decides for a plain URL (on, unless configured otherwise).
        const server = new pg.Client({ connectionString: url });
        await server.connect();
        const serverSetting = (await server.query('SHOW synchronous_commit')).rows[0].synchronous_commit;
        await server.end();
        const plain = new URL(url);
        plain.searchParams.set('schema', schema);
        expect(await warnings(plain.toString())).toHaveLength(serverSetting === 'off' ? 1 : 0);
      } finally {
        await dropSchema(schema);
      }
    });

    it('applies migrations once when several hubs start at the same time', async () => {
      const schema = freshSchema();
      try {
        const stores = await Promise.all(
          Array.from({ length: 4 }, () =>
            PostgresStore.open({ connectionString: url, schema, maxConnections: 2 }),
          ),
        );
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        const { rows } = await client.query(`SELECT version FROM "${schema}".schema_migrations`);
        await client.end();
        const files = readdirSync(new URL('../../src/store/postgres/migrations/', import.meta.url)).filter(
          (f) => f.endsWith('.sql'),
        );
        const versions = rows
          .map((r: { version: number }) => r.version)
          .sort((a: number, b: number) => a - b);
        expect(versions).toEqual(files.map((f) => Number(f.slice(0, 3))).sort((a, b) => a - b));
        await Promise.all(stores.map((s) => s.close()));
      } finally {
        await dropSchema(schema);
      }
    });

    it('never hands one job to two stores leasing at once (SKIP LOCKED)', async () => {
      const schema = freshSchema();
      const stores = await Promise.all(
        Array.from({ length: 3 }, () =>
          PostgresStore.open({ connectionString: url, schema, maxConnections: 4 }),
        ),
      );
      try {
        const now = 1_000_000;
        await stores[0]!.jobInsertMany({ jobs: Array.from({ length: 90 }, () => newJob()), now });
        const worker = await defaultWorker(stores[0]!, now);
        const batches = await Promise.all(
          Array.from({ length: 18 }, (_, i) =>
            stores[i % 3]!.jobLeaseNext({
              workerId: worker.id,
              runtimes: ['default'],
              tags: [],
              limit: 10,
              leaseMs: 1000,
              now,
            }),
          ),
        );
        const ids = batches.flat().map((j) => j.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids.length).toBe(90);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await dropSchema(schema);
      }
    });

    it('creates a job for a parked worker once when its connection is cut mid-statement', async () => {
      const schema = freshSchema();
      const store = await PostgresStore.open({ connectionString: url, schema, maxConnections: 4 });
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        const now = 1_000_000;
        const worker = await defaultWorker(store, now);
        // Hold the table so that the hub's INSERT waits, then cut the hub's connection under it.
        await admin.query('BEGIN');
        await admin.query(`LOCK TABLE "${schema}".jobs IN EXCLUSIVE MODE`);
        const created = store.jobInsertMany({
          jobs: [newJob()],
          now,
          leases: [{ workerId: worker.id, leaseMs: 60_000 }],
        });
        let pid: number | undefined;
        for (let i = 0; i < 1000 && pid === undefined; i++) {
          // The activity view is a snapshot kept for the whole transaction: clear it each time.
          await admin.query('SELECT pg_stat_clear_snapshot()');
          const { rows } = await admin.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO jobs%'`,
          );
          pid = rows[0]?.pid;
          if (pid === undefined) await new Promise((r) => setTimeout(r, 10));
        }
        expect(pid, 'the INSERT waiting on the lock').toBeDefined();
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        await admin.query('COMMIT');
        const [r] = await created;
        expect(r).toMatchObject({ created: true, job: { state: 'running', leaseWorkerId: worker.id } });
        const { rows } = await admin.query(`SELECT id, lease_token FROM "${schema}".jobs`);
        expect(rows).toHaveLength(1);
        expect(rows[0].lease_token).toBe(r!.job.leaseToken);
      } finally {
        await admin.end();
        await store.close();
        await dropSchema(schema);
      }
    });
  });
}
