/**
 * Token life cycle: `jobhub token list|revoke|create --expires` in child processes against the
 * store of a running hub; a revoked token is refused by every hub on that store within a second
 * (two hubs on one PostgreSQL schema with JOBHUB_TEST_PG); an expired token is refused; "last
 * used" is recorded without a write per request.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExpiry } from '../../src/cli/token.js';
import type { SqliteStore } from '../../src/store/sqlite/store.js';
import { api, testHub } from '../helpers/hub.js';
import { buildCli, runCliAsync } from '../helpers/worker.js';

const PG = process.env.JOBHUB_TEST_PG;
const schemas: string[] = [];

beforeAll(() => buildCli(), 120_000);
afterAll(async () => {
  if (!PG || !schemas.length) return;
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await c.end();
});

const cli = runCliAsync;

const as = (token: string) => ({ authorization: `Bearer ${token}` });
const status = async (url: string, token: string) =>
  (await api(url, 'GET', '/api/v1/jobs', undefined, as(token))).status;
/** Longer than the hubs' token cache (500 ms): the bound the revocation promises. */
const ONE_SECOND = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('jobhub token (SQLite data directory)', () => {
  it('lists tokens with their last use, revokes one, and the running hub refuses it within a second', async () => {
    const hub = await testHub({ auth: true });
    const dir = hub.hub.ctx.config.dataDir;
    const a = await hub.hub.auth.create('client', 'alice');
    const b = await hub.hub.auth.create('worker', 'bench-box');
    expect(await status(hub.url, a.token)).toBe(200);
    await hub.hub.auth.flushUsed();

    const listed = await cli(['token', 'list', '--json', '--data-dir', dir]);
    expect(listed.code, listed.stderr).toBe(0);
    const rows = JSON.parse(listed.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => Object.keys(r).sort())[0]).toEqual([
      'created',
      'expires',
      'id',
      'lastUsed',
      'name',
      'role',
    ]);
    expect(rows).toMatchObject([
      { id: a.record.id, name: 'alice', role: 'client', expires: null },
      { id: b.record.id, name: 'bench-box', role: 'worker', lastUsed: null },
    ]);
    expect(Date.parse(rows[0]!.lastUsed as string)).toBeGreaterThanOrEqual(a.record.createdAt);
    // Never the secret, nor its hash.
    expect(listed.stdout).not.toContain(a.token);
    const text = await cli(['token', 'list', '--data-dir', dir]);
    expect(text.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+ROLE\s+CREATED\s+LAST USED\s+EXPIRES$/);
    expect(text.stdout).toContain('bench-box');

    const revoked = await cli(['token', 'revoke', a.record.id, '--data-dir', dir]);
    expect(revoked.code, revoked.stderr).toBe(0);
    await sleep(ONE_SECOND);
    const refused = await api(hub.url, 'GET', '/api/v1/jobs', undefined, as(a.token));
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('unauthorized');
    expect(await status(hub.url, b.token)).toBe(200);

    const unknown = await cli(['token', 'revoke', '999999', '--data-dir', dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no token with id');
    const after = JSON.parse((await cli(['token', 'list', '--json', '--data-dir', dir])).stdout);
    expect(after.map((r: { id: string }) => r.id)).toEqual([b.record.id]);
  });

  it('creates a token with an expiry; bad expiries are refused', async () => {
    const hub = await testHub({ auth: true });
    const dir = hub.hub.ctx.config.dataDir;
    const made = await cli(['token', 'create', '--role', 'client', '--expires', '30d', '--data-dir', dir]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stderr).toMatch(/expires \d{4}-/);
    expect(await status(hub.url, made.stdout.trim())).toBe(200);
    for (const bad of ['soon', '-1d', '2001-01-01T00:00:00Z', '30y']) {
      const r = await cli(['token', 'create', '--role', 'client', '--expires', bad, '--data-dir', dir]);
      expect(r.code, bad).not.toBe(0);
      expect(r.stdout).toBe('');
    }
    expect(parseExpiry('90m', 1000)).toBe(1000 + 90 * 60_000);
    expect(parseExpiry('2030-01-01T00:00:00Z', 1000)).toBe(Date.parse('2030-01-01T00:00:00Z'));
  });
});

describe('token expiry and last use', () => {
  it('refuses a token once its expiry has passed, even from the cache', async () => {
    let now = Date.now();
    const hub = await testHub({ auth: true }, { clock: () => now });
    const { token } = await hub.hub.auth.create('client', null, now + 60_000);
    expect(await status(hub.url, token)).toBe(200);
    now += 60_000;
    const r = await api(hub.url, 'GET', '/api/v1/jobs', undefined, as(token));
    expect(r.status).toBe(401);
    expect(r.body.error.message).toContain('expired');
  });

  it('records "last used" in batches, not with a write per request', async () => {
    // The reaper writes on its own schedule; kept quiet so that every commit counted is a request's.
    const hub = await testHub({ auth: true, reapIntervalMs: 3_600_000 });
    const store = hub.hub.ctx.store as SqliteStore;
    const { token, record } = await hub.hub.auth.create('client', null);
    const before = store.commitStats().commits;
    for (let i = 0; i < 100; i++) expect(await status(hub.url, token)).toBe(200);
    // Reads only: the token's use is held in memory (the 5 s flush may fall in between once).
    expect(store.commitStats().commits - before).toBeLessThanOrEqual(1);
    await hub.hub.auth.flushUsed();
    const [t] = (await hub.hub.auth.list()).filter((x) => x.id === record.id);
    expect(t!.lastUsedAt).not.toBeNull();
  });
});

describe.runIf(PG)('revocation across hubs on one PostgreSQL', () => {
  it('a token revoked through one hub (or the CLI) is refused by the other within a second', async () => {
    const schema = `jobhub_tokens_${randomBytes(5).toString('hex')}`;
    schemas.push(schema);
    const db = new URL(PG!);
    db.searchParams.set('schema', schema);
    const one = await testHub({ auth: true, database: db.toString() });
    const two = await testHub({ auth: true, database: db.toString() });
    const a = await one.hub.auth.create('client', 'a');
    const b = await one.hub.auth.create('client', 'b');
    // Both hubs have looked the tokens up (and cached them).
    for (const h of [one, two]) for (const t of [a, b]) expect(await status(h.url, t.token)).toBe(200);

    expect(await one.hub.auth.revoke(a.record.id)).toBe(true);
    expect(await status(one.url, a.token)).toBe(401);
    const viaCli = await cli(['token', 'revoke', b.record.id, '--database', db.toString()]);
    expect(viaCli.code, viaCli.stderr).toBe(0);
    await sleep(ONE_SECOND);
    for (const h of [one, two]) {
      expect(await status(h.url, a.token)).toBe(401);
      expect(await status(h.url, b.token)).toBe(401);
    }
  });
});
