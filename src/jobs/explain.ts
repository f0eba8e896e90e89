/**
 * "Why isn't my job running?" — an answer from the job and the live workers, without guessing.
 */
import {
  groupBlock,
  rateWindow,
  type GroupBlock,
  type GroupSettings,
  type GroupUsage,
} from '../core/groups.js';
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
    | GroupBlock
    | 'no_worker_for_runtime'
    | 'no_worker_for_tags'
    | 'workers_busy'
    | 'ready';
  reasons: string[];
  /** When a scheduled job or a retry after its backoff may run (RFC 3339); else absent. */
  runAt?: string;
  workers: { alive: number; withRuntime: number; eligible: number; idle: number };
}

/** Why a group holds its jobs back, said for people. */
function groupReason(block: GroupBlock, name: string, g: GroupSettings, u: GroupUsage): string {
  if (block === 'group_paused') return `group ${name} is paused; its jobs start when it is resumed`;
  if (block === 'group_concurrency_limit')
    return `group ${name} runs ${u.running} of at most ${g.concurrency} jobs at once; the job starts when one ends`;
  const { starts, windowMs } = rateWindow(g.perSecond!);
  return `group ${name} started ${u.recentStarts} job(s) in the last ${windowMs} ms, its rate allows ${starts} (${g.perSecond}/s)`;
}

/**
 * `group`: the settings and usage of the job's group, when it has one (read at the same time).
 */
export function explainJob(
  job: JobRecord,
  alive: LiveWorker[],
  now: number,
  group?: GroupSettings & { usage: GroupUsage },
): Explanation {
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
  const block = group && job.group ? groupBlock(group, group.usage) : null;
  if (block) {
    return { ...base, verdict: block, reasons: [groupReason(block, job.group!, group!, group!.usage)] };
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
