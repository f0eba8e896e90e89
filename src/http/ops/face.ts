/** Operations endpoints: /metrics, /healthz, /readyz, /openapi.json and the /docs page. */
import type { ServerResponse } from 'node:http';
import type { HubError } from '../../core/errors.js';
import { Router } from '../router.js';
import type { Face } from '../server.js';
import { sendJson } from '../v1/api.js';
import { DOCS_PAGE } from './docs-page.js';

export function opsFace(openapi: unknown): Face {
  const router = new Router();
  router.on('GET', '/metrics', async (c) => {
    const text = await c.hub.ctx.metrics.registry.render();
    c.res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    c.res.end(text);
  });
  router.on('GET', '/healthz', async (c) => sendJson(c.res, 200, { status: 'ok' }));
  router.on('GET', '/readyz', async (c) => {
    const ok = await c.hub.ready().catch(() => false);
    sendJson(c.res, ok ? 200 : 503, { status: ok ? 'ready' : 'store unavailable' });
  });
  router.on('GET', '/openapi.json', async (c) => sendJson(c.res, 200, openapi));
  router.on('GET', '/docs', async (c) => {
    c.res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    c.res.end(DOCS_PAGE);
  });
  return {
    name: 'ops',
    router,
    sendError(res: ServerResponse, err: HubError) {
      sendJson(res, err.status, { error: { code: err.code, message: err.message } });
    },
  };
}
