/**
 * The blob service: uploads streamed into the blob store and recorded in the store, reads with
 * the caller's access checked, and downloads (whole or one byte range). Faces call this, never the
 * blob store or the store directly.
 */
import { PassThrough, type Readable } from 'node:stream';
import { HubError, notFound } from '../core/errors.js';
import type { BlobRecord } from '../store/store.js';
import type { Principal } from '../auth/auth.js';
import type { HubContext } from './context.js';

export type { BlobRecord };

export class BlobService {
  constructor(private readonly ctx: HubContext) {}

  /**
   * Streams an upload into the blob store. The request goes through a PassThrough so that a
   * refused upload (too large) stops the store without destroying the client's socket: the rest
   * of the body is drained and the client reliably reads the 413.
   */
  async upload(
    source: Readable,
    owner: string | null,
    maxBytes = this.ctx.config.maxBlobBytes,
  ): Promise<BlobRecord> {
    const pass = new PassThrough({ highWaterMark: 1024 * 1024 });
    // Its errors reach the caller through put()'s rejection; a late one (the source closing after
    // put() gave up) must not become an unhandled 'error' event.
    pass.on('error', () => undefined);
    // pipe() does not pass on an aborted source: without this the store would wait forever for
    // the rest of a cut-off upload, holding its temporary file open.
    const aborted = () => {
      if (!source.readableEnded) pass.destroy(new HubError('bad_request', 'the upload was aborted'));
    };
    // A client that gave up while the request waited for its turn (auth, a busy event loop) has
    // already closed: 'close' will not come again, and the store would hold a temporary file open
    // for good. Refuse it before anything is written.
    if (source.destroyed && !source.readableEnded) {
      source.resume();
      throw new HubError('bad_request', 'the upload was aborted');
    }
    source.once('error', aborted);
    source.once('close', aborted);
    source.pipe(pass);
    let put;
    try {
      put = await this.ctx.blobs.put(pass, { maxBytes: Math.min(maxBytes, this.ctx.config.maxBlobBytes) });
    } catch (err) {
      source.unpipe(pass);
      source.resume();
      throw err;
    } finally {
      source.removeListener('error', aborted);
      source.removeListener('close', aborted);
    }
    return this.ctx.store.blobInsert({ ...put, now: this.ctx.clock(), owner });
  }

  /**
   * A blob by id; with `reader`, only if that caller may read it (see Store.blobReadable), and
   * a blob it may not read is as unknown as one that does not exist: ids are sequential.
   */
  async get(id: string, reader?: Principal): Promise<BlobRecord> {
    const blob = /^\d{1,18}$/.test(id) ? await this.ctx.store.blobGet({ id }) : null;
    if (!blob || (reader && !(await this.readable(reader, id)))) throw notFound('blob', id);
    return blob;
  }

  /** Whether the caller may read the blob: admins always; others as Store.blobReadable says. */
  async readable(reader: Principal, id: string): Promise<boolean> {
    if (reader.role === 'admin') return true;
    if (reader.tokenId === null) return false;
    return this.ctx.store.blobReadable({ id, token: reader.tokenId, now: this.ctx.clock() });
  }

  /** The blob's bytes, or the inclusive byte range [start, end] of them. */
  open(blob: BlobRecord, range?: { start: number; end: number }): Promise<Readable> {
    return this.ctx.blobs.get(blob.sha256, range);
  }
}
