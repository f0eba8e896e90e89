/**
 * `wasi`: the code blob is a WASI preview1 command module; stdin is the input, stdout the output,
 * stderr the job log, exit status ≠ 0 a failure. Sandboxed by construction: no preopened
 * directories, no environment, no sockets; memory bounded by rewriting the module's declared
 * maximum, time bounded by terminating the host thread.
 *
 * What a module declares is capped before it runs (limits.ts), and the engine threads live in a
 * child process of their own (HostedPool): should V8 still abort on some allocation we did not
 * foresee, it takes down that host and its jobs, never the worker.
 */
import { HostedPool } from '../hosted-pool.js';
import { fail, type CodeBlob, type RunContext, type RunOutcome, type Runtime } from '../runtime.js';
import { BadModuleError, MODULE_CAPS, WASM_PAGE, checkModule } from './limits.js';
import type { WasiRunMessage, WasiThreadMessage } from './protocol.js';

export interface WasiRuntimeOptions {
  threads: number;
  /** Largest linear memory a module may grow to; written into the module at prepare time. */
  memoryBytes: number;
  /** What a module may declare (default MODULE_CAPS; tests raise them to reach the engine's own limits). */
  caps?: { [K in keyof typeof MODULE_CAPS]: number };
}

interface Prepared {
  key: string;
  bytes: Uint8Array;
}

export class WasiRuntime implements Runtime<Prepared> {
  readonly base = 'wasi';
  readonly features = [] as const;
  /** The engine threads (public for diagnostics). */
  readonly pool: HostedPool<WasiRunMessage, Extract<WasiThreadMessage, { type: 'done' }>>;

  constructor(private readonly o: WasiRuntimeOptions) {
    this.pool = new HostedPool({
      name: 'WASI',
      entry: new URL('./thread.js', import.meta.url),
      size: Math.max(1, o.threads),
      resourceLimits: { maxOldGenerationSizeMb: 128 },
    });
  }

  ready(): Promise<void> {
    return this.pool.ready();
  }

  async prepare(code: CodeBlob): Promise<Prepared> {
    const pages = Math.max(1, Math.floor(this.o.memoryBytes / WASM_PAGE));
    const bytes = checkModule(code.bytes, pages, this.o.caps);
    // Validation decodes every function without generating code: cheap, and it happens here, so
    // a broken module fails at once; compiling is left to the engine host.
    if (!WebAssembly.validate(bytes)) {
      let why = 'it does not validate';
      try {
        new WebAssembly.Module(bytes);
      } catch (err) {
        why = err instanceof Error ? err.message : String(err);
      }
      throw new BadModuleError(`not a valid WebAssembly module: ${why}`);
    }
    return { key: code.sha256, bytes };
  }

  release(prepared: Prepared): void {
    this.pool.forget(prepared.key);
  }

  async run(prepared: Prepared | null, ctx: RunContext): Promise<RunOutcome> {
    if (!prepared)
      return fail('bad_code', 'runtime wasi needs a function with a WebAssembly module as its code blob');
    const input = await ctx.input.bytes();
    const r = await this.pool.run(
      (id) => ({
        message: {
          type: 'run',
          id,
          input,
          memoryBytes: this.o.memoryBytes,
          outputBytes: ctx.limits.outputBytes,
        },
      }),
      {
        signal: ctx.signal,
        killAfterMs: ctx.limits.wallMs,
        code: prepared,
        onMessage: (m) => {
          const msg = m as WasiThreadMessage;
          if (msg.type === 'log') ctx.log(msg.line);
        },
      },
    );
    switch (r.type) {
      case 'aborted':
        return fail('aborted', 'stopped');
      case 'timeout':
        return fail('timeout', `time limit of ${ctx.limits.timeoutMs} ms exceeded (the module was stopped)`);
      case 'crash':
        return fail('crash', r.message, r.retryable ?? true);
    }
    const reply = r.reply;
    if (reply.ok)
      return {
        ok: true,
        output: { bytes: Buffer.from(reply.output.buffer, reply.output.byteOffset, reply.output.byteLength) },
      };
    return fail(reply.kind, reply.message, false, reply.exitStatus);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
