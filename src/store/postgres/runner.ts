/**
 * How the PostgreSQL store talks to the database when connections can be lost (a restart, a
 * terminated backend): what may be retried on a fresh connection, and what must surface as
 * `unavailable` because it may already have committed.
 */
import type pg from 'pg';
import type { PoolClient } from 'pg';
import { ignore, isConnectionError, RETRIES, RETRY_DELAY_MS, sleep, unavailable } from './connection.js';

export class Runner {
  constructor(
    private readonly pool: pg.Pool,
    private readonly isClosed: () => boolean,
  ) {}

  /**
   * Runs `fn` in a transaction. A connection lost before COMMIT was sent leaves nothing behind
   * (PostgreSQL rolls the transaction back), so the whole transaction is retried on a fresh
   * connection; a loss during COMMIT is ambiguous and surfaces as `unavailable`.
   */
  async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.isClosed()) throw new Error('store is closed');
      let committing = false;
      let client: PoolClient | undefined;
      try {
        client = await this.pool.connect();
        // A checked-out client reports a dropped connection as an 'error' event; the failing
        // query rejects as well, which is where it is handled.
        client.on('error', ignore);
        await client.query('BEGIN');
        const result = await fn(client);
        committing = true;
        await client.query('COMMIT');
        return result;
      } catch (err) {
        if (client) await client.query('ROLLBACK').catch(() => undefined);
        if (!isConnectionError(err)) throw err;
        if (committing || attempt >= RETRIES) throw unavailable(err);
        client?.removeListener('error', ignore);
        client?.release(err as Error);
        client = undefined;
        await sleep(RETRY_DELAY_MS * attempt);
      } finally {
        client?.removeListener('error', ignore);
        client?.release();
      }
    }
  }

  /**
   * One statement in autocommit (it is its own transaction). Retried only while no connection
   * can be had: once sent, a statement whose connection drops may have committed.
   */
  async single<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient | undefined;
    for (let attempt = 1; !client; attempt++) {
      if (this.isClosed()) throw new Error('store is closed');
      try {
        client = await this.pool.connect();
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        if (attempt >= RETRIES) throw unavailable(err);
        await sleep(RETRY_DELAY_MS * attempt);
      }
    }
    client.on('error', ignore);
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      broken = err as Error;
      throw unavailable(err);
    } finally {
      client.removeListener('error', ignore);
      client.release(broken);
    }
  }

  /** A read (or an idempotent single statement); retried when the connection is lost. */
  async query<R>(sql: string, args: unknown[] = []): Promise<R[]> {
    for (let attempt = 1; ; attempt++) {
      if (this.isClosed()) throw new Error('store is closed');
      try {
        return (await this.pool.query(sql, args)).rows as R[];
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        if (attempt >= RETRIES) throw unavailable(err);
        await sleep(RETRY_DELAY_MS * attempt);
      }
    }
  }
}
