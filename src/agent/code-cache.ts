/**
 * Code blobs by sha256, prepared once per runtime: a hot function is downloaded and prepared
 * (written out as an executable, compiled to a wasm module...) once, not per job. Blobs are
 * immutable, so within one hub a blob id always maps to the same sha256; a hub whose data was
 * reset reuses ids, which is why the agent calls `forgetIds` when it has to register again.
 * Concurrent jobs of a new function share one download. Least recently used entries are evicted
 * past `maxBytes` (counted in code bytes).
 */
import { createHash } from 'node:crypto';
import { BadCodeError, type Runtime } from './runtimes/runtime.js';
import { HubHttpError } from './client.js';
import type { HubApi } from './hub-api.js';

interface Entry {
  prepared: Promise<unknown>;
  runtime: Runtime;
  size: number;
}

export class CodeCache {
  /** Blob id → sha256, learned at the first download. */
  private readonly shaOf = new Map<string, string>();
  private readonly inflight = new Map<string, Promise<{ sha256: string; bytes: Buffer }>>();
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  /** Downloads done (for tests and stats). */
  downloads = 0;

  constructor(
    private readonly api: HubApi,
    private readonly maxBytes = 256 * 1024 ** 2,
    /** Largest code blob accepted. */
    private readonly maxCodeBytes = 256 * 1024 ** 2,
  ) {}

  /** The runtime's prepared form of blob `blobId`. Throws BadCodeError for unusable code. */
  async get<P>(runtime: Runtime<P>, blobId: string): Promise<P> {
    const known = this.shaOf.get(blobId);
    if (known !== undefined) {
      const hit = this.touch(`${runtime.base}:${known}`);
      if (hit) return hit.prepared as Promise<P>;
    }
    let fetching = this.inflight.get(blobId);
    if (!fetching) {
      fetching = this.fetch(blobId).finally(() => this.inflight.delete(blobId));
      this.inflight.set(blobId, fetching);
    }
    const { sha256, bytes } = await fetching;
    this.shaOf.set(blobId, sha256);
    const key = `${runtime.base}:${sha256}`;
    // Jobs that waited on the same download find the entry the first one made.
    const hit = this.touch(key);
    if (hit) return hit.prepared as Promise<P>;
    const prepared = runtime.prepare({ sha256, bytes });
    const entry: Entry = { prepared, runtime: runtime as Runtime, size: bytes.length };
    this.entries.set(key, entry);
    this.bytes += entry.size;
    prepared.catch(() => this.drop(key));
    this.evict();
    return prepared;
  }

  /** Forgets which blob id has which sha256 (prepared code stays, keyed by sha256). */
  forgetIds(): void {
    this.shaOf.clear();
  }

  /** The entry, marked most recently used (a Map keeps insertion order). */
  private touch(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e;
  }

  private async fetch(blobId: string): Promise<{ sha256: string; bytes: Buffer }> {
    this.downloads++;
    let bytes: Buffer;
    try {
      bytes = await this.api.blobGet(blobId, this.maxCodeBytes);
    } catch (err) {
      if (err instanceof HubHttpError && (err.status === 404 || err.status === 413)) {
        throw new BadCodeError(`code blob ${blobId}: ${err.message}`);
      }
      throw err;
    }
    return { sha256: createHash('sha256').update(bytes).digest('hex'), bytes };
  }

  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.size;
    e.prepared.then(
      (p) => e.runtime.release?.(p),
      () => {},
    );
  }

  private evict(): void {
    for (const key of this.entries.keys()) {
      if (this.bytes <= this.maxBytes || this.entries.size <= 1) break;
      this.drop(key);
    }
  }
}
