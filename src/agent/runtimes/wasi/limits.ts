/**
 * Memory limits for wasm modules. A thread's resourceLimits do not cover wasm linear memory, and
 * most modules declare no maximum, so we rewrite the module's memory section to declare one: the
 * engine then refuses `memory.grow` beyond the limit (the module sees an allocation failure)
 * instead of the host running out of memory.
 */
import { BadCodeError } from '../runtime.js';

export const WASM_PAGE = 65_536;

/** A code blob we cannot run; the job fails without retry. */
export class BadModuleError extends BadCodeError {}

function readU32(b: Uint8Array, at: number): [value: number, next: number] {
  let result = 0;
  let shift = 0;
  for (let i = at; i < b.length && shift < 35; i++) {
    const byte = b[i]!;
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [result, i + 1];
  }
  throw new BadModuleError('not a WebAssembly module (bad LEB128 number)');
}

export function u32(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/**
 * Returns the module with every defined memory's maximum lowered to `maxPages` (kept when
 * lower). Throws BadModuleError when the module is not wasm, uses 64-bit or
 * shared memory, or needs more initial memory than allowed.
 */
export function limitMemory(module: Uint8Array, maxPages: number): Uint8Array {
  if (
    module.length < 8 ||
    module[0] !== 0 ||
    module[1] !== 0x61 ||
    module[2] !== 0x73 ||
    module[3] !== 0x6d
  ) {
    throw new BadModuleError('the code blob is not a WebAssembly module (no \\0asm header)');
  }
  const parts: Uint8Array[] = [module.subarray(0, 8)];
  let at = 8;
  while (at < module.length) {
    const id = module[at]!;
    const [size, body] = readU32(module, at + 1);
    const end = body + size;
    if (end > module.length) throw new BadModuleError('truncated WebAssembly module');
    if (id === 5) parts.push(section(5, memorySection(module.subarray(body, end), maxPages)));
    else parts.push(module.subarray(at, end));
    at = end;
  }
  return Buffer.concat(parts);
}

function memorySection(body: Uint8Array, maxPages: number): Uint8Array {
  let [count, at] = readU32(body, 0);
  const out = [...u32(count)];
  while (count-- > 0) {
    const flags = body[at++]!;
    if (flags > 1) throw new BadModuleError('shared or 64-bit wasm memories are not supported');
    let min: number;
    [min, at] = readU32(body, at);
    let max = maxPages;
    if (flags === 1) {
      let declared: number;
      [declared, at] = readU32(body, at);
      max = Math.min(declared, maxPages);
    }
    if (min > max) {
      throw new BadModuleError(
        `the module needs ${min * WASM_PAGE} bytes of memory at start; the limit is ${maxPages * WASM_PAGE}`,
      );
    }
    out.push(1, ...u32(min), ...u32(max));
  }
  return Uint8Array.from(out);
}

function section(id: number, body: Uint8Array): Uint8Array {
  return Buffer.concat([Uint8Array.from([id, ...u32(body.length)]), body]);
}
