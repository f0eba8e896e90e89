import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { FsBlobStore } from '../../src/blobs/fs-blob-store.js';
import { HubError } from '../../src/core/errors.js';
import { scaled } from '../helpers/time.js';

function sha(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Every regular file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A source that yields `chunks`, then fails as an aborted client upload would. */
function failingSource(chunks: Buffer[], error: Error): Readable {
  let i = 0;
  return new Readable({
    read() {
      if (i < chunks.length) this.push(chunks[i++]);
      else this.destroy(error);
    },
  });
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

describe('FsBlobStore', () => {
  let dir: string;
  let store: FsBlobStore;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobhub-blobs-'));
    store = new FsBlobStore({ dir });
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const objects = (): string[] => filesUnder(path.join(dir, 'objects'));
  const temps = (): string[] => filesUnder(path.join(dir, 'tmp'));

  it('creates its directories, even nested ones', () => {
    const nested = path.join(dir, 'a', 'b');
    new FsBlobStore({ dir: nested });
    expect(fs.statSync(path.join(nested, 'objects')).isDirectory()).toBe(true);
    expect(fs.statSync(path.join(nested, 'tmp')).isDirectory()).toBe(true);
  });

  it('cleans stale temp files at construction', () => {
    fs.writeFileSync(path.join(dir, 'tmp', 'leftover.tmp'), 'x');
    new FsBlobStore({ dir });
    expect(temps()).toEqual([]);
  });

  it('stores streamed bytes under their sha256 with a fan-out layout', async () => {
    const bytes = Buffer.from('hello, blobs');
    const res = await store.put(Readable.from([bytes.subarray(0, 5), bytes.subarray(5)]), { maxBytes: 100 });
    const expected = sha(bytes);
    expect(res).toEqual({ sha256: expected, size: bytes.length });
    expect(objects()).toEqual([path.join(expected.slice(0, 2), expected.slice(2, 4), expected)]);
    expect(temps()).toEqual([]);
    expect(await store.has(expected)).toBe(true);
    expect(await collect(await store.get(expected))).toEqual(bytes);
  });

  it('stores the same bytes once', async () => {
    const bytes = Buffer.from('same bytes');
    const a = await store.put(Readable.from([bytes]), { maxBytes: 100 });
    const b = await store.putBuffer(bytes);
    const c = await store.put(Readable.from([bytes]), { maxBytes: 100 });
    const [d, e] = await Promise.all([
      store.put(Readable.from([bytes]), { maxBytes: 100 }),
      store.put(Readable.from([bytes]), { maxBytes: 100 }),
    ]);
    for (const r of [b, c, d, e]) expect(r).toEqual(a);
    expect(objects()).toHaveLength(1);
    expect(temps()).toEqual([]);
  });

  it('putBuffer matches node crypto and round-trips', async () => {
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const res = await store.putBuffer(bytes);
    expect(res).toEqual({ sha256: sha(bytes), size: 1000 });
    expect(await store.readAll(res.sha256, 1000)).toEqual(bytes);
  });

  it('stores an empty blob', async () => {
    const res = await store.put(Readable.from([]), { maxBytes: 0 });
    expect(res).toEqual({ sha256: sha(Buffer.alloc(0)), size: 0 });
    expect((await store.readAll(res.sha256, 0)).length).toBe(0);
  });

  it('accepts exactly maxBytes', async () => {
    const bytes = Buffer.alloc(64, 7);
    expect((await store.put(Readable.from([bytes]), { maxBytes: 64 })).size).toBe(64);
  });

  it('rejects an oversize upload with payload_too_large and keeps nothing', async () => {
    let produced = 0;
    const source = new Readable({
      read() {
        // Endless: the store must stop reading rather than drain the source.
        produced++;
        this.push(Buffer.alloc(1024, 1));
      },
    });
    const err = await rejection(store.put(source, { maxBytes: 10_000 }));
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).code).toBe('payload_too_large');
    expect((err as HubError).message).toBe('blob larger than 10000 bytes');
    expect(source.destroyed).toBe(true);
    expect(produced).toBeLessThan(100);
    expect(objects()).toEqual([]);
    expect(temps()).toEqual([]);
  });

  it('rejects with the source error when the upload is aborted and keeps nothing', async () => {
    const boom = new Error('client aborted');
    const source = failingSource([Buffer.alloc(4096, 1), Buffer.alloc(4096, 2)], boom);
    const err = await rejection(store.put(source, { maxBytes: 1 << 20 }));
    expect(err).toBe(boom);
    expect(objects()).toEqual([]);
    expect(temps()).toEqual([]);
  });

  it('reads ranges', async () => {
    const bytes = Buffer.from('0123456789abcdef');
    const { sha256 } = await store.putBuffer(bytes);
    expect((await collect(await store.get(sha256, { start: 0, end: 0 }))).toString()).toBe('0');
    expect((await collect(await store.get(sha256, { start: 3, end: 7 }))).toString()).toBe('34567');
    expect((await collect(await store.get(sha256, { start: 10, end: 15 }))).toString()).toBe('abcdef');
  });

  it('rejects an invalid range with bad_request', async () => {
    const { sha256 } = await store.putBuffer(Buffer.from('abc'));
    const err = await rejection(store.get(sha256, { start: 2, end: 1 }));
    expect((err as HubError).code).toBe('bad_request');
  });

  it('rejects a missing blob with not_found before any stream exists', async () => {
    const missing = sha(Buffer.from('never stored'));
    // Factories, so each promise is awaited as soon as it exists (no unhandled rejections).
    for (const attempt of [
      () => store.get(missing),
      () => store.get(missing, { start: 0, end: 1 }),
      () => store.readAll(missing, 10),
    ]) {
      const err = await rejection(attempt());
      expect(err).toBeInstanceOf(HubError);
      expect((err as HubError).code).toBe('not_found');
      expect((err as HubError).message).toBe('blob bytes missing');
    }
    expect(await store.has(missing)).toBe(false);
  });

  it('rejects malformed sha256 values with bad_request', async () => {
    for (const bad of [
      '',
      'abc',
      '../'.repeat(22).slice(0, 64),
      'A'.repeat(64),
      'g'.repeat(64),
      'a'.repeat(65),
    ]) {
      const err = await rejection(store.get(bad));
      expect((err as HubError).code, bad).toBe('bad_request');
    }
  });

  it('readAll refuses blobs over maxBytes', async () => {
    const { sha256 } = await store.putBuffer(Buffer.alloc(100));
    const err = await rejection(store.readAll(sha256, 99));
    expect((err as HubError).code).toBe('payload_too_large');
  });

  it('deletes, ignoring blobs that are already gone', async () => {
    const { sha256 } = await store.putBuffer(Buffer.from('to delete'));
    await store.delete(sha256);
    expect(await store.has(sha256)).toBe(false);
    expect(objects()).toEqual([]);
    await store.delete(sha256);
    // Deleted bytes can be stored again.
    await store.putBuffer(Buffer.from('to delete'));
    expect(await store.has(sha256)).toBe(true);
  });

  it(
    'streams a 256 MiB upload without buffering it',
    async () => {
      const chunkSize = 64 * 1024;
      const total = 256 * 1024 * 1024;
      const expected = createHash('sha256');
      let sent = 0;
      // Chunks are generated on demand, so only what the pipeline buffers is ever in memory.
      const source = new Readable({
        read() {
          if (sent >= total) {
            this.push(null);
            return;
          }
          const chunk = Buffer.allocUnsafe(chunkSize).fill((sent / chunkSize) & 0xff);
          expected.update(chunk);
          sent += chunkSize;
          this.push(chunk);
        },
      });

      const before = process.memoryUsage().rss;
      let peak = before;
      const timer = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      let res;
      try {
        res = await store.put(source, { maxBytes: total });
      } finally {
        clearInterval(timer);
      }
      peak = Math.max(peak, process.memoryUsage().rss);

      expect(res).toEqual({ sha256: expected.digest('hex'), size: total });
      expect(
        fs.statSync(path.join(dir, 'objects', res.sha256.slice(0, 2), res.sha256.slice(2, 4), res.sha256))
          .size,
      ).toBe(total);
      expect(peak - before).toBeLessThan(64 * 1024 * 1024);
    },
    scaled(30_000),
  );
});
