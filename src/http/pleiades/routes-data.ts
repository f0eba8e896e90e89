/** Pleiades v0.5: ping, data (blobs) and lambdas (functions). */
import type { Router } from '../router.js';
import { sendBlob } from '../blob-transfer.js';
import { receiveFile } from './multipart.js';
import { idField, ok, pathId, readObject, stringField } from './reply.js';

/** A lambda without a script has codex "0" on the wire. */
export const NO_CODEX = '0';

export function dataRoutes(r: Router): void {
  r.on('GET', '/ping', async (c) => {
    await c.principal();
    ok(c.res, { message: 'pong' });
  });

  r.on('POST', '/data', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'client', 'worker');
    const blob = await receiveFile(c, p.tokenId);
    ok(c.res, { message: 'Data uploaded', id: blob.id, checksum: blob.sha256 });
  });

  // Reads are scoped like /api/v1/blobs: another tenant's data is "Object Not Found".
  r.on('GET', '/data/:id', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'client', 'worker');
    const blob = await c.hub.blobs.get(pathId(c.params.id, 'data'), p);
    ok(c.res, { message: 'Data found', id: blob.id, checksum: blob.sha256 });
  });

  r.on('GET', '/data/:id/blob', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'client', 'worker');
    const blob = await c.hub.blobs.get(pathId(c.params.id, 'data'), p);
    await sendBlob(c.hub, blob, c.req, c.res);
  });

  // Creating lambdas and jobs is a requester's act, as on /api/v1: a worker only runs them.
  r.on('POST', '/lambda', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'client');
    const body = await readObject(c, false);
    const codex = idField(body, 'codex', { zeroIsNone: true });
    const runtime = stringField(body, 'runtime', { max: 256 }) ?? 'default';
    const fn = await c.hub.functions.create({ runtime, codeBlobId: codex }, p);
    ok(c.res, { id: fn.id });
  });

  r.on('GET', '/lambda/:id', async (c) => {
    c.hub.auth.require(await c.principal(), 'client', 'worker');
    const fn = await c.hub.functions.get(pathId(c.params.id, 'lambda'));
    ok(c.res, { id: fn.id, codex: fn.codeBlobId ?? NO_CODEX, runtime: fn.runtime });
  });
}
