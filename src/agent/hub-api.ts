/**
 * The calls of the native API that the agent and the CLI make, typed (docs/protocol.md has the
 * rules behind each one).
 */
import type { Readable } from 'node:stream';
import type { HubClient } from './client.js';

export interface Registration {
  id: string;
  leaseMs: number;
  heartbeatMs: number;
  maxWaitMs: number;
  inlineBytes: number;
  /** The hub's JSON body limit (older hubs do not say). */
  maxJsonBytes?: number;
}

export interface LeasedJob {
  id: string;
  token: string;
  attempt: number;
  runtime: string;
  function: { id: string; name: string | null; runtime: string; codeBlobId: string | null } | null;
  tags: string[];
  timeoutMs: number;
  leaseExpiresAt: string | null;
  input: { blobId?: string; size: number | null; sha256?: string | null; base64?: string } | null;
}

/** Output as the hub takes it: small bytes inline, larger ones as an uploaded blob. */
export type OutputRef = { base64: string } | { blobId: string };

export interface Completion {
  jobId: string;
  token: string;
  output?: OutputRef;
  exitStatus?: number;
}

/** A lease made with a batch completion (protocol §9). */
export interface NextLease {
  workerId: string;
  limit: number;
  waitMs: number;
}

export interface BatchResult {
  jobId: string;
  ok: boolean;
  state?: string;
  error?: { code: string; message: string };
}

export interface JobView {
  id: string;
  state: string;
  runtime: string;
  attempts: number;
  output: { blobId: string } | { size: number; base64: string } | null;
  exitStatus: number | null;
  error: string | null;
  progress: unknown;
  [k: string]: unknown;
}

export interface ScheduleView {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  overlap: 'skip' | 'allow';
  paused: boolean;
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastJobId: string | null;
}

export interface GroupView {
  name: string;
  concurrency: number | null;
  perSecond: number | null;
  paused: boolean;
  queued: number;
  running: number;
}

export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  createdAt: string;
}

export interface DeliveryView {
  id: string;
  webhookId: string;
  event: string;
  jobId: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  /** When the next try is due; null once delivered or given up. */
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface BlobView {
  id: string;
  sha256: string;
  size: number;
}

export const hubApi = (c: HubClient) => ({
  register: (body: { name?: string; runtimes: string[]; tags?: string[]; capacity: number }) =>
    c.json<Registration>('POST', '/api/v1/workers', { json: body }),

  lease: (workerId: string, body: { limit: number; waitMs: number }, signal?: AbortSignal) =>
    c
      .json<{ jobs: LeasedJob[] }>('POST', `/api/v1/workers/${workerId}/lease`, { json: body, signal })
      .then((r) => r.jobs),

  heartbeat: (jobId: string, body: { token: string; progress?: unknown; logs?: string[] }) =>
    c.json<{ cancel: boolean; leaseExpiresAt: string | null }>('POST', `/api/v1/jobs/${jobId}/heartbeat`, {
      json: body,
    }),

  completeBatch: (completions: Completion[]) =>
    c
      .json<{ results: BatchResult[] }>('POST', '/api/v1/complete', { json: { completions } })
      .then((r) => r.results),

  /** Completes and, in the same request, leases up to `next.limit` jobs for the worker. */
  completeAndLease: (completions: Completion[], next: NextLease) =>
    c.json<{ results: BatchResult[]; next?: { jobs: LeasedJob[] } }>('POST', '/api/v1/complete', {
      json: { completions, next },
    }),

  fail: (jobId: string, body: { token: string; error: string; retryable: boolean; exitStatus?: number }) =>
    c.json<JobView>('POST', `/api/v1/jobs/${jobId}/fail`, { json: body }),

  blobPut: (body: Buffer | Readable, size?: number) =>
    c.json<BlobView>('POST', '/api/v1/blobs', {
      body,
      headers: {
        'content-type': 'application/octet-stream',
        ...(size !== undefined || Buffer.isBuffer(body)
          ? { 'content-length': String(size ?? (body as Buffer).length) }
          : {}),
      },
    }),

  blobGet: (id: string, maxBytes?: number) =>
    c.bytes(`/api/v1/blobs/${encodeURIComponent(id)}`, { maxBytes }),

  blobStream: (id: string) => c.stream('GET', `/api/v1/blobs/${encodeURIComponent(id)}`).then((r) => r.body),

  functionCreate: (body: { runtime: string; codeBlobId?: string; name?: string; timeoutMs?: number }) =>
    c.json<{ id: string }>('POST', '/api/v1/functions', { json: body }),

  /** The newest functions first (one page of at most `limit`). */
  functionList: (limit = 1000) =>
    c.json<{
      functions: { id: string; name: string | null; runtime: string; codeBlobId: string | null }[];
    }>('GET', `/api/v1/functions?limit=${limit}`),

  jobCreate: (body: Record<string, unknown>) =>
    c.json<JobView & { warnings: string[] }>('POST', '/api/v1/jobs', { json: body }),

  jobCancel: (id: string) => c.json<JobView>('POST', `/api/v1/jobs/${encodeURIComponent(id)}/cancel`),

  jobRetry: (id: string) => c.json<JobView>('POST', `/api/v1/jobs/${encodeURIComponent(id)}/retry`),

  /** Retries or cancels every job the filter selects; how many changed. */
  jobBulk: (body: { action: 'retry' | 'cancel'; filter: Record<string, unknown> }) =>
    c.json<{ count: number }>('POST', '/api/v1/jobs/bulk', { json: body }),

  scheduleCreate: (body: Record<string, unknown>) =>
    c.json<ScheduleView>('POST', '/api/v1/schedules', { json: body }),

  /** One page of schedules, oldest first. */
  scheduleList: (after?: string) =>
    c.json<{ schedules: ScheduleView[]; next: string | null }>(
      'GET',
      `/api/v1/schedules?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`,
    ),

  scheduleDelete: (id: string) => c.json<null>('DELETE', `/api/v1/schedules/${encodeURIComponent(id)}`),

  schedulePause: (id: string, pause: boolean) =>
    c.json<ScheduleView>('POST', `/api/v1/schedules/${encodeURIComponent(id)}/${pause ? 'pause' : 'resume'}`),

  /** Workers seen recently, with the runtimes they registered. */
  workerList: () => c.json<{ workers: { id: string; runtimes: string[] }[] }>('GET', '/api/v1/workers'),

  jobGet: (id: string) => c.json<JobView>('GET', `/api/v1/jobs/${encodeURIComponent(id)}`),

  jobWait: (id: string, timeoutMs: number, states?: string[], signal?: AbortSignal) =>
    c.json<JobView>(
      'GET',
      `/api/v1/jobs/${encodeURIComponent(id)}/wait?timeoutMs=${timeoutMs}${states?.length ? `&state=${states.join(',')}` : ''}`,
      { signal },
    ),

  /** Server-sent events of one job: state, progress, log (protocol §14). */
  jobEvents: (id: string, signal?: AbortSignal) =>
    c.stream('GET', `/api/v1/jobs/${encodeURIComponent(id)}/events`, { signal }).then((r) => r.body),

  /** Job groups by name (admin), one page of at most `limit` after `after`. */
  groupList: (after?: string, limit = 1000) =>
    c.json<{ groups: GroupView[]; next: string | null }>(
      'GET',
      `/api/v1/groups?limit=${limit}${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`,
    ),

  groupSet: (
    name: string,
    body: { concurrency?: number | null; perSecond?: number | null; paused?: boolean },
  ) => c.json<GroupView>('PUT', `/api/v1/groups/${encodeURIComponent(name)}`, { json: body }),

  webhookCreate: (body: { url: string; events: string[]; secret: string }) =>
    c.json<WebhookView>('POST', '/api/v1/webhooks', { json: body }),

  /** The webhooks the token may see (an admin: all), oldest first. */
  webhookList: () => c.json<{ webhooks: WebhookView[] }>('GET', '/api/v1/webhooks').then((r) => r.webhooks),

  webhookDelete: (id: string) => c.json<null>('DELETE', `/api/v1/webhooks/${encodeURIComponent(id)}`),

  /** A webhook's deliveries with their results, newest first (one page of at most `limit`). */
  webhookDeliveries: (id: string, limit = 100) =>
    c
      .json<{
        deliveries: DeliveryView[];
      }>('GET', `/api/v1/webhooks/${encodeURIComponent(id)}/deliveries?limit=${limit}`)
      .then((r) => r.deliveries),

  jobOutput: (id: string) =>
    c.stream('GET', `/api/v1/jobs/${encodeURIComponent(id)}/output`).then((r) => r.body),
});

export type HubApi = ReturnType<typeof hubApi>;
