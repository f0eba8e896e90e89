/**
 * The attack surface, for the fuzz and security tests: every route of every face (read from the
 * routers the hub actually mounts, so a route added tomorrow is fuzzed tomorrow), a raw HTTP
 * client that sends exactly the bytes it is given (no URL normalisation, chosen framing), each
 * face's error envelope, and a digest of everything the hub keeps (every table of the store and
 * the blob files) to prove that a refused request changed nothing.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { faceMounts } from '../src/http/app.js';

export interface RouteInfo {
  face: string;
  method: string;
  /** As the face's router knows it, e.g. `/job/:id`. */
  pattern: string;
  /** Paths the face serves this route at (the Pleiades face twice: root and /api/v0.5). */
  prefixes: string[];
  params: string[];
}

/** Every route of every face the hub mounts. */
export function allRoutes(): RouteInfo[] {
  const out: RouteInfo[] = [];
  for (const m of faceMounts()) {
    const routes = (m.face.router as unknown as { routes: { method: string; segments: string[] }[] }).routes;
    for (const r of routes) {
      const pattern = '/' + r.segments.join('/');
      out.push({
        face: m.face.name,
        method: r.method,
        pattern,
        prefixes: m.face.name === 'v0.5' ? ['', '/api/v0.5'] : [''],
        params: r.segments.filter((s) => s.startsWith(':')).map((s) => s.slice(1)),
      });
    }
  }
  return out;
}

/** The face that answers a raw request path, chosen the way the hub chooses it. */
export function faceFor(rawPath: string): string {
  let path: string;
  try {
    path = new URL(rawPath, 'http://hub').pathname;
    const m = /^\/t\/([^/]+)(\/.*)$/.exec(path);
    if (m) {
      decodeURIComponent(m[1]!);
      path = m[2]!;
    }
  } catch {
    return 'ops';
  }
  const mounts = faceMounts();
  return (mounts.find((x) => x.serves(path)) ?? mounts[mounts.length - 1]!).face.name;
}

/** Fills a route pattern; `values` are inserted as given (the caller encodes them or not). */
export function fillPath(
  route: RouteInfo,
  values: Record<string, string>,
  prefix = route.prefixes[0]!,
): string {
  return (
    prefix +
    route.pattern
      .split('/')
      .map((s) => (s.startsWith(':') ? (values[s.slice(1)] ?? '1') : s))
      .join('/')
  );
}

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
  /** Set when the connection failed or was cut before a complete reply. */
  error?: string;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Send the body with Transfer-Encoding: chunked instead of a Content-Length. */
  chunked?: boolean;
  timeoutMs?: number;
  /** Bind the client socket to this local address (the portal tells benchmarkers apart by IP). */
  from?: string;
}

/**
 * One request on a fresh connection, exactly as given. An event stream answers as soon as its
 * headers arrive (the stream itself is left).
 */
export function raw(base: string, r: RawRequest): Promise<RawReply> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const body = r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body);
    const headers: Record<string, string> = { ...r.headers };
    if (
      body !== undefined &&
      !r.chunked &&
      !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')
    ) {
      headers['content-length'] = String(body.length);
    }
    let done = false;
    const finish = (reply: RawReply) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(reply);
    };
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: r.method,
        path: r.path,
        headers,
        agent: false,
        localAddress: r.from,
      },
      (res) => {
        if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          res.destroy();
          finish({ status: res.statusCode ?? 0, headers: res.headers, text: '', json: undefined });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) =>
          finish({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: '',
            json: undefined,
            error: err.message,
          }),
        );
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = undefined;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON
          }
          finish({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish({ status: 0, headers: {}, text: '', json: undefined, error: 'timeout' });
    }, r.timeoutMs ?? 10_000);
    req.on('error', (err) =>
      finish({ status: 0, headers: {}, text: '', json: undefined, error: err.message }),
    );
    if (r.chunked) req.setHeader('transfer-encoding', 'chunked');
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/**
 * Whether an error reply has its face's envelope: native, portal and ops
 * `{"error": {"code", "message"}}`; Pleiades `{"code": n, "status": "error", "message"}`;
 * the contest's internal API `{"error": "text"}`.
 */
export function envelopeProblem(face: string, reply: RawReply): string | null {
  if (reply.status < 400 || reply.status === 304) return null;
  if (uiNotBuilt(face, reply)) return null;
  const j = reply.json as Record<string, unknown> | undefined;
  const bad = (why: string) => `${face} ${reply.status}: ${why}: ${reply.text.slice(0, 300)}`;
  if (j === undefined || j === null || typeof j !== 'object') return bad('not a JSON object');
  if (face === 'v0.5') {
    if (typeof j.code !== 'number' || j.status !== 'error' || typeof j.message !== 'string')
      return bad('not {code, status, message}');
    return null;
  }
  if (face === 'internal') return typeof j.error === 'string' ? null : bad('not {error: text}');
  const e = j.error as Record<string, unknown> | undefined;
  if (!e || typeof e.code !== 'string' || typeof e.message !== 'string')
    return bad('not {error: {code, message}}');
  return null;
}

/**
 * The web UI face answers its root page with a 503 HTML page while `dist/web` is not built: a
 * state of the installation, not of the request (and not a bug it reveals).
 */
export function uiNotBuilt(face: string, reply: RawReply): boolean {
  return face === 'web' && reply.status === 503 && /web UI has not been built|^$/.test(reply.text);
}

/** A 5xx that is a bug: every one except the web UI's not-built page. */
export function serverFault(face: string, reply: RawReply): boolean {
  return reply.status >= 500 && !uiNotBuilt(face, reply);
}

// ---------------------------------------------------------------------------------------------
// State digest

/** Columns that change behind the scenes (liveness bookkeeping), not because of a request. */
const VOLATILE = new Set(['last_seen_at', 'last_used_at']);

export interface Digest {
  hash: string;
  /** Per table: a hash of its rows. */
  tables: Record<string, string>;
  /** Per table: its rows as JSON text, to say which rows changed when a check fails. */
  rows: Record<string, string[]>;
}

export interface Digester {
  /** A hash of every row of every table and every blob file name, with a per-table breakdown. */
  digest(): Promise<Digest>;
  close(): Promise<void>;
}

function rowTexts(rows: unknown[]): string[] {
  return rows.map((row) => {
    const clean = Object.fromEntries(
      Object.entries(row as Record<string, unknown>)
        .filter(([k]) => !VOLATILE.has(k))
        .map(([k, v]) => [
          k,
          Buffer.isBuffer(v) ? v.toString('base64') : typeof v === 'bigint' ? String(v) : v,
        ]),
    );
    return JSON.stringify(clean);
  });
}

function hashTexts(texts: string[]): string {
  const h = createHash('sha256');
  for (const t of texts) h.update(t);
  return h.digest('hex').slice(0, 16);
}

function blobFiles(dataDir: string): string[] {
  const root = join(dataDir, 'blobs');
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name), `${rel}/${e.name}`);
      else out.push(`${rel}/${e.name}`);
    }
  };
  walk(root, '');
  return out.sort();
}

function combine(rows: Record<string, string[]>): Digest {
  const tables = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, hashTexts(v)]));
  const h = createHash('sha256');
  for (const k of Object.keys(tables).sort()) h.update(`${k}=${tables[k]};`);
  return { hash: h.digest('hex').slice(0, 16), tables, rows };
}

/** Digests the SQLite file of a hub's data directory (read-only, alongside the hub's connection). */
export function sqliteDigester(dataDir: string): Digester {
  const db = new Database(join(dataDir, 'jobhub.db'), { readonly: true, fileMustExist: true });
  const names = () =>
    (
      db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .all() as { name: string }[]
    ).map((r) => r.name);
  return {
    async digest() {
      const rows: Record<string, string[]> = {};
      for (const t of names()) rows[t] = rowTexts(db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all());
      rows['blob files'] = blobFiles(dataDir);
      return combine(rows);
    },
    async close() {
      db.close();
    },
  };
}

/** Digests a PostgreSQL schema (and the blob files of the hub's data directory). */
export async function postgresDigester(url: string, schema: string, dataDir: string): Promise<Digester> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const tablesOf = async () =>
    (
      await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`,
        [schema],
      )
    ).rows.map((r) => r.table_name);
  return {
    async digest() {
      const tables: Record<string, string[]> = {};
      for (const t of await tablesOf()) {
        const rows = (await client.query(`SELECT * FROM "${schema}"."${t}" ORDER BY 1`)).rows as Record<
          string,
          unknown
        >[];
        // Both dialects in one shape: JSON columns compare by value, not by text.
        tables[t] = rowTexts(rows);
      }
      tables['blob files'] = blobFiles(dataDir);
      return combine(tables);
    },
    async close() {
      await client.end();
    },
  };
}

/** A digest taken when the hub is quiet: two equal readings in a row (async effects settled). */
export async function stableDigest(d: Digester, tries = 10, gapMs = 25): Promise<Digest> {
  // The gap is what "quiet" means: long enough for a write still in flight on a loaded machine
  // (a test suite on two cores) to land between two readings.
  let last = await d.digest();
  for (let i = 0; i < tries; i++) {
    await new Promise((r) => setTimeout(r, gapMs));
    const next = await d.digest();
    if (next.hash === last.hash) return next;
    last = next;
  }
  return last;
}

/** Which tables differ between two digests. */
export function changedTables(
  a: { tables: Record<string, string> },
  b: { tables: Record<string, string> },
): string[] {
  const keys = new Set([...Object.keys(a.tables), ...Object.keys(b.tables)]);
  return [...keys].filter((k) => a.tables[k] !== b.tables[k]);
}

/** The rows of `table` only before and only after (a few of each), for a failure message. */
export function changedRows(a: Digest, b: Digest, table: string, max = 3): string {
  const before = new Set(a.rows[table] ?? []);
  const after = new Set(b.rows[table] ?? []);
  const gone = [...before].filter((r) => !after.has(r)).slice(0, max);
  const added = [...after].filter((r) => !before.has(r)).slice(0, max);
  return `${table}: before ${gone.join(' ')} | after ${added.join(' ')}`;
}
