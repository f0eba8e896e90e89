/**
 * Connections to PostgreSQL: the pool (type parsing shared with SQLite's row shapes, a schema per
 * connection, parameters made storable), and which failures are the connection's rather than the
 * statement's, so that callers can retry them.
 */
import pg from 'pg';
import type { Durability } from '../../config/config.js';
import { HubError } from '../../core/errors.js';
import { quoteIdent } from './migrate.js';

export const RETRIES = 4;
export const RETRY_DELAY_MS = 250;
export const ignore = () => undefined;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Errors that mean the connection (not the statement) failed: server restart, network, shutdown. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  const code = e?.code ?? '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code) ||
    code.startsWith('08') || // connection exception
    code === '57P01' || // admin_shutdown
    code === '57P02' || // crash_shutdown
    code === '57P03' || // cannot_connect_now
    /Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(
      e?.message ?? '',
    )
  );
}

export function unavailable(err: unknown): HubError {
  return new HubError('unavailable', `the database is unreachable (${(err as Error).message}); try again`);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** JSON.stringify's escapes for NUL and lone surrogates (jsonb refuses both). */
const BAD_JSON_ESCAPE = /\\u(0000|d[89a-f][0-9a-f]{2})/i;

function storableText(s: string): string {
  return s.replaceAll('\0', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');
}

function storableJson(v: unknown): unknown {
  if (typeof v === 'string') return storableText(v);
  if (Array.isArray(v)) return v.map(storableJson);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [storableText(k), storableJson(x)]));
  }
  return v;
}

/**
 * PostgreSQL text cannot hold NUL, and jsonb refuses NUL and lone surrogates (SQLite keeps
 * both): such a character from a client or a job (an error text, a name, a token, a result)
 * would fail the query. Every query parameter is made storable, U+FFFD in their place, JSON
 * (which carries them as escapes) included.
 */
function storable(v: unknown): unknown {
  if (typeof v === 'string') {
    if (BAD_JSON_ESCAPE.test(v)) {
      try {
        return JSON.stringify(storableJson(JSON.parse(v)));
      } catch {
        // not JSON: plain text, where the escape is just characters
      }
    }
    return storableText(v);
  }
  if (Array.isArray(v)) return v.map(storable);
  return v;
}

function storableArgs(a: unknown[]): unknown[] {
  const [first, values, ...rest] = a;
  if (typeof first === 'object' && first !== null && Array.isArray((first as { values?: unknown }).values)) {
    const config = first as { values: unknown[] };
    return [{ ...config, values: config.values.map(storable) }, values, ...rest];
  }
  return Array.isArray(values) ? [first, values.map(storable), ...rest] : a;
}

const INT8 = 20;
const JSON_OID = 114;
const JSONB = 3802;
// bigint ids and times fit in a double (< 2^53); JSON stays text, as the shared row mapping expects.
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === INT8) return (v: string) => Number(v);
    if (oid === JSON_OID || oid === JSONB) return (v: string) => v;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

/**
 * Takes `options` out of a postgres:// URL: pg lets the URL's parameters replace the pool's own
 * settings, so a URL with `?options=-c statement_timeout=5s` would silently drop the schema.
 */
function withoutOptions(connectionString: string): { connectionString: string; options: string } {
  const url = new URL(connectionString);
  // pg reads a repeated parameter's last value.
  const options = url.searchParams.getAll('options').at(-1) ?? '';
  if (!url.searchParams.has('options')) return { connectionString, options };
  url.searchParams.delete('options');
  return { connectionString: url.toString(), options };
}

/** A pool whose connections use `schema` and hand rows over as the shared row mapping expects. */
export function createPool(
  connectionString: string,
  schema: string,
  max: number,
  durability: Durability,
): pg.Pool {
  const split = withoutOptions(connectionString);
  const pool = new pg.Pool({
    connectionString: split.connectionString,
    max,
    types,
    // Settings per connection, set once when it is opened: the URL's own `options`, then the
    // schema, and for relaxed durability commits that do not wait for their WAL flush (the
    // server's WAL writer flushes within three `wal_writer_delay`s). Ours come last and win.
    options: [
      split.options,
      `-c search_path=${quoteIdent(schema)}`,
      durability === 'relaxed' ? '-c synchronous_commit=off' : '',
    ]
      .filter(Boolean)
      .join(' '),
  });
  // An idle connection that dies (server restart) must not crash the process.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    // Nor one that dies while checked out: a terminated backend's last messages may be parsed in
    // the same turn that hands the new connection over, before its borrower listens for errors.
    client.on('error', () => undefined);
    const query = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as unknown as { query: typeof query }).query = (...a) => query(...storableArgs(a));
  });
  return pool;
}
