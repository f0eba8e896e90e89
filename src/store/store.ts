/**
 * The one narrow interface between the hub and its database. Implementations own their
 * connections and leak no driver types. Every write method resolves only after its effect is
 * durably committed, so a caller may acknowledge it to a client. Methods are named noun-first and
 * take one params object. The conformance suite (test/store/conformance.ts) defines the contract.
 */
import type { GroupSettings, GroupUsage } from '../core/groups.js';
import type { JobState } from '../core/states.js';
import { HubError } from '../core/errors.js';

export interface BlobRecord {
  id: string;
  sha256: string;
  size: number;
  createdAt: number;
}

export interface FunctionRecord {
  id: string;
  name: string | null;
  runtime: string;
  codeBlobId: string | null;
  tags: string[];
  timeoutMs: number;
  maxAttempts: number;
  createdAt: number;
}

/** A job to create: what a client asks for, resolved against its function. */
export interface JobTemplate {
  functionId: string | null;
  runtime: string;
  inputBlobId: string | null;
  inputInline: Buffer | null;
  tags: string[];
  priority: number;
  maxAttempts: number;
  timeoutMs: number;
  team: string | null;
  owner: string | null;
  /** The job's group (fair dispatch, concurrency and rate limits); absent or null: none. */
  group?: string | null;
  /** Created atomically when this job succeeds, its input = this job's output. */
  next: JobTemplate | null;
}

export interface NewJob extends JobTemplate {
  idempotencyKey: string | null;
  parentId: string | null;
  /** When the job may first run (a delayed job); absent or null: at once. */
  runAt?: number | null;
}

export interface AttemptError {
  at: number;
  attempt: number;
  type: 'failed' | 'expired';
  message: string;
}

export interface JobRecord {
  id: string;
  functionId: string | null;
  runtime: string;
  inputBlobId: string | null;
  inputInline: Buffer | null;
  tags: string[];
  priority: number;
  team: string | null;
  owner: string | null;
  group: string | null;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  runAt: number;
  leaseToken: string | null;
  leaseWorkerId: string | null;
  leaseExpiresAt: number | null;
  progress: unknown;
  outputBlobId: string | null;
  outputInline: Buffer | null;
  exitStatus: number | null;
  error: string | null;
  result: unknown;
  errors: AttemptError[];
  idempotencyKey: string | null;
  next: JobTemplate | null;
  parentId: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface WorkerRecord {
  id: string;
  name: string | null;
  runtimes: string[];
  tags: string[];
  capacity: number;
  /** `portal`: a contest benchmarker, leasing through the portal's dequeue. */
  protocol: 'v1' | 'v0.5' | 'portal';
  createdAt: number;
  lastSeenAt: number;
  /** The token that registered the worker (null when auth was off): only it may lease as it. */
  owner: string | null;
}

export interface JobFilter {
  states?: JobState[];
  runtime?: string;
  functionId?: string;
  owner?: string;
  team?: string;
  tag?: string;
  /** Only jobs created before this time (ms). */
  createdBefore?: number;
  group?: string;
  /** Return jobs with an id below this (pages go from newest to oldest). */
  beforeId?: string;
  limit: number;
}

/** What a bulk action does to each job it selects (see Store.jobBulk). */
export type BulkAction = 'retry' | 'cancel';

export interface LeaseRequest {
  workerId: string;
  /** Canonical job runtimes the worker can run (see core/runtime acceptedRuntimes). */
  runtimes: string[];
  tags: string[];
  limit: number;
  leaseMs: number;
  now: number;
  /**
   * Team rules (contest benchmarkers): `only` = the job's team must be one of these; `exclude` =
   * the job must have no team or one not in this list.
   */
  teams?: { only?: string[]; exclude?: string[] };
}

/** A lease granted at creation: the job goes straight to this worker. */
export interface DirectLease {
  workerId: string;
  leaseMs: number;
  /** The lease token, when the caller chose it (a store may, to find the row again); else random. */
  token?: string;
}

export type LeaseCheck =
  | { ok: true; job: JobRecord }
  /** The lease was ended by a requester's cancel: the worker should stop. */
  | { ok: false; reason: 'canceled' }
  /** The token is not the job's current lease (expired and re-leased, or finished). */
  | { ok: false; reason: 'stale' }
  /** The token's lease ran out (the reaper has not re-queued the job yet): too late to extend. */
  | { ok: false; reason: 'expired' }
  | { ok: false; reason: 'not_found' };

export interface CompleteParams {
  jobId: string;
  token: string;
  outputBlobId: string | null;
  outputInline: Buffer | null;
  result: unknown;
  exitStatus: number | null;
  /** Overrides the input of the pipeline's next job (Pleiades `input` on update). */
  nextInputBlobId?: string | null;
  now: number;
}

export interface FailParams {
  jobId: string;
  token: string;
  error: string;
  retryable: boolean;
  exitStatus: number | null;
  result: unknown;
  /** Delay before the job may run again, when it goes back to the queue. */
  retryDelayMs: number;
  now: number;
}

/** A completion's outcome; `created` holds the pipeline's next job, if any. */
export type CompleteOutcome =
  /** `repeat`: the same completion was already recorded; nothing changed this time. */
  { ok: true; job: JobRecord; created: JobRecord[]; repeat: boolean } | Exclude<LeaseCheck, { ok: true }>;

export interface QueueStat {
  state: JobState;
  runtime: string;
  count: number;
  oldestCreatedAt: number | null;
}

/** A group's settings and what it has queued and running now. */
export interface GroupRecord extends GroupSettings {
  name: string;
  queued: number;
  running: number;
  createdAt: number;
  updatedAt: number;
}

export interface TokenRecord {
  id: string;
  role: 'admin' | 'client' | 'worker';
  name: string | null;
  createdAt: number;
  /** After this time the token is refused; null = never. */
  expiresAt: number | null;
  /** Last request made with it, recorded in batches (a minute or so late at most). */
  lastUsedAt: number | null;
}

/** A cron schedule: a job created at each tick (see src/schedules/). */
export interface ScheduleRecord {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  /** The job to create at each tick, as the job service takes it (JSON). */
  job: unknown;
  overlap: 'skip' | 'allow';
  owner: string | null;
  paused: boolean;
  /** The next tick not yet run (ms). */
  nextRunAt: number;
  lastRunAt: number | null;
  lastJobId: string | null;
  createdAt: number;
}

/** The outcome of running one tick of a schedule. */
export type ScheduleFireOutcome =
  /** Another hub ran this tick (or the schedule was paused, changed or deleted): nothing done. */
  | { claimed: false }
  /** This call ran the tick: `job` is the job it created, null when the tick was skipped. */
  | { claimed: true; job: JobRecord | null };

/** Where to tell about job outcomes (see src/webhooks/). */
export interface WebhookRecord {
  id: string;
  url: string;
  /** `job.succeeded`, `job.failed`, `job.canceled`. */
  events: string[];
  secret: string;
  /** Jobs of this owner only; null: every job (made by an admin, or with auth off). */
  owner: string | null;
  createdAt: number;
}

/** One event of one job for one webhook, in the outbox until delivered or given up. */
export interface DeliveryRecord {
  id: string;
  webhookId: string;
  event: string;
  jobId: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  finishedAt: number | null;
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * Stores shared by several hub processes tell each hub when another one made jobs runnable
   * (see postgres/notify.ts). Absent for the embedded store: one process sees all its writes.
   */
  onJobsAvailable?(fn: (e: JobsAvailable) => void): () => void;
  close(): Promise<void>;
  /** Whether the database answers (for /readyz). */
  ping(): Promise<boolean>;

  /**
   * Records an upload. The same content is one row (stored once), and `owner`, the uploading
   * token, is granted reading it in the same commit.
   */
  blobInsert(p: { sha256: string; size: number; now: number; owner?: string | null }): Promise<BlobRecord>;
  blobGet(p: { id: string }): Promise<BlobRecord | null>;
  /**
   * Whether token `token` may read blob `id`: it uploaded it; it owns a job whose input or
   * output the blob is; or a worker it registered holds an unexpired lease on a job that uses the
   * blob (input, function code) or whose owner may read it as uploader.
   */
  blobReadable(p: { id: string; token: string; now: number }): Promise<boolean>;
  /** Blobs untouched since `before` that no job or function references. */
  blobListUnreferenced(p: { before: number; limit: number }): Promise<BlobRecord[]>;
  /** Deletes the rows if still unreferenced and untouched; returns the ones deleted. */
  blobDelete(p: { ids: string[]; before: number }): Promise<BlobRecord[]>;

  functionInsert(p: Omit<FunctionRecord, 'id'>): Promise<FunctionRecord>;
  functionGet(p: { id: string }): Promise<FunctionRecord | null>;
  functionList(p: { beforeId?: string; limit: number }): Promise<FunctionRecord[]>;

  /**
   * Creates jobs in one commit. A job whose idempotency key exists already is not created again:
   * the existing one is returned with `created: false`. A job with an entry in `leases` is
   * created already leased to that worker (the hand-off to a parked worker), in the same commit.
   */
  jobInsertMany(p: {
    jobs: NewJob[];
    now: number;
    leases?: (DirectLease | null)[];
  }): Promise<{ job: JobRecord; created: boolean }[]>;
  jobGet(p: { id: string }): Promise<JobRecord | null>;
  jobList(p: JobFilter): Promise<JobRecord[]>;
  /** Leases up to `limit` queued jobs the worker may run: priority, then preference, then FIFO. */
  jobLeaseNext(p: LeaseRequest): Promise<JobRecord[]>;
  /** Heartbeat: extends the lease of the token's holder and records progress. */
  leaseExtend(p: {
    jobId: string;
    token: string;
    leaseMs: number;
    progress?: unknown;
    now: number;
  }): Promise<LeaseCheck>;
  /** Ends the lease with success; idempotent for the same token. Creates the `next` job. */
  jobComplete(p: CompleteParams): Promise<CompleteOutcome>;
  /** Ends the lease with a failure: back to the queue after a delay, or failed. */
  jobFail(p: FailParams): Promise<LeaseCheck>;
  /** Cancels a queued or running job; a final job is returned unchanged (`changed: false`). */
  jobCancel(p: { jobId: string; now: number }): Promise<{ job: JobRecord; changed: boolean } | null>;
  /**
   * Puts a failed or canceled job back in the queue, due now, with a fresh attempt budget
   * (attempts 0); its earlier attempts stay in `errors`. A job in another state is returned
   * unchanged (`changed: false`); a team job whose team has an active job: `conflict`.
   */
  jobRetry(p: { jobId: string; now: number }): Promise<{ job: JobRecord; changed: boolean } | null>;
  /**
   * Applies `action` to up to `limit` jobs matching the filter, oldest first, in one commit, and
   * returns those it changed: `retry` takes failed and canceled jobs without a team (as
   * jobRetry), `cancel` queued and running ones (as jobCancel). The filter's states, if any,
   * narrow these further.
   */
  jobBulk(p: {
    action: BulkAction;
    filter: Omit<JobFilter, 'limit' | 'beforeId'>;
    limit: number;
    now: number;
  }): Promise<JobRecord[]>;
  /** Re-queues or fails running jobs whose lease ended before `now`. */
  leaseReapExpired(p: {
    now: number;
    limit: number;
    retryDelayMs: (attempt: number) => number;
  }): Promise<JobRecord[]>;
  /** The earliest `runAt` of a queued job that is not yet due (retry backoff), if any. */
  jobNextRunAt(p: { now: number }): Promise<number | null>;
  /** Queued jobs counted by state and runtime, with the oldest creation time. */
  queueStats(): Promise<QueueStat[]>;
  /** Deletes up to `limit` final jobs finished before `before`; returns how many. */
  jobDeleteFinished(p: { before: number; limit: number }): Promise<number>;

  /** Creates a schedule; a name its owner uses already: `conflict`. */
  scheduleInsert(
    p: Omit<ScheduleRecord, 'id' | 'lastRunAt' | 'lastJobId' | 'paused'>,
  ): Promise<ScheduleRecord>;
  scheduleGet(p: { id: string }): Promise<ScheduleRecord | null>;
  /** Schedules by id (oldest first), of one owner when given. */
  scheduleList(p: { owner?: string; afterId?: string; limit: number }): Promise<ScheduleRecord[]>;
  scheduleDelete(p: { id: string }): Promise<boolean>;
  /** Pauses or resumes; resuming sets the next tick (`nextRunAt`). Null when there is no such schedule. */
  scheduleSetPaused(p: { id: string; paused: boolean; nextRunAt?: number }): Promise<ScheduleRecord | null>;
  /** Unpaused schedules whose next tick is at or before `now`, most overdue first. */
  scheduleListDue(p: { now: number; limit: number }): Promise<ScheduleRecord[]>;
  /** The earliest next tick of an unpaused schedule, if any. */
  scheduleNextRunAt(): Promise<number | null>;
  /**
   * Runs tick `tick` of a schedule in one commit: moves its next tick from `tick` to `nextRunAt`
   * only if it is still `tick` (so one caller wins, however many hubs try) and, having won,
   * creates `job` — unless `job` is null, or `skipIfActive` and the schedule's last job is still
   * queued or running (the tick is then used up without a job).
   */
  scheduleFire(p: {
    id: string;
    tick: number;
    nextRunAt: number;
    job: NewJob | null;
    skipIfActive: boolean;
    now: number;
  }): Promise<ScheduleFireOutcome>;

  webhookInsert(p: Omit<WebhookRecord, 'id'>): Promise<WebhookRecord>;
  webhookGet(p: { id: string }): Promise<WebhookRecord | null>;
  /** Webhooks, oldest first; of one owner when given. */
  webhookList(p: { owner?: string; limit: number }): Promise<WebhookRecord[]>;
  /** Deletes a webhook and its deliveries; false when there was none. */
  webhookDelete(p: { id: string }): Promise<boolean>;
  /**
   * Adds the pending deliveries owed for final jobs: for every webhook whose events include the
   * job's outcome (`job.<state>`) and whose owner is null or the job's owner, for jobs finished at
   * or after max(`since`, the webhook's creation), only `jobIds` when given. A delivery that
   * exists already is not added again (any hub may call this for any job). Returns how many it added.
   */
  deliveryEnqueue(p: { since: number; jobIds?: string[]; now: number }): Promise<number>;
  /**
   * Takes up to `limit` due pending deliveries for sending: counts the attempt and moves their
   * next attempt `claimMs` on, so another hub takes one only if this one did not record an
   * outcome in time (at least once). On PostgreSQL rows locked by another hub are skipped.
   */
  deliveryClaim(p: {
    now: number;
    limit: number;
    claimMs: number;
  }): Promise<(DeliveryRecord & { url: string; secret: string })[]>;
  /** Records an attempt's outcome: delivered, failed for good, or pending until `nextAttemptAt`. */
  deliveryRecord(p: {
    id: string;
    state: DeliveryRecord['state'];
    status: number | null;
    error: string | null;
    nextAttemptAt: number;
    now: number;
  }): Promise<void>;
  /** A webhook's deliveries, newest first. */
  deliveryList(p: { webhookId: string; beforeId?: string; limit: number }): Promise<DeliveryRecord[]>;
  /**
   * Deletes up to `limit` deliveries that are done (delivered, or given up) and finished before
   * `before`; returns how many. Pending ones stay, however old.
   */
  deliveryDeleteFinished(p: { before: number; limit: number }): Promise<number>;
  /**
   * Creates or changes a group's settings; fields left out keep their value (a new group: no
   * limits, not paused). Jobs name groups freely: a group also exists once a job names it.
   */
  groupUpsert(p: { name: string; settings: Partial<GroupSettings>; now: number }): Promise<GroupRecord>;
  /** Groups by name, from `after` (exclusive), with their queued and running counts. */
  groupList(p: { after?: string; limit: number }): Promise<GroupRecord[]>;
  /** One group with its usage as the lease sees it at `now` (for explain); null if unknown. */
  groupGet(p: { name: string; now: number }): Promise<(GroupRecord & { usage: GroupUsage }) | null>;

  workerInsert(p: Omit<WorkerRecord, 'id' | 'owner'> & { owner?: string | null }): Promise<WorkerRecord>;
  /** Whether a worker registered by token `worker` holds an unexpired lease on a job of `jobOwner`. */
  leaseHeldFor(p: { worker: string; jobOwner: string; now: number }): Promise<boolean>;
  workerGet(p: { id: string }): Promise<WorkerRecord | null>;
  workerList(p: { seenAfter: number; limit: number }): Promise<WorkerRecord[]>;
  /** Records that workers were seen (batched by the hub, not written per request). */
  workerTouch(p: { ids: string[]; now: number }): Promise<void>;

  kvNamespaceInsert(p: { consistency: string; now: number; owner?: string | null }): Promise<{ id: string }>;
  kvNamespaceExists(p: { id: string }): Promise<boolean>;
  /** The namespace's creator (null: made with auth off), or null when there is no such namespace. */
  kvNamespaceGet(p: { id: string }): Promise<{ owner: string | null } | null>;
  kvGet(p: { namespace: string; key: string; now: number }): Promise<string | null>;
  /** Sets (or appends to) a value and returns the old value. */
  kvSet(p: {
    namespace: string;
    key: string;
    value: string;
    append: boolean;
    expiresAt: number | null;
    now: number;
  }): Promise<string | null>;

  tokenInsert(p: {
    role: TokenRecord['role'];
    name: string | null;
    hash: string;
    now: number;
    expiresAt?: number | null;
  }): Promise<TokenRecord>;
  tokenFindByHash(p: { hash: string }): Promise<TokenRecord | null>;
  /** Every token, oldest first (a hub has few). */
  tokenList(): Promise<TokenRecord[]>;
  /** Deletes a token; false when there was none. Its id is never given out again. */
  tokenDelete(p: { id: string }): Promise<boolean>;
  /** Records when tokens were last used (batched by the hub, not written per request). */
  tokenTouch(p: { uses: { id: string; at: number }[] }): Promise<void>;
}

/** Runnable jobs announced by another hub: per runtime, how many and from when (ms). */
export type JobsAvailable = { runtimes: { runtime: string; count: number; at: number }[] } | { resync: true };

/** The refusal of the one-active-job-per-team rule (a unique index in both dialects). */
export function teamBusy(team: string | null): HubError {
  return new HubError('conflict', `team ${team} already has a waiting or running job`);
}
