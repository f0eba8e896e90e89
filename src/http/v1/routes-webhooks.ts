/** Native API: webhooks (create, list, get, delete) and their deliveries. Logic: src/webhooks. */
import { HubError } from '../../core/errors.js';
import { readJson } from '../body.js';
import type { RequestContext } from '../router.js';
import { sendJson, type Api } from './api.js';
import { WebhookCreate } from './schemas.js';
import { deliveryJson, webhookJson } from './serialize.js';

async function scope(c: RequestContext) {
  const p = await c.principal();
  c.hub.auth.require(p, 'client');
  return { principal: p, owner: c.hub.auth.ownerScope(p) };
}

export function webhookRoutes(api: Api): void {
  api.route(
    {
      method: 'POST',
      path: '/api/v1/webhooks',
      tag: 'webhooks',
      summary: 'Create a webhook: signed POSTs about job outcomes (a client: its own jobs; an admin: all)',
      body: WebhookCreate,
      responses: { 201: 'the webhook (without its secret)', 400: 'validation_failed: a refused url' },
    },
    async (c) => {
      const { principal } = await scope(c);
      const body = await readJson(c.req, WebhookCreate, c.hub.ctx.config.maxJsonBytes);
      const owner = principal.role === 'admin' ? null : principal.tokenId;
      sendJson(c.res, 201, webhookJson(await c.hub.webhooks.create(body, owner)));
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/webhooks',
      tag: 'webhooks',
      summary: 'List webhooks',
      responses: { 200: '{webhooks}' },
    },
    async (c) => {
      const { owner } = await scope(c);
      sendJson(c.res, 200, { webhooks: (await c.hub.webhooks.list(owner)).map(webhookJson) });
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/webhooks/{id}',
      tag: 'webhooks',
      summary: 'Get a webhook',
      responses: { 200: 'the webhook' },
    },
    async (c) =>
      sendJson(c.res, 200, webhookJson(await c.hub.webhooks.get(c.params.id!, (await scope(c)).owner))),
  );
  api.route(
    {
      method: 'DELETE',
      path: '/api/v1/webhooks/{id}',
      tag: 'webhooks',
      summary: 'Delete a webhook and its deliveries',
      responses: { 204: 'deleted' },
    },
    async (c) => {
      await c.hub.webhooks.delete(c.params.id!, (await scope(c)).owner);
      c.res.writeHead(204).end();
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/webhooks/{id}/deliveries',
      tag: 'webhooks',
      summary: "A webhook's deliveries with their results, newest first",
      query: { before: 'page: ids below this', limit: '1-1000, default 100' },
      responses: { 200: '{deliveries, next}' },
    },
    async (c) => {
      const { owner } = await scope(c);
      const before = c.query.get('before');
      if (before !== null && !/^\d{1,18}$/.test(before))
        throw new HubError('validation_failed', 'query before must be a delivery id');
      const raw = c.query.get('limit');
      const limit = raw === null || raw === '' ? 100 : Number(raw);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new HubError('validation_failed', 'query limit must be an integer in [1, 1000]');
      const list = await c.hub.webhooks.deliveries(c.params.id!, owner, {
        beforeId: before ?? undefined,
        limit,
      });
      sendJson(c.res, 200, {
        deliveries: list.map(deliveryJson),
        next: list.length === limit ? list[list.length - 1]!.id : null,
      });
    },
  );
}
