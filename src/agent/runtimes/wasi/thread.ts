/**
 * A WASI host thread: instantiates the job's module (compiled once by the runtime) with node:wasi
 * and runs `_start`. stdin, stdout and stderr are served in memory by overriding fd_read/fd_write
 * for fds 0-2; node:wasi itself only ever sees /dev/null, no preopened directories (so no file
 * system at all) and an empty environment.
 */
import { openSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { parentPort } from 'node:worker_threads';
import { WASI } from 'node:wasi';
import type { WasiRunMessage, WasiThreadMessage } from './protocol.js';

const port = parentPort!;
const devNull = openSync('/dev/null', 'r+');
const ERRNO_BADF = 8;
/** Longest log line (the agent cuts there too): a module writing stderr without newlines holds no more. */
const MAX_LINE = 16_000;
/** Log a job may send in all; the rest is dropped (a flood must not fill the worker's memory). */
const MAX_LOG_BYTES = 4 * 1024 ** 2;

/** Compiled modules by key; V8 shares the machine code between this process's threads. */
const compiled = new Map<string, WebAssembly.Module>();
function compile(code: WasiRunMessage['code']): WebAssembly.Module {
  let module = compiled.get(code.key);
  if (!module) {
    module = new WebAssembly.Module(code.bytes);
    if (compiled.size >= 16) compiled.delete(compiled.keys().next().value!);
  }
  compiled.delete(code.key);
  compiled.set(code.key, module);
  return module;
}

type Fn = (...args: number[]) => number;

class OutputLimit extends Error {}

function run(job: WasiRunMessage): WasiThreadMessage {
  const wasi = new WASI({
    version: 'preview1',
    args: ['job'],
    env: {},
    preopens: {},
    returnOnExit: true,
    stdin: devNull,
    stdout: devNull,
    stderr: devNull,
  });
  const base = (wasi.getImportObject() as { wasi_snapshot_preview1: Record<string, Fn> })
    .wasi_snapshot_preview1;
  // Known only once instantiated; the fd functions below run after that.
  let memory: WebAssembly.Memory | undefined = undefined;
  const input = job.input;
  let pos = 0;
  const out: Buffer[] = [];
  let outSize = 0;
  let errLine = '';
  let logged = 0;
  const decoder = new StringDecoder('utf8');
  const view = () => new DataView(memory!.buffer);

  const fd_read: Fn = (fd, iovs, iovsLen, nreadPtr) => {
    if (fd !== 0) return base.fd_read!(fd, iovs, iovsLen, nreadPtr);
    const dv = view();
    const bytes = new Uint8Array(memory!.buffer);
    let n = 0;
    for (let i = 0; i < iovsLen && pos < input.length; i++) {
      const buf = dv.getUint32(iovs + i * 8, true);
      const len = dv.getUint32(iovs + i * 8 + 4, true);
      const chunk = input.subarray(pos, pos + len);
      bytes.set(chunk, buf);
      pos += chunk.length;
      n += chunk.length;
    }
    dv.setUint32(nreadPtr, n, true);
    return 0;
  };
  const fd_write: Fn = (fd, iovs, iovsLen, nwrittenPtr) => {
    if (fd !== 1 && fd !== 2) return fd === 0 ? ERRNO_BADF : base.fd_write!(fd, iovs, iovsLen, nwrittenPtr);
    const dv = view();
    let n = 0;
    for (let i = 0; i < iovsLen; i++) {
      const buf = dv.getUint32(iovs + i * 8, true);
      const len = dv.getUint32(iovs + i * 8 + 4, true);
      const chunk = Buffer.from(memory!.buffer, buf, len);
      n += len;
      if (fd === 1) {
        outSize += len;
        // Throwing from an import traps the module: it stops at once, whatever it does next.
        if (outSize > job.outputBytes) throw new OutputLimit();
        out.push(Buffer.from(chunk));
      } else {
        // In slices: one huge write must not become one huge string on this thread's heap.
        for (let o = 0; o < len && logged <= MAX_LOG_BYTES; o += 65_536)
          logErr(decoder.write(chunk.subarray(o, o + 65_536)));
      }
    }
    dv.setUint32(nwrittenPtr, n, true);
    return 0;
  };
  const logLine = (line: string) => {
    if (logged > MAX_LOG_BYTES) return;
    logged += line.length;
    if (logged > MAX_LOG_BYTES)
      line = `[jobhub: the job logged more than ${MAX_LOG_BYTES} bytes; the rest is dropped]`;
    port.postMessage({ type: 'log', id: job.id, line } satisfies WasiThreadMessage);
  };
  const logErr = (text: string) => {
    const lines = (errLine + text).split('\n');
    errLine = lines.pop() ?? '';
    for (const line of lines) logLine(line.length > MAX_LINE ? line.slice(0, MAX_LINE) : line);
    while (errLine.length > MAX_LINE) {
      logLine(errLine.slice(0, MAX_LINE));
      errLine = errLine.slice(MAX_LINE);
    }
  };

  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(compile(job.code), {
      wasi_snapshot_preview1: { ...base, fd_read, fd_write },
    });
  } catch (err) {
    return {
      type: 'done',
      id: job.id,
      ok: false,
      kind: 'bad_code',
      message: `cannot instantiate the module: ${message(err)}`,
    };
  }
  memory = instance.exports.memory as WebAssembly.Memory | undefined;
  if (!(memory instanceof WebAssembly.Memory) || typeof instance.exports._start !== 'function') {
    return {
      type: 'done',
      id: job.id,
      ok: false,
      kind: 'bad_code',
      message: 'a WASI command module must export "memory" and "_start"',
    };
  }
  let code: number;
  try {
    code = wasi.start(instance);
  } catch (err) {
    if (errLine) logErr('\n');
    if (err instanceof OutputLimit) {
      return {
        type: 'done',
        id: job.id,
        ok: false,
        kind: 'output_limit',
        message: `output exceeds the limit of ${job.outputBytes} bytes`,
      };
    }
    const what = `wasm trap: ${message(err)}`;
    // Growth beyond the limit is refused, and modules usually trap soon after: call that memory.
    const used = memory.buffer.byteLength;
    if (used >= job.memoryBytes * 0.9) {
      const detail = `${used} of the ${job.memoryBytes} bytes memory limit in use: probably out of memory`;
      return { type: 'done', id: job.id, ok: false, kind: 'memory', message: `${what} (${detail})` };
    }
    return { type: 'done', id: job.id, ok: false, kind: 'error', message: what };
  }
  if (errLine) logErr('\n');
  if (code !== 0) {
    return {
      type: 'done',
      id: job.id,
      ok: false,
      kind: 'exit',
      exitStatus: code,
      message: `the module exited with status ${code}`,
    };
  }
  // A fresh buffer of its own (not Node's shared pool), so it can be transferred.
  const output = new Uint8Array(outSize);
  let at = 0;
  for (const c of out) {
    output.set(c, at);
    at += c.length;
  }
  return { type: 'done', id: job.id, ok: true, output };
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

port.on('message', (job: WasiRunMessage) => {
  const reply = run(job);
  const transfer =
    reply.type === 'done' && reply.ok && reply.output.byteLength ? [reply.output.buffer as ArrayBuffer] : [];
  port.postMessage(reply, transfer);
});
port.postMessage({ type: 'ready' } satisfies WasiThreadMessage);
