/**
 * The contest portal's own API under /api/portal/ (contestants, audience, staff). Errors use the
 * native envelope `{"error": {"code", "message"}}`. The seed's benchmarker API is a separate face
 * (src/http/internal).
 */
import { Router } from '../router.js';
import type { Face } from '../server.js';
import { sendError } from '../v1/api.js';
import { contestantRoutes } from './contestant.js';
import { deskRoutes } from './desk.js';
import { liveRoutes } from './live.js';
import { organiserRoutes } from './organisers.js';
import { staffRoutes } from './staff.js';

export function portalFace(): Face {
  const router = new Router();
  staffRoutes(router);
  organiserRoutes(router);
  deskRoutes(router);
  contestantRoutes(router);
  liveRoutes(router);
  return { name: 'portal', router, sendError };
}
