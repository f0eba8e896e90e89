/**
 * Row shapes of the job tables and their mapping to the store's records. Both dialects hand rows
 * over in this shape: JSON columns as JSON text, integers as numbers, bytes as Buffers.
 */
import type { JobState } from '../core/states.js';
import type {
  BlobRecord,
  FunctionRecord,
  GroupRecord,
  JobRecord,
  JobTemplate,
  TokenRecord,
  WorkerRecord,
} from './store.js';

export interface JobRow {
  id: number;
  function_id: number | null;
  runtime: string;
  input_blob_id: number | null;
  input_inline: Buffer | null;
  tags: string;
  priority: number;
  team: string | null;
  owner: string | null;
  state: JobState;
  attempts: number;
  max_attempts: number;
  timeout_ms: number;
  run_at: number;
  lease_token: string | null;
  lease_worker_id: number | null;
  lease_expires_at: number | null;
  progress: string | null;
  output_blob_id: number | null;
  output_inline: Buffer | null;
  exit_status: number | null;
  error: string | null;
  result: string | null;
  errors: string;
  idempotency_key: string | null;
  next: string | null;
  parent_id: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  group_name: string | null;
}

const idOrNull = (v: number | null): string | null => (v === null ? null : String(v));
const jsonOrNull = (v: string | null): unknown => (v === null ? null : JSON.parse(v));

export function jobFromRow(r: JobRow): JobRecord {
  return {
    id: String(r.id),
    functionId: idOrNull(r.function_id),
    runtime: r.runtime,
    inputBlobId: idOrNull(r.input_blob_id),
    inputInline: r.input_inline,
    tags: JSON.parse(r.tags) as string[],
    priority: r.priority,
    team: r.team,
    owner: r.owner,
    group: r.group_name ?? null,
    state: r.state,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    timeoutMs: r.timeout_ms,
    runAt: r.run_at,
    leaseToken: r.lease_token,
    leaseWorkerId: idOrNull(r.lease_worker_id),
    leaseExpiresAt: r.lease_expires_at,
    progress: jsonOrNull(r.progress),
    outputBlobId: idOrNull(r.output_blob_id),
    outputInline: r.output_inline,
    exitStatus: r.exit_status,
    error: r.error,
    result: jsonOrNull(r.result),
    errors: JSON.parse(r.errors) as JobRecord['errors'],
    idempotencyKey: r.idempotency_key,
    next: jsonOrNull(r.next) as JobTemplate | null,
    parentId: idOrNull(r.parent_id),
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/** Pipeline templates are kept as JSON; inline input bytes travel as base64 there. */
export function templateToJson(t: JobTemplate | null): string | null {
  if (t === null) return null;
  return JSON.stringify(t, (key, value: unknown) =>
    key === 'inputInline' && value !== null && typeof value === 'object' ? null : value,
  );
}

export interface GroupRow {
  name: string;
  concurrency: number | null;
  per_second: number | null;
  paused: boolean | number;
  created_at: number;
  updated_at: number;
  queued: number;
  running: number;
}
export const groupFromRow = (r: GroupRow): GroupRecord => ({
  name: r.name,
  concurrency: r.concurrency === null ? null : Number(r.concurrency),
  perSecond: r.per_second === null ? null : Number(r.per_second),
  paused: Boolean(r.paused),
  queued: Number(r.queued),
  running: Number(r.running),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export interface BlobRow {
  id: number;
  sha256: string;
  size: number;
  created_at: number;
}
export const blobFromRow = (r: BlobRow): BlobRecord => ({
  id: String(r.id),
  sha256: r.sha256,
  size: r.size,
  createdAt: r.created_at,
});

export interface FunctionRow {
  id: number;
  name: string | null;
  runtime: string;
  code_blob_id: number | null;
  tags: string;
  timeout_ms: number;
  max_attempts: number;
  created_at: number;
}
export const functionFromRow = (r: FunctionRow): FunctionRecord => ({
  id: String(r.id),
  name: r.name,
  runtime: r.runtime,
  codeBlobId: idOrNull(r.code_blob_id),
  tags: JSON.parse(r.tags) as string[],
  timeoutMs: r.timeout_ms,
  maxAttempts: r.max_attempts,
  createdAt: r.created_at,
});

export interface WorkerRow {
  id: number;
  name: string | null;
  runtimes: string;
  tags: string;
  capacity: number;
  protocol: WorkerRecord['protocol'];
  created_at: number;
  last_seen_at: number;
  owner: string | null;
}
export const workerFromRow = (r: WorkerRow): WorkerRecord => ({
  id: String(r.id),
  name: r.name,
  runtimes: JSON.parse(r.runtimes) as string[],
  tags: JSON.parse(r.tags) as string[],
  capacity: r.capacity,
  protocol: r.protocol,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  owner: r.owner ?? null,
});

export interface TokenRow {
  id: number;
  role: TokenRecord['role'];
  name: string | null;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
}
export const tokenFromRow = (r: TokenRow): TokenRecord => ({
  id: String(r.id),
  role: r.role,
  name: r.name,
  createdAt: Number(r.created_at),
  expiresAt: r.expires_at === null ? null : Number(r.expires_at),
  lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
});
