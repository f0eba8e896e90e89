/** From the native API's request shapes to the hub service's. */
import type { Static } from '@sinclair/typebox';
import { HubError } from '../../core/errors.js';
import { parseRfc3339 } from '../../core/run-at.js';
import type { JobRequest } from '../../jobs/jobs.js';
import type { JobState } from '../../core/states.js';
import type { JobFilter } from '../../store/store.js';
import type { Input, JobBulk, JobCreate, NextJob } from './schemas.js';

export function inputFrom(i: Static<typeof Input> | undefined): JobRequest['input'] {
  if (!i) return undefined;
  if ('blobId' in i) return { blobId: i.blobId };
  if ('text' in i) return { bytes: Buffer.from(i.text, 'utf8') };
  return { bytes: Buffer.from(i.base64, 'base64') };
}

function nextFrom(n: Static<typeof NextJob> | undefined): JobRequest['next'] {
  if (!n) return undefined;
  return {
    functionId: n.function,
    runtime: n.runtime,
    tags: n.tags,
    priority: n.priority,
    maxAttempts: n.maxAttempts,
    timeoutMs: n.timeoutMs,
    group: n.group,
    next: nextFrom(n.next as Static<typeof NextJob> | undefined),
  };
}

export function jobRequestFrom(b: JobCreate, idempotencyHeader?: string): JobRequest {
  if (b.idempotencyKey && idempotencyHeader && b.idempotencyKey !== idempotencyHeader) {
    throw new HubError('validation_failed', 'Idempotency-Key header and idempotencyKey field differ');
  }
  return {
    functionId: b.function,
    runtime: b.runtime,
    input: inputFrom(b.input),
    tags: b.tags,
    priority: b.priority,
    maxAttempts: b.maxAttempts,
    timeoutMs: b.timeoutMs,
    group: b.group,
    idempotencyKey: b.idempotencyKey ?? idempotencyHeader,
    runAt: b.runAt === undefined ? undefined : parseRfc3339(b.runAt, 'runAt'),
    delayMs: b.delayMs,
    next: nextFrom(b.next),
  };
}

/** A bulk action's filter as the job service takes it (the owner is added by the caller). */
export function bulkFilterFrom(f: JobBulk['filter']): Omit<JobFilter, 'limit' | 'beforeId'> {
  const state = f.state === undefined ? undefined : Array.isArray(f.state) ? f.state : [f.state];
  return {
    states: state as JobState[] | undefined,
    functionId: f.function,
    runtime: f.runtime,
    tag: f.tag,
    group: f.group,
    createdBefore: f.createdBefore === undefined ? undefined : parseRfc3339(f.createdBefore, 'createdBefore'),
  };
}
