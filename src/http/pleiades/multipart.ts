/**
 * `POST /data`: a multipart/form-data upload whose part named `file` becomes a blob. The part is
 * streamed into the blob store as it arrives (never buffered whole), and the blob is committed
 * only once the whole form has parsed, so a truncated or malformed upload stores nothing.
 */
import { PassThrough } from 'node:stream';
import busboy from 'busboy';
import { HubError } from '../../core/errors.js';
import type { BlobRecord } from '../../jobs/blobs.js';
import type { RequestContext } from '../router.js';

/** Room for the multipart framing and small fields around the file itself. */
const FORM_OVERHEAD = 1024 * 1024;

/** What Go's `FormFile` says when the part is missing; clients know this text. */
export const NO_SUCH_FILE = 'http: no such file';

/** Receives the upload; `owner` (the uploading token) is granted reading the blob. */
export function receiveFile(c: RequestContext, owner: string | null): Promise<BlobRecord> {
  const { req, res, hub } = c;
  const max = hub.ctx.config.maxBlobBytes;
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\b/i.test(type)) {
    throw new HubError('bad_request', "request Content-Type isn't multipart/form-data");
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max + FORM_OVERHEAD) {
    res.setHeader('connection', 'close');
    throw new HubError('payload_too_large', `blob larger than ${max} bytes`);
  }
  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: req.headers,
      limits: { fieldSize: 64 * 1024, fields: 100, parts: 1000, headerPairs: 100 },
    });
  } catch (err) {
    throw new HubError('bad_request', `malformed multipart body: ${(err as Error).message}`);
  }

  return new Promise<BlobRecord>((resolve, reject) => {
    let settled = false;
    let upload: Promise<BlobRecord> | null = null;
    // The file's bytes go through here; it ends only when the whole form parsed cleanly.
    let sink: PassThrough | null = null;

    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      // Stop parsing; the rest of the request is drained and the connection closed after the reply.
      req.unpipe(bb);
      bb.destroy();
      sink?.destroy();
      req.resume();
      if (!res.headersSent) res.setHeader('connection', 'close');
      reject(err);
    };
    const malformed = (err: Error) =>
      fail(new HubError('bad_request', `malformed multipart body: ${err.message}`));

    bb.on('file', (name, file) => {
      file.on('error', malformed);
      if (name !== 'file' || upload || settled) {
        file.resume();
        return;
      }
      sink = new PassThrough();
      // Errors reach the upload through the blob store's pipeline; until that is set up (it
      // opens a file first) an error on the sink would have no listener.
      sink.on('error', () => undefined);
      file.pipe(sink, { end: false });
      upload = hub.blobs.upload(sink, owner, max);
      // A HubError is the client's (too large); anything else (disk, store) the server maps.
      upload.catch(fail);
    });
    bb.on('error', malformed);
    bb.on('finish', () => {
      if (settled) return;
      if (!upload || !sink) {
        fail(new HubError('bad_request', NO_SUCH_FILE));
        return;
      }
      sink.end();
      upload.then(
        (blob) => {
          if (settled) return;
          settled = true;
          resolve(blob);
        },
        () => undefined, // handled above
      );
    });
    req.on('aborted', () => fail(new HubError('bad_request', 'request aborted')));
    req.on('error', (err) => malformed(err));
    req.pipe(bb);
  });
}
