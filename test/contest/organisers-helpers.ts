/**
 * Helpers for the organisers' tests: a hub on either store with a clock the test moves (SQLite
 * file, or a fresh schema in the running PostgreSQL when JOBHUB_TEST_PG is set), and a real local
 * HTTP receiver for webhooks that can refuse its first requests.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { testHub } from '../helpers/hub.js';
import { afterEachTest } from '../helpers/cleanup.js';

const url = process.env.JOBHUB_TEST_PG;
const schemas: string[] = [];
const receivers: Server[] = [];

/** The contest of the organisers' tests: starts at T, freezes at T + 6 h, ends at T + 7 h. */
export const T = Date.parse('2031-06-01T01:00:00Z');
export const H = 3600_000;
export const contest = {
  starts_at: new Date(T).toISOString(),
  freezes_at: new Date(T + 6 * H).toISOString(),
  ends_at: new Date(T + 7 * H).toISOString(),
};

/** The stores the organisers' flows run on here. */
export const STORES: ('sqlite' | 'postgres')[] = url ? ['sqlite', 'postgres'] : ['sqlite'];

export interface ClockedHub {
  url: string;
  hub: Awaited<ReturnType<typeof testHub>>['hub'];
  /** The hub's clock (ms); set it to move time. */
  clock: { now: number };
}

export async function clockedHub(kind: 'sqlite' | 'postgres', start: number): Promise<ClockedHub> {
  const clock = { now: start };
  let store: PostgresStore | undefined;
  if (kind === 'postgres') {
    const schema = `jobhub_org_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    store = await PostgresStore.open({ connectionString: url!, schema, maxConnections: 8 });
  }
  const running = await testHub({}, { clock: () => clock.now, ...(store ? { store } : {}) });
  return { url: running.url, hub: running.hub, clock };
}

export interface Receiver {
  url: string;
  /** Texts received (and accepted), in order. */
  texts: string[];
  /** Requests seen, refused ones included. */
  requests: number;
}

/**
 * A webhook receiver on 127.0.0.1 that answers 500 to its first `failFirst` requests (`'hang'`:
 * never answers at all).
 */
export async function receiver(failFirst: number | 'hang' = 0): Promise<Receiver> {
  const r: Receiver = { url: '', texts: [], requests: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.requests++;
      if (failFirst === 'hang') return;
      if (r.requests <= failFirst) {
        res.writeHead(500).end('try again');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { text: string };
      r.texts.push(body.text);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receivers.push(server);
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return r;
}

afterEachTest(async () => {
  for (const s of receivers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  if (!url || schemas.length === 0) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  for (const s of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await client.end();
});
