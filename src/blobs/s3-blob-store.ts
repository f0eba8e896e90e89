/**
 * Content-addressed blob bytes in an S3-compatible bucket (AWS S3, MinIO, R2, Ceph RGW).
 */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { HubError } from '../core/errors.js';
import type { BlobStore, PutResult } from './blob-store.js';
import { parseS3Url } from './s3-url.js';

export { parseS3Url, S3UrlError, type S3Location } from './s3-url.js';

const SHA256_RE = /^[0-9a-f]{64}$/;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** S3's limit for a single CopyObject; larger objects are copied part by part. */
const MAX_SINGLE_COPY = 5 * GiB;
/** SigV4 presigned URLs live at most a week. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export interface S3BlobStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix, `''` or ending in `/`. */
  prefix?: string;
  /** Multipart part size for uploads; memory per upload is about partSize × (queueSize + 2). */
  partSize?: number;
  /** Parts uploaded (or copied) concurrently per blob. */
  queueSize?: number;
  /** Objects above this are committed with UploadPartCopy instead of one CopyObject. */
  maxSingleCopyBytes?: number;
  /** Part size for UploadPartCopy (S3: 5 MiB to 5 GiB, at most 10 000 parts). */
  copyPartSize?: number;
}

/**
 * A {@link BlobStore} over one bucket (optionally under a key prefix).
 *
 * Layout under the prefix:
 * - `objects/<sha256>`: the bytes. S3 has no directories, so no fan-out is needed.
 * - `tmp/<uuid>`: uploads in progress. put() cannot know the name before the last byte, so it
 *   streams a multipart upload to a temporary key, then copies it (server-side, no bytes through
 *   the hub) to its sha256 name and deletes the temporary object. A reader therefore never sees a
 *   partial object under `objects/`.
 *
 * Several hubs may share a bucket: nothing here assumes it owns `tmp/`. A hub that dies mid-upload
 * leaves an incomplete multipart upload (or, between copy and delete, a `tmp/` object) that nobody
 * will finish; give the bucket a lifecycle rule that aborts incomplete multipart uploads and
 * expires `<prefix>tmp/` after a day.
 */
export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly maxSingleCopyBytes: number;
  private readonly copyPartSize: number;

  constructor(opts: S3BlobStoreOptions) {
    this.client = opts.client;
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ?? '';
    if (this.prefix !== '' && !this.prefix.endsWith('/')) this.prefix += '/';
    this.partSize = opts.partSize ?? 8 * MiB;
    this.queueSize = opts.queueSize ?? 4;
    this.maxSingleCopyBytes = opts.maxSingleCopyBytes ?? MAX_SINGLE_COPY;
    this.copyPartSize = opts.copyPartSize ?? 512 * MiB;
  }

  /**
   * Builds a store from `s3://bucket[/prefix]?endpoint=…&region=…&forcePathStyle=…&checksums=…`
   * (see {@link parseS3Url}). Credentials come from the SDK's default chain unless `clientConfig`
   * supplies them; `clientConfig` overrides anything derived from the URL.
   */
  static fromUrl(url: string, clientConfig: S3ClientConfig = {}): S3BlobStore {
    const loc = parseS3Url(url);
    const client = new S3Client({
      ...(loc.endpoint !== undefined && { endpoint: loc.endpoint }),
      ...(loc.region !== undefined && { region: loc.region }),
      forcePathStyle: loc.forcePathStyle,
      requestChecksumCalculation: loc.checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
      responseChecksumValidation: loc.checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
      // Every download in progress holds a socket until its client has read the last byte; the
      // SDK's default of 50 would let a few slow clients stall every other S3 call.
      requestHandler: {
        httpAgent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
        httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 256 }),
      },
      ...clientConfig,
    });
    return new S3BlobStore({ client, bucket: loc.bucket, prefix: loc.prefix });
  }

  async put(source: Readable, opts: { maxBytes: number }): Promise<PutResult> {
    const { maxBytes } = opts;
    const hash = createHash('sha256');
    let size = 0;
    // Hashes and counts on the way to the uploader. Failing the transform makes pipeline()
    // destroy the source (it stops being read) and ends the Upload's read with that error.
    const meter = new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
        size += chunk.length;
        if (size > maxBytes) {
          cb(new HubError('payload_too_large', `blob larger than ${maxBytes} bytes`));
          return;
        }
        hash.update(chunk);
        cb(null, chunk);
      },
    });

    const tmpKey = `${this.prefix}tmp/${randomUUID()}`;
    // Upload reads `meter` one part at a time and keeps at most queueSize parts in flight, so
    // memory stays near partSize × (queueSize + 2) whatever the blob's size (the parts in flight,
    // the one filling, and lib-storage's concatenation slack). Below one part it
    // sends a single PutObject; on failure it aborts the multipart upload (leavePartsOnError off)
    // only after the parts in flight have finished, so no part survives.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: tmpKey, Body: meter, ContentType: 'application/octet-stream' },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    const [pumped, uploaded] = await Promise.allSettled([
      pipeline(source, meter),
      upload.done().catch((err: unknown) => {
        // S3 refused (or could not be reached): stop reading the source as well.
        meter.destroy(err instanceof Error ? err : new Error(String(err)));
        throw err;
      }),
    ]);
    if (pumped.status === 'rejected' || uploaded.status === 'rejected') {
      // A single-part upload may have completed just before the failure surfaced.
      await this.deleteKey(tmpKey).catch(() => undefined);
      // The cause is more useful than its echo: the size limit or the client's abort.
      throw pumped.status === 'rejected' ? pumped.reason : (uploaded as PromiseRejectedResult).reason;
    }

    const sha256 = hash.digest('hex');
    try {
      await this.commit(tmpKey, sha256, size);
    } finally {
      await this.deleteKey(tmpKey).catch(() => undefined);
    }
    return { sha256, size };
  }

  async putBuffer(bytes: Buffer): Promise<PutResult> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const result = { sha256, size: bytes.length };
    // The name is known up front and PutObject is all-or-nothing: no temporary key needed.
    if (await this.has(sha256)) return result;
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKey(sha256),
        Body: bytes,
        ContentLength: bytes.length,
        ContentType: 'application/octet-stream',
      }),
    );
    return result;
  }

  async get(sha256: string, range?: { start: number; end: number }): Promise<Readable> {
    const key = this.objectKey(sha256);
    if (range) {
      const { start, end } = range;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
        throw new HubError('bad_request', `invalid byte range ${start}-${end}`);
      }
    }
    try {
      // Resolves once the response headers are in: a missing blob rejects before any stream
      // exists, so the caller can still answer 404.
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(range && { Range: `bytes=${range.start}-${range.end}` }),
        }),
      );
      const body = toReadable(res.Body);
      return range ? exactRange(body, res.ContentRange, range) : body;
    } catch (err) {
      if (isNotFound(err)) throw new HubError('not_found', 'blob bytes missing');
      if (statusOf(err) === 416) {
        throw new HubError(
          'range_not_satisfiable',
          `range ${range?.start}-${range?.end} is outside the blob`,
        );
      }
      throw err;
    }
  }

  async readAll(sha256: string, maxBytes: number): Promise<Buffer> {
    let res;
    try {
      res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(sha256) }),
      );
    } catch (err) {
      if (isNotFound(err)) throw new HubError('not_found', 'blob bytes missing');
      throw err;
    }
    const body = toReadable(res.Body);
    if (res.ContentLength !== undefined && res.ContentLength > maxBytes) {
      body.destroy();
      throw new HubError('payload_too_large', `blob larger than ${maxBytes} bytes`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of body) {
      total += (chunk as Buffer).length;
      // Belt and braces for servers that omit Content-Length.
      if (total > maxBytes) {
        body.destroy();
        throw new HubError('payload_too_large', `blob larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks, total);
  }

  async has(sha256: string): Promise<boolean> {
    return this.exists(this.objectKey(sha256));
  }

  async delete(sha256: string): Promise<void> {
    // DeleteObject succeeds for a missing key too.
    await this.deleteKey(this.objectKey(sha256));
  }

  /**
   * A URL that downloads the blob straight from the bucket for `expiresSeconds`, so large
   * outputs need not pass through the hub. Anyone holding the URL can read the bytes until it
   * expires. Only `host` is signed, so a plain GET (curl, fetch, a browser) works; a Range
   * header may be added.
   */
  async presignedGetUrl(sha256: string, expiresSeconds: number): Promise<string> {
    const key = this.objectKey(sha256);
    if (!Number.isInteger(expiresSeconds) || expiresSeconds < 1 || expiresSeconds > MAX_PRESIGN_SECONDS) {
      throw new HubError('bad_request', `expiresSeconds must be an integer in [1, ${MAX_PRESIGN_SECONDS}]`);
    }
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: expiresSeconds,
    });
  }

  /** The object key for a sha256; validating here keeps arbitrary strings out of keys. */
  private objectKey(sha256: string): string {
    if (!SHA256_RE.test(sha256)) {
      throw new HubError('bad_request', 'sha256 must be 64 lowercase hex characters');
    }
    return `${this.prefix}objects/${sha256}`;
  }

  /** Gives the uploaded temporary object its content name (the caller deletes the temporary). */
  private async commit(tmpKey: string, sha256: string, size: number): Promise<void> {
    const target = this.objectKey(sha256);
    // Same bytes already stored (that is what the name means): keep the old copy. A concurrent
    // put of the same bytes may copy between this check and ours; the copies are identical.
    if (await this.exists(target)) return;
    if (size <= this.maxSingleCopyBytes) {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: target,
          CopySource: this.copySource(tmpKey),
        }),
      );
    } else {
      await this.copyInParts(tmpKey, target, size);
    }
  }

  /** Server-side copy of an object too large for CopyObject: UploadPartCopy over byte ranges. */
  private async copyInParts(sourceKey: string, target: string, size: number): Promise<void> {
    const partSize = Math.max(this.copyPartSize, Math.ceil(size / 10_000));
    const count = Math.ceil(size / partSize);
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: target,
        ContentType: 'application/octet-stream',
      }),
    );
    if (!UploadId) throw new Error(`CreateMultipartUpload for ${target} returned no UploadId`);
    const parts: CompletedPart[] = [];
    let next = 0;
    const copyParts = async () => {
      for (let i = next++; i < count; i = next++) {
        const start = i * partSize;
        const end = Math.min(size, start + partSize) - 1;
        const res = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: target,
            UploadId,
            PartNumber: i + 1,
            CopySource: this.copySource(sourceKey),
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        const etag = res.CopyPartResult?.ETag;
        if (!etag) throw new Error(`UploadPartCopy of part ${i + 1} for ${target} returned no ETag`);
        parts[i] = { PartNumber: i + 1, ETag: etag };
      }
    };
    try {
      // Every worker settles before the abort, so no part is written after it.
      const settled = await Promise.allSettled(
        Array.from({ length: Math.min(this.queueSize, count) }, copyParts),
      );
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: target,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (err) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: target, UploadId }))
        .catch(() => undefined);
      throw err;
    }
  }

  private copySource(key: string): string {
    return `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  private async deleteKey(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}

/**
 * Makes sure a ranged body holds exactly the bytes asked for. Servers differ: s3rver answers
 * `bytes=0-0` with the whole object (it reads end 0 as "no end"), and a server may ignore Range
 * altogether (200, no Content-Range). Trimming here keeps the caller's Content-Length honest.
 */
function exactRange(
  body: Readable,
  contentRange: string | undefined,
  range: { start: number; end: number },
): Readable {
  const m = contentRange ? /^bytes (\d+)-(\d+)\/(?:\d+|\*)$/.exec(contentRange) : null;
  if (contentRange !== undefined && !m) {
    body.destroy();
    throw new Error(`S3 answered Content-Range ${contentRange} for bytes=${range.start}-${range.end}`);
  }
  // Without a Content-Range the body is the whole object.
  const gotStart = m ? Number(m[1]) : 0;
  const gotEnd = m ? Number(m[2]) : Infinity;
  if (gotStart === range.start && gotEnd <= range.end) return body;
  if (gotStart > range.start) {
    body.destroy();
    throw new Error(`S3 answered Content-Range ${contentRange} for bytes=${range.start}-${range.end}`);
  }
  return Readable.from(slice(body, range.start - gotStart, range.end - range.start + 1), {
    objectMode: false,
  });
}

/** Skips `skip` bytes of `body`, then yields at most `take`; leaving the loop destroys `body`. */
async function* slice(body: Readable, skip: number, take: number): AsyncGenerator<Buffer> {
  for await (const chunk of body) {
    let buf = chunk as Buffer;
    if (skip >= buf.length) {
      skip -= buf.length;
      continue;
    }
    buf = buf.subarray(skip, skip + take);
    skip = 0;
    take -= buf.length;
    yield buf;
    if (take === 0) return;
  }
}

/** In Node the SDK's body is an http.IncomingMessage with helpers mixed in: a Readable. */
function toReadable(body: unknown): Readable {
  if (body instanceof Readable) return body;
  // Another request handler (fetch) would give a web stream; a missing body is an empty blob.
  if (body === undefined || body === null) return Readable.from([]);
  return Readable.fromWeb(body as WebReadableStream);
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/**
 * NoSuchKey from GET, NotFound from HEAD (which has no body to name the error). A missing bucket
 * is a configuration error, not a missing blob, where the server says so.
 */
function isNotFound(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const name = (err as { name?: string }).name;
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(err) === 404;
}
