/** The native API face, mounted at /api/v1/. */
import type { Face } from '../server.js';
import { Api, sendError } from './api.js';
import { groupRoutes } from './routes-groups.js';
import { jobRoutes } from './routes-jobs.js';
import { miscRoutes } from './routes-misc.js';
import { scheduleRoutes } from './routes-schedules.js';
import { webhookRoutes } from './routes-webhooks.js';
import { workerRoutes } from './routes-workers.js';

export function nativeApi(): { face: Face; api: Api } {
  const api = new Api();
  jobRoutes(api);
  workerRoutes(api);
  scheduleRoutes(api);
  webhookRoutes(api);
  miscRoutes(api);
  groupRoutes(api);
  return { api, face: { name: 'v1', router: api.router, sendError } };
}
