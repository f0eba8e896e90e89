/**
 * The Pleiades v0.5 face (reference/pleiades-wire.md), served under `/api/v0.5/` and at the root
 * paths. Unmodified Pleiades clients run against it: exact JSON fields and content types, ids as
 * decimal strings, state names in any case. It only calls the hub service (and the store's KV).
 */
import { Router } from '../router.js';
import type { Face } from '../server.js';
import { sendError } from './reply.js';
import { dataRoutes } from './routes-data.js';
import { jobRoutes } from './routes-jobs.js';
import { kvRoutes } from './routes-kv.js';
import { workerRoutes } from './routes-workers.js';

export function pleiadesFace(): Face {
  const router = new Router();
  dataRoutes(router);
  jobRoutes(router);
  workerRoutes(router);
  kvRoutes(router);
  return { name: 'v0.5', router, sendError };
}
