/**
 * A Lua engine thread: one wasmoon module, one fresh Lua state per job (made ahead of time, while
 * the thread is idle, so a job does not wait for it). It talks to the Lua C API directly rather
 * than through wasmoon's JS bridge: strings cross as raw bytes (inputs and outputs are binary
 * safe), and only three tiny C functions are exposed to the sandbox prelude.
 *
 * Limits: memory through the state's allocator (per-state accounting, refused growth becomes a
 * Lua "not enough memory" error); time through a count hook that raises an error once the
 * deadline has passed. The main thread terminates this thread if the hook cannot (a long C call).
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { LuaFactory } from 'wasmoon';
import { LUA_PRELUDE } from './prelude.js';
import type { BatchThreadData } from '../batch-pool.js';
import type { BlobCall, BlobReply, LuaRunMessage, LuaThreadData, LuaThreadMessage } from './protocol.js';

/** The raw C API as the emscripten module exports it (numbers in, numbers out). */
interface RawLua {
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  addFunction(fn: (...args: number[]) => number | void, sig: string): number;
  _malloc(n: number): number;
  _free(p: number): void;
  _realloc(p: number, n: number): number;
  _lua_newstate(alloc: number, ud: number): number;
  _lua_close(L: number): void;
  _lua_setglobal(L: number, name: number): void;
  _lua_settop(L: number, idx: number): void;
  _lua_type(L: number, idx: number): number;
  _lua_toboolean(L: number, idx: number): number;
  _lua_tolstring(L: number, idx: number, len: number): number;
  _lua_pushlstring(L: number, s: number, len: number): number;
  _lua_pushnumber(L: number, n: number): void;
  _lua_pushboolean(L: number, b: number): void;
  _lua_pushnil(L: number): void;
  _lua_pushcclosure(L: number, fn: number, n: number): void;
  _lua_pcallk(L: number, nargs: number, nresults: number, msgh: number, ctx: number, k: number): number;
  _lua_sethook(L: number, fn: number, mask: number, count: number): void;
  _lua_error(L: number): number;
  _luaL_loadbufferx(L: number, buf: number, size: number, name: number, mode: number): number;
  _lua_dump(L: number, writer: number, data: number, strip: number): number;
  _luaL_newstate(): number;
  [open: `_luaopen_${string}`]: (L: number) => number;
}

const LUA_OK = 0;
const LUA_ERRMEM = 4;
const LUA_TSTRING = 4;
const LUA_MASKCOUNT = 8;
/** Instructions between deadline checks: a Date.now() call per ~10k instructions costs nothing. */
const HOOK_COUNT = 10_000;
/** A thread whose wasm heap grew beyond this after a job is replaced (wasm memory never shrinks). */
const RECYCLE_HEAP_BYTES = 256 * 1024 ** 2;
/** Longest text taken from a script (the agent cuts log lines there too). */
const MAX_TEXT = 16_000;
/** Log a job may send in all; the rest is dropped (a flood must not fill the worker's memory). */
const MAX_LOG_BYTES = 4 * 1024 ** 2;

const port = parentPort!;
const { rpc, flag } = workerData as LuaThreadData;
/** The id of the job running now, 0 between jobs: the pool reads it to know whom to blame. */
const running = new Int32Array((workerData as Partial<BatchThreadData>).running ?? new SharedArrayBuffer(4));
const wake = new Int32Array(flag);
const lua = (await new LuaFactory().getLuaModule()).module as unknown as RawLua;

/** Copies bytes into wasm memory, for the duration of `use`. */
function withBytes<T>(bytes: Uint8Array, use: (ptr: number) => T): T {
  const ptr = lua._malloc(Math.max(1, bytes.length));
  lua.HEAPU8.set(bytes, ptr);
  try {
    return use(ptr);
  } finally {
    lua._free(ptr);
  }
}
const cstr = (s: string) => {
  const b = Buffer.from(`${s}\0`, 'utf8');
  const p = lua._malloc(b.length);
  lua.HEAPU8.set(b, p);
  return p;
};
const lenSlot = lua._malloc(4);
/** The string at `idx` as bytes (a copy of at most `max`), or null when it is not a string. */
function bytesAt(L: number, idx: number, max = Infinity): Uint8Array | null {
  if (lua._lua_type(L, idx) !== LUA_TSTRING) return null;
  const p = lua._lua_tolstring(L, idx, lenSlot);
  const n = lua.HEAPU32[lenSlot >>> 2]!;
  return lua.HEAPU8.slice(p, p + Math.min(n, max));
}
/**
 * The string at `idx` as text, cut at `max` bytes. Texts (log lines, progress, error messages)
 * become JS strings on this thread's small heap and then the worker's: a script's 500 MB string
 * must not, or V8 runs out of heap and may take the whole process with it.
 */
const textAt = (L: number, idx: number, max = MAX_TEXT) =>
  Buffer.from(bytesAt(L, idx, max) ?? new Uint8Array()).toString('utf8');
const pushBytes = (L: number, b: Uint8Array) => withBytes(b, (p) => lua._lua_pushlstring(L, p, b.length));
const pushText = (L: number, s: string) => pushBytes(L, Buffer.from(s, 'utf8'));

const NAMES = {
  prelude: cstr('=jobhub'),
  mode: cstr('t'),
  binary: cstr('b'),
  libs: ['base:_G', 'coroutine', 'table', 'string', 'utf8', 'math', 'os', 'debug'].map((spec) => {
    const [lib, global = lib] = spec.split(':') as [string, string?];
    return { open: `_luaopen_${lib}` as const, global: cstr(global) };
  }),
};
/**
 * The prelude compiled once, to bytecode: loading it per state is three times cheaper than parsing
 * it. Binary chunks are refused to scripts; this one is ours, made by this very VM.
 */
function compilePrelude(): Uint8Array {
  const text = Buffer.from(LUA_PRELUDE, 'utf8');
  const chunks: Uint8Array[] = [];
  const writer = lua.addFunction((_L, p, size) => {
    chunks.push(lua.HEAPU8.slice(p, p + size));
    return 0;
  }, 'iiiii');
  const L = lua._luaL_newstate();
  try {
    withBytes(text, (p) => {
      if (lua._luaL_loadbufferx(L, p, text.length, NAMES.prelude, NAMES.mode) !== LUA_OK) {
        throw new Error(`the sandbox prelude does not compile: ${textAt(L, -1)}`);
      }
    });
    lua._lua_dump(L, writer, 0, 0);
  } finally {
    lua._lua_close(L);
  }
  return Buffer.concat(chunks);
}
const prelude = compilePrelude();
const preludePtr = lua._malloc(prelude.length);
lua.HEAPU8.set(prelude, preludePtr);

// Memory accounting per state (the allocator's ud), so the spare state does not count.
const accounts = new Map<number, { used: number; max: number }>();
const allocator = lua.addFunction((ud, ptr, osize, nsize) => {
  const a = accounts.get(ud)!;
  nsize >>>= 0;
  if (nsize === 0) {
    if (ptr) {
      a.used -= osize >>> 0;
      lua._free(ptr);
    }
    return 0;
  }
  // With ptr NULL, osize encodes the kind of object, not a size.
  const delta = ptr ? nsize - (osize >>> 0) : nsize;
  if (delta > 0 && a.used + delta > a.max) return 0;
  const p = lua._realloc(ptr, nsize);
  if (p) a.used += delta;
  return p;
}, 'iiiii');

let deadline = Infinity;
const hook = lua.addFunction((L) => {
  if (Date.now() <= deadline) return;
  // From now on every instruction raises: a script cannot swallow the timeout with pcall, since
  // the instruction after the pcall raises again, outside it.
  lua._lua_sethook(L, hook, LUA_MASKCOUNT, 1);
  pushText(L, 'jobhub: time limit exceeded');
  lua._lua_error(L);
}, 'vii');

let current: LuaRunMessage | null = null;
let logged = 0;
const emit = lua.addFunction((L) => {
  if (!current) return 0;
  const kind = textAt(L, 1);
  if (kind === 'log') {
    if (logged > MAX_LOG_BYTES) return 0;
    let line = textAt(L, 2);
    logged += line.length;
    if (logged > MAX_LOG_BYTES)
      line = `[jobhub: the job logged more than ${MAX_LOG_BYTES} bytes; the rest is dropped]`;
    post({ type: 'log', id: current.id, line });
    return 0;
  }
  const text = textAt(L, 2);
  post({ type: 'progress', id: current.id, value: kind === 'progress#' ? Number(text) : text });
  return 0;
}, 'ii');

/** A blocking call to the main thread (the script is synchronous Lua). */
function blobCall(call: BlobCall): BlobReply {
  Atomics.store(wake, 0, 0);
  rpc.postMessage(call);
  const left = Math.max(1, deadline - Date.now());
  if (Atomics.wait(wake, 0, 0, left) === 'timed-out')
    return { ok: false, error: 'jobhub: time limit exceeded' };
  const reply = receiveMessageOnPort(rpc)?.message as BlobReply | undefined;
  return reply ?? { ok: false, error: 'no reply from the agent' };
}
const blobget = lua.addFunction((L) => {
  const r = blobCall({ op: 'get', id: textAt(L, 1) });
  if (r.ok && r.data) return (pushBytes(L, r.data), 1);
  return (lua._lua_pushnil(L), pushText(L, r.ok ? 'no data' : r.error), 2);
}, 'ii');
const blobput = lua.addFunction((L) => {
  const r = blobCall({ op: 'put', data: bytesAt(L, 1) ?? new Uint8Array() });
  if (r.ok && r.id) return (pushText(L, r.id), 1);
  return (lua._lua_pushnil(L), pushText(L, r.ok ? 'no id' : r.error), 2);
}, 'ii');

interface State {
  L: number;
  ud: number;
}
let nextUd = 1;
/** A fresh state with the libraries open and the prelude loaded (on the stack), not yet run. */
function freshState(): State {
  const ud = nextUd++;
  accounts.set(ud, { used: 0, max: Infinity });
  const L = lua._lua_newstate(allocator, ud);
  if (!L) throw new Error('could not create a Lua state');
  for (const lib of NAMES.libs) {
    lua[lib.open]!(L);
    lua._lua_setglobal(L, lib.global);
  }
  if (lua._luaL_loadbufferx(L, preludePtr, prelude.length, NAMES.prelude, NAMES.binary) !== LUA_OK) {
    throw new Error(`the sandbox prelude does not load: ${textAt(L, -1)}`);
  }
  return { L, ud };
}
function closeState(s: State): void {
  lua._lua_close(s.L);
  accounts.delete(s.ud);
}

let spare: State | null = null;
const post = (m: LuaThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

function run(job: LuaRunMessage): LuaThreadMessage {
  const s = spare ?? freshState();
  spare = null;
  const { L } = s;
  const account = accounts.get(s.ud)!;
  logged = 0;
  try {
    pushBytes(L, job.input);
    lua._lua_pushnumber(L, job.outputBytes);
    lua._lua_pushboolean(L, job.pcli ? 1 : 0);
    pushBytes(L, job.script);
    lua._lua_pushcclosure(L, emit, 0);
    lua._lua_pushcclosure(L, blobget, 0);
    lua._lua_pushcclosure(L, blobput, 0);
    // Counted from here: the state's own baseline is not the job's.
    account.max = account.used + job.memoryBytes;
    // Counted from the hand-over when the pool says so: time spent waiting behind other jobs of
    // the batch is the job's, as the pool's hard limit counts it.
    deadline = Math.min(Date.now() + job.wallMs, job.deadlineAt ?? Infinity);
    lua._lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_COUNT);
    const status = lua._lua_pcallk(L, 7, 2, 0, 0, 0);
    const late = Date.now() > deadline;
    if (late)
      return {
        type: 'done',
        id: job.id,
        ok: false,
        kind: 'timeout',
        message: `time limit of ${job.timeoutMs} ms exceeded`,
      };
    if (status === LUA_ERRMEM) return memoryFailure(job);
    if (status !== LUA_OK)
      return {
        type: 'done',
        id: job.id,
        ok: false,
        kind: 'error',
        message: tidy(textAt(L, -1)) || `Lua error (status ${status})`,
      };
    if (!lua._lua_toboolean(L, -2)) {
      const message = tidy(textAt(L, -1));
      if (message.startsWith('not enough memory')) return memoryFailure(job);
      const kind = message.startsWith('jobhub: output exceeds') ? 'output_limit' : 'error';
      return { type: 'done', id: job.id, ok: false, kind, message };
    }
    return { type: 'done', id: job.id, ok: true, output: bytesAt(L, -1) ?? new Uint8Array() };
  } finally {
    // The job's limits hold while its state closes: finalizers (__gc) a script left behind run
    // now, and must neither allocate without bound nor loop for ever.
    closeState(s);
    deadline = Infinity;
  }
}
/** The error and the script's own frames; the sandbox's frames only say how we called it. */
function tidy(message: string): string {
  const [first = '', ...rest] = message.split('\n');
  const frames = rest
    .map((l) => l.trim())
    .filter((l) => l.startsWith('script:'))
    .map((l) => l.replace("in upvalue 'chunk'", 'in the main chunk'));
  return frames.length > 1 ? `${first}\n  at ${frames.join('\n  at ')}` : first;
}
const memoryFailure = (job: LuaRunMessage): LuaThreadMessage => ({
  type: 'done',
  id: job.id,
  ok: false,
  kind: 'memory',
  message: `memory limit of ${job.memoryBytes} bytes exceeded (not enough memory)`,
});

/** Answers gathered while a batch runs; sent together (one message) at its end, or sooner. */
let replies: LuaThreadMessage[] = [];
let outputs: ArrayBuffer[] = [];
let repliesSince = 0;
/** Answers wait at most this long while later jobs of the batch run. */
const REPLY_HOLD_MS = 2;
function sendReplies(): void {
  if (replies.length === 0) return;
  post({ type: 'batch', replies } as unknown as LuaThreadMessage, outputs);
  replies = [];
  outputs = [];
}

/** Runs one job; false when the thread must stop taking jobs (its wasm heap grew too large). */
function runOne(job: LuaRunMessage): boolean {
  current = job;
  Atomics.store(running, 0, job.id);
  const reply = run(job);
  Atomics.store(running, 0, 0);
  current = null;
  const retire = lua.HEAPU8.length > RECYCLE_HEAP_BYTES;
  if (retire && reply.type === 'done') reply.retire = true;
  if (replies.length === 0) repliesSince = Date.now();
  replies.push(reply);
  if (reply.type === 'done' && reply.ok) outputs.push(reply.output.buffer as ArrayBuffer);
  return !retire;
}

port.on('message', (m: LuaRunMessage | { type: 'batch'; jobs: LuaRunMessage[] }) => {
  const jobs = m.type === 'batch' ? m.jobs : [m];
  for (const job of jobs) {
    if (!runOne(job)) {
      sendReplies();
      process.exit(0);
    }
    if (Date.now() - repliesSince >= REPLY_HOLD_MS) sendReplies();
  }
  sendReplies();
  // Make the next job's state now, while idle, not when the job arrives.
  setImmediate(() => {
    spare ??= freshState();
  });
});
spare = freshState();
post({ type: 'ready' });
