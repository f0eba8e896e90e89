/**
 * Where blob bytes live. Content-addressed: a blob is named by the sha256 of its bytes, so the
 * same bytes are stored once. Bytes stream in and out; nothing here buffers a whole blob.
 * The database keeps the metadata (id, sha256, size); this interface only moves bytes.
 */
import type { Readable } from 'node:stream';

export interface PutResult {
  sha256: string;
  size: number;
}

export interface BlobStore {
  /**
   * Streams `source` into the store, hashing as it goes. Rejects with a HubError
   * `payload_too_large` (and keeps nothing) when more than `maxBytes` arrive. Resolves once the
   * bytes are durable under their sha256.
   */
  put(source: Readable, opts: { maxBytes: number }): Promise<PutResult>;
  /** Stores a small buffer (inline inputs and outputs materialised as blobs). */
  putBuffer(bytes: Buffer): Promise<PutResult>;
  /** A stream of the blob's bytes, optionally a range [start, end] inclusive. */
  get(sha256: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Reads a whole blob into memory; only for blobs known to be small. */
  readAll(sha256: string, maxBytes: number): Promise<Buffer>;
  has(sha256: string): Promise<boolean>;
  delete(sha256: string): Promise<void>;
}
