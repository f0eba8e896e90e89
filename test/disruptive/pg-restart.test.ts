/**
 * PostgreSQL restarted under load: hubs recover without manual action, and nothing acknowledged
 * is lost. Disruptive for anything else using the database, so this file runs on its own after
 * the main suite (vitest.disruptive.config.ts), and only when JOBHUB_TEST_PG is set and this
 * machine can restart its PostgreSQL cluster (pg_ctlcluster, as on Debian).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { scaled } from '../helpers/time.js';

const url = process.env.JOBHUB_TEST_PG;
const canRestart = existsSync('/usr/bin/pg_ctlcluster') && existsSync('/etc/postgresql');
const schema = `jobhub_restart_${randomBytes(5).toString('hex')}`;

const run = promisify(execFile);

/**
 * Restarts the cluster without blocking this process (the hubs under test run in it). A shutdown
 * waits for a checkpoint in progress: after the main suite's schemas come and go that one syncs
 * tens of thousands of files, which took 62 s beside two CPU hogs, past pg_ctl's default 60 s
 * wait. So pg_ctl waits up to 5 minutes, and a restart that fails still leaves the cluster
 * started: nothing after this test (the next run, the machine's other users) finds it down.
 */
async function restartPostgres(): Promise<void> {
  try {
    await run('pg_ctlcluster', [
      '--skip-systemctl-redirect',
      cluster(),
      'main',
      'restart',
      '--',
      '-t',
      '300',
    ]);
  } catch (err) {
    await ensureStarted();
    throw err;
  }
}

function cluster(): string {
  return readdirSync('/etc/postgresql')[0]!;
}

async function ensureStarted(): Promise<void> {
  const { hostname, port } = new URL(url!);
  const up = await run('pg_isready', ['-h', hostname, '-p', port || '5432', '-q']).then(
    () => true,
    () => false,
  );
  if (!up)
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', cluster(), 'main', 'start']).catch(() => {});
}

/** Flushes what the main suite wrote before the load starts, so the restart's shutdown is quick. */
async function checkpoint(): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CHECKPOINT');
  } finally {
    await client.end();
  }
}

async function tryApi(base: string, method: string, path: string, body?: unknown) {
  try {
    return await api(base, method, path, body);
  } catch {
    return null;
  }
}

afterAll(async () => {
  if (!url || !canRestart) return;
  await ensureStarted();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

describe.runIf(url && canRestart)('PostgreSQL restarted under load', () => {
  it(
    'keeps every acknowledged job and serves again without manual action',
    async () => {
      await checkpoint();
      const database = new URL(url!);
      database.searchParams.set('schema', schema);
      const hubs = [
        await testHub({ database: database.toString() }),
        await testHub({ database: database.toString() }),
      ];
      const created = new Set<string>();
      const completed = new Set<string>();
      let running = true;
      let errors = 0;
      const producer = async (h: number) => {
        while (running) {
          const r = await tryApi(hubs[h]!.url, 'POST', '/api/v1/jobs', { runtime: 'pgr', maxAttempts: 50 });
          if (r?.status === 201) created.add(r.body.id);
          else {
            errors++;
            await new Promise((res) => setTimeout(res, 50));
          }
        }
      };
      const worker = async (h: number) => {
        const reg = await api(hubs[h]!.url, 'POST', '/api/v1/workers', { runtimes: ['pgr'] });
        while (running || completed.size < created.size) {
          const r = await tryApi(hubs[h]!.url, 'POST', `/api/v1/workers/${reg.body.id}/lease`, {
            limit: 10,
            waitMs: 200,
          });
          if (!r || r.status !== 200) {
            await new Promise((res) => setTimeout(res, 50));
            continue;
          }
          for (const job of r.body.jobs as { id: string; token: string }[]) {
            const c = await tryApi(hubs[h]!.url, 'POST', `/api/v1/jobs/${job.id}/complete`, {
              token: job.token,
            });
            if (c?.status === 200) completed.add(job.id);
          }
          if (!running && r.body.jobs.length === 0 && completed.size >= created.size) break;
        }
      };
      const loops = [producer(0), producer(1), worker(0), worker(1)];
      await new Promise((r) => setTimeout(r, 1000));
      const before = created.size;
      const restartedAt = Date.now();
      await restartPostgres();
      // Recovery: both hubs accept jobs again.
      for (const h of hubs) {
        for (;;) {
          const r = await tryApi(h.url, 'POST', '/api/v1/jobs', { runtime: 'pgr', maxAttempts: 50 });
          if (r?.status === 201) {
            created.add(r.body.id);
            break;
          }
          expect(Date.now() - restartedAt).toBeLessThan(30_000);
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      const recoverySeconds = (Date.now() - restartedAt) / 1000;
      await new Promise((r) => setTimeout(r, 1000));
      running = false;
      await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 30_000))]);
      expect(created.size).toBeGreaterThan(before);
      for (const id of created) {
        const r = await api(hubs[0]!.url, 'GET', `/api/v1/jobs/${id}`);
        expect(r.status, `job ${id}`).toBe(200);
        expect(r.body.state, `job ${id}`).toBe('succeeded');
      }
      console.log(
        `postgres restart: recovered in ${recoverySeconds.toFixed(1)} s, ${errors} refused requests meanwhile`,
      );
    },
    scaled(60_000),
  );
});
