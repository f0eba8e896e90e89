/**
 * Snapshots of an engine's WebAssembly memory: a fresh sandbox (QuickJS runtime, context and
 * prelude) is made once, its memory is copied, and each job starts from that copy written back.
 * Writing back about 300 KiB costs some 20 µs, where making a fresh runtime and context and
 * evaluating the prelude cost 0.4–0.5 ms, most of a no-op job's time.
 *
 * What a restore brings back is everything QuickJS keeps: its heap (dlmalloc's chunks) and its
 * static data (dlmalloc's state, the break of `sbrk`). Memory above the snapshot's break that a
 * job used is free again in dlmalloc's view and is handed out again as the heap grows, as freed
 * memory of one fresh runtime was handed to the next one before; QuickJS initialises what it
 * gives a script. The wasm stack holds nothing between calls, so it is not copied (5 MiB here).
 *
 * The layout is found, not assumed: the stack's top is the initial value of the module's first
 * global (`__stack_pointer`; the heap starts there, wasm-ld's default layout), the static data
 * ends at the last data segment plus its zeroed part below the stack, and the word that holds
 * the break is the one a large malloc moves by its size. A build where any of that does not
 * hold gets no snapshots (`findLayout` returns null) and runs every job in a fresh context.
 */
import { randomFillSync } from 'node:crypto';

export interface MemoryLayout {
  /** Address of the word holding `sbrk`'s break. */
  brkAddr: number;
  /** Static data (and the bottom of the unused stack) is `[0, lowEnd)`. */
  lowEnd: number;
  /** The heap is `[heapStart, break)`. */
  heapStart: number;
}

/** The stack size this build links with; only used to bound the static data from above. */
const LINKED_STACK_BYTES = 5 * 1024 * 1024;
/** Room left for zero-initialised data after the last data segment when the stack is smaller. */
const BSS_ROOM = 64 * 1024;

/** The first global's initial value and where the data segments end, from the module's bytes. */
export function readModuleLayout(wasm: Uint8Array): { stackTop: number; dataEnd: number } | null {
  let o = 8;
  // LEB128, unsigned (sizes, counts) or signed (i32.const offsets).
  const leb = (signed: boolean) => {
    let r = 0;
    let s = 0;
    let x: number;
    do {
      x = wasm[o++]!;
      r += (x & 0x7f) * 2 ** s;
      s += 7;
    } while (x & 0x80);
    return signed && x & 0x40 ? r - 2 ** s : r;
  };
  const u = () => leb(false);
  const i32 = () => leb(true);
  let stackTop = -1;
  let dataEnd = -1;
  while (o < wasm.length) {
    const id = wasm[o++]!;
    const size = u();
    const end = o + size;
    if (id === 6 && u() > 0) {
      o += 2; // value type, mutability
      if (wasm[o++] === 0x41) stackTop = i32();
    } else if (id === 11) {
      for (let n = u(); n > 0; n--) {
        if (u() !== 0 || wasm[o++] !== 0x41) return null; // only active segments at constant offsets
        const at = i32();
        o++; // end
        const len = u();
        dataEnd = Math.max(dataEnd, at + len);
        o += len;
      }
    }
    o = end;
  }
  return stackTop > 0 && dataEnd > 0 && dataEnd < stackTop ? { stackTop, dataEnd } : null;
}

/**
 * Finds the break's word on a module nobody has used yet. A 4 MiB malloc moves several words
 * below the stack by about its size: the break, but also dlmalloc's pointer to its top chunk
 * (the free space below the break). The break is the highest of them, at or past the end of the
 * block (the top chunk's pointer is exactly at its end). Null unless exactly one word is.
 */
export function findLayout(
  wasm: Uint8Array,
  memory: WebAssembly.Memory,
  malloc: (n: number) => number,
  free: (p: number) => void,
): MemoryLayout | null {
  const mod = readModuleLayout(wasm);
  if (!mod) return null;
  const lowEnd = Math.min(mod.stackTop, Math.max(mod.stackTop - LINKED_STACK_BYTES, mod.dataEnd + BSS_ROOM));
  const words = lowEnd >> 2;
  const before = new Uint32Array(memory.buffer, 0, words).slice();
  const REQUEST = 4 * 1024 * 1024;
  const p = malloc(REQUEST);
  if (!p) return null;
  const grown = new Uint32Array(memory.buffer, 0, words);
  let highest = 0;
  let found: number[] = [];
  for (let i = 0; i < words; i++) {
    const value = grown[i]!;
    const moved = value - before[i]!;
    if (before[i]! < mod.stackTop || moved < REQUEST / 2 || value < p + REQUEST) continue;
    if (value > highest) [highest, found] = [value, [i * 4]];
    else if (value === highest) found.push(i * 4);
  }
  free(p);
  if (found.length !== 1 || highest > memory.buffer.byteLength) return null;
  return { brkAddr: found[0]!, lowEnd, heapStart: mod.stackTop };
}

/** One copy of an engine's memory, written back on demand. */
export class MemorySnapshot {
  private readonly low: Uint8Array;
  private readonly heap: Uint8Array;

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly layout: MemoryLayout,
  ) {
    const brk = new Uint32Array(memory.buffer, layout.brkAddr, 1)[0]!;
    this.low = new Uint8Array(memory.buffer, 0, layout.lowEnd).slice();
    this.heap = new Uint8Array(memory.buffer, layout.heapStart, brk - layout.heapStart).slice();
  }

  get bytes(): number {
    return this.low.length + this.heap.length;
  }

  /** Writes the copy back. Only between calls into the engine: never while one runs. */
  restore(): void {
    const all = new Uint8Array(this.memory.buffer);
    all.set(this.low, 0);
    all.set(this.heap, this.layout.heapStart);
  }
}

/** QuickJS's Math.random step (xorshift64*), to recognise its state in memory. */
function xorshift64(x: bigint): bigint {
  const M = (1n << 64n) - 1n;
  x ^= x >> 12n;
  x = (x ^ (x << 25n)) & M;
  x ^= x >> 27n;
  return x;
}

/**
 * Where a context keeps Math.random's state: the 8-byte word of its JSContext that one call of
 * `step` (which calls Math.random once) advances by exactly one xorshift64* step. A context
 * restored from a snapshot would otherwise give every job the same random numbers; each job's
 * state is reseeded there instead (`reseed`). Null if no single word fits.
 */
export function findRandomState(memory: WebAssembly.Memory, ctxPtr: number, step: () => void): number | null {
  const SPAN = 4096;
  const base = ctxPtr & ~7;
  const read = () => new BigUint64Array(memory.buffer, base, SPAN / 8).slice();
  const a = read();
  step();
  const b = read();
  const hits: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== 0n && b[i] === xorshift64(a[i]!)) hits.push(base + i * 8);
  return hits.length === 1 ? hits[0]! : null;
}

/** Random seeds drawn from the OS in bulk: one call per job cost a tenth of the restore. */
const seeds = new BigUint64Array(512);
let seedsLeft = 0;

/** A new random, non-zero state for Math.random at `addr`. */
export function reseed(memory: WebAssembly.Memory, addr: number): void {
  let seed = 0n;
  while (seed === 0n) {
    if (seedsLeft === 0) seedsLeft = randomFillSync(seeds).length;
    seed = seeds[--seedsLeft]!;
  }
  new BigUint64Array(memory.buffer, addr, 1)[0] = seed;
}
