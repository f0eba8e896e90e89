/**
 * In-process fan-out of job changes to whoever watches a job: `wait` long-polls and SSE streams.
 * Published after the change is committed. Log lines and progress are kept only in memory (a
 * bounded tail per running job) because they are for people watching now, not for the record.
 * Workers choose how much they log, so the tail is bounded in bytes per job and for all jobs
 * together: past the total, the tails of the jobs that logged least recently go first.
 */
import type { JobRecord } from '../store/store.js';

export type JobEvent =
  | { type: 'state'; job: JobRecord }
  | { type: 'progress'; jobId: string; progress: unknown }
  | { type: 'log'; jobId: string; lines: string[] };

type Listener = (e: JobEvent) => void;

const LOG_TAIL_LINES = 200;

export interface LogTailLimits {
  /** Bytes (UTF-8) of log lines kept per job. */
  perJob: number;
  /** Bytes kept for every job together. */
  total: number;
}

interface Tail {
  lines: string[];
  sizes: number[];
  bytes: number;
}

export class JobEvents {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly anyListeners = new Set<Listener>();
  /** In order of the last log line received: the first entry is the one to evict. */
  private readonly logTails = new Map<string, Tail>();
  private tailBytes = 0;

  constructor(private readonly limits: LogTailLimits = { perJob: 256 * 1024, total: 64 * 1024 ** 2 }) {}

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
    if (e.type === 'log') this.keep(jobId, e.lines);
    if (e.type === 'state' && e.job.state !== 'running') this.drop(jobId);
    const set = this.listeners.get(jobId);
    if (set) for (const fn of [...set]) fn(e);
    for (const fn of this.anyListeners) fn(e);
  }

  /** The last log lines of a running job. */
  logTail(jobId: string): string[] {
    return this.logTails.get(jobId)?.lines ?? [];
  }

  /** Bytes of log lines kept now, for every job together. */
  get logBytes(): number {
    return this.tailBytes;
  }

  private keep(jobId: string, lines: string[]): void {
    const tail = this.logTails.get(jobId) ?? { lines: [], sizes: [], bytes: 0 };
    // Re-inserted: the map's order is the order of the last log line.
    this.logTails.delete(jobId);
    this.logTails.set(jobId, tail);
    for (const line of lines) {
      const size = Buffer.byteLength(line);
      tail.lines.push(line);
      tail.sizes.push(size);
      tail.bytes += size;
      this.tailBytes += size;
    }
    let cut = 0;
    let freed = 0;
    while (
      cut < tail.lines.length &&
      (tail.bytes - freed > this.limits.perJob || tail.lines.length - cut > LOG_TAIL_LINES)
    ) {
      freed += tail.sizes[cut++]!;
    }
    if (cut > 0) {
      tail.lines.splice(0, cut);
      tail.sizes.splice(0, cut);
      tail.bytes -= freed;
      this.tailBytes -= freed;
    }
    for (const id of this.logTails.keys()) {
      if (this.tailBytes <= this.limits.total) break;
      this.drop(id);
    }
  }

  private drop(jobId: string): void {
    const tail = this.logTails.get(jobId);
    if (!tail) return;
    this.tailBytes -= tail.bytes;
    this.logTails.delete(jobId);
  }
}
