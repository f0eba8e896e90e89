/**
 * Content-addressed blob bytes on the local filesystem.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HubError } from '../core/errors.js';
import type { BlobStore, PutResult } from './blob-store.js';

const SHA256_RE = /^[0-9a-f]{64}$/;

/**
 * A {@link BlobStore} that keeps each blob as one file named by its sha256.
 *
 * Layout under `dir`:
 * - `objects/ab/cd/<sha256>`: the bytes; the first two hex pairs fan out the directories so no
 *   single directory grows to millions of entries.
 * - `tmp/`: uploads in progress. A blob only appears under `objects/` via an atomic rename after
 *   its bytes are fsynced, so a reader never sees a half-written object and a crash leaves
 *   debris only in `tmp/`, which is emptied when the store is constructed.
 *
 * The directory is assumed to belong to a single hub process: construction deletes everything
 * in `tmp/`, which would break another live process's in-flight uploads.
 */
export class FsBlobStore implements BlobStore {
  readonly dir: string;
  private readonly objectsDir: string;
  private readonly tmpDir: string;

  constructor(opts: { dir: string }) {
    this.dir = path.resolve(opts.dir);
    this.objectsDir = path.join(this.dir, 'objects');
    this.tmpDir = path.join(this.dir, 'tmp');
    // Sync is fine here: this runs once at startup, before any request is served.
    fs.mkdirSync(this.objectsDir, { recursive: true });
    fs.mkdirSync(this.tmpDir, { recursive: true });
    // Anything left in tmp/ is from a process that died mid-upload; nobody will finish it.
    for (const name of fs.readdirSync(this.tmpDir)) {
      fs.rmSync(path.join(this.tmpDir, name), { force: true, recursive: true });
    }
  }

  /** Convenience for callers that prefer an async factory. */
  static async open(dir: string): Promise<FsBlobStore> {
    return new FsBlobStore({ dir });
  }

  async put(source: Readable, opts: { maxBytes: number }): Promise<PutResult> {
    const { maxBytes } = opts;
    const hash = createHash('sha256');
    let size = 0;
    // Hashes and counts in the same pass that writes, so the bytes are read exactly once. Failing
    // the transform makes pipeline() destroy every stage, including the source, so an oversize
    // upload stops being read instead of being drained to the end.
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

    const tmpPath = this.newTmpPath();
    const handle = await fsp.open(tmpPath, 'wx');
    try {
      // pipeline() gives backpressure: the source is only read as fast as the disk takes it.
      await pipeline(source, meter, handleWriter(handle));
      await handle.sync();
    } catch (err) {
      await closeQuietly(handle);
      await fsp.rm(tmpPath, { force: true });
      throw err;
    }
    await handle.close();
    const sha256 = hash.digest('hex');
    await this.commit(tmpPath, sha256);
    return { sha256, size };
  }

  async putBuffer(bytes: Buffer): Promise<PutResult> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const result = { sha256, size: bytes.length };
    // The hash is known up front, so identical bytes need not be written at all.
    if (await this.has(sha256)) return result;
    const tmpPath = this.newTmpPath();
    const handle = await fsp.open(tmpPath, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } catch (err) {
      await closeQuietly(handle);
      await fsp.rm(tmpPath, { force: true });
      throw err;
    }
    await handle.close();
    await this.commit(tmpPath, sha256);
    return result;
  }

  async get(sha256: string, range?: { start: number; end: number }): Promise<Readable> {
    const file = this.objectPath(sha256);
    if (range) {
      const { start, end } = range;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
        throw new HubError('bad_request', `invalid byte range ${start}-${end}`);
      }
    }
    // Opening first (rather than stat then createReadStream) turns a missing blob into a rejected
    // promise the caller can map to 404 before any response headers go out, with no window for
    // a concurrent delete between the check and the open.
    const handle = await openForRead(file);
    return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async readAll(sha256: string, maxBytes: number): Promise<Buffer> {
    const handle = await openForRead(this.objectPath(sha256));
    try {
      const { size } = await handle.stat();
      if (size > maxBytes) {
        throw new HubError('payload_too_large', `blob larger than ${maxBytes} bytes`);
      }
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  async has(sha256: string): Promise<boolean> {
    try {
      await fsp.access(this.objectPath(sha256));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  async delete(sha256: string): Promise<void> {
    await fsp.rm(this.objectPath(sha256), { force: true });
  }

  /** Absolute path of an object; validating here keeps arbitrary strings out of path.join. */
  private objectPath(sha256: string): string {
    if (!SHA256_RE.test(sha256)) {
      throw new HubError('bad_request', 'sha256 must be 64 lowercase hex characters');
    }
    return path.join(this.objectsDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  private newTmpPath(): string {
    return path.join(this.tmpDir, `${randomBytes(12).toString('hex')}.tmp`);
  }

  /** Moves a fully written, fsynced temp file to its object path and makes the rename durable. */
  private async commit(tmpPath: string, sha256: string): Promise<void> {
    const target = this.objectPath(sha256);
    const fanOut = path.dirname(target);
    let created: string | undefined;
    try {
      // mkdir returns the first directory it had to create, if any; those new entries live in
      // their parents, which must then be fsynced too or a crash could lose the whole subtree.
      created = await fsp.mkdir(fanOut, { recursive: true });
      if (await this.has(sha256)) {
        // Same bytes are already stored (that is what the name means); keep the old copy.
        await fsp.rm(tmpPath, { force: true });
        return;
      }
      // A concurrent put of the same bytes may rename between the check and here; rename then
      // replaces an identical file atomically, which is harmless.
      await fsp.rename(tmpPath, target);
    } catch (err) {
      await fsp.rm(tmpPath, { force: true });
      throw err;
    }
    await fsyncDir(fanOut);
    if (created !== undefined) {
      // Fan-out is only two levels deep, so the new entries can only be in these two parents.
      await fsyncDir(path.dirname(fanOut));
      await fsyncDir(this.objectsDir);
    }
  }
}

/**
 * A Writable over a FileHandle that stays the caller's. fs.WriteStream is not used because it
 * either closes the handle itself (too early to fsync) or, with autoClose off, holds a reference
 * that makes FileHandle.close() wait forever. The caller closes the handle; close() waits for a
 * write still in flight, so a failed upload's temp file can be unlinked safely afterwards.
 */
function handleWriter(handle: FileHandle): Writable {
  return new Writable({
    highWaterMark: 64 * 1024,
    writev(chunks, cb) {
      // One write for whatever piled up while the last write was in flight: fewer syscalls.
      const buf =
        chunks.length === 1
          ? (chunks[0]!.chunk as Buffer)
          : Buffer.concat(chunks.map((c) => c.chunk as Buffer));
      writeAll(handle, buf).then(() => cb(), cb);
    },
  });
}

/** write(2) may write less than asked; loop until the whole buffer is on its way to disk. */
async function writeAll(handle: FileHandle, buf: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buf.length) {
    const { bytesWritten } = await handle.write(buf, offset, buf.length - offset);
    offset += bytesWritten;
  }
}

async function openForRead(file: string): Promise<FileHandle> {
  try {
    return await fsp.open(file, 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new HubError('not_found', 'blob bytes missing');
    throw err;
  }
}

/** fsync on a directory persists its entries (our rename). Some platforms refuse it; skip there. */
async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!isErrno(err, 'EISDIR') && !isErrno(err, 'EPERM') && !isErrno(err, 'EINVAL')) throw err;
  } finally {
    await handle?.close();
  }
}

async function closeQuietly(handle: FileHandle): Promise<void> {
  try {
    await handle.close();
  } catch {
    // Already failing with a more useful error; a close failure adds nothing.
  }
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}
