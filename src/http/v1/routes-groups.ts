/** Native API: job groups (fairness, concurrency and rate limits, pause). Admins only. */
import { HubError } from '../../core/errors.js';
import { readJson } from '../body.js';
import { sendJson, type Api } from './api.js';
import { GroupUpdate } from './schemas.js';
import { groupJson } from './serialize.js';

export function groupRoutes(api: Api): void {
  api.route(
    {
      method: 'GET',
      path: '/api/v1/groups',
      tag: 'groups',
      summary: 'List job groups by name, with their settings and queued and running counts (admin)',
      query: { after: 'page: names after this', limit: '1-1000, default 100' },
      responses: { 200: '{groups, next}' },
    },
    async (c) => {
      c.hub.auth.require(await c.principal());
      const after = c.query.get('after') ?? undefined;
      const limit = Number(c.query.get('limit') ?? 100);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new HubError('validation_failed', 'query limit must be an integer in [1, 1000]');
      const groups = await c.hub.groups.list({ after, limit });
      sendJson(c.res, 200, {
        groups: groups.map(groupJson),
        next: groups.length === limit ? groups[groups.length - 1]!.name : null,
      });
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/groups/{group}',
      tag: 'groups',
      summary: 'A job group with its settings and counts (admin)',
      responses: { 200: 'the group', 404: 'not_found' },
    },
    async (c) => {
      c.hub.auth.require(await c.principal());
      const { usage: _usage, ...group } = await c.hub.groups.get(c.params.group!);
      sendJson(c.res, 200, groupJson(group));
    },
  );
  api.route(
    {
      method: 'PUT',
      path: '/api/v1/groups/{group}',
      tag: 'groups',
      summary:
        "Set a group's concurrency, rate (perSecond) or pause (admin); fields left out keep their value, null removes a limit",
      body: GroupUpdate,
      responses: { 200: 'the group' },
    },
    async (c) => {
      c.hub.auth.require(await c.principal());
      const body = await readJson(c.req, GroupUpdate, c.hub.ctx.config.maxJsonBytes);
      sendJson(c.res, 200, groupJson(await c.hub.groups.set(c.params.group!, body)));
    },
  );
}
