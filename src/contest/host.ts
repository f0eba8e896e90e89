/**
 * The hub as the contest sees it: job services and events, never the store. The portal is built
 * on this; its parts (Admin, Sessions) see the portal through the narrower interfaces they declare,
 * so that the portal's module imports theirs and not the reverse.
 */
import type { HubContext } from '../jobs/context.js';
import type { JobService } from '../jobs/jobs.js';
import type { LeaseService, WorkerRegistry } from '../jobs/workers.js';
import type { Rendered, Viewer } from './scoreboard.js';
import type { ContestRecord, PortalStore, TeamRecord } from './store/store.js';

/** The parts of the hub the portal uses: the job services and their events, never the store. */
export interface PortalHub {
  ctx: Pick<HubContext, 'config' | 'clock' | 'log' | 'events'>;
  jobs: JobService;
  workers: WorkerRegistry;
  leases: LeaseService;
}

/**
 * The portal as its organisers' side sees it (Organisers, Results): declared here so that the
 * portal's module imports theirs and not the reverse.
 */
export interface OrganisersPortal {
  readonly hub: PortalHub;
  readonly store: PortalStore;
  readonly admin: { team(id: unknown): Promise<TeamRecord> };
  now(): number;
  ready(): Promise<void>;
  contest(): Promise<ContestRecord>;
  teamName(id: string | null): string;
  enqueueAll(o?: {
    runAt?: number;
  }): Promise<{ team: { id: number; name: string }; job_id: number | null; error: string | null }[]>;
  leaderboard(viewer: Viewer): Promise<Rendered>;
  published(yes: boolean): void;
}
