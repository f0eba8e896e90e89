/**
 * The PostgreSQL store's key-value and token tables: small, independent of jobs, and split out of
 * store.ts to keep it to the job side. Same runner (retries, `unavailable`) as the rest.
 */
import { tokenFromRow, type TokenRow } from '../rows.js';
import type { Store, TokenRecord } from '../store.js';
import type { Runner } from './runner.js';

type KvTokenMethods = Pick<
  Store,
  | 'kvNamespaceInsert'
  | 'kvNamespaceExists'
  | 'kvNamespaceGet'
  | 'kvGet'
  | 'kvSet'
  | 'tokenInsert'
  | 'tokenFindByHash'
  | 'tokenList'
  | 'tokenDelete'
  | 'tokenTouch'
>;

export class PostgresKvTokens implements KvTokenMethods {
  constructor(private readonly db: Runner) {}

  private async one<R>(sql: string, args: unknown[]): Promise<R | undefined> {
    return (await this.db.query<R>(sql, args))[0];
  }

  /** A single-statement write that is not idempotent: run in a transaction for safe retries. */
  private async write<R>(sql: string, args: unknown[]): Promise<R | undefined> {
    return this.db.tx(async (c) => (await c.query(sql, args)).rows[0] as R | undefined);
  }

  async kvNamespaceInsert(p: { consistency: string; now: number; owner?: string | null }) {
    const row = await this.write<{ id: number }>(
      'INSERT INTO kv_namespaces (consistency, created_at, owner) VALUES ($1, $2, $3) RETURNING id',
      [p.consistency, p.now, p.owner ?? null],
    );
    return { id: String(row!.id) };
  }
  async kvNamespaceExists(p: { id: string }): Promise<boolean> {
    return (await this.one('SELECT 1 FROM kv_namespaces WHERE id = $1', [Number(p.id)])) !== undefined;
  }
  async kvNamespaceGet(p: { id: string }): Promise<{ owner: string | null } | null> {
    const row = await this.one<{ owner: string | null }>('SELECT owner FROM kv_namespaces WHERE id = $1', [
      Number(p.id),
    ]);
    return row ? { owner: row.owner } : null;
  }
  async kvGet(p: { namespace: string; key: string; now: number }): Promise<string | null> {
    const row = await this.one<{ value: string }>(
      'SELECT value FROM kv_entries WHERE namespace = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $3)',
      [Number(p.namespace), p.key, p.now],
    );
    return row ? row.value : null;
  }
  kvSet(p: Parameters<Store['kvSet']>[0]) {
    return this.db.tx(async (c) => {
      const { rows } = await c.query<{ value: string }>(
        `SELECT value FROM kv_entries WHERE namespace = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $3)
         FOR UPDATE`,
        [Number(p.namespace), p.key, p.now],
      );
      const old = rows[0]?.value ?? null;
      const value = p.append && old !== null ? old + p.value : p.value;
      await c.query(
        `INSERT INTO kv_entries (namespace, key, value, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
        [Number(p.namespace), p.key, value, p.expiresAt],
      );
      return old;
    });
  }

  async tokenInsert(p: {
    role: TokenRecord['role'];
    name: string | null;
    hash: string;
    now: number;
    expiresAt?: number | null;
  }): Promise<TokenRecord> {
    const row = await this.write<TokenRow>(
      'INSERT INTO tokens (role, name, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING *',
      [p.role, p.name, p.hash, p.now, p.expiresAt ?? null],
    );
    return tokenFromRow(row!);
  }
  async tokenFindByHash(p: { hash: string }): Promise<TokenRecord | null> {
    const row = await this.one<TokenRow>('SELECT * FROM tokens WHERE hash = $1', [p.hash]);
    return row ? tokenFromRow(row) : null;
  }
  async tokenList(): Promise<TokenRecord[]> {
    return (await this.db.query<TokenRow>('SELECT * FROM tokens ORDER BY id', [])).map(tokenFromRow);
  }
  async tokenDelete(p: { id: string }): Promise<boolean> {
    if (!/^\d{1,18}$/.test(p.id)) return false;
    return (await this.write('DELETE FROM tokens WHERE id = $1 RETURNING id', [Number(p.id)])) !== undefined;
  }
  async tokenTouch(p: { uses: { id: string; at: number }[] }): Promise<void> {
    await this.db.query(
      `UPDATE tokens t SET last_used_at = greatest(coalesce(t.last_used_at, 0), u.at)
       FROM unnest($1::bigint[], $2::bigint[]) AS u(id, at) WHERE t.id = u.id`,
      [p.uses.map((u) => Number(u.id)), p.uses.map((u) => u.at)],
    );
  }
}
