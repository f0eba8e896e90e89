/**
 * "Why isn't my job running?" — an answer from the job and the live workers, without guessing.
 */
import { tagsAllow } from '../core/tags.js';
import type { JobRecord } from '../store/store.js';
import type { LiveWorker } from './workers.js';

export interface Explanation {
  jobId: string;
  state: JobRecord['state'];
  /** One stable word for programs; `reasons` say it for people. */
  verdict:
    | 'finished'
    | 'running'
    | 'scheduled'
    | 'waiting_for_backoff'
    | 'no_worker_for_runtime'
    | 'no_worker_for_tags'
    | 'workers_busy'
    | 'ready';
  reasons: string[];
  /** When a scheduled job or a retry after its backoff may run (RFC 3339); else absent. */
  runAt?: string;
  workers: { alive: number; withRuntime: number; eligible: number; idle: number };
}

export function explainJob(job: JobRecord, alive: LiveWorker[], now: number): Explanation {
  const withRuntime = alive.filter((w) => w.accepted.includes(job.runtime));
  const eligible = withRuntime.filter((w) => tagsAllow(job.tags, w.tags));
  const idle = eligible.filter((w) => w.parked > 0);
  const base = {
    jobId: job.id,
    state: job.state,
    workers: {
      alive: alive.length,
      withRuntime: withRuntime.length,
      eligible: eligible.length,
      idle: idle.length,
    },
  };
  if (job.state === 'succeeded' || job.state === 'failed' || job.state === 'canceled') {
    return {
      ...base,
      verdict: 'finished',
      reasons: [`the job is ${job.state}${job.error ? `: ${job.error}` : ''}`],
    };
  }
  if (job.state === 'running') {
    return {
      ...base,
      verdict: 'running',
      reasons: [`worker ${job.leaseWorkerId} holds attempt ${job.attempts}`],
    };
  }
  if (job.runAt > now && job.attempts === 0) {
    const at = new Date(job.runAt).toISOString();
    return {
      ...base,
      verdict: 'scheduled',
      runAt: at,
      reasons: [`the job is scheduled for ${at} (in ${Math.ceil((job.runAt - now) / 1000)} s)`],
    };
  }
  if (job.runAt > now) {
    return {
      ...base,
      verdict: 'waiting_for_backoff',
      runAt: new Date(job.runAt).toISOString(),
      reasons: [
        `attempt ${job.attempts} failed (${job.error ?? 'no error text'}); retry in ${Math.ceil((job.runAt - now) / 1000)} s`,
      ],
    };
  }
  if (withRuntime.length === 0) {
    return {
      ...base,
      verdict: 'no_worker_for_runtime',
      reasons: [
        `no live worker offers runtime ${job.runtime}`,
        `workers alive: ${alive.length}${alive.length ? ` (runtimes: ${[...new Set(alive.flatMap((w) => w.record.runtimes))].join(', ')})` : ''}`,
      ],
    };
  }
  if (eligible.length === 0) {
    const required = job.tags.filter((t) => t.startsWith('+') || t.startsWith('-'));
    return {
      ...base,
      verdict: 'no_worker_for_tags',
      reasons: [
        `${withRuntime.length} worker(s) offer ${job.runtime}, but none satisfies the tags ${required.join(' ')}`,
      ],
    };
  }
  if (idle.length === 0) {
    return {
      ...base,
      verdict: 'workers_busy',
      reasons: [`all ${eligible.length} eligible worker(s) are busy; the job runs when one asks for work`],
    };
  }
  return {
    ...base,
    verdict: 'ready',
    reasons: [`${idle.length} idle eligible worker(s); the job should start at once`],
  };
}
