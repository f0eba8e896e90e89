/**
 * The engine host: a child process of the worker that owns a pool of engine threads (see
 * HostedPool, its other half in the worker). Some engine failures end the whole process, not just
 * the thread that had them — V8 aborts on a fatal out-of-memory inside an allocation it cannot
 * fail, e.g. while building a huge wasm table. Here such an abort takes down this host and the
 * jobs in it; the worker fails those jobs, starts a new host and goes on.
 *
 * Protocol (advanced serialization, so byte arrays cross as bytes): the worker sends `run` (with
 * the code blob the first time this host sees it), `abort` and `forget`; the host answers
 * `ready`, `message` (anything a thread sends about a job before its reply) and `result`.
 */
import type { ResourceLimits } from 'node:worker_threads';
import { ThreadPool, type ThreadResult } from './pool.js';

export interface HostConfig {
  name: string;
  /** The engine thread's compiled entry (URL href). */
  entry: string;
  size: number;
  resourceLimits?: ResourceLimits;
}

/** A code blob kept by the host, handed to threads as `message.code` (shared, not copied). */
export interface HostedCode {
  key: string;
  bytes: Uint8Array;
}

export type HostRequest =
  | {
      type: 'run';
      id: number;
      message: Record<string, unknown>;
      killAfterMs: number;
      /** The code's key, and its bytes when this host has not seen it yet. */
      code?: { key: string; bytes?: Uint8Array };
    }
  | { type: 'abort'; id: number }
  | { type: 'forget'; key: string };

export type HostReply =
  | { type: 'ready' }
  | { type: 'message'; id: number; message: unknown }
  | { type: 'result'; id: number; result: ThreadResult<unknown> };

function main(): void {
  const config = JSON.parse(process.argv[2] ?? '{}') as HostConfig;
  const send = (m: HostReply) => process.send!(m);
  const pool = new ThreadPool<{ id: number }, { type: string; id: number }>({
    name: config.name,
    entry: new URL(config.entry),
    size: config.size,
    resourceLimits: config.resourceLimits,
  });
  const codes = new Map<string, Uint8Array>();
  const running = new Map<number, AbortController>();

  process.on('message', (m: HostRequest) => {
    if (m.type === 'abort') return running.get(m.id)?.abort();
    if (m.type === 'forget') return void codes.delete(m.key);
    let code: HostedCode | undefined;
    if (m.code) {
      if (m.code.bytes) {
        // Shared memory: every thread that gets this code sees the same bytes, without a copy.
        const shared = new Uint8Array(new SharedArrayBuffer(m.code.bytes.length));
        shared.set(m.code.bytes);
        codes.set(m.code.key, shared);
      }
      const bytes = codes.get(m.code.key);
      if (!bytes) {
        const message = `the engine host has no code ${m.code.key} (internal error)`;
        return send({ type: 'result', id: m.id, result: { type: 'crash', message } });
      }
      code = { key: m.code.key, bytes };
    }
    const ac = new AbortController();
    running.set(m.id, ac);
    void pool
      .run((id) => ({ message: { ...m.message, id, ...(code ? { code } : {}) } }), {
        signal: ac.signal,
        killAfterMs: m.killAfterMs,
        onMessage: (message) => send({ type: 'message', id: m.id, message }),
      })
      .then((result) => {
        running.delete(m.id);
        if (!ac.signal.aborted) send({ type: 'result', id: m.id, result });
      });
  });
  // The worker is gone (or closed us): nothing here may outlive it.
  process.on('disconnect', () => process.exit(0));
  void pool.ready().then(() => send({ type: 'ready' }));
}

if (process.send) main();
