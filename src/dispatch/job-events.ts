/**
 * In-process fan-out of job changes to whoever watches a job: `wait` long-polls and SSE streams.
 * Published after the change is committed. Log lines and progress are kept only in memory (a
 * bounded tail per running job) because they are for people watching now, not for the record.
 */
import type { JobRecord } from '../store/store.js';

export type JobEvent =
  | { type: 'state'; job: JobRecord }
  | { type: 'progress'; jobId: string; progress: unknown }
  | { type: 'log'; jobId: string; lines: string[] };

type Listener = (e: JobEvent) => void;

const LOG_TAIL_LINES = 200;

export class JobEvents {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly anyListeners = new Set<Listener>();
  private readonly logTails = new Map<string, string[]>();

  subscribe(jobId: string, fn: Listener): () => void {
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.listeners.delete(jobId);
    };
  }

  /** Every event of every job (metrics, the future web UI's live views). */
  subscribeAll(fn: Listener): () => void {
    this.anyListeners.add(fn);
    return () => this.anyListeners.delete(fn);
  }

  get watchers(): number {
    let n = this.anyListeners.size;
    for (const s of this.listeners.values()) n += s.size;
    return n;
  }

  publish(e: JobEvent): void {
    const jobId = e.type === 'state' ? e.job.id : e.jobId;
    if (e.type === 'log') {
      const tail = this.logTails.get(jobId) ?? [];
      tail.push(...e.lines);
      if (tail.length > LOG_TAIL_LINES) tail.splice(0, tail.length - LOG_TAIL_LINES);
      this.logTails.set(jobId, tail);
    }
    if (e.type === 'state' && e.job.state !== 'running') this.logTails.delete(jobId);
    const set = this.listeners.get(jobId);
    if (set) for (const fn of [...set]) fn(e);
    for (const fn of this.anyListeners) fn(e);
  }

  /** The last log lines of a running job. */
  logTail(jobId: string): string[] {
    return this.logTails.get(jobId) ?? [];
  }
}
