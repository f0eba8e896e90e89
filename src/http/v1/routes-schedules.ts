/** Native API: cron schedules (create, list, get, delete, pause, resume). Logic: src/schedules. */
import { readJson } from '../body.js';
import { sendJson, type Api } from './api.js';
import { jobRequestFrom } from './convert.js';
import { clientScope, idQuery, intParam } from './params.js';
import { ScheduleCreate } from './schemas.js';
import { scheduleJson } from './serialize.js';

export function scheduleRoutes(api: Api): void {
  api.route(
    {
      method: 'POST',
      path: '/api/v1/schedules',
      tag: 'schedules',
      summary: 'Create a cron schedule: a job at each tick',
      body: ScheduleCreate,
      responses: { 201: 'the schedule, with nextRunAt', 409: 'conflict: the name is taken' },
    },
    async (c) => {
      const { principal } = await clientScope(c);
      const body = await readJson(c.req, ScheduleCreate, c.hub.ctx.config.maxJsonBytes);
      const s = await c.hub.schedules.create(
        {
          name: body.name,
          cron: body.cron,
          timezone: body.timezone,
          overlap: body.overlap,
          job: jobRequestFrom(body.job),
        },
        principal,
      );
      sendJson(c.res, 201, scheduleJson(s));
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/schedules',
      tag: 'schedules',
      summary: 'List schedules, oldest first (a client: its own)',
      query: { after: 'page: ids above this', limit: '1-1000, default 100' },
      responses: { 200: '{schedules, next}' },
    },
    async (c) => {
      const { owner } = await clientScope(c);
      const after = idQuery(c, 'after', 'a schedule');
      const limit = intParam(c, 'limit', 100, 1, 1000);
      const list = await c.hub.schedules.list({ owner, afterId: after, limit });
      sendJson(c.res, 200, {
        schedules: list.map(scheduleJson),
        next: list.length === limit ? list[list.length - 1]!.id : null,
      });
    },
  );
  api.route(
    {
      method: 'GET',
      path: '/api/v1/schedules/{id}',
      tag: 'schedules',
      summary: 'Get a schedule',
      responses: { 200: 'the schedule' },
    },
    async (c) =>
      sendJson(
        c.res,
        200,
        scheduleJson(await c.hub.schedules.get(c.params.id!, (await clientScope(c)).owner)),
      ),
  );
  api.route(
    {
      method: 'DELETE',
      path: '/api/v1/schedules/{id}',
      tag: 'schedules',
      summary: 'Delete a schedule (its jobs stay)',
      responses: { 204: 'deleted' },
    },
    async (c) => {
      await c.hub.schedules.delete(c.params.id!, (await clientScope(c)).owner);
      c.res.writeHead(204).end();
    },
  );
  api.route(
    {
      method: 'POST',
      path: '/api/v1/schedules/{id}/pause',
      tag: 'schedules',
      summary: 'Pause a schedule: no jobs until resumed',
      responses: { 200: 'the schedule' },
    },
    async (c) => {
      c.req.resume();
      sendJson(
        c.res,
        200,
        scheduleJson(await c.hub.schedules.pause(c.params.id!, (await clientScope(c)).owner)),
      );
    },
  );
  api.route(
    {
      method: 'POST',
      path: '/api/v1/schedules/{id}/resume',
      tag: 'schedules',
      summary: 'Resume a schedule from now (ticks missed while paused do not run)',
      responses: { 200: 'the schedule, with nextRunAt' },
    },
    async (c) => {
      c.req.resume();
      sendJson(
        c.res,
        200,
        scheduleJson(await c.hub.schedules.resume(c.params.id!, (await clientScope(c)).owner)),
      );
    },
  );
}
