/**
 * S3BlobStore against a real S3 endpoint: s3rver (an S3 implementation on the local filesystem)
 * in-process. s3rver 3.7 lacks two calls the store makes, AbortMultipartUpload and
 * UploadPartCopy (it answers 405 and 501); `addMissingS3Calls` adds both to the server, storing
 * parts exactly where s3rver's own UploadPart does. Nothing on the client side is mocked.
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { parseS3Url, S3BlobStore, S3UrlError } from '../../src/blobs/s3-blob-store.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { HubError } from '../../src/core/errors.js';
import { testHub } from '../helpers/hub.js';
import { scaled } from '../helpers/time.js';

/** The slice of s3rver (a Koa app, untyped) these tests touch. */
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
}
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void> | void;
interface S3rverServer {
  middleware: Middleware[];
  store: { getResourcePath(bucket: string, key: string | undefined, resource: string): string };
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (options: Record<string, unknown>) => S3rverServer;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;

const BUCKET = 'jobhub-test';
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const MiB = 1024 * 1024;

function sha(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
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

/** An endless source of 64 KiB chunks; `produced` counts what was read from it. */
function endlessSource(): { source: Readable; produced: () => number } {
  let produced = 0;
  const source = new Readable({
    read() {
      produced++;
      this.push(Buffer.alloc(64 * 1024, produced & 0xff));
    },
  });
  return { source, produced: () => produced };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/**
 * Implements AbortMultipartUpload (DELETE ?uploadId) and UploadPartCopy (PUT ?partNumber&uploadId
 * with x-amz-copy-source) on s3rver's filesystem layout. Runs ahead of s3rver's own middleware.
 */
function addMissingS3Calls(server: S3rverServer): void {
  const header = (ctx: KoaContext, name: string) => {
    const v = ctx.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const uploadDir = (bucket: string, uploadId: string) => {
    if (!/^[0-9a-f]+$/.test(uploadId)) throw new Error(`bad uploadId ${uploadId}`);
    return path.join(server.store.getResourcePath(bucket, undefined, 'uploads'), uploadId);
  };
  server.middleware.unshift(async (ctx, next) => {
    const uploadId = typeof ctx.query.uploadId === 'string' ? ctx.query.uploadId : undefined;
    if (uploadId === undefined) return next();
    const [bucket = '', ...keyParts] = ctx.path.slice(1).split('/');
    if (ctx.method === 'DELETE') {
      await fs.promises.rm(uploadDir(bucket, uploadId), { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    const copySource = header(ctx, 'x-amz-copy-source');
    if (ctx.method !== 'PUT' || copySource === undefined) return next();
    const [srcBucket = '', ...srcKey] = decodeURIComponent(copySource).replace(/^\//, '').split('/');
    const range = /^bytes=(\d+)-(\d+)$/.exec(header(ctx, 'x-amz-copy-source-range') ?? '');
    if (!range || keyParts.length === 0) throw new Error('UploadPartCopy shim: needs a key and a copy range');
    const src = server.store.getResourcePath(srcBucket, srcKey.join('/'), 'object');
    const part = path.join(uploadDir(bucket, uploadId), String(Number(ctx.query.partNumber)));
    const handle = await fs.promises.open(src, 'r');
    const start = Number(range[1]);
    const bytes = Buffer.alloc(Number(range[2]) - start + 1);
    try {
      await handle.read(bytes, 0, bytes.length, start);
    } finally {
      await handle.close();
    }
    await fs.promises.writeFile(part, bytes);
    const md5 = createHash('md5').update(bytes).digest('hex');
    await fs.promises.writeFile(`${part}.md5`, md5);
    ctx.type = 'application/xml';
    ctx.body =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<CopyPartResult><LastModified>${new Date().toISOString()}</LastModified>` +
      `<ETag>"${md5}"</ETag></CopyPartResult>`;
  });
}

let dir: string;
let server: S3rverServer;
let endpoint: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobhub-s3rver-'));
  server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: dir,
    configureBuckets: [{ name: BUCKET }],
  });
  addMissingS3Calls(server);
  const address = await server.run();
  endpoint = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await server?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

let counter = 0;
function newStore(extra: Partial<ConstructorParameters<typeof S3BlobStore>[0]> = {}): S3BlobStore {
  // A fresh prefix per store: each test sees only its own keys in the shared bucket.
  const prefix = `t${++counter}/blobs`;
  const base = S3BlobStore.fromUrl(
    `s3://${BUCKET}/${prefix}?endpoint=${endpoint}&region=us-east-1&forcePathStyle=true`,
    {
      credentials: CREDENTIALS,
    },
  );
  return Object.keys(extra).length
    ? new S3BlobStore({ client: base.client, bucket: base.bucket, prefix: base.prefix, ...extra })
    : base;
}

/** Every key under the store's prefix, relative to it. */
async function keysOf(store: S3BlobStore): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await store.client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: store.prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) keys.push(o.Key!.slice(store.prefix.length));
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

/** Multipart uploads s3rver still holds (started and neither completed nor aborted). */
function pendingUploads(): string[] {
  const uploads = server.store.getResourcePath(BUCKET, undefined, 'uploads');
  return fs.existsSync(uploads) ? fs.readdirSync(uploads) : [];
}

describe('S3BlobStore', () => {
  let store: S3BlobStore;

  beforeEach(() => {
    store = newStore();
  });

  it('stores streamed bytes under objects/<sha256> and leaves no temporary object', async () => {
    const bytes = Buffer.from('hello, blobs');
    const res = await store.put(Readable.from([bytes.subarray(0, 5), bytes.subarray(5)]), { maxBytes: 100 });
    const expected = sha(bytes);
    expect(res).toEqual({ sha256: expected, size: bytes.length });
    expect(await keysOf(store)).toEqual([`objects/${expected}`]);
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
    expect(await keysOf(store)).toEqual([`objects/${a.sha256}`]);
  });

  it('putBuffer matches node crypto and round-trips', async () => {
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const res = await store.putBuffer(bytes);
    expect(res).toEqual({ sha256: sha(bytes), size: 1000 });
    expect(await store.readAll(res.sha256, 1000)).toEqual(bytes);
    expect(await keysOf(store)).toEqual([`objects/${res.sha256}`]);
  });

  it('stores an empty blob', async () => {
    const res = await store.put(Readable.from([]), { maxBytes: 0 });
    expect(res).toEqual({ sha256: sha(Buffer.alloc(0)), size: 0 });
    expect((await store.readAll(res.sha256, 0)).length).toBe(0);
    expect((await collect(await store.get(res.sha256))).length).toBe(0);
  });

  it('accepts exactly maxBytes', async () => {
    const bytes = Buffer.alloc(64, 7);
    expect((await store.put(Readable.from([bytes]), { maxBytes: 64 })).size).toBe(64);
  });

  it('streams a multi-part upload (several 8 MiB parts) with the right hash', async () => {
    const bytes = Buffer.alloc(20 * MiB + 123);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) & 0xff;
    const chunks = [];
    for (let i = 0; i < bytes.length; i += 100_000) chunks.push(bytes.subarray(i, i + 100_000));
    const res = await store.put(Readable.from(chunks), { maxBytes: bytes.length });
    expect(res).toEqual({ sha256: sha(bytes), size: bytes.length });
    expect(await keysOf(store)).toEqual([`objects/${res.sha256}`]);
    expect(sha(await collect(await store.get(res.sha256)))).toBe(res.sha256);
    expect(pendingUploads()).toEqual([]);
  });

  it('rejects an oversize upload with payload_too_large and keeps nothing', async () => {
    const { source, produced } = endlessSource();
    const err = await rejection(store.put(source, { maxBytes: 10_000 }));
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).code).toBe('payload_too_large');
    expect((err as HubError).message).toBe('blob larger than 10000 bytes');
    expect(source.destroyed).toBe(true);
    expect(produced()).toBeLessThan(100);
    expect(await keysOf(store)).toEqual([]);
  });

  it('aborts the multipart upload when the limit is hit after parts went up', async () => {
    const { source, produced } = endlessSource();
    const err = await rejection(store.put(source, { maxBytes: 20 * MiB }));
    expect((err as HubError).code).toBe('payload_too_large');
    expect(source.destroyed).toBe(true);
    // Read stops at the limit (plus what the stream buffers), not at some later point.
    expect(produced() * 64 * 1024).toBeLessThan(22 * MiB);
    expect(await keysOf(store)).toEqual([]);
    expect(pendingUploads()).toEqual([]);
  });

  it('rejects with the source error when the upload is aborted and keeps nothing', async () => {
    const boom = new Error('client aborted');
    const source = failingSource([Buffer.alloc(4096, 1), Buffer.alloc(4096, 2)], boom);
    const err = await rejection(store.put(source, { maxBytes: 1 << 20 }));
    expect(err).toBe(boom);
    expect(await keysOf(store)).toEqual([]);

    // Again after two parts went up: the multipart upload is aborted as well.
    const late = new Error('client went away');
    const big = failingSource(
      Array.from({ length: 20 }, (_, i) => Buffer.alloc(MiB, i)),
      late,
    );
    expect(await rejection(store.put(big, { maxBytes: 1 << 30 }))).toBe(late);
    expect(await keysOf(store)).toEqual([]);
    expect(pendingUploads()).toEqual([]);
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
      for (const attempt of [
        () => store.get(bad),
        () => store.has(bad),
        () => store.presignedGetUrl(bad, 60),
      ]) {
        const err = await rejection(attempt());
        expect((err as HubError).code, bad).toBe('bad_request');
      }
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
    expect(await keysOf(store)).toEqual([]);
    await store.delete(sha256);
    await store.putBuffer(Buffer.from('to delete'));
    expect(await store.has(sha256)).toBe(true);
  });

  it('commits a blob above the single-copy limit with UploadPartCopy', async () => {
    const parted = newStore({ maxSingleCopyBytes: 6 * MiB, copyPartSize: 5 * MiB });
    const bytes = Buffer.alloc(12 * MiB + 7);
    for (let i = 0; i < bytes.length; i += 1000) bytes[i] = (i / 1000) & 0xff;
    const res = await parted.put(Readable.from([bytes]), { maxBytes: bytes.length });
    expect(res).toEqual({ sha256: sha(bytes), size: bytes.length });
    expect(await keysOf(parted)).toEqual([`objects/${res.sha256}`]);
    expect(sha(await collect(await parted.get(res.sha256)))).toBe(res.sha256);
    expect(
      (await collect(await parted.get(res.sha256, { start: 5 * MiB - 2, end: 5 * MiB + 1 }))).length,
    ).toBe(4);
    expect(pendingUploads()).toEqual([]);
  });

  it(
    'streams a 64 MiB upload with bounded memory',
    async () => {
      // Warm up first, so the measurement is of the upload and not of the SDK's multipart code
      // loading or of V8 still sizing its heap for external memory.
      await store.put(Readable.from([Buffer.alloc(24 * MiB, 1)]), { maxBytes: 24 * MiB });
      const chunkSize = 64 * 1024;
      const total = 64 * MiB;
      const expected = createHash('sha256');
      let sent = 0;
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
      const head = await store.client.send(
        new HeadObjectCommand({ Bucket: BUCKET, Key: `${store.prefix}objects/${res.sha256}` }),
      );
      expect(head.ContentLength).toBe(total);
      expect(peak - before).toBeLessThan(100 * MiB);
      expect(await keysOf(store)).toHaveLength(2);
      expect(pendingUploads()).toEqual([]);
    },
    scaled(30_000),
  );

  it('gives presigned URLs that plain fetch can download, whole or by range', async () => {
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));
    const { sha256 } = await store.putBuffer(bytes);
    const url = await store.presignedGetUrl(sha256, 300);
    const u = new URL(url);
    expect(u.origin).toBe(endpoint);
    expect(u.searchParams.get('X-Amz-Expires')).toBe('300');
    // Only the host is signed: no header the downloader would have to reproduce.
    expect(u.searchParams.get('X-Amz-SignedHeaders')).toBe('host');
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer())).toEqual(bytes);
    const part = await fetch(url, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(100, 200));
    for (const bad of [0, -1, 1.5, 7 * 24 * 3600 + 1]) {
      expect(((await rejection(store.presignedGetUrl(sha256, bad))) as HubError).code).toBe('bad_request');
    }
  });

  it('serves uploads and ranged downloads through the hub', async () => {
    const running = await testHub({}, { blobs: store });
    const bytes = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 31) % 256));
    const up = await fetch(`${running.url}/api/v1/blobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(up.status).toBe(201);
    const blob = (await up.json()) as { id: string; sha256: string; size: number };
    expect(blob).toMatchObject({ sha256: sha(bytes), size: bytes.length });
    expect(await keysOf(store)).toEqual([`objects/${blob.sha256}`]);

    const r = await fetch(`${running.url}/api/v1/blobs/${blob.id}`, {
      headers: { range: 'bytes=1000-1999' },
    });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 1000-1999/${bytes.length}`);
    expect(Buffer.from(await r.arrayBuffer())).toEqual(bytes.subarray(1000, 2000));
    const whole = await fetch(`${running.url}/api/v1/blobs/${blob.id}`);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer())).toEqual(bytes);
  });
});

describe('Hub with config.blobs', () => {
  it('opens an S3BlobStore from the URL, with credentials from the AWS environment variables', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey;
    try {
      const running = await testHub({ blobs: `s3://${BUCKET}/from-config?endpoint=${endpoint}` });
      const blobs = running.hub.ctx.blobs;
      expect(blobs).toBeInstanceOf(S3BlobStore);
      expect((blobs as S3BlobStore).prefix).toBe('from-config/');
      const bytes = Buffer.from('configured through JOBHUB_BLOBS');
      const up = await fetch(`${running.url}/api/v1/blobs`, { method: 'POST', body: bytes });
      expect(up.status).toBe(201);
      expect(await keysOf(blobs as S3BlobStore)).toEqual([`objects/${sha(bytes)}`]);
    } finally {
      for (const [name, value] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.secret],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe('parseS3Url', () => {
  it('reads bucket, prefix and parameters', () => {
    expect(parseS3Url('s3://my-bucket')).toEqual({
      bucket: 'my-bucket',
      prefix: '',
      endpoint: undefined,
      region: undefined,
      forcePathStyle: false,
      checksums: 'when_supported',
    });
    expect(parseS3Url('s3://b.example/team-a/blobs/?region=eu-west-1')).toMatchObject({
      bucket: 'b.example',
      prefix: 'team-a/blobs/',
      region: 'eu-west-1',
      forcePathStyle: false,
    });
    // A custom endpoint implies path style, us-east-1 and only required checksums.
    expect(parseS3Url('s3://bkt/p?endpoint=http://127.0.0.1:9000')).toEqual({
      bucket: 'bkt',
      prefix: 'p/',
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      forcePathStyle: true,
      checksums: 'when_required',
    });
    expect(
      parseS3Url('s3://bkt?endpoint=https://acc.r2.cloudflarestorage.com&region=auto&forcePathStyle=false'),
    ).toMatchObject({
      endpoint: 'https://acc.r2.cloudflarestorage.com',
      region: 'auto',
      forcePathStyle: false,
    });
    expect(parseS3Url('s3://bkt?endpoint=http://minio:9000&checksums=when_supported').checksums).toBe(
      'when_supported',
    );
  });

  it('names the bad part', () => {
    const cases: [string, RegExp][] = [
      ['not a url', /not a URL/],
      ['http://bucket/x', /scheme must be s3:\/\//],
      ['s3://', /names no bucket/],
      ['s3://key:secret@bucket', /must not carry credentials/],
      ['s3://bucket:9000', /takes no port/],
      ['s3://Bad_Bucket', /bucket "Bad_Bucket" is not a valid bucket name/],
      ['s3://ab', /bucket "ab" is not a valid bucket name/],
      ['s3://bucket/a//b', /prefix segment "" is not allowed/],
      ['s3://bucket/a/../b', /prefix segment/],
      ['s3://bucket?endpoint=ftp://host', /endpoint must be http:\/\/ or https:\/\//],
      ['s3://bucket?endpoint=nohost', /endpoint "nohost" is not a URL/],
      ['s3://bucket?endpoint=http://h:1/path', /endpoint must be just scheme:\/\/host\[:port\]/],
      ['s3://bucket?region=US_EAST', /region "US_EAST" is not a region name/],
      ['s3://bucket?forcePathStyle=yes', /forcePathStyle must be true or false, got "yes"/],
      ['s3://bucket?checksums=always', /checksums must be when_supported or when_required/],
      ['s3://bucket?endpont=http://h', /unknown parameter "endpont"/],
      ['s3://bucket?region=a&region=b', /parameter region given more than once/],
    ];
    for (const [url, message] of cases) {
      let err: unknown;
      try {
        parseS3Url(url);
      } catch (e) {
        err = e;
      }
      expect(err, url).toBeInstanceOf(S3UrlError);
      expect((err as Error).message, url).toMatch(message);
    }
  });

  it('is checked by the configuration (JOBHUB_BLOBS)', () => {
    expect(loadConfig({}).blobs).toBeNull();
    expect(loadConfig({ JOBHUB_BLOBS: 's3://bkt/x?endpoint=http://127.0.0.1:9000' }).blobs).toBe(
      's3://bkt/x?endpoint=http://127.0.0.1:9000',
    );
    expect(() => loadConfig({ JOBHUB_BLOBS: '/var/blobs' })).toThrow(ConfigError);
    expect(() => loadConfig({ JOBHUB_BLOBS: '/var/blobs' })).toThrow(/blobs must be an s3:\/\/ URL/);
    expect(() => loadConfig({}, { blobs: 's3://bkt?forcePathStyle=maybe' })).toThrow(
      /blobs: .*forcePathStyle/,
    );
  });
});
