/**
 * `dlabLua54`: Lua 5.4 scripts (wasmoon) on a pool of engine threads, a fresh Lua state per job.
 * The script reads the input with `io.read` and writes the output with `io.write`/`print`, or
 * returns a function that is called with the input and whose return value is the output. With
 * the `+pcli` feature the script gets a `pleiades` module (`get(id)`, `put(data) -> id`) whose
 * calls the agent makes for the job, on the job's lease.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { parseRuntime } from '../../../core/runtime.js';
import { availableParallelism } from 'node:os';
import { BatchPool } from '../batch-pool.js';
import { fail, type CodeBlob, type RunContext, type RunOutcome, type Runtime } from '../runtime.js';
import type { BlobAccess } from '../runtime.js';
import type { BlobCall, BlobReply, LuaRunMessage, LuaThreadMessage } from './protocol.js';

export interface LuaRuntimeOptions {
  /** Engine threads, i.e. Lua jobs that run at once (the agent's concurrency). */
  threads: number;
  /** The base name; Pleiades calls it `dlabLua54`. */
  base?: string;
  /** Features to offer (default all: `pcli`). */
  features?: string[];
  /** Most engine threads (default: the machine's cores, at least 2); jobs beyond wait their turn. */
  maxThreads?: number;
}

export const LUA_FEATURES = ['pcli'];

/** Grace after the job's timeout before the thread is terminated (the count hook normally wins). */
const KILL_GRACE_MS = 100;

interface Prepared {
  script: Uint8Array;
}

export class LuaRuntime implements Runtime<Prepared> {
  readonly base: string;
  readonly features: readonly string[];
  /** The engine threads (public for diagnostics). */
  readonly pool: BatchPool<LuaRunMessage, Extract<LuaThreadMessage, { type: 'done' }>>;

  constructor(o: LuaRuntimeOptions) {
    this.base = o.base ?? 'dlabLua54';
    this.features = o.features ?? LUA_FEATURES;
    // Lua jobs are CPU work: more threads than cores only add hand-overs and wake-ups. Each
    // thread holds its share of the jobs that run at once and runs them one after another.
    const jobs = Math.max(1, o.threads);
    const threads = Math.min(jobs, o.maxThreads ?? Math.max(2, availableParallelism()));
    this.pool = new BatchPool({
      perThread: Math.ceil(jobs / threads),
      name: 'Lua engine',
      entry: new URL('./thread.js', import.meta.url),
      size: threads,
      // The Lua heap is wasm memory (limited per job); this bounds the JS side of the thread.
      resourceLimits: { maxOldGenerationSizeMb: 256 },
      setup: () => blobChannel(),
    });
  }

  /** Resolves once every engine thread is up. */
  ready(): Promise<void> {
    return this.pool.ready();
  }

  async prepare(code: CodeBlob): Promise<Prepared> {
    return { script: new Uint8Array(code.bytes) };
  }

  async run(prepared: Prepared | null, ctx: RunContext): Promise<RunOutcome> {
    if (!prepared)
      return fail('bad_code', `runtime ${this.base} needs a function with a Lua script as its code blob`);
    const input = await ctx.input.bytes();
    const pcli = this.features.includes('pcli') && parseRuntime(ctx.runtime).features.includes('pcli');
    const r = await this.pool.run(
      (id) => ({
        message: {
          type: 'run',
          id,
          script: prepared.script,
          // An exact-size copy: a pooled Buffer would clone its whole 8 KiB slab.
          input: new Uint8Array(input),
          timeoutMs: ctx.limits.timeoutMs,
          wallMs: ctx.limits.wallMs,
          deadlineAt: Date.now() + ctx.limits.wallMs,
          memoryBytes: ctx.limits.memoryBytes,
          outputBytes: ctx.limits.outputBytes,
          pcli,
        },
      }),
      {
        signal: ctx.signal,
        killAfterMs: ctx.limits.wallMs + KILL_GRACE_MS,
        context: ctx.blobs,
        onMessage: (m) => {
          const msg = m as LuaThreadMessage;
          if (msg.type === 'log') ctx.log(msg.line);
          else if (msg.type === 'progress') ctx.progress(msg.value);
        },
      },
    );
    switch (r.type) {
      case 'aborted':
        return fail('aborted', 'stopped');
      case 'timeout':
        return fail(
          'timeout',
          `time limit of ${ctx.limits.timeoutMs} ms exceeded (the Lua engine thread was stopped)`,
        );
      case 'crash':
        return fail('crash', `the Lua engine crashed: ${r.message}`, true);
    }
    const reply = r.reply;
    if (reply.ok)
      return {
        ok: true,
        output: { bytes: Buffer.from(reply.output.buffer, reply.output.byteOffset, reply.output.byteLength) },
      };
    return fail(reply.kind, reply.kind === 'error' ? `Lua error: ${reply.message}` : reply.message);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/**
 * The side channel for `pleiades.get/put`: the thread posts a call and blocks on a shared flag;
 * we make the call for the thread's current job and wake it.
 */
function blobChannel() {
  const { port1, port2 } = new MessageChannel();
  const flag = new SharedArrayBuffer(4);
  const wake = new Int32Array(flag);
  const answer = (reply: BlobReply) => {
    port1.postMessage(reply, reply.ok && reply.data ? [reply.data.buffer as ArrayBuffer] : []);
    Atomics.store(wake, 0, 1);
    Atomics.notify(wake, 0);
  };
  return {
    data: { rpc: port2, flag },
    transfer: [port2 as MessagePort],
    attach(t: { context(): unknown }) {
      port1.on('message', (call: BlobCall) => {
        const blobs = t.context() as BlobAccess | undefined;
        if (!blobs) return answer({ ok: false, error: 'no job is running' });
        const op =
          call.op === 'get'
            ? blobs.get(call.id).then((b) => ({ ok: true as const, data: new Uint8Array(b) }))
            : blobs.put(Buffer.from(call.data)).then((id) => ({ ok: true as const, id }));
        op.then(answer, (err: unknown) =>
          answer({ ok: false, error: err instanceof Error ? err.message : String(err) }),
        );
      });
    },
    detach() {
      port1.close();
    },
  };
}
