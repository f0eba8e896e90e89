/** How native API replies show records: ISO times, ids as strings, small bytes as base64. */
import type { JobRequest } from '../../jobs/jobs.js';
import { fromStored } from '../../schedules/schedules.js';
import type {
  BlobRecord,
  DeliveryRecord,
  GroupRecord,
  FunctionRecord,
  JobRecord,
  ScheduleRecord,
  WebhookRecord,
  WorkerRecord,
} from '../../store/store.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function bytes(blobId: string | null, inline: Buffer | null) {
  if (blobId !== null) return { blobId };
  if (inline !== null) return { size: inline.length, base64: inline.toString('base64') };
  return null;
}

/**
 * A contest job's result holds the benchmark's stderr, which only staff (admin tokens) may see,
 * on every face (the portal shows it to staff only too); everyone else gets the result without it.
 */
function visibleResult(job: JobRecord, staff: boolean): unknown {
  const r = job.result;
  if (staff || job.team === null || r === null || typeof r !== 'object' || Array.isArray(r)) return r;
  if (!('stderr' in r)) return r;
  const { stderr: _hidden, ...rest } = r as Record<string, unknown>;
  return rest;
}

/** A job as the native API shows it; `staff` (an admin caller) also sees benchmark stderr. */
export function jobJson(job: JobRecord, staff = false) {
  return {
    id: job.id,
    state: job.state,
    function: job.functionId,
    runtime: job.runtime,
    tags: job.tags,
    priority: job.priority,
    team: job.team,
    group: job.group,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    timeoutMs: job.timeoutMs,
    input: bytes(job.inputBlobId, job.inputInline),
    output: bytes(job.outputBlobId, job.outputInline),
    result: visibleResult(job, staff),
    exitStatus: job.exitStatus,
    error: job.error,
    errors: job.errors.map((e) => ({ ...e, at: iso(e.at) })),
    progress: job.progress,
    lease:
      job.state === 'running' ? { workerId: job.leaseWorkerId, expiresAt: iso(job.leaseExpiresAt) } : null,
    hasNext: job.next !== null,
    parent: job.parentId,
    idempotencyKey: job.idempotencyKey,
    createdAt: iso(job.createdAt),
    runAt: iso(job.runAt),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
  };
}

export const groupJson = (g: GroupRecord) => ({
  name: g.name,
  concurrency: g.concurrency,
  perSecond: g.perSecond,
  paused: g.paused,
  queued: g.queued,
  running: g.running,
  createdAt: iso(g.createdAt),
  updatedAt: iso(g.updatedAt),
});

export const blobJson = (b: BlobRecord) => ({
  id: b.id,
  sha256: b.sha256,
  size: b.size,
  createdAt: iso(b.createdAt),
});

export const functionJson = (f: FunctionRecord) => ({
  id: f.id,
  name: f.name,
  runtime: f.runtime,
  codeBlobId: f.codeBlobId,
  tags: f.tags,
  timeoutMs: f.timeoutMs,
  maxAttempts: f.maxAttempts,
  createdAt: iso(f.createdAt),
});

export const workerJson = (w: WorkerRecord, extra: { parked?: number; lastSeen?: number } = {}) => ({
  id: w.id,
  name: w.name,
  runtimes: w.runtimes,
  tags: w.tags,
  capacity: w.capacity,
  protocol: w.protocol,
  createdAt: iso(w.createdAt),
  lastSeenAt: iso(extra.lastSeen ?? w.lastSeenAt),
  parked: extra.parked ?? 0,
});

/** A job request as the native API spells it (JobCreate). */
function jobRequestJson(r: JobRequest | NonNullable<JobRequest['next']>): Record<string, unknown> {
  const input = 'input' in r ? r.input : undefined;
  return {
    function: r.functionId,
    runtime: r.runtime,
    tags: r.tags,
    priority: r.priority,
    maxAttempts: r.maxAttempts,
    timeoutMs: r.timeoutMs,
    input:
      input === undefined
        ? undefined
        : 'blobId' in input
          ? input
          : { base64: input.bytes.toString('base64') },
    next: r.next ? jobRequestJson(r.next) : undefined,
  };
}

export const scheduleJson = (s: ScheduleRecord) => ({
  id: s.id,
  name: s.name,
  cron: s.cron,
  timezone: s.timezone,
  overlap: s.overlap,
  paused: s.paused,
  job: jobRequestJson(fromStored(s.job)),
  nextRunAt: s.paused ? null : iso(s.nextRunAt),
  lastRunAt: iso(s.lastRunAt),
  lastJobId: s.lastJobId,
  createdAt: iso(s.createdAt),
});

/** A webhook as the API shows it: never its secret. */
export const webhookJson = (w: WebhookRecord) => ({
  id: w.id,
  url: w.url,
  events: w.events,
  createdAt: iso(w.createdAt),
});

export const deliveryJson = (d: DeliveryRecord) => ({
  id: d.id,
  webhookId: d.webhookId,
  event: d.event,
  jobId: d.jobId,
  state: d.state,
  attempts: d.attempts,
  nextAttemptAt: d.state === 'pending' ? iso(d.nextAttemptAt) : null,
  lastStatus: d.lastStatus,
  lastError: d.lastError,
  createdAt: iso(d.createdAt),
  finishedAt: iso(d.finishedAt),
});

export { iso };
