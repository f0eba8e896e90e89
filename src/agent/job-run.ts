/**
 * One leased job, from lease to report: fetch (cached) code and input, run it in its runtime
 * while heartbeating (progress and log lines ride along; the reply may cancel the job), then
 * upload the output (inline when small, as a blob when large) and complete, or fail with the
 * runtime's reason. A job canceled by its requester or whose lease was lost is stopped and not
 * reported; a job given back at shutdown is failed as retryable.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { CodeCache } from './code-cache.js';
import { HubHttpError, isStale, retry, type RetryOptions } from './client.js';
import type { HubApi, LeasedJob, OutputRef, Registration } from './hub-api.js';
import type { Reporter } from './reporter.js';
import {
  BadCodeError,
  type JobInput,
  type RunContext,
  type RunOutcome,
  type RunOutput,
  type Runtime,
} from './runtimes/runtime.js';

export type AgentLog = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface JobLimits {
  memoryBytes: number;
  outputBytes: number;
  /** CPU time for exec jobs; default the job's timeout. */
  cpuMs?: number;
}

export interface RunnerDeps {
  api: HubApi;
  cache: CodeCache;
  reporter: Reporter;
  registration: Registration;
  limits: JobLimits;
  log: AgentLog;
  retryOptions(): RetryOptions;
  /** Waits for an execution slot (the agent runs at most `concurrency` jobs at once). */
  acquireSlot(): Promise<void>;
  /** Gives the slot back once the runtime is done (reporting goes on); `ranMs` is 0 when the job never ran. */
  releaseSlot(ranMs: number): void;
  /** Called once the job will not run (anymore): ran, or failed before running. */
  onExecuted?(): void;
}

/** Why a job was stopped from outside its runtime. */
export type StopReason = 'canceled' | 'lease_lost' | 'give_back';
export type JobEnd = 'succeeded' | 'failed' | 'dropped' | 'given_back';

/** Log lines kept for the next heartbeat; beyond either bound the oldest are dropped (and counted). */
const MAX_PENDING_LOGS = 10_000;
const MAX_PENDING_LOG_BYTES = 4 * 1024 * 1024;
/** Longest log line sent (the hub refuses longer ones). */
const MAX_LINE_CHARS = 16_000;
/** Most log lines in one heartbeat (the hub's limit is 1000). */
const MAX_BEAT_LINES = 1000;
/**
 * JSON bytes of log lines in one heartbeat: well under the hub's body limit, so that a job that
 * logs heavily still gets every heartbeat through (a refused heartbeat does not extend the lease).
 */
const BEAT_LOG_BYTES = 1024 * 1024;
/** The smallest budget a refused heartbeat halves down to before its lines are dropped. */
const MIN_BEAT_LOG_BYTES = 4 * 1024;

export class JobRun {
  private readonly controller = new AbortController();
  private stopReason: StopReason | null = null;
  private logs: string[] = [];
  private logBytes = 0;
  private droppedLogs = 0;
  /** JSON bytes of log lines per heartbeat; halved when the hub refuses a heartbeat as too large. */
  private beatLogBytes: number;
  private progress: { value: unknown; dirty: boolean } = { value: null, dirty: false };
  private beating: Promise<void> | null = null;
  /** The lease's start as seen here (the hub ends the lease at its start + timeoutMs). */
  private readonly receivedAt = Date.now();

  constructor(
    readonly job: LeasedJob,
    private readonly runtime: Runtime,
    private readonly d: RunnerDeps,
  ) {
    // A hub that says its body limit gets heartbeats of at most half of it.
    const hubLimit = d.registration.maxJsonBytes;
    this.beatLogBytes = hubLimit
      ? Math.max(MIN_BEAT_LOG_BYTES, Math.min(BEAT_LOG_BYTES, hubLimit / 2))
      : BEAT_LOG_BYTES;
  }

  stop(reason: StopReason): void {
    this.stopReason ??= reason;
    this.controller.abort();
  }

  async run(): Promise<JobEnd> {
    const { job, d } = this;
    const timer = setInterval(() => void this.beat(), d.registration.heartbeatMs);
    let outcome: RunOutcome;
    try {
      outcome = await this.execute();
    } finally {
      clearInterval(timer);
      d.onExecuted?.();
    }
    if (this.stopReason === 'canceled' || this.stopReason === 'lease_lost') {
      await discard(outcome);
      d.log.info({ jobId: job.id, reason: this.stopReason }, 'job stopped; not reported');
      return 'dropped';
    }
    await this.beating;
    if (this.logs.length > 0 || this.progress.dirty) await this.beat();
    if (outcome.ok) return this.complete(outcome.output, outcome.exitStatus);
    if (this.stopReason === 'give_back') {
      return this.report(
        'given_back',
        'the worker shut down before the job finished; given back to be run again',
        true,
      );
    }
    const f = outcome.failure;
    return this.report('failed', `${f.kind}: ${f.message}`, f.retryable, f.exitStatus);
  }

  private async execute(): Promise<RunOutcome> {
    const { job, d } = this;
    let prepared: unknown = null;
    const blobId = job.function?.codeBlobId ?? null;
    if (blobId !== null) {
      try {
        prepared = await d.cache.get(this.runtime, blobId);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (err instanceof BadCodeError)
          return { ok: false, failure: { kind: 'bad_code', message, retryable: false } };
        return {
          ok: false,
          failure: { kind: 'crash', message: `could not get the code blob: ${message}`, retryable: true },
        };
      }
    }
    // Time waiting for a slot (prefetched jobs) counts against the job's timeout.
    await d.acquireSlot();
    const ctx: RunContext = {
      jobId: job.id,
      runtime: job.runtime,
      input: this.input(),
      limits: {
        timeoutMs: job.timeoutMs,
        wallMs: Math.max(1, this.receivedAt + job.timeoutMs - timeoutMargin(job.timeoutMs) - Date.now()),
        cpuMs: d.limits.cpuMs ?? job.timeoutMs,
        memoryBytes: d.limits.memoryBytes,
        outputBytes: d.limits.outputBytes,
      },
      signal: this.controller.signal,
      log: (line) => this.keepLog(line),
      progress: (value) => (this.progress = { value, dirty: true }),
      blobs: {
        get: (id) => this.live().then(() => d.api.blobGet(id, d.limits.memoryBytes)),
        put: (bytes) =>
          this.live()
            .then(() => retry(() => d.api.blobPut(bytes), d.retryOptions()))
            .then((b) => b.id),
      },
    };
    const started = performance.now();
    try {
      return await this.runtime.run(prepared, ctx);
    } catch (err) {
      // A runtime bug, not the job's fault: let another attempt try.
      return {
        ok: false,
        failure: {
          kind: 'crash',
          message: `runtime error: ${err instanceof Error ? err.message : String(err)}`,
          retryable: true,
        },
      };
    } finally {
      d.releaseSlot(performance.now() - started);
    }
  }

  /** Blob calls of a `+pcli` script are made only while the job's lease is held. */
  private async live(): Promise<void> {
    if (this.controller.signal.aborted) throw new Error(`the lease of job ${this.job.id} has ended`);
  }

  private input(): JobInput {
    const { job, d } = this;
    const i = job.input;
    if (!i) return memoryInput(Buffer.alloc(0));
    if (i.base64 !== undefined) return memoryInput(Buffer.from(i.base64, 'base64'));
    const blobId = i.blobId!;
    return {
      size: i.size ?? 0,
      bytes: async () => {
        const bytes = await retry(() => d.api.blobGet(blobId), d.retryOptions());
        if (i.sha256 && createHash('sha256').update(bytes).digest('hex') !== i.sha256) {
          throw new Error(`input blob ${blobId} does not match its sha256`);
        }
        return bytes;
      },
      stream: () => retry(() => d.api.blobStream(blobId), d.retryOptions()),
    };
  }

  private keepLog(line: string): void {
    const kept = line.length > MAX_LINE_CHARS ? line.slice(0, MAX_LINE_CHARS) : line;
    this.logs.push(kept);
    this.logBytes += kept.length;
    while (this.logs.length > MAX_PENDING_LOGS || this.logBytes > MAX_PENDING_LOG_BYTES) {
      this.logBytes -= this.logs.shift()!.length;
      this.droppedLogs++;
    }
  }

  /** The oldest pending lines whose JSON fits this heartbeat's budget (at least one line). */
  private takeLogs(): string[] {
    const out: string[] = [];
    let bytes = 2;
    while (out.length < MAX_BEAT_LINES && this.logs.length > 0) {
      let line = this.logs[0]!;
      let size = Buffer.byteLength(JSON.stringify(line)) + 1;
      if (bytes + size > this.beatLogBytes) {
        if (out.length > 0) break;
        // One line larger than the whole budget: sent cut (at worst 6 JSON bytes per character).
        line = line.slice(0, Math.floor((this.beatLogBytes - 64) / 6));
        size = this.beatLogBytes;
      }
      this.logBytes -= this.logs.shift()!.length;
      out.push(line);
      bytes += size;
    }
    return out;
  }

  /** One heartbeat with the pending progress and logs; serialised (never two at once). */
  private beat(): Promise<void> {
    if (this.beating) return this.beating;
    this.beating = this.sendBeat().finally(() => (this.beating = null));
    return this.beating;
  }

  private async sendBeat(): Promise<void> {
    const { job, d } = this;
    const logs = this.takeLogs();
    const dropped = this.droppedLogs;
    if (dropped > 0) {
      logs.unshift(`[jobhub: ${dropped} log lines dropped]`);
      this.droppedLogs = 0;
    }
    const progress = this.progress;
    const body = {
      token: job.token,
      ...(progress.dirty ? { progress: progress.value } : {}),
      ...(logs.length ? { logs } : {}),
    };
    progress.dirty = false;
    try {
      const r = await d.api.heartbeat(job.id, body);
      if (r.cancel) this.stop('canceled');
    } catch (err) {
      if (isStale(err)) return this.stop('lease_lost');
      const ours = dropped > 0 ? logs.slice(1) : logs;
      if (err instanceof HubHttpError && err.status === 413) {
        // Too large for the hub: never the same heartbeat again. Smaller batches of the same
        // lines next; at the smallest, the lines (and a progress value too large alone) go.
        d.log.warn({ jobId: job.id, logBytes: this.beatLogBytes }, 'heartbeat refused as too large');
        if (ours.length > 0 && this.beatLogBytes > MIN_BEAT_LOG_BYTES) {
          this.beatLogBytes = Math.max(MIN_BEAT_LOG_BYTES, Math.floor(this.beatLogBytes / 2));
          this.putBack(ours, dropped);
          if (body.progress !== undefined && !this.progress.dirty) this.progress.dirty = true;
        } else {
          this.droppedLogs += dropped + ours.length;
        }
        return;
      }
      // Hub unreachable: keep the lines for the next beat; the job goes on.
      this.putBack(ours, dropped);
      if (body.progress !== undefined && !this.progress.dirty) this.progress.dirty = true;
      d.log.debug({ jobId: job.id, err }, 'heartbeat failed');
    }
  }

  /** Lines of a heartbeat that did not go through, back at the front of the queue. */
  private putBack(lines: string[], dropped: number): void {
    this.logs.unshift(...lines);
    for (const l of lines) this.logBytes += l.length;
    this.droppedLogs += dropped;
    while (this.logs.length > MAX_PENDING_LOGS || this.logBytes > MAX_PENDING_LOG_BYTES) {
      this.logBytes -= this.logs.shift()!.length;
      this.droppedLogs++;
    }
  }

  private async complete(output: RunOutput, exitStatus: number | undefined): Promise<JobEnd> {
    const { job, d } = this;
    let ref: OutputRef;
    try {
      ref = await this.upload(output);
    } catch (err) {
      return this.report(
        'failed',
        `could not upload the output: ${err instanceof Error ? err.message : String(err)}`,
        true,
      );
    }
    try {
      const r = await d.reporter.complete({ jobId: job.id, token: job.token, output: ref, exitStatus });
      if (r === 'stale') {
        d.log.warn(
          { jobId: job.id },
          'completion refused: the lease had ended (another attempt owns the job)',
        );
        return 'dropped';
      }
      return 'succeeded';
    } catch (err) {
      d.log.error({ jobId: job.id, err }, 'could not report the completion');
      return 'dropped';
    }
  }

  private async upload(output: RunOutput): Promise<OutputRef> {
    const { d } = this;
    const inline = d.registration.inlineBytes;
    if ('bytes' in output) {
      if (output.bytes.length <= inline) return { base64: output.bytes.toString('base64') };
      const blob = await retry(() => d.api.blobPut(output.bytes), d.retryOptions());
      return { blobId: blob.id };
    }
    try {
      if (output.size <= inline) return { base64: (await readFile(output.path)).toString('base64') };
      const blob = await retry(
        () => d.api.blobPut(createReadStream(output.path), output.size),
        d.retryOptions(),
      );
      return { blobId: blob.id };
    } finally {
      await rm(output.path, { force: true });
    }
  }

  private async report(end: JobEnd, error: string, retryable: boolean, exitStatus?: number): Promise<JobEnd> {
    const { job, d } = this;
    try {
      const r = await d.reporter.fail(job.id, {
        token: job.token,
        error,
        retryable,
        ...(exitStatus !== undefined ? { exitStatus } : {}),
      });
      if (r === 'stale') {
        d.log.warn({ jobId: job.id }, 'failure report refused: the lease had ended');
        return 'dropped';
      }
      return end;
    } catch (err) {
      d.log.error({ jobId: job.id, err }, 'could not report the failure');
      return 'dropped';
    }
  }
}

/**
 * Time kept back from a job's timeout so that the job's end, our report included, falls within the
 * timeout as the hub counts it (from the lease): 10%, at least 100 ms, at most 1 s. The hub ends the
 * attempt itself only TIMEOUT_GRACE_MS (src/core/lease.ts) later, so a slow report still wins.
 */
const timeoutMargin = (timeoutMs: number) => Math.min(1_000, Math.max(100, timeoutMs * 0.1));

function memoryInput(bytes: Buffer): JobInput {
  return { size: bytes.length, bytes: async () => bytes, stream: async () => Readable.from([bytes]) };
}

async function discard(outcome: RunOutcome): Promise<void> {
  if (outcome.ok && 'path' in outcome.output) await rm(outcome.output.path, { force: true });
}
