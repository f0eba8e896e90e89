/**
 * The native API (`/api/v1/…`, docs/protocol.md) as the jobs console reads it, and the queue
 * gauges of `/metrics` (Prometheus text) that the console shows per runtime.
 */

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export const JOB_STATES: JobState[] = ['queued', 'running', 'succeeded', 'failed', 'canceled'];
export const FINAL_STATES: JobState[] = ['succeeded', 'failed', 'canceled'];

export type Bytes = { blobId: string } | { size: number; base64: string } | null;

export interface Job {
  id: string;
  state: JobState;
  function: string | null;
  runtime: string;
  tags: string[];
  priority: number;
  team: string | null;
  group: string | null;
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  input: Bytes;
  output: Bytes;
  result: unknown;
  exitStatus: number | null;
  error: string | null;
  errors: { at: string; attempt: number; type: string; message: string }[];
  progress: unknown;
  lease: { workerId: string | null; expiresAt: string | null } | null;
  hasNext: boolean;
  parent: string | null;
  createdAt: string;
  runAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface Group {
  name: string;
  concurrency: number | null;
  perSecond: number | null;
  paused: boolean;
  queued: number;
  running: number;
  createdAt: string;
  updatedAt: string;
}

/** A cron schedule: a job made at each tick (nextRunAt is null while paused). */
export interface Schedule {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  overlap: 'skip' | 'allow';
  paused: boolean;
  job: { function?: string; runtime?: string; [k: string]: unknown };
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastJobId: string | null;
  createdAt: string;
}

export interface Fn {
  id: string;
  name: string | null;
  runtime: string;
  codeBlobId: string | null;
  tags: string[];
  timeoutMs: number | null;
  maxAttempts: number | null;
  createdAt: string;
}

export interface Worker {
  id: string;
  name: string | null;
  runtimes: string[];
  tags: string[];
  capacity: number;
  protocol: string;
  createdAt: string;
  lastSeenAt: string | null;
  parked: number;
}

export interface Explanation {
  jobId: string;
  state: JobState;
  verdict: string;
  reasons: string[];
  workers: { alive: number; withRuntime: number; eligible: number; idle: number };
}

export interface Blob {
  id: string;
  sha256: string;
  size: number;
}

export const V = '/api/v1';

export interface QueueRow {
  runtime: string;
  queued: number;
  running: number;
  oldestSeconds: number | null;
}

/** `name{a="x",b="y"} 12` lines of the queue gauges, grouped by runtime. */
export function queuesFromMetrics(text: string): QueueRow[] {
  const rows = new Map<string, QueueRow>();
  const row = (runtime: string) => {
    let r = rows.get(runtime);
    if (!r) rows.set(runtime, (r = { runtime, queued: 0, running: 0, oldestSeconds: null }));
    return r;
  };
  for (const line of text.split('\n')) {
    const m = /^(jobhub_jobs|jobhub_oldest_queued_age_seconds)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...m[2]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
    );
    const value = Number(m[3]);
    if (!labels.runtime || !Number.isFinite(value)) continue;
    const r = row(labels.runtime);
    if (m[1] === 'jobhub_oldest_queued_age_seconds') r.oldestSeconds = value;
    else if (labels.state === 'queued') r.queued = value;
    else if (labels.state === 'running') r.running = value;
  }
  return [...rows.values()].sort((a, b) => a.runtime.localeCompare(b.runtime));
}

/** Bytes as text for a preview: UTF-8 when it decodes cleanly, else a hex dump of the start. */
export function preview(bytes: Uint8Array): { text: string; binary: boolean } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), binary: false };
  } catch {
    // A cut in the middle of a character is still text.
    try {
      return {
        text: new TextDecoder('utf-8', { fatal: true }).decode(
          bytes.subarray(0, Math.max(0, bytes.length - 3)),
        ),
        binary: false,
      };
    } catch {
      const hex = [...bytes.subarray(0, 512)].map((b) => b.toString(16).padStart(2, '0'));
      const lines = [];
      for (let i = 0; i < hex.length; i += 16) lines.push(hex.slice(i, i + 16).join(' '));
      return { text: lines.join('\n'), binary: true };
    }
  }
}

export function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export const fnLabel = (f: Pick<Fn, 'id' | 'name'> | null | undefined, id?: string | null) =>
  f ? `${f.name ?? 'function'} (#${f.id})` : id ? `#${id}` : '—';
