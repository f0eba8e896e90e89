/**
 * Builds the runtimes a worker offers from names like `default`, `dlabLua54`, `dlabLua54+pcli`,
 * `wasi`, `js`. A base name alone offers every feature the runtime has; named features offer just
 * those. Aliases (`pleiades+example=js`) offer another runtime name served by the `js` engine.
 */
import { RuntimeConfigError } from './runtime.js';
import { parseRuntime } from '../../core/runtime.js';
import { DefaultRuntime } from './default/runtime.js';
import { JsRuntime } from './js/runtime.js';
import { parseAllowNet } from './js/net.js';
import { LUA_FEATURES, LuaRuntime } from './lua/runtime.js';
import type { Runtime } from './runtime.js';
import { WasiRuntime } from './wasi/runtime.js';

export const RUNTIME_BASES = ['default', 'dlabLua54', 'wasi', 'js'] as const;

export interface RuntimeSettings {
  /** Threads per thread-based runtime (the agent's concurrency). */
  threads: number;
  /** The agent's private directory (code files, output spills). */
  workDir: string;
  memoryBytes: number;
  unsafeNoSandbox?: boolean;
  /** Directories the exec sandbox must hide even under system paths (the hub's data). */
  hide?: string[];
  /** Per exec job, all its processes together: processes (threads included) and open files. */
  maxProcesses?: number;
  maxOpenFiles?: number;
  /** Hosts JS jobs' HttpClient may reach (`host` or `host:port`). */
  allowNet?: string[];
  /** Other runtime names served by an engine: `pleiades+example=js`. */
  aliases?: string[];
}

export { RuntimeConfigError };

export function createRuntimes(names: string[], s: RuntimeSettings): Runtime[] {
  const out: Runtime[] = [];
  const seen = new Set<string>();
  const allowNet = parseAllowNet(s.allowNet ?? []);
  let js: JsRuntime | null = null;
  const jsRuntime = () =>
    (js ??= new JsRuntime({ threads: s.threads, memoryBytes: s.memoryBytes, allowNet }));
  for (const name of names) {
    const { base, features } = parseRuntime(name);
    if (seen.has(base)) throw new RuntimeConfigError(`runtime ${base} is listed twice`);
    seen.add(base);
    const only = (supported: string[]) => {
      const bad = features.filter((f) => !supported.includes(f));
      if (bad.length)
        throw new RuntimeConfigError(
          `runtime ${base} has no feature ${bad.join(', ')} (it has: ${supported.join(', ') || 'none'})`,
        );
      return features.length ? features : supported;
    };
    if (base === 'default') {
      only([]);
      out.push(
        new DefaultRuntime({
          workDir: s.workDir,
          unsafeNoSandbox: s.unsafeNoSandbox,
          hide: s.hide,
          maxProcesses: s.maxProcesses,
          maxOpenFiles: s.maxOpenFiles,
        }),
      );
    } else if (base === 'dlabLua54') {
      out.push(new LuaRuntime({ threads: s.threads, features: only(LUA_FEATURES) }));
    } else if (base === 'wasi') {
      only([]);
      out.push(new WasiRuntime({ threads: s.threads, memoryBytes: s.memoryBytes }));
    } else if (base === 'js') {
      only([]);
      out.push(jsRuntime());
    } else {
      throw new RuntimeConfigError(`unknown runtime ${base}; this worker knows ${RUNTIME_BASES.join(', ')}`);
    }
  }
  for (const alias of s.aliases ?? []) {
    const [name = '', target = ''] = alias.split('=').map((x) => x.trim());
    if (target !== 'js')
      throw new RuntimeConfigError(
        `runtime alias ${JSON.stringify(alias)} must be NAME=js (only the js engine takes aliases)`,
      );
    let parsed;
    try {
      parsed = parseRuntime(name);
    } catch (err) {
      throw new RuntimeConfigError(`runtime alias ${JSON.stringify(alias)}: ${(err as Error).message}`);
    }
    if (seen.has(parsed.base)) throw new RuntimeConfigError(`runtime ${parsed.base} is listed twice`);
    seen.add(parsed.base);
    out.push(jsRuntime().alias(name));
  }
  return out;
}

/** Waits until thread-based runtimes have their threads up (so the first job is not slow). */
export async function warmUp(runtimes: Runtime[]): Promise<void> {
  await Promise.all(runtimes.map((r) => (r as { ready?: () => Promise<void> }).ready?.()));
}
