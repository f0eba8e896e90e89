/** Native API: blobs, functions and tokens. */
import { HubError } from '../../core/errors.js';
import { readJson } from '../body.js';
import { sendBlob } from '../blob-transfer.js';
import { sendJson, type Api } from './api.js';
import { FunctionCreate, TokenCreate } from './schemas.js';
import { blobJson, functionJson } from './serialize.js';

export function miscRoutes(api: Api): void {
  api.route(
    {
      method: 'POST',
      path: '/api/v1/blobs',
      tag: 'blobs',
      summary: 'Upload bytes (raw body, streamed; content-addressed)',
      body: 'binary',
      responses: { 201: 'the blob', 413: 'payload_too_large' },
    },
    async (c) => {
      const p = await c.principal();
      c.hub.auth.require(p, 'client', 'worker');
      const type = c.req.headers['content-type'];
      if (type && type.startsWith('multipart/')) {
        throw new HubError(
          'unsupported_media_type',
          'send the bytes as the raw body (application/octet-stream), not multipart',
        );
      }
      const declared = Number(c.req.headers['content-length']);
      if (Number.isFinite(declared) && declared > c.hub.ctx.config.maxBlobBytes) {
        c.req.resume();
        throw new HubError('payload_too_large', `blob larger than ${c.hub.ctx.config.maxBlobBytes} bytes`);
      }
      sendJson(c.res, 201, blobJson(await c.hub.blobs.upload(c.req, p.tokenId)));
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/blobs/{id}',
      tag: 'blobs',
      summary: 'Download bytes (Range, ETag, If-None-Match)',
      responses: { 200: 'application/octet-stream', 206: 'a range', 304: 'not modified', 404: 'not_found' },
    },
    async (c) => {
      const p = await c.principal();
      c.hub.auth.require(p, 'client', 'worker');
      await sendBlob(c.hub, await c.hub.blobs.get(c.params.id!, p), c.req, c.res);
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/blobs/{id}/meta',
      tag: 'blobs',
      summary: "A blob's id, sha256 and size",
      responses: { 200: 'the blob' },
    },
    async (c) => {
      const p = await c.principal();
      c.hub.auth.require(p, 'client', 'worker');
      sendJson(c.res, 200, blobJson(await c.hub.blobs.get(c.params.id!, p)));
    },
  );
  api.route(
    {
      method: 'POST',
      path: '/api/v1/functions',
      tag: 'functions',
      summary: 'Create a function (runtime + code blob)',
      body: FunctionCreate,
      responses: { 201: 'the function' },
    },
    async (c) => {
      const p = await c.principal();
      c.hub.auth.require(p, 'client');
      const b = await readJson(c.req, FunctionCreate, c.hub.ctx.config.maxJsonBytes);
      sendJson(c.res, 201, functionJson(await c.hub.functions.create(b, p)));
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/functions',
      tag: 'functions',
      summary: 'List functions, newest first',
      query: { before: 'page', limit: '1-1000' },
      responses: { 200: '{functions}' },
    },
    async (c) => {
      c.hub.auth.require(await c.principal(), 'client', 'worker');
      const before = c.query.get('before') ?? undefined;
      const limit = Number(c.query.get('limit') ?? 100);
      if (
        (before !== undefined && !/^\d{1,18}$/.test(before)) ||
        !Number.isInteger(limit) ||
        limit < 1 ||
        limit > 1000
      ) {
        throw new HubError('validation_failed', 'before must be an id and limit an integer in [1, 1000]');
      }
      const fns = await c.hub.functions.list({ beforeId: before, limit });
      sendJson(c.res, 200, { functions: fns.map(functionJson) });
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/functions/{id}',
      tag: 'functions',
      summary: 'Get a function',
      responses: { 200: 'the function' },
    },
    async (c) => {
      c.hub.auth.require(await c.principal(), 'client', 'worker');
      sendJson(c.res, 200, functionJson(await c.hub.functions.get(c.params.id!)));
    },
  );
  api.route(
    {
      method: 'POST',
      path: '/api/v1/admin/tokens',
      tag: 'admin',
      summary: 'Create a token (admin); the token is shown only in this reply',
      body: TokenCreate,
      responses: { 201: '{id, role, token}' },
    },
    async (c) => {
      c.hub.auth.require(await c.principal());
      const b = await readJson(c.req, TokenCreate, c.hub.ctx.config.maxJsonBytes);
      const { token, record } = await c.hub.auth.create(b.role, b.name ?? null);
      sendJson(c.res, 201, { id: record.id, role: record.role, name: record.name, token });
    },
  );
}
