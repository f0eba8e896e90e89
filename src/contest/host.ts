/**
 * The hub as the contest sees it: job services and events, never the store. The portal is built
 * on this; its parts (Admin, Sessions) see the portal through the narrower interfaces they declare,
 * so that the portal's module imports theirs and not the reverse.
 */
import type { HubContext } from '../jobs/context.js';
import type { JobService } from '../jobs/jobs.js';
import type { LeaseService, WorkerRegistry } from '../jobs/workers.js';

/** The parts of the hub the portal uses: the job services and their events, never the store. */
export interface PortalHub {
  ctx: Pick<HubContext, 'config' | 'clock' | 'log' | 'events'>;
  jobs: JobService;
  workers: WorkerRegistry;
  leases: LeaseService;
}
