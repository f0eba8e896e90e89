/**
 * Blob download shared by the API faces: streams the bytes with ETag (the sha256), conditional
 * GET, and single byte ranges. The body is piped, never buffered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { HubError } from '../core/errors.js';
import { formatContentRange, parseRange } from '../blobs/range.js';
import type { Hub } from '../app/hub.js';
import type { BlobRecord } from '../store/store.js';

export async function sendBlob(
  hub: Hub,
  blob: BlobRecord,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const etag = `"${blob.sha256}"`;
  res.setHeader('etag', etag);
  res.setHeader('accept-ranges', 'bytes');
  res.setHeader('cache-control', 'private, max-age=31536000, immutable');
  const inm = req.headers['if-none-match'];
  if (inm && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
    res.writeHead(304);
    res.end();
    return;
  }
  // If-Range with another validator means "the whole thing, it changed" (a blob never changes).
  const ifRange = req.headers['if-range'];
  const range = ifRange && ifRange !== etag ? null : parseRange(req.headers.range, blob.size);
  if (range === 'unsatisfiable') {
    res.setHeader('content-range', `bytes */${blob.size}`);
    throw new HubError(
      'range_not_satisfiable',
      `range ${req.headers.range} is outside the blob's ${blob.size} bytes`,
    );
  }
  const stream = await hub.ctx.blobs.get(blob.sha256, range ?? undefined);
  const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream' };
  if (range) {
    headers['content-range'] = formatContentRange(range, blob.size);
    headers['content-length'] = range.end - range.start + 1;
    res.writeHead(206, headers);
  } else {
    headers['content-length'] = blob.size;
    res.writeHead(200, headers);
  }
  if (req.method === 'HEAD') {
    stream.destroy();
    res.end();
    return;
  }
  await pipeline(stream, res).catch(() => {
    // The client went away mid-download; nothing to report to it.
  });
}
