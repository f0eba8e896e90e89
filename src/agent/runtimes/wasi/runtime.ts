/**
 * `wasi`: the code blob is a WASI preview1 command module; stdin is the input, stdout the output,
 * stderr the job log, exit status ≠ 0 a failure. Sandboxed by construction: no preopened
 * directories, no environment, no sockets; memory bounded by rewriting the module's declared
 * maximum, time bounded by terminating the host thread.
 */
import { ThreadPool } from '../pool.js';
import { fail, type CodeBlob, type RunContext, type RunOutcome, type Runtime } from '../runtime.js';
import { BadModuleError, WASM_PAGE, limitMemory } from './limits.js';
import type { WasiRunMessage, WasiThreadMessage } from './protocol.js';

export interface WasiRuntimeOptions {
  threads: number;
  /** Largest linear memory a module may grow to; written into the module at prepare time. */
  memoryBytes: number;
}

interface Prepared {
  module: WebAssembly.Module;
}

export class WasiRuntime implements Runtime<Prepared> {
  readonly base = 'wasi';
  readonly features = [] as const;
  /** The engine threads (public for diagnostics). */
  readonly pool: ThreadPool<WasiRunMessage, Extract<WasiThreadMessage, { type: 'done' }>>;

  constructor(private readonly o: WasiRuntimeOptions) {
    this.pool = new ThreadPool({
      name: 'WASI host',
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
    const bytes = limitMemory(code.bytes, pages);
    try {
      const module = await WebAssembly.compile(bytes);
      if (WebAssembly.Module.imports(module).some((i) => i.kind === 'memory')) {
        throw new BadModuleError('modules that import their memory are not supported; export it instead');
      }
      return { module };
    } catch (err) {
      if (err instanceof BadModuleError) throw err;
      throw new BadModuleError(
        `not a valid WebAssembly module: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
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
          module: prepared.module,
          input,
          memoryBytes: this.o.memoryBytes,
          outputBytes: ctx.limits.outputBytes,
        },
      }),
      {
        signal: ctx.signal,
        killAfterMs: ctx.limits.wallMs,
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
        return fail('crash', `the WASI host crashed: ${r.message}`, true);
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
