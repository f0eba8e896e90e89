/**
 * What the HTTP faces may use: the hub's services, never the store or the blob store behind them.
 * The composition root (src/app) hands an object of this shape to the server; a handler reaches
 * it as `c.hub`.
 */
import type { AuthService } from '../auth/auth.js';
import type { Portal } from '../contest/portal.js';
import type { BlobService } from '../jobs/blobs.js';
import type { HubContext } from '../jobs/context.js';
import type { FunctionService } from '../jobs/functions.js';
import type { GroupService } from '../jobs/groups.js';
import type { JobService } from '../jobs/jobs.js';
import type { LeaseService, WorkerRegistry } from '../jobs/workers.js';
import type { KvService } from '../kv/kv.js';
import type { ScheduleService } from '../schedules/schedules.js';
import type { WebhookService } from '../webhooks/webhooks.js';

/** The shared parts a face reads: settings, clock, log, metrics, job events, the shutdown signal. */
export type FaceContext = Pick<HubContext, 'config' | 'clock' | 'log' | 'metrics' | 'events' | 'shutdown'>;

export interface HubServices {
  readonly ctx: FaceContext;
  readonly jobs: JobService;
  readonly workers: WorkerRegistry;
  readonly leases: LeaseService;
  readonly auth: AuthService;
  readonly blobs: BlobService;
  readonly functions: FunctionService;
  readonly kv: KvService;
  readonly groups: GroupService;
  readonly schedules: ScheduleService;
  readonly webhooks: WebhookService;
  /** The contest portal (benchmark jobs, teams, leaderboard). */
  readonly portal: Portal;
  /** Whether the store answers (`/readyz`). */
  ready(): Promise<boolean>;
}
