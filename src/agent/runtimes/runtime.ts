/**
 * The one interface every runtime implements. A runtime turns a code blob into something it can
 * run (`prepare`, once per code sha256: the agent caches the result), then runs jobs with an
 * input, limits and an abort signal, and answers with the output bytes or a typed failure. It
 * never talks to the hub itself: logs, progress and (for `+pcli`) blob access go through the
 * {@link RunContext} the agent hands in, so that every side effect carries the job's lease.
 */
import type { Readable } from 'node:stream';

/** A code blob fetched from the hub and verified against its sha256. */
export interface CodeBlob {
  sha256: string;
  bytes: Buffer;
}

/** The job's input: small inputs are already in memory, large ones are streamed from the hub. */
export interface JobInput {
  size: number;
  /** The whole input in memory (downloads it if needed). */
  bytes(): Promise<Buffer>;
  /** The input as a stream (a fresh download, or the in-memory bytes). */
  stream(): Promise<Readable>;
}

/** Per-job limits; `0` means "no limit" only for cpuMs. */
export interface RunLimits {
  /** The job's timeout (what failure messages name). */
  timeoutMs: number;
  /**
   * Wall-clock time this run may take: the timeout less the time already spent since the lease
   * began and a small margin, so that the agent reports a timeout before the hub's lease ends.
   */
  wallMs: number;
  /** CPU seconds for processes (default: the wall time). */
  cpuMs: number;
  /** Address space / Lua heap / wasm linear memory. */
  memoryBytes: number;
  /** Largest output; the job is stopped as soon as it writes more. */
  outputBytes: number;
}

/** Blob access for `+pcli` scripts, bound to one job's lease by the agent. */
export interface BlobAccess {
  get(id: string): Promise<Buffer>;
  put(bytes: Buffer): Promise<string>;
}

export interface RunContext {
  jobId: string;
  /** The runtime name the job asked for, e.g. `dlabLua54+pcli` (features decide what is offered). */
  runtime: string;
  input: JobInput;
  limits: RunLimits;
  /** Aborted when the hub cancels the job, the lease is lost or the agent gives the job back. */
  signal: AbortSignal;
  /** One line of job log (stderr); shipped with the next heartbeat. */
  log(line: string): void;
  /** Latest progress value; shipped with the next heartbeat. */
  progress(value: unknown): void;
  blobs: BlobAccess;
}

/**
 * Output bytes: in memory, or in a temporary file that the agent uploads and then deletes (so a
 * 1 GiB output is never held in memory).
 */
export type RunOutput = { bytes: Buffer } | { path: string; size: number };

export type FailureKind =
  /** The program exited with a non-zero status (or a WASI module called proc_exit(n≠0)). */
  | 'exit'
  /** The process was killed by a signal it did not get from us. */
  | 'signal'
  /** A script error (Lua error with message and line) or a wasm trap. */
  | 'error'
  | 'timeout'
  | 'memory'
  | 'output_limit'
  /** A job's processes together reached its process limit (a fork bomb). */
  | 'processes'
  /** A job's processes together held more open files than its limit. */
  | 'open_files'
  /** A job wrote more than its scratch space to /tmp and /dev/shm. */
  | 'disk'
  /** The runtime's own process or thread died unexpectedly. */
  | 'crash'
  /** The code blob is unusable (not a wasm module, an unparsable script...). */
  | 'bad_code'
  /** The agent refuses to run the job here (e.g. no sandbox available). */
  | 'refused'
  /** Stopped because of `signal`; the agent does not report these as failures. */
  | 'aborted';

export interface RunFailure {
  kind: FailureKind;
  /** For people: what happened, with exit status, signal and stderr tail where known. */
  message: string;
  /** Whether another attempt (on this or another worker) could succeed. */
  retryable: boolean;
  exitStatus?: number;
}

export type RunOutcome =
  { ok: true; output: RunOutput; exitStatus?: number } | { ok: false; failure: RunFailure };

/** A runtime. `P` is its prepared form of a code blob (a file path, a compiled module...). */
export interface Runtime<P = unknown> {
  /** The base name, e.g. `dlabLua54`. */
  readonly base: string;
  /** Features this runtime offers; advertised as `base+feature...`. */
  readonly features: readonly string[];
  /** Turns a code blob into the runtime's runnable form; called once per sha256. */
  prepare(code: CodeBlob): Promise<P>;
  /** Releases what `prepare` made (called when the code cache evicts it). */
  release?(prepared: P): void;
  /** Runs one job. Must not throw for job-caused problems: those are failures. */
  run(prepared: P | null, ctx: RunContext): Promise<RunOutcome>;
  /** Says why jobs cannot run here at all (logged at start), or null. */
  warning?(): string | null;
  close(): Promise<void>;
}

/** Thrown by `prepare` when the code blob cannot be used: the job fails without retry. */
export class BadCodeError extends Error {}

export const fail = (
  kind: FailureKind,
  message: string,
  retryable = false,
  exitStatus?: number,
): RunOutcome => ({
  ok: false,
  failure: exitStatus === undefined ? { kind, message, retryable } : { kind, message, retryable, exitStatus },
});

/** Keeps the last `max` bytes of a text stream (for error messages: "stderr tail"). */
export class Tail {
  private text = '';
  constructor(private readonly max = 2048) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.max * 2) this.text = this.text.slice(-this.max);
  }
  toString(): string {
    const t = this.text.length > this.max ? `…${this.text.slice(-this.max)}` : this.text;
    return t.trimEnd();
  }
}

/** Splits a byte stream into lines, calling `line` for each complete one (long lines are cut). */
export class LineSplitter {
  private rest = '';
  constructor(
    private readonly line: (text: string) => void,
    private readonly maxLine = 16_000,
  ) {}
  push(chunk: string): void {
    const parts = (this.rest + chunk).split('\n');
    this.rest = parts.pop() ?? '';
    for (const p of parts) this.line(p.length > this.maxLine ? p.slice(0, this.maxLine) : p);
    while (this.rest.length > this.maxLine) {
      this.line(this.rest.slice(0, this.maxLine));
      this.rest = this.rest.slice(this.maxLine);
    }
  }
  end(): void {
    if (this.rest) this.line(this.rest);
    this.rest = '';
  }
}

/** A worker's runtime settings that cannot work (unknown runtime, a bad flag value): a usage error. */
export class RuntimeConfigError extends Error {}
