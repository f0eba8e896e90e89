/** Native API: webhooks (create, list, get, delete) and their deliveries. Logic: src/webhooks. */
import { readJson } from '../body.js';
import { sendJson, type Api } from './api.js';
import { clientScope, idQuery, intParam } from './params.js';
import { WebhookCreate } from './schemas.js';
import { deliveryJson, webhookJson } from './serialize.js';

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
      const { principal } = await clientScope(c);
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
      const { owner } = await clientScope(c);
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
      sendJson(c.res, 200, webhookJson(await c.hub.webhooks.get(c.params.id!, (await clientScope(c)).owner))),
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
      await c.hub.webhooks.delete(c.params.id!, (await clientScope(c)).owner);
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
      const { owner } = await clientScope(c);
      const before = idQuery(c, 'before', 'a delivery');
      const limit = intParam(c, 'limit', 100, 1, 1000);
      const list = await c.hub.webhooks.deliveries(c.params.id!, owner, {
        beforeId: before,
        limit,
      });
      sendJson(c.res, 200, {
        deliveries: list.map(deliveryJson),
        next: list.length === limit ? list[list.length - 1]!.id : null,
      });
    },
  );
}
