/**
 * What the machine itself charges for the pieces of a lone job's trip, measured the way the
 * latency scenario runs (one operation after 5 ms idle, so every process has gone to sleep):
 *
 * - one durable write: a 4 KiB write in place plus `fdatasync`, in the directory the hubs keep
 *   their data in; SQLite's `COMMIT` with `synchronous=FULL` is one of these;
 * - a Redis round trip (`PING`), the unit of BullMQ's protocol;
 * - an HTTP round trip from the client jobhub ships (HubClient) to a bare node:http server in
 *   another process, the unit of jobhub's.
 *
 * They show how much of each queue's latency the machine sets before any queue code runs.
 */
import { fork } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { HubClient } from '../src/agent/client.js';
import { percentile, round } from './lib.js';
import { REDIS, sleep } from './peers/peer.js';

const IDLE_MS = 5;

export interface Floor {
  p10Ms: number;
  p50Ms: number;
  p90Ms: number;
}

async function sample(n: number, op: () => unknown): Promise<Floor> {
  const out: number[] = [];
  for (let i = 0; i < n + 20; i++) {
    await sleep(IDLE_MS);
    const t0 = performance.now();
    await op();
    if (i >= 20) out.push(performance.now() - t0); // the first 20 warm up
  }
  out.sort((a, b) => a - b);
  const at = (p: number) => round(percentile(out, p), 3);
  return { p10Ms: at(10), p50Ms: at(50), p90Ms: at(90) };
}

function durableWrite(n: number): Promise<Floor> {
  const dir = mkdtempSync(join(tmpdir(), 'jobhub-bench-fsync-'));
  const fd = openSync(join(dir, 'wal'), 'w+');
  const page = Buffer.alloc(4096, 7);
  // Written once and synced first, so the measured writes overwrite blocks in place (as a WAL
  // does once it has wrapped) instead of growing the file.
  writeSync(fd, Buffer.alloc(64 * page.length));
  fdatasyncSync(fd);
  let i = 0;
  return sample(n, () => {
    writeSync(fd, page, 0, page.length, (i++ % 64) * page.length);
    fdatasyncSync(fd);
  }).finally(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
}

async function redisPing(n: number): Promise<Floor> {
  const redis = new Redis({ ...REDIS, maxRetriesPerRequest: 1 });
  try {
    return await sample(n, () => redis.ping());
  } finally {
    redis.disconnect();
  }
}

/** Run as a child process: a bare HTTP server answering every request with `{}`. */
function serveBare(): void {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}'),
    );
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as AddressInfo).port));
  // The benchmark went away (finished, crashed, killed): so does this server.
  process.once('disconnect', () => process.exit(0));
}

async function httpRoundTrip(n: number): Promise<Floor> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve-bare'], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the bare HTTP server did not start in 30 s')), 30_000);
      child.once('message', (m) => (clearTimeout(t), resolve(m as number)));
      child.once('error', (err) => (clearTimeout(t), reject(err)));
      child.once(
        'exit',
        (code) => (clearTimeout(t), reject(new Error(`the bare HTTP server exited with ${code}`))),
      );
    });
    const client = new HubClient({ url: `http://127.0.0.1:${port}`, connections: 1 });
    try {
      return await sample(n, () => client.json('POST', '/', { json: { runtime: 'noop' } }));
    } finally {
      await client.close();
    }
  } finally {
    child.kill();
  }
}

/** The three floors; a floor that cannot be measured is left out, with the reason on stderr. */
export async function floors(o: { samples: number; redis: boolean }) {
  const attempt = async (name: string, fn: () => Promise<Floor>) => {
    try {
      return await fn();
    } catch (err) {
      console.error(`floors: ${name} not measured: ${(err as Error).message}`);
      return undefined;
    }
  };
  return {
    idleMs: IDLE_MS,
    samples: o.samples,
    durableWrite: await attempt('durable write', () => durableWrite(o.samples)),
    redisPing: o.redis ? await attempt('Redis PING', () => redisPing(o.samples)) : undefined,
    httpRoundTrip: await attempt('HTTP round trip', () => httpRoundTrip(o.samples)),
  };
}

if (process.argv.includes('--serve-bare')) serveBare();
