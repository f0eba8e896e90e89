/**
 * Property-based fuzzing of every endpoint of every face (native, Pleiades, internal, portal,
 * staff, ops), on SQLite and (with JOBHUB_TEST_PG) on PostgreSQL. Routes come from the routers
 * the hub mounts; each request gets a hostile path id, query, method, content type and body
 * (wrong types, huge and odd numbers, NUL and lone surrogates, deep JSON, truncated JSON, raw
 * bytes, valid bodies with one field broken). Properties: never a 5xx, never a dropped
 * connection, errors in the face's own envelope, and a refused request changes nothing (every
 * table and every blob file, digested before and after). `JOBHUB_FUZZ_RUNS=N` for a long run.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/store.js';
import {
  allRoutes,
  changedRows,
  changedTables,
  envelopeProblem,
  faceFor,
  fillPath,
  postgresDigester,
  raw,
  serverFault,
  sqliteDigester,
  stableDigest,
  type Digester,
  type RouteInfo,
} from '../../chaos/surface.js';
import { api, testHub } from '../helpers/hub.js';
import { scaled } from '../helpers/time.js';

const PG = process.env.JOBHUB_TEST_PG;
const RUNS = Number(process.env.JOBHUB_FUZZ_RUNS ?? 0);
const schemas: string[] = [];

afterAll(async () => {
  if (!PG || !schemas.length) return;
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await c.end();
});

// ---------------------------------------------------------------------------------------------
// A hub with something of everything to aim at.

interface Target {
  url: string;
  digester: Digester;
  cookie: string;
  token: string;
  ids: string[];
  /** The digest after the last request, when it is known to be settled. */
  last: Awaited<ReturnType<Digester['digest']>> | null;
}

async function target(store: 'sqlite' | 'postgres'): Promise<Target> {
  let deps = {};
  let schema = '';
  if (store === 'postgres') {
    schema = `jobhub_fuzz_${randomBytes(5).toString('hex')}`;
    schemas.push(schema);
    deps = { store: await PostgresStore.open({ connectionString: PG!, schema }) };
  }
  const hub = await testHub(
    {
      // Nothing expires behind the test's back (a reaped lease would change state between two
      // requests and be blamed on the second), long-polls end at once. Leases alone are not
      // enough: a Pleiades contract leases until the job's own timeout, and the fuzzer creates
      // jobs with short ones, so the reaper stays idle for the whole test.
      leaseMs: 3_600_000,
      reapIntervalMs: 3_600_000,
      maxWaitMs: 30,
      maxJsonBytes: 256 * 1024,
      maxBlobBytes: 512 * 1024,
      jobTimeoutMs: 3_600_000,
    },
    deps,
  );
  const url = hub.url;
  const ok = async (method: string, path: string, body?: unknown) => {
    const r = await api(url, method, path, body);
    expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
    return r.body;
  };
  const blob = (await fetch(`${url}/api/v1/blobs`, { method: 'POST', body: 'print("hi")' }).then((r) =>
    r.json(),
  )) as { id: string };
  await ok('POST', '/api/v1/functions', { runtime: 'default', codeBlobId: blob.id, name: 'f' });
  for (let i = 0; i < 4; i++)
    await ok('POST', '/api/v1/jobs', { runtime: 'default', input: { text: `job ${i}` } });
  const w = await ok('POST', '/api/v1/workers', { runtimes: ['default'] });
  const leased = await ok('POST', `/api/v1/workers/${w.id}/lease`, { limit: 2 });
  await ok('POST', `/api/v1/jobs/${leased.jobs[1].id}/complete`, {
    token: leased.jobs[1].token,
    output: { text: 'done' },
  });
  await ok('POST', '/worker', { runtime: ['default'] });
  await ok('POST', '/kv', {});
  await ok('POST', '/kv/1/field/k', { value: 'v' });
  const now = Date.now();
  await ok('POST', '/api/portal/staff/load', {
    contest: {
      starts_at: new Date(now - 3600_000).toISOString(),
      freezes_at: new Date(now + 3600_000).toISOString(),
      ends_at: new Date(now + 7200_000).toISOString(),
    },
    teams: [
      {
        name: 'fuzzteam',
        password: 'fuzz-password',
        servers: [
          { hostname: 's1', global_ip: '198.51.100.7', private_ip: '10.0.0.7', is_bench_target: true },
        ],
      },
      { name: 'other', password: 'other-password', invite: true },
    ],
    // The fuzzing client itself (127.0.0.1) is a benchmarker: the internal API parses its bodies.
    benchmarkers: [{ name: 'fuzzbench', ip: '127.0.0.1', teams: [] }],
  });
  await ok('POST', '/api/portal/staff/jobs', { team: 'fuzzteam' });
  const login = await api(url, 'POST', '/api/portal/login', { team: 'fuzzteam', password: 'fuzz-password' });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const dataDir = hub.hub.ctx.config.dataDir;
  const digester =
    store === 'sqlite' ? sqliteDigester(dataDir) : await postgresDigester(PG!, schema, dataDir);
  return {
    url,
    digester,
    cookie,
    token: leased.jobs[0].token as string,
    ids: ['1', '2', '3', '4', '5', String(w.id)],
    last: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Hostile values

const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u202e\u2066',
  '\ufeff',
  '🙂'.repeat(100),
  'Ω≈ç√',
  '../../../../etc/passwd',
  '..\\..\\windows',
  '%00',
  '%2e%2e%2f',
  '<script>alert(1)</script>',
  "'; DROP TABLE jobs; --",
  '${jndi:ldap://x}',
  '{{7*7}}',
  'NaN',
  '-1',
  '1e3',
  '0x10',
  '00000000000000000000001',
  '99999999999999999999999999',
  'x'.repeat(70_000),
];

/** Characters stores and serialisers trip on: NUL, lone surrogates, bidi controls, BOM, newlines. */
const SPECIAL_CHARS = [
  '\u0000',
  '\ud800',
  '\udfff',
  '\udbff\u0000',
  '\u202e',
  '\ufeff',
  '\n',
  '\r\n',
  '\\',
  '"',
  "'",
  '%',
  '\u2028',
];

const HOSTILE_NUMBERS = [
  0,
  -0,
  -1,
  1.5,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 63),
  1e308,
  -1e308,
  5e-324,
];

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    true,
    false,
    [],
    {},
    [null],
    { __proto__: { admin: true } },
    ...HOSTILE_STRINGS,
    ...HOSTILE_NUMBERS,
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 60, max: 200 }).map((d) => JSON.parse('['.repeat(d) + ']'.repeat(d)) as unknown),
);

// Bodies the routes accept, to be broken one field at a time.
const TEMPLATES: Record<string, Record<string, unknown>> = {
  'POST /api/v1/jobs': {
    runtime: 'default',
    input: { text: 'x' },
    tags: ['a', '+b'],
    priority: 1,
    maxAttempts: 2,
    timeoutMs: 1000,
    idempotencyKey: 'k',
    next: { runtime: 'n' },
  },
  'POST /api/v1/jobs/batch': { jobs: [{ runtime: 'default', input: { base64: 'eA==' } }] },
  'POST /api/v1/workers': { runtimes: ['default'], tags: ['t'], capacity: 2, name: 'n' },
  'POST /api/v1/workers/:id/lease': { limit: 1, waitMs: 0, tags: ['t'] },
  'POST /api/v1/jobs/:id/heartbeat': { token: 'TOKEN', progress: 0.5, logs: ['l'] },
  'POST /api/v1/jobs/:id/complete': {
    token: 'TOKEN',
    output: { text: 'o' },
    result: { score: 1 },
    exitStatus: 0,
  },
  'POST /api/v1/complete': { completions: [{ jobId: '1', token: 'TOKEN', output: { text: 'o' } }] },
  'POST /api/v1/jobs/:id/fail': { token: 'TOKEN', error: 'e', retryable: true, exitStatus: 1, result: {} },
  'POST /api/v1/functions': {
    runtime: 'default',
    name: 'f',
    codeBlobId: '1',
    tags: [],
    timeoutMs: 1000,
    maxAttempts: 1,
  },
  'POST /api/v1/admin/tokens': { role: 'client', name: 'x' },
  'POST /lambda': { codex: '1', runtime: 'default' },
  'POST /job': { lambda: '1', input: '1', tags: [] },
  'POST /job/:id': { status: 'finished', output: '1' },
  'POST /worker': { runtime: ['default'] },
  'POST /worker/:id/contract': { id: '1', tags: [], timeout: 0 },
  'POST /kv': { consistency: 'none' },
  'POST /kv/:ns/field/:key': { value: 'v', expire: 0, get: false, append: false },
  'POST /internal/job/:id/report': {
    id: 1,
    score: 10,
    status: 'done',
    is_passed: true,
    reason: '',
    stdout: '',
    stderr: '',
  },
  'POST /internal/job/:id/progress': { score: 1, message: 'm' },
  'PUT /api/portal/staff/contest': {
    starts_at: '2026-01-01T00:00:00Z',
    freezes_at: '2026-01-01T01:00:00Z',
    ends_at: '2026-01-01T02:00:00Z',
  },
  'POST /api/portal/staff/load': {
    teams: [
      {
        name: 't9',
        password: 'password9',
        servers: [{ hostname: 'h', global_ip: '203.0.113.9', private_ip: '10.1.0.9', is_bench_target: true }],
      },
    ],
    benchmarkers: [{ name: 'b9', ip: '127.0.0.9', teams: [] }],
  },
  'POST /api/portal/staff/teams': { name: 't', password: 'password' },
  'PUT /api/portal/staff/teams/:id': { name: 't2', password: 'password2' },
  'POST /api/portal/staff/teams/:id/members': { name: 'm' },
  'POST /api/portal/staff/teams/:id/servers': {
    hostname: 's',
    global_ip: '203.0.113.5',
    private_ip: '10.0.0.5',
    is_bench_target: false,
  },
  'PUT /api/portal/staff/teams/:id/servers/:sid': {
    hostname: 's',
    global_ip: '203.0.113.6',
    private_ip: '10.0.0.6',
  },
  'POST /api/portal/staff/benchmarkers': { name: 'b', ip: '127.0.0.5', teams: [], generate_token: true },
  'PUT /api/portal/staff/benchmarkers/:id': { name: 'b', ip: '127.0.0.6' },
  'PUT /api/portal/staff/benchmarkers/:id/teams': { team_ids: [1] },
  'POST /api/portal/staff/jobs': { team: 'fuzzteam' },
  'POST /api/portal/login': { team: 'fuzzteam', password: 'wrong' },
  'POST /api/portal/join': { invite_token: 'inv_x', name: 'n' },
  'POST /api/portal/servers': {
    hostname: 's',
    global_ip: '203.0.113.7',
    private_ip: '10.0.0.8',
    is_bench_target: false,
  },
  'PUT /api/portal/servers/:id': { hostname: 's', global_ip: '203.0.113.8', private_ip: '10.0.0.9' },
};

type Path = (string | number)[];
function paths(v: unknown, prefix: Path = []): Path[] {
  if (v === null || typeof v !== 'object') return [prefix];
  const out: Path[] = prefix.length ? [prefix] : [];
  for (const [k, x] of Object.entries(v))
    out.push(...paths(x, [...prefix, Array.isArray(v) ? Number(k) : k]));
  return out;
}
function setAt(v: unknown, p: Path, value: unknown, remove = false): unknown {
  if (p.length === 0) return value;
  const copy = (Array.isArray(v) ? [...v] : { ...(v as object) }) as Record<string | number, unknown>;
  const [head, ...rest] = p;
  if (rest.length === 0 && remove) delete copy[head!];
  else copy[head!] = setAt(copy[head!], rest, value, remove);
  return copy;
}

/** A body for `route`: its template broken somewhere, or something else entirely. */
function bodyFor(key: string): fc.Arbitrary<Buffer | undefined> {
  const tpl = TEMPLATES[key];
  const json = (v: unknown) => Buffer.from(JSON.stringify(v) ?? 'null');
  const arbs: fc.Arbitrary<Buffer | undefined>[] = [
    fc.constant(undefined),
    fc.constant(Buffer.alloc(0)),
    hostileValue.map(json),
    fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)),
    fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    fc
      .constantFrom(
        '{"a":1e999}',
        '{"limit":1e999,"waitMs":-1e999}',
        '{"__proto__":{"role":"admin"},"constructor":{"prototype":{"x":1}}}',
        '{"a":1,"a":2}',
        '\ufeff{}',
        '{"a":"\\ud800"}',
        '{"a":"\\u0000"}',
        '{/*c*/}',
        '[]',
        'null',
        '"str"',
        '{"x":' + '1'.repeat(5000) + '}',
        '['.repeat(100_000),
        '{"a":' + '['.repeat(65) + ']'.repeat(65) + '}',
      )
      .map((s) => Buffer.from(s)),
  ];
  if (tpl) {
    const ps = paths(tpl);
    arbs.push(
      fc.constant(json(tpl)),
      fc.tuple(fc.constantFrom(...ps), hostileValue).map(([p, v]) => json(setAt(tpl, p, v))),
      fc
        .tuple(fc.constantFrom(...ps), hostileValue, fc.constantFrom(...ps), hostileValue)
        .map(([p1, v1, p2, v2]) => json(setAt(setAt(tpl, p1, v1), p2, v2))),
      fc.constantFrom(...ps).map((p) => json(setAt(tpl, p, undefined, true))),
      fc.tuple(fc.string({ maxLength: 10 }), hostileValue).map(([k, v]) => json({ ...tpl, [k]: v })),
      fc.nat().map((n) => {
        const s = JSON.stringify(tpl);
        return Buffer.from(s.slice(0, n % s.length)); // truncated JSON
      }),
    );
  }
  return fc.oneof(...arbs);
}

const HOSTILE_IDS = [
  '0',
  '-1',
  '1.0',
  '1e3',
  '0x1',
  '01',
  '%20%31',
  '9223372036854775808',
  '999999999999999999',
  '99999999999999999999999999999',
  '..',
  '.',
  '%2e%2e',
  '..%2f..%2f..%2fetc%2fpasswd',
  '%2F',
  '%00',
  '%ZZ',
  'NaN',
  encodeURIComponent('\ufffd'),
  encodeURIComponent('🙂'),
  'a'.repeat(3000),
];

const CONTENT_TYPES = [
  undefined,
  'application/json',
  'application/json; charset=utf-16',
  'text/plain',
  'application/octet-stream',
  'multipart/form-data; boundary=xyz',
  'multipart/form-data',
  'application/x-www-form-urlencoded',
  '\u00ff',
];

const QUERY_KEYS = [
  'state',
  'limit',
  'before',
  'timeoutMs',
  'except',
  'timeout',
  'team',
  'status',
  'runtime',
  'function',
  'tag',
];

function requestArb(route: RouteInfo, t: Target, body: fc.Arbitrary<Buffer | undefined>) {
  return fc.record({
    route: fc.constant(route),
    prefix: fc.constantFrom(...route.prefixes),
    method: fc.oneof(
      { weight: 8, arbitrary: fc.constant(route.method) },
      { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') },
    ),
    params: fc.record(
      Object.fromEntries(
        route.params.map((p) => [
          p,
          // Valid ids too (deeper code paths), except where a valid id would destroy the fixtures.
          route.method === 'DELETE'
            ? fc.constantFrom(...HOSTILE_IDS)
            : fc.oneof(
                { weight: 2, arbitrary: fc.constantFrom(...t.ids) },
                { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_IDS) },
                { weight: 1, arbitrary: fc.string({ maxLength: 8 }).map(encodeURIComponent) },
              ),
        ]),
      ) as Record<string, fc.Arbitrary<string>>,
    ),
    query: fc.array(
      fc.tuple(
        fc.constantFrom(...QUERY_KEYS),
        fc.oneof(
          fc.constantFrom(...HOSTILE_IDS, 'queued,running', 'Finished', '1', '100000'),
          fc.string({ maxLength: 6 }),
        ),
      ),
      { maxLength: 3 },
    ),
    // The `/t/<token>/` prefix, undecodable ones included (one used to end the hub process).
    tokenPrefix: fc.constantFrom(
      '',
      '',
      '',
      '',
      '/t/jh_nope',
      '/t/%ZZ',
      '/t/%E0%A4%A',
      '/t/%00',
      '/t/' + 'k'.repeat(500),
    ),
    contentType: fc.constantFrom(...CONTENT_TYPES),
    chunked: fc.boolean(),
    session: fc.boolean(),
    body,
  });
}

type Req = ReturnType<typeof requestArb> extends fc.Arbitrary<infer R> ? R : never;

/** Sends one generated request and checks the properties; records the status seen. */
async function check(t: Target, r: Req, seen: Map<string, Set<number>>): Promise<void> {
  let path = r.tokenPrefix + fillPath(r.route, r.params, r.prefix);
  if (r.route.face === 'internal') path += '/';
  if (r.query.length) path += '?' + r.query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  const body = r.body && Buffer.from(r.body.toString('utf8').replaceAll('TOKEN', t.token));
  const headers: Record<string, string> = {};
  if (r.contentType) headers['content-type'] = r.contentType;
  if (r.session && r.route.pattern !== '/api/portal/logout') headers.cookie = t.cookie;
  // The state after a refused request is the state before the next one; after an accepted one,
  // wait for the hub to settle (some effects are asynchronous, e.g. the leaderboard's scores).
  const before = t.last ?? (await stableDigest(t.digester));
  t.last = null;
  const reply = await raw(t.url, {
    method: r.method,
    path,
    headers,
    body,
    chunked: r.chunked && body !== undefined,
  });
  const label = `${r.method} ${path} ${body?.toString('utf8').slice(0, 300) ?? ''}`;
  expect(reply.error, label).toBeUndefined();
  const face = faceFor(path);
  expect(serverFault(face, reply), `${label} → ${reply.status} ${reply.text.slice(0, 300)}`).toBe(false);
  if (r.method !== 'HEAD') expect(envelopeProblem(face, reply), label).toBeNull();
  if (reply.status >= 400) {
    const after = await t.digester.digest();
    const changed = changedTables(before, after);
    const rows = changed.map((table) => changedRows(before, after, table)).join('; ');
    expect(changed, `${label} → ${reply.status} ${reply.text.slice(0, 200)}; ${rows}`).toEqual([]);
    t.last = after;
  }
  const key = `${r.route.method} ${r.route.pattern}`;
  if (!seen.has(key)) seen.set(key, new Set());
  seen.get(key)!.add(reply.status);
  // A benchmark report that was taken records its score after the reply (the leaderboard): let
  // that land before the next request's "before" is read, however busy the machine.
  if (reply.status < 400 && r.route.face === 'internal') await new Promise((res) => setTimeout(res, 100));
}

/** Every string leaf of a template replaced by a hostile string, every number by a hostile number. */
function typedMutation(tpl: Record<string, unknown>): fc.Arbitrary<Buffer> {
  const leaves = paths(tpl).filter((p) => {
    let v: unknown = tpl;
    for (const k of p) v = (v as Record<string | number, unknown>)[k];
    return typeof v === 'string' || typeof v === 'number';
  });
  const strings = fc.oneof(
    fc.constantFrom(...HOSTILE_STRINGS),
    fc.string({ unit: 'binary', maxLength: 12 }),
    // A plausible value with one hostile character inside: what reaches the store.
    fc
      .tuple(
        fc.string({ unit: 'grapheme-ascii', maxLength: 6 }),
        fc.constantFrom(...SPECIAL_CHARS),
        fc.string({ unit: 'grapheme-ascii', maxLength: 6 }),
      )
      .map(([a, c, b]) => `${a}${c}${b}`),
  );
  const numbers = fc.oneof(
    fc.constantFrom(...HOSTILE_NUMBERS),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
  );
  return fc
    .tuple(
      fc.subarray(leaves, { minLength: 1 }),
      fc.array(fc.tuple(strings, numbers), { minLength: leaves.length, maxLength: leaves.length }),
    )
    .map(([chosen, values]) => {
      let v: unknown = tpl;
      chosen.forEach((p, i) => {
        let cur: unknown = tpl;
        for (const k of p) cur = (cur as Record<string | number, unknown>)[k];
        v = setAt(v, p, typeof cur === 'string' ? values[i]![0] : values[i]![1]);
      });
      return Buffer.from(JSON.stringify(v));
    });
}

// ---------------------------------------------------------------------------------------------

const STORES = (['sqlite', 'postgres'] as const).filter((s) => s === 'sqlite' || PG);

describe.each(STORES)('every endpoint under hostile input (%s)', (store) => {
  it(
    'never answers 5xx, always in its envelope, and a refused request changes nothing',
    async () => {
      const t = await target(store);
      const routes = allRoutes();
      const seen = new Map<string, Set<number>>();
      const perRoute = RUNS || (store === 'sqlite' ? 6 : 3);
      try {
        for (const route of routes) {
          await fc.assert(
            fc.asyncProperty(requestArb(route, t, bodyFor(`${route.method} ${route.pattern}`)), (r) =>
              check(t, r, seen),
            ),
            { numRuns: perRoute, endOnFailure: true },
          );
        }
        expect((await raw(t.url, { method: 'GET', path: '/healthz' })).status).toBe(200);
        // The fuzzer reached every route.
        expect(routes.map((r) => `${r.method} ${r.pattern}`).filter((k) => !seen.has(k))).toEqual([]);
      } finally {
        await t.digester.close();
      }
    },
    scaled(60_000),
  );

  it(
    'accepts or refuses well-shaped bodies with hostile strings and numbers in every field, never 5xx',
    async () => {
      const t = await target(store);
      const seen = new Map<string, Set<number>>();
      const perRoute = RUNS || (store === 'sqlite' ? 10 : 5);
      try {
        for (const route of allRoutes()) {
          const tpl = TEMPLATES[`${route.method} ${route.pattern}`];
          if (!tpl) continue;
          const arb = requestArb(route, t, typedMutation(tpl)).map((r) => ({
            ...r,
            method: route.method,
            contentType: 'application/json',
            session: true,
          }));
          await fc.assert(
            fc.asyncProperty(arb, (r) => check(t, r, seen)),
            { numRuns: perRoute, endOnFailure: true },
          );
        }
        expect((await raw(t.url, { method: 'GET', path: '/healthz' })).status).toBe(200);
      } finally {
        await t.digester.close();
      }
    },
    scaled(60_000),
  );
});
