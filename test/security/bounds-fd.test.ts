/**
 * A hub under a low file limit (prlimit on the real `jobhub server` process): a crowd of
 * connections up to and past the limit sheds new connections with 503 instead of resetting
 * everyone, the connections already admitted keep being served, and accept(2) failing with
 * EMFILE does not end the process.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/hub.js';
import { buildCli, killSpawned, spawnHub, type HubProcess } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

beforeAll(() => buildCli(), 300_000);
afterAll(() => killSpawned());

interface Conn {
  socket: Socket;
  text: () => string;
  closed: boolean;
}

function crowd(port: number, n: number): Conn[] {
  return Array.from({ length: n }, () => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const c: Conn = { socket, text: () => Buffer.concat(chunks).toString('latin1'), closed: false };
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => (c.closed = true));
    return c;
  });
}

/** A request the way an ordinary client makes it; never throws: a reset is an outcome here. */
async function ask(url: string): Promise<number | 'reset' | 'no answer'> {
  try {
    const r = await fetch(`${url}/healthz`, {
      headers: { connection: 'close' },
      signal: AbortSignal.timeout(10_000),
    });
    await r.arrayBuffer();
    return r.status;
  } catch (err) {
    return (err as Error).name === 'TimeoutError' ? 'no answer' : 'reset';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function healthy(hub: HubProcess): Promise<void> {
  await expect.poll(() => ask(hub.url), { timeout: 15_000, interval: 200 }).toBe(200);
}

describe('under a low file limit', () => {
  it('connections past the cap get 503 while admitted ones are served', async () => {
    // 256 descriptors: the hub admits 96 connections (half, less a reserve of 32). The crowd opens
    // 300, more than the limit: those past the cap are closed within a second, which gives the
    // descriptors back, so that a client coming later is answered (503) rather than reset.
    const hub = await spawnHub(tempDir(), [], scaled(15_000), { wrap: ['prlimit', '--nofile=256:256'] });
    const port = Number(new URL(hub.url).port);
    const held = crowd(port, 300);
    try {
      await sleep(1_500);
      const answers = await Promise.all(Array.from({ length: 10 }, () => ask(hub.url)));
      // Shed or served, never reset.
      expect(
        answers.every((a) => a === 503 || a === 200),
        JSON.stringify(answers),
      ).toBe(true);
      expect(answers).toContain(503);
      // The connections that got in are still served.
      const admitted = held.filter((c) => !c.closed).slice(0, 20);
      expect(admitted.length).toBe(20);
      for (const c of admitted) c.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
      await expect
        .poll(() => admitted.filter((c) => /^HTTP\/1\.1 (200|503)/.test(c.text())).length, {
          timeout: 10_000,
        })
        .toBe(20);
      expect(admitted.filter((c) => c.text().startsWith('HTTP/1.1 200')).length).toBeGreaterThan(0);
    } finally {
      for (const c of held) c.socket.destroy();
    }
    await healthy(hub);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/^jobhub_http_connections\{kind="cap"\} 96$/m);
    hub.proc.kill('SIGTERM');
    expect((await hub.exited).code).toBe(0);
  }, 60_000);

  it('running out of descriptors on accept is survived', async () => {
    // A cap above the file limit: accept(2) itself fails with EMFILE. Connections beyond the limit
    // are closed unanswered (nothing can be done without a descriptor); the hub lives on.
    const hub = await spawnHub(tempDir(), [], scaled(15_000), {
      wrap: ['prlimit', '--nofile=200:200'],
      env: { JOBHUB_MAX_CONNECTIONS: '100000' },
    });
    const port = Number(new URL(hub.url).port);
    const held = crowd(port, 400);
    try {
      await sleep(1_000);
      const someServed = held.filter((c) => !c.closed).slice(0, 10);
      for (const c of someServed) c.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
      await expect
        .poll(() => someServed.filter((c) => c.text().startsWith('HTTP/1.1 200')).length, { timeout: 10_000 })
        .toBe(someServed.length);
    } finally {
      for (const c of held) c.socket.destroy();
    }
    await healthy(hub);
    expect(hub.proc.exitCode).toBe(null);
    hub.proc.kill('SIGTERM');
    expect((await hub.exited).code).toBe(0);
  }, 60_000);
});
