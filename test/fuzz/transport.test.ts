/**
 * Hostile framing, below the JSON: truncated and malformed multipart uploads (Pleiades `POST
 * /data`), bodies cut off mid-way, bodies dripped slowly in random pieces, broken chunked
 * encoding, and a crowd of connections that never finish their headers. Properties: never a
 * 5xx, never a crash, nothing stored from an upload that did not complete, and the hub answers
 * others promptly meanwhile. `JOBHUB_FUZZ_RUNS=N` for a long run.
 */
import { existsSync, readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { changedTables, raw, sqliteDigester, stableDigest, type Digester } from '../../chaos/surface.js';
import { api, testHub } from '../helpers/hub.js';
import { scaled } from '../helpers/time.js';

const RUNS = Number(process.env.JOBHUB_FUZZ_RUNS ?? 0);
/** JOBHUB_FUZZ_SEED=N replays the seed a failure printed. */
const SEED = process.env.JOBHUB_FUZZ_SEED ? { seed: Number(process.env.JOBHUB_FUZZ_SEED) } : {};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Writes `head` then `body` in pieces on a raw socket; resolves with the reply text ('' if none). */
async function rawSend(
  port: number,
  head: string,
  body: Buffer,
  o: { pieces?: number[]; delayMs?: number; endEarly?: boolean; timeoutMs?: number } = {},
): Promise<string> {
  const socket: Socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  const done = new Promise<string>((resolve) => {
    const t = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    }, o.timeoutMs ?? 5000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(t);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write(head);
  let at = 0;
  for (const size of o.pieces ?? [body.length]) {
    if (at >= body.length || socket.destroyed) break;
    socket.write(body.subarray(at, at + Math.max(1, size)));
    at += Math.max(1, size);
    if (o.delayMs) await sleep(o.delayMs);
  }
  if (at < body.length && !o.endEarly && !socket.destroyed) socket.write(body.subarray(at));
  if (o.endEarly) socket.end();
  return done;
}

/**
 * Tables that still differ from `before` after up to 5 s: cleanups run asynchronously (slowly on
 * a busy machine); a leak never goes away.
 */
async function settledChanges(
  d: Digester,
  before: Awaited<ReturnType<Digester['digest']>>,
): Promise<string[]> {
  let changed: string[] = [];
  for (let i = 0; i < 250; i++) {
    changed = changedTables(before, await d.digest());
    if (changed.length === 0) return changed;
    await sleep(20);
  }
  return changed;
}

/**
 * The digest to compare against, taken once no upload is in progress. Under load the hub may take
 * up the previous case's cut-off upload only after that case's check has passed: its temporary
 * file then appears, and is removed a moment later. A baseline that caught it in between would
 * see its removal as a change made by the next case.
 */
async function quietDigest(d: Digester, dataDir: string): Promise<Awaited<ReturnType<Digester['digest']>>> {
  const tmp = join(dataDir, 'blobs', 'tmp');
  const deadline = Date.now() + scaled(5_000);
  while (Date.now() < deadline && existsSync(tmp) && readdirSync(tmp).length > 0) await sleep(20);
  return stableDigest(d);
}

const statusOf = (reply: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? 0);

function multipart(
  boundary: string,
  parts: { name: string; filename?: string; data: Buffer; headers?: string }[],
): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    out.push(
      Buffer.from(
        `--${boundary}\r\ncontent-disposition: form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}\r\n${p.headers ?? ''}\r\n`,
      ),
      p.data,
      Buffer.from('\r\n'),
    );
  }
  out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

const boundaryArb = fc.stringMatching(/^[A-Za-z0-9'()+_,-./:=?]{1,69}$/).filter((b) => !b.endsWith(' '));
const partArb = fc.record({
  name: fc.constantFrom('file', 'file', 'other', 'FILE', ''),
  filename: fc.option(fc.constantFrom('a.bin', '../../etc/passwd', '', 'x'.repeat(300), 'naïve.txt'), {
    nil: undefined,
  }),
  data: fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)),
  headers: fc.option(
    fc.constantFrom(
      'content-type: application/octet-stream\r\n',
      'content-transfer-encoding: base64\r\n',
      'x: ' + 'y'.repeat(2000) + '\r\n',
    ),
    {
      nil: undefined,
    },
  ),
});

describe('multipart uploads (Pleiades POST /data)', () => {
  it(
    'stores nothing from a truncated or malformed upload, and answers 4xx (never 5xx)',
    async () => {
      const running = await testHub({ maxBlobBytes: 64 * 1024 });
      const port = Number(new URL(running.url).port);
      const digester = sqliteDigester(running.hub.ctx.config.dataDir);
      try {
        await fc.assert(
          fc.asyncProperty(
            boundaryArb,
            fc.array(partArb, { minLength: 0, maxLength: 3 }),
            fc.double({ min: 0, max: 1, noNaN: true }),
            fc.constantFrom('declared', 'consistent', 'mangled', 'whole'),
            async (boundary, parts, cut, mode) => {
              let body = multipart(boundary, parts);
              const at = Math.floor(body.length * cut);
              if (mode === 'consistent' || mode === 'declared') body = body.subarray(0, at);
              if (mode === 'mangled')
                body = Buffer.concat([
                  body.subarray(0, at),
                  Buffer.from('\r\n--' + boundary.slice(1) + 'zz\r\n'),
                  body.subarray(at),
                ]);
              const declared = mode === 'declared' ? multipart(boundary, parts).length : body.length;
              const head =
                `POST /api/v0.5/data HTTP/1.1\r\nhost: x\r\nconnection: close\r\n` +
                `content-type: multipart/form-data; boundary=${boundary}\r\ncontent-length: ${declared}\r\n\r\n`;
              const before = await quietDigest(digester, running.hub.ctx.config.dataDir);
              const reply = await rawSend(port, head, body, {
                endEarly: mode === 'declared',
                timeoutMs: 3000,
              });
              const status = statusOf(reply);
              const complete =
                mode === 'whole' && parts.some((p) => p.name === 'file' && p.filename !== undefined);
              expect(
                status === 0 || status < 500,
                `${mode} at ${at}/${declared}: ${reply.slice(0, 300)}`,
              ).toBe(true);
              if (status !== 200)
                expect(await settledChanges(digester, before), `${mode}: ${reply.slice(0, 300)}`).toEqual([]);
              if (mode === 'declared') expect(status === 0 || status >= 400, reply.slice(0, 200)).toBe(true);
              if (status === 200)
                expect(mode === 'whole' || complete || mode === 'mangled' || mode === 'consistent').toBe(
                  true,
                );
            },
          ),
          { numRuns: RUNS || 60, ...SEED },
        );
        // No debris of aborted uploads.
        expect((await api(running.url, 'GET', '/healthz')).status).toBe(200);
      } finally {
        await digester.close();
      }
    },
    scaled(30_000),
  );
});

describe('bodies in pieces', () => {
  it(
    'a body dripped slowly in random pieces is read whole and right; others are served meanwhile',
    async () => {
      const running = await testHub();
      const port = Number(new URL(running.url).port);
      await fc.assert(
        fc.asyncProperty(
          fc.string({ unit: 'grapheme', maxLength: 200 }),
          fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 25 }),
          fc.integer({ min: 0, max: 15 }),
          async (text, pieces, delayMs) => {
            const body = Buffer.from(JSON.stringify({ runtime: 'drip', input: { text } }));
            const head = `POST /api/v1/jobs HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
            const sending = rawSend(port, head, body, { pieces, delayMs, timeoutMs: 10_000 });
            // The hub is not held up by the slow client.
            const t0 = Date.now();
            expect((await raw(running.url, { method: 'GET', path: '/healthz' })).status).toBe(200);
            expect(Date.now() - t0).toBeLessThan(scaled(3_000));
            const reply = await sending;
            expect(statusOf(reply), reply.slice(0, 300)).toBe(201);
            const id = /"id":"(\d+)"/.exec(reply)![1];
            const job = await api(running.url, 'GET', `/api/v1/jobs/${id}`);
            expect(Buffer.from(job.body.input.base64, 'base64').toString()).toBe(text);
          },
        ),
        { numRuns: RUNS || 25, ...SEED },
      );
    },
    scaled(30_000),
  );

  it(
    'a body cut off before its declared length changes nothing, on any route',
    async () => {
      const running = await testHub();
      const port = Number(new URL(running.url).port);
      const digester = sqliteDigester(running.hub.ctx.config.dataDir);
      const wid = (await api(running.url, 'POST', '/api/v1/workers', { runtimes: ['x'] })).body.id;
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom(
              ['/api/v1/jobs', { runtime: 'cut', input: { text: 'x'.repeat(500) } }],
              ['/api/v1/jobs/batch', { jobs: [{ runtime: 'cut' }, { runtime: 'cut' }] }],
              ['/api/v1/workers', { runtimes: ['cut'] }],
              [`/api/v1/workers/${wid}/lease`, { limit: 1 }],
              ['/api/v1/blobs', 'raw bytes '.repeat(100)],
              ['/api/v1/functions', { runtime: 'cut' }],
              ['/api/v1/admin/tokens', { role: 'client' }],
              ['/api/v0.5/job', { lambda: '1', input: '1' }],
              ['/api/v0.5/kv', { consistency: 'none' }],
              ['/api/portal/staff/teams', { name: 'cut', password: 'cut-password' }],
              ['/api/portal/staff/load', { teams: [{ name: 'cut2', password: 'cut-password' }] }],
            ),
            fc.double({ min: 0, max: 0.99, noNaN: true }),
            fc.boolean(),
            async ([path, value], cut, chunked) => {
              const full = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
              const body = full.subarray(0, Math.floor(full.length * cut));
              const framing = chunked ? 'transfer-encoding: chunked' : `content-length: ${full.length}`;
              const payload = chunked
                ? Buffer.concat([Buffer.from(`${full.length.toString(16)}\r\n`), body])
                : body;
              const head = `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${framing}\r\n\r\n`;
              const before = await quietDigest(digester, running.hub.ctx.config.dataDir);
              const reply = await rawSend(port, head, payload, { endEarly: true, timeoutMs: 3000 });
              const status = statusOf(reply);
              expect(
                status === 0 || (status >= 400 && status < 500),
                `${path} cut at ${body.length}/${full.length}: ${reply.slice(0, 200)}`,
              ).toBe(true);
              // The cut-off upload's temporary file goes away once the hub notices the abort.
              expect(await settledChanges(digester, before), path as string).toEqual([]);
            },
          ),
          { numRuns: RUNS || 40, ...SEED },
        );
        expect((await api(running.url, 'GET', '/healthz')).status).toBe(200);
      } finally {
        await digester.close();
      }
    },
    scaled(30_000),
  );

  it(
    'aborted uploads leave no open file and no temporary file behind',
    async () => {
      const running = await testHub();
      const port = Number(new URL(running.url).port);
      const tmp = join(running.hub.ctx.config.dataDir, 'blobs', 'tmp');
      const fds = () => readdirSync('/proc/self/fd').length;
      const abort = (path: string, type: string, first: string) =>
        rawSend(
          port,
          `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: ${type}\r\ncontent-length: 100000\r\n\r\n`,
          Buffer.from(first),
          {
            endEarly: true,
            timeoutMs: 2000,
          },
        );
      const before = fds();
      for (let i = 0; i < 40; i++) {
        await abort('/api/v1/blobs', 'application/octet-stream', 'some bytes');
        await abort(
          '/api/v0.5/data',
          'multipart/form-data; boundary=b',
          '--b\r\ncontent-disposition: form-data; name="file"; filename="f"\r\n\r\nabc',
        );
      }
      let open = fds();
      for (let i = 0; i < 250 && (open > before + 5 || readdirSync(tmp).length > 0); i++) {
        await sleep(20);
        open = fds();
      }
      expect(readdirSync(tmp)).toEqual([]);
      expect(open).toBeLessThanOrEqual(before + 5);
    },
    scaled(15_000),
  );

  it(
    'broken chunked encoding and framing are refused by the HTTP layer without harm',
    async () => {
      const running = await testHub();
      const port = Number(new URL(running.url).port);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(
            'zz\r\n{}\r\n0\r\n\r\n',
            '-1\r\n{}\r\n0\r\n\r\n',
            'ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n',
            '2\r\n{}\r\n0\r\nx-trailer: ' + 'a'.repeat(70_000) + '\r\n\r\n',
            '2;ext=' + 'e'.repeat(10_000) + '\r\n{}\r\n0\r\n\r\n',
            '2\r\n{}0\r\n\r\n',
            '\r\n\r\n\r\n',
          ),
          fc.constantFrom('/api/v1/jobs', '/api/v0.5/data', '/internal/job/1/report/', '/api/portal/login'),
          fc.constantFrom('', 'content-length: 5\r\n', 'transfer-encoding: gzip, chunked\r\n'),
          async (chunks, path, extra) => {
            const head = `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n${extra}\r\n`;
            const reply = await rawSend(port, head, Buffer.from(chunks), { timeoutMs: 2000 });
            const status = statusOf(reply);
            expect(status === 0 || status < 500, reply.slice(0, 200)).toBe(true);
          },
        ),
        { numRuns: RUNS || 30, ...SEED },
      );
      expect((await api(running.url, 'GET', '/healthz')).status).toBe(200);
    },
    scaled(30_000),
  );

  it(
    'a crowd of connections that never finish their headers does not starve others',
    async () => {
      const running = await testHub();
      const port = Number(new URL(running.url).port);
      const sockets: Socket[] = [];
      for (let i = 0; i < 300; i++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        s.write('POST /api/v1/jobs HTTP/1.1\r\nhost: x\r\nx-slow: ');
        sockets.push(s);
      }
      try {
        for (let i = 0; i < 20; i++) {
          for (const s of sockets.slice(0, 50)) s.write('a');
          const t0 = Date.now();
          const r = await api(running.url, 'POST', '/api/v1/jobs', { runtime: 'crowd' });
          expect(r.status).toBe(201);
          expect(Date.now() - t0).toBeLessThan(scaled(3_000));
        }
      } finally {
        for (const s of sockets) s.destroy();
      }
      expect((await api(running.url, 'GET', '/api/v1/jobs?runtime=crowd')).body.jobs).toHaveLength(20);
    },
    scaled(30_000),
  );
});
