/** Messages between the Lua runtime and its engine threads. */
import type { MessagePort } from 'node:worker_threads';

export interface LuaRunMessage {
  type: 'run';
  id: number;
  script: Uint8Array;
  input: Uint8Array;
  /** For messages. */
  timeoutMs: number;
  /** Enforced. */
  wallMs: number;
  /** Epoch ms the job must end by, counted from the hand-over (jobs of a batch wait their turn). */
  deadlineAt?: number;
  memoryBytes: number;
  outputBytes: number;
  /** Offer the `pleiades` blob module (runtime feature `+pcli`). */
  pcli: boolean;
}

export type LuaFailureKind = 'error' | 'timeout' | 'memory' | 'output_limit';

export type LuaThreadMessage =
  | { type: 'ready' }
  | { type: 'log'; id: number; line: string }
  | { type: 'progress'; id: number; value: number | string }
  | { type: 'done'; id: number; ok: true; output: Uint8Array; retire?: boolean }
  | { type: 'done'; id: number; ok: false; kind: LuaFailureKind; message: string; retire?: boolean };

/** A blob call from a `+pcli` script; answered on the RPC port, then the thread is woken. */
export type BlobCall = { op: 'get'; id: string } | { op: 'put'; data: Uint8Array };
export type BlobReply = { ok: true; data?: Uint8Array; id?: string } | { ok: false; error: string };

/** What every engine thread gets at start. */
export interface LuaThreadData {
  rpc: MessagePort;
  /** Int32 flag the thread waits on (Atomics.wait) while the main thread does a blob call. */
  flag: SharedArrayBuffer;
}
