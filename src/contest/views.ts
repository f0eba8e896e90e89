/**
 * Benchmark jobs as the portal shows them. A benchmark is a core job (runtime `isucon-bench`,
 * team = the portal team id); its outcome lives in the job's JSON `result`
 * ({score, is_passed, reason, stdout, stderr}). States use the seed's words (core/states.ts).
 */
import { portalState } from '../core/states.js';
import type { JobRecord } from '../store/store.js';
import { iso } from './contest.js';
import type { ServerRecord, TeamRecord } from './store/store.js';

export { BENCH_RUNTIME } from '../core/runtime.js';

/** What a report carries and a finished benchmark keeps. */
export interface BenchResult {
  score: number;
  is_passed: boolean;
  reason: string;
  stdout: string;
  stderr: string;
}

export const TIMEOUT_REASON = 'Benchmark timeout';

/** The outcome of a job as far as it is known (zeros and empty strings until it has one). */
export function outcome(job: JobRecord): BenchResult & { status: ReturnType<typeof portalState> } {
  const r = (job.result ?? {}) as Partial<Record<keyof BenchResult, unknown>>;
  const status = portalState(job.state);
  let reason = typeof r.reason === 'string' ? r.reason : '';
  const lastError = job.errors[job.errors.length - 1];
  if (job.state === 'failed' && lastError?.type === 'expired') reason = TIMEOUT_REASON;
  else if (job.state === 'canceled' && !reason) reason = 'Canceled by staff';
  else if (job.state === 'failed' && !reason) reason = job.error ?? '';
  return {
    status,
    score: typeof r.score === 'number' ? r.score : 0,
    is_passed: r.is_passed === true,
    reason,
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    stderr: typeof r.stderr === 'string' ? r.stderr : '',
  };
}

/** The seed's Job JSON (dequeue answer), field order as in the seed. */
export function seedJob(job: JobRecord, team: TeamRecord | null, servers: ServerRecord[]) {
  const o = outcome(job);
  return {
    id: Number(job.id),
    team: {
      id: Number(team?.id ?? job.team ?? 0),
      owner: Number(team?.ownerId ?? 0),
      name: team?.name ?? '',
      servers: servers.map((s) => ({
        id: Number(s.id),
        hostname: s.hostname,
        global_ip: s.globalIp,
        private_ip: s.privateIp,
        is_bench_target: s.isBenchTarget,
      })),
    },
    status: o.status,
    score: o.score,
    reason: o.reason,
    stdout: o.stdout,
    stderr: o.stderr,
  };
}

/** A running score reported by the benchmarker, if any. */
function progressOf(job: JobRecord): { score: number | null; message: string | null } | null {
  if (job.state !== 'running' || job.progress === null || typeof job.progress !== 'object') return null;
  const p = job.progress as { score?: unknown; message?: unknown };
  return {
    score: typeof p.score === 'number' ? p.score : null,
    message: typeof p.message === 'string' ? p.message : null,
  };
}

/**
 * A job for its team (never stderr) or for staff (everything). `names` maps team ids to names.
 * `full` = include the logs (single-job reads; lists leave them out); a contestant's stdout may
 * be withheld after the contest (`stdout: false`, answered as `stdout_hidden: true`).
 */
export function portalJob(
  job: JobRecord,
  o: {
    staff: boolean;
    full: boolean;
    teamName?: string;
    benchmarker?: string | null;
    /** false: a contestant after the contest, when staff keep stdout to themselves. */
    stdout?: boolean;
  },
) {
  const r = outcome(job);
  return {
    id: Number(job.id),
    team: { id: Number(job.team ?? 0), name: o.teamName ?? '' },
    status: r.status,
    score: r.score,
    is_passed: r.is_passed,
    reason: r.reason,
    ...(o.full ? (o.stdout === false ? { stdout_hidden: true } : { stdout: r.stdout }) : {}),
    ...(o.full && o.staff ? { stderr: r.stderr } : {}),
    progress: progressOf(job),
    created_at: iso(job.createdAt),
    // When a scheduled benchmark (the final verification) may start; staff only.
    ...(o.staff ? { run_at: iso(job.runAt) } : {}),
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    ...(o.staff ? { benchmarker: o.benchmarker ?? null, error: job.error } : {}),
  };
}

export function serverJson(s: ServerRecord) {
  return {
    id: Number(s.id),
    hostname: s.hostname,
    global_ip: s.globalIp,
    private_ip: s.privateIp,
    is_bench_target: s.isBenchTarget,
  };
}

/** Keeps the last `max` bytes of a text (at a character boundary). */
export function tail(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  const buf = Buffer.from(text);
  let start = buf.length - max;
  while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString();
}
