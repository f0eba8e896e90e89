/**
 * What a wasm module may declare, checked before the engine sees it. The engine allocates what a
 * module declares when it instantiates it, and some of that lives on the thread's JS heap or is
 * reported to V8 as external memory: a 59-byte module declaring a funcref table of 10 million
 * entries makes V8 abort the whole process ("Reached heap limit"), not just the thread. So we
 * walk the module's sections ourselves and refuse, with a clear message, anything above the caps
 * below; and we rewrite the maximum of every memory and table, so that `memory.grow` and
 * `table.grow` are refused by the engine (the module sees -1) instead of growing without end.
 */
import { BadCodeError } from '../runtime.js';

export const WASM_PAGE = 65_536;

/** A code blob we cannot run; the job fails without retry. */
export class BadModuleError extends BadCodeError {}

/**
 * Caps. Real WASI programs (clang, rustc, TinyGo, even CPython) stay far below every one of them;
 * each is low enough that the engine's own bookkeeping for it stays a few tens of MiB.
 */
export const MODULE_CAPS = {
  /** The module's size: compiled code is several times larger than this. */
  bytes: 64 * 1024 ** 2,
  /** Table entries of all tables together, at start and after any `table.grow`. */
  tableEntries: 1_000_000,
  tables: 100,
  memories: 1,
  types: 100_000,
  imports: 10_000,
  functions: 200_000,
  globals: 100_000,
  exports: 100_000,
  /** Element segments, and the elements in all of them together. */
  elementSegments: 100_000,
  elements: 1_000_000,
  dataSegments: 100_000,
  tags: 10_000,
} as const;

type Caps = { [K in keyof typeof MODULE_CAPS]: number };

/** A cursor over a section's bytes; every read checks the bounds. */
class Reader {
  constructor(
    readonly b: Uint8Array,
    public at = 0,
  ) {}
  byte(): number {
    if (this.at >= this.b.length) throw new BadModuleError('truncated WebAssembly module');
    return this.b[this.at++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift >= 35) throw new BadModuleError('not a WebAssembly module (bad LEB128 number)');
    }
  }
  /** A signed LEB128 number we only skip (i32/i64 constants). */
  skipLeb(): void {
    for (let i = 0; i < 10; i++) if ((this.byte() & 0x80) === 0) return;
    throw new BadModuleError('not a WebAssembly module (bad LEB128 number)');
  }
  skip(n: number): void {
    if (this.at + n > this.b.length) throw new BadModuleError('truncated WebAssembly module');
    this.at += n;
  }
  name(): void {
    this.skip(this.u32());
  }
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

function over(what: string, n: number, cap: number): never {
  throw new BadModuleError(`the module declares ${n} ${what}; at most ${cap} are allowed`);
}

function count(r: Reader, what: string, cap: number): number {
  const n = r.u32();
  if (n > cap) over(what, n, cap);
  return n;
}

/**
 * Checks the module against the caps and returns it with every memory's maximum lowered to
 * `maxPages` and every table's maximum lowered so that all tables together stay within the table
 * entry cap. Throws BadModuleError (a clear message, no retry) for anything else.
 */
export function checkModule(module: Uint8Array, maxPages: number, caps: Caps = MODULE_CAPS): Uint8Array {
  if (
    module.length < 8 ||
    module[0] !== 0 ||
    module[1] !== 0x61 ||
    module[2] !== 0x73 ||
    module[3] !== 0x6d
  ) {
    throw new BadModuleError('the code blob is not a WebAssembly module (no \\0asm header)');
  }
  if (module.length > caps.bytes)
    throw new BadModuleError(`the module is ${module.length} bytes; at most ${caps.bytes} are allowed`);
  const parts: Uint8Array[] = [module.subarray(0, 8)];
  const top = new Reader(module, 8);
  let functions = 0;
  while (top.at < module.length) {
    const start = top.at;
    const id = top.byte();
    const size = top.u32();
    const body = top.at;
    top.skip(size);
    const r = new Reader(module.subarray(body, top.at));
    switch (id) {
      case 0: // custom (names, debug info): never read by the engine at instantiation
      case 8: // start
      case 10: // code: one body per function, counted by the function section
      case 12: // data count
        break;
      case 1:
        count(r, 'types', caps.types);
        break;
      case 2:
        functions += imports(r, caps);
        break;
      case 3:
        functions += count(r, 'functions', caps.functions);
        if (functions > caps.functions) over('functions (with imports)', functions, caps.functions);
        break;
      case 4:
        parts.push(section(4, tableSection(r, caps)));
        continue;
      case 5:
        parts.push(section(5, memorySection(r, maxPages, caps)));
        continue;
      case 6:
        count(r, 'globals', caps.globals);
        break;
      case 7:
        count(r, 'exports', caps.exports);
        break;
      case 9:
        elementSection(r, caps);
        break;
      case 11:
        count(r, 'data segments', caps.dataSegments);
        break;
      case 13:
        count(r, 'exception tags', caps.tags);
        break;
      default:
        throw new BadModuleError(`the module has a section of unknown id ${id}`);
    }
    parts.push(module.subarray(start, top.at));
  }
  return Buffer.concat(parts);
}

/** The former name: memories only was all it checked. */
export const limitMemory = checkModule;

/** Imports: counted; memories and tables refused (WASI provides none). Returns the function count. */
function imports(r: Reader, caps: Caps): number {
  const n = count(r, 'imports', caps.imports);
  let fns = 0;
  for (let i = 0; i < n; i++) {
    r.name();
    r.name();
    const kind = r.byte();
    if (kind === 0) {
      r.u32();
      fns++;
    } else if (kind === 1) {
      throw new BadModuleError('modules that import a table are not supported; define it instead');
    } else if (kind === 2) {
      throw new BadModuleError('modules that import their memory are not supported; export it instead');
    } else if (kind === 3) {
      r.byte();
      r.byte();
    } else if (kind === 4) {
      r.byte();
      r.u32();
    } else throw new BadModuleError(`the module has an import of unknown kind ${kind}`);
  }
  return fns;
}

/** Limits `flags min [max]`; only the 32-bit, unshared forms (0 and 1). */
function limits(r: Reader, what: string): { min: number; max: number | null } {
  const flags = r.byte();
  if (flags > 1) throw new BadModuleError(`shared or 64-bit wasm ${what} are not supported`);
  const min = r.u32();
  return { min, max: flags === 1 ? r.u32() : null };
}

function tableSection(r: Reader, caps: Caps): Uint8Array {
  const n = count(r, 'tables', caps.tables);
  const tables: { type: number; min: number; max: number | null }[] = [];
  let initial = 0;
  for (let i = 0; i < n; i++) {
    const type = r.byte();
    if (type !== 0x70 && type !== 0x6f)
      throw new BadModuleError(`the module declares a table of an unsupported type (0x${type.toString(16)})`);
    const t = { type, ...limits(r, 'tables') };
    if (t.max !== null && t.max < t.min)
      throw new BadModuleError('a table has its maximum below its minimum');
    initial += t.min;
    tables.push(t);
  }
  if (initial > caps.tableEntries)
    throw new BadModuleError(
      `the module's tables have ${initial} entries at start; at most ${caps.tableEntries} are allowed`,
    );
  // What is left of the budget is shared out, so that growing every table cannot exceed it.
  const share = Math.floor((caps.tableEntries - initial) / Math.max(1, n));
  const out = [...u32(n)];
  for (const t of tables) {
    const max = Math.min(t.max ?? Infinity, t.min + share);
    out.push(t.type, 1, ...u32(t.min), ...u32(max));
  }
  return Uint8Array.from(out);
}

function memorySection(r: Reader, maxPages: number, caps: Caps): Uint8Array {
  const n = count(r, 'memories', caps.memories);
  const out = [...u32(n)];
  for (let i = 0; i < n; i++) {
    const { min, max: declared } = limits(r, 'memories');
    const max = Math.min(declared ?? maxPages, maxPages);
    if (min > max) {
      throw new BadModuleError(
        `the module needs ${min * WASM_PAGE} bytes of memory at start; the limit is ${maxPages * WASM_PAGE}`,
      );
    }
    out.push(1, ...u32(min), ...u32(max));
  }
  return Uint8Array.from(out);
}

/** Element segments (all eight encodings): counted, with the elements in them. */
function elementSection(r: Reader, caps: Caps): void {
  const n = count(r, 'element segments', caps.elementSegments);
  let elements = 0;
  for (let i = 0; i < n; i++) {
    const flags = r.u32();
    if (flags > 7) throw new BadModuleError(`the module has an element segment of unknown form ${flags}`);
    const active = (flags & 1) === 0;
    const explicitTable = (flags & 2) !== 0;
    const exprs = (flags & 4) !== 0;
    if (active && explicitTable) r.u32();
    if (active) constExpr(r);
    // Forms 1, 2, 3 carry an element kind; 5, 6, 7 a reference type; 0 and 4 neither.
    if (flags !== 0 && flags !== 4) r.byte();
    const m = r.u32();
    elements += m;
    if (elements > caps.elements) over('table elements in its element segments', elements, caps.elements);
    for (let j = 0; j < m; j++) {
      if (exprs) constExpr(r);
      else r.u32();
    }
  }
}

/** Skips a constant expression (the forms Node's engine accepts there) up to its `end`. */
function constExpr(r: Reader): void {
  for (;;) {
    const op = r.byte();
    if (op === 0x0b) return;
    if (op === 0x41 || op === 0x42) r.skipLeb();
    else if (op === 0x43) r.skip(4);
    else if (op === 0x44) r.skip(8);
    else if (op === 0x23 || op === 0xd2) r.u32();
    else if (op === 0xd0) r.byte();
    else if (op === 0xfd && r.u32() === 12) r.skip(16);
    else
      throw new BadModuleError(
        `the module has an unsupported constant expression (opcode 0x${op.toString(16)})`,
      );
  }
}

function section(id: number, body: Uint8Array): Uint8Array {
  return Buffer.concat([Uint8Array.from([id, ...u32(body.length)]), body]);
}
