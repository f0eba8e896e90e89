/**
 * `js`: Pleiades functions. The code blob is an ES module (JavaScript or TypeScript, whose types
 * are stripped once per code blob) whose default export is `async function fetch(input)`; `input`
 * is the job's input as a Uint8Array; the value it resolves to is the output (bytes as they are,
 * anything else as its string in UTF-8, null/undefined as nothing). Each job runs in a fresh
 * QuickJS context on one of a few engine threads (see engines.ts, thread.ts); blobs and HTTP are
 * done here, for the job, on the job's lease.
 *
 * The same engine can serve other runtime names (`--runtime-alias pleiades+example=js`), since
 * pleiades-worker ran every job as JavaScript whatever its lambda's runtime was called.
 */
import { availableParallelism } from 'node:os';
import { transform } from 'esbuild';
import { parseRuntime } from '../../../core/runtime.js';
import {
  BadCodeError,
  fail,
  type CodeBlob,
  type RunContext,
  type RunOutcome,
  type Runtime,
} from '../runtime.js';
import { Engines, type JsCall } from './engines.js';
import { httpRequest, type NetRule } from './net.js';

export interface JsRuntimeOptions {
  /** Engine threads (default: one per core, at most `concurrency`). */
  threads: number;
  /** The per-job memory limit the worker was started with (sizes the engines' wasm memory). */
  memoryBytes: number;
  /** Hosts `HttpClient` may reach. */
  allowNet?: NetRule[];
  base?: string;
}

/** Grace after the job's wall time before its engine thread is terminated (the thread normally stops it). */
const KILL_GRACE_MS = 1_000;

/** Engine memory beyond one job's limit: the engine itself and the other jobs on the thread. */
const HEAP_HEADROOM = 128 * 1024 ** 2;

interface Prepared {
  source: string;
  key: string;
}

export class JsRuntime implements Runtime<Prepared> {
  readonly base: string;
  readonly features: readonly string[] = [];
  readonly engines: Engines;
  /** The cost of the latest jobs' fresh contexts (runtime, context, prelude), in µs (for the bench). */
  readonly contextUs: number[] = [];
  private readonly allowNet: NetRule[];
  private closing: Promise<void> | null = null;

  constructor(o: JsRuntimeOptions) {
    this.base = o.base ?? 'js';
    this.allowNet = o.allowNet ?? [];
    // One engine thread's wasm memory holds all its jobs: room for one job at its limit and
    // some for the others; wasm32 cannot go past 4 GiB, and this build not past 2 GiB.
    const heapBytes = Math.min(2 * 1024 ** 3, o.memoryBytes + HEAP_HEADROOM);
    this.engines = new Engines(Math.max(1, Math.min(o.threads, availableParallelism())), heapBytes);
  }

  ready(): Promise<void> {
    return this.engines.ready();
  }

  /** The same engine under another runtime name, e.g. `pleiades+example`. */
  alias(name: string): Runtime<Prepared> {
    const { base, features } = parseRuntime(name);
    return {
      base,
      features,
      prepare: (code) => this.prepare(code),
      run: (p, ctx) => this.run(p, ctx),
      close: () => this.close(),
    };
  }

  async prepare(code: CodeBlob): Promise<Prepared> {
    const text = code.bytes.toString('utf8');
    // JavaScript runs as written (its stack traces name the lines the author wrote); only what
    // does not parse as JavaScript is taken as TypeScript and has its types stripped.
    const asJs = await parse(text, 'js');
    if (asJs.ok) return { source: text, key: code.sha256 };
    const asTs = await parse(text, 'ts');
    if (asTs.ok) return { source: asTs.code, key: code.sha256 };
    throw new BadCodeError(`the JavaScript module does not parse: ${asJs.error}`);
  }

  async run(prepared: Prepared | null, ctx: RunContext): Promise<RunOutcome> {
    if (!prepared)
      return fail(
        'bad_code',
        `runtime ${ctx.runtime} needs a function with a JavaScript module as its code blob`,
      );
    const input = new Uint8Array(await ctx.input.bytes());
    const cpuMs = ctx.limits.cpuMs > 0 ? Math.min(ctx.limits.cpuMs, ctx.limits.wallMs) : ctx.limits.wallMs;
    const r = await this.engines.run(
      {
        source: prepared.source,
        key: prepared.key,
        input,
        timeoutMs: ctx.limits.timeoutMs,
        wallMs: ctx.limits.wallMs,
        cpuMs,
        memoryBytes: ctx.limits.memoryBytes,
        outputBytes: ctx.limits.outputBytes,
      },
      {
        signal: ctx.signal,
        killAfterMs: ctx.limits.wallMs + KILL_GRACE_MS,
        onLog: (line) => ctx.log(line),
        onCall: (call) => this.hostCall(call, ctx),
      },
    );
    switch (r.type) {
      case 'aborted':
        return fail('aborted', 'stopped');
      case 'killed':
        return fail(
          'timeout',
          `time limit of ${ctx.limits.timeoutMs} ms exceeded (the JavaScript engine thread was stopped)`,
        );
      case 'crash':
        return fail('crash', `the JavaScript engine crashed: ${r.message}`, true);
    }
    const reply = r.reply;
    if (this.contextUs.push(reply.contextUs) > 1000) this.contextUs.shift();
    if (reply.ok)
      return {
        ok: true,
        output: { bytes: Buffer.from(reply.output.buffer, reply.output.byteOffset, reply.output.byteLength) },
      };
    if (reply.kind === 'crash') return fail('crash', `the JavaScript engine crashed: ${reply.message}`, true);
    return fail(reply.kind, reply.message);
  }

  /** Blob and HTTP calls of a job: made here with the job's lease and limits. */
  private async hostCall(
    call: JsCall,
    ctx: RunContext,
  ): Promise<{ ok: true; bytes?: Uint8Array; text?: string } | { ok: false; error: string }> {
    try {
      switch (call.op) {
        case 'blob.get':
          return { ok: true, bytes: new Uint8Array(await ctx.blobs.get(call.arg)) };
        case 'blob.post':
          return { ok: true, text: await ctx.blobs.put(Buffer.from(call.bytes ?? new Uint8Array())) };
        case 'http.get':
        case 'http.post': {
          const bytes = await httpRequest(
            call.arg,
            call.op === 'http.post' ? (call.bytes ?? new Uint8Array()) : undefined,
            {
              rules: this.allowNet,
              maxBytes: ctx.limits.memoryBytes,
              signal: ctx.signal,
            },
          );
          return { ok: true, bytes: new Uint8Array(bytes) };
        }
      }
    } catch (err) {
      const prefix = call.op.startsWith('blob') ? `${call.op}: ` : '';
      return { ok: false, error: prefix + (err instanceof Error ? err.message : String(err)) };
    }
  }

  close(): Promise<void> {
    this.closing ??= this.engines.close();
    return this.closing;
  }
}

/** esbuild's verdict on a module: its code with types removed, or the first error with its place. */
async function parse(
  text: string,
  loader: 'js' | 'ts',
): Promise<{ ok: true; code: string } | { ok: false; error: string }> {
  try {
    const out = await transform(text, { loader, format: 'esm', target: 'esnext', sourcefile: 'function.js' });
    return { ok: true, code: out.code };
  } catch (err) {
    const first = (err as { errors?: { text: string; location?: { line: number; column: number } | null }[] })
      .errors?.[0];
    if (!first) throw err;
    const at = first.location ? ` (line ${first.location.line}, column ${first.location.column + 1})` : '';
    return { ok: false, error: first.text + at };
  }
}
