/** Shared pieces of the benchmarks: a hub in its own process, an HTTP client, statistics. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';

export interface HubProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  dataDir: string;
  stop(): Promise<void>;
}

const ROOT = new URL('..', import.meta.url).pathname;

/** The value of `--name=value` on this script's command line. */
export function argValue(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** A numeric `--name=N` of this script's command line, or `fallback`. */
export const numberArg = (name: string, fallback: number): number => Number(argValue(name) ?? fallback);

/**
 * Starts `jobhub server` (compiled) on a free port with a fresh data directory. The environment
 * adds to it: `HUB_NODE_ARGS` (Node flags, e.g. `--cpu-prof`) and `HUB_ARGS` (server flags, e.g.
 * `--durability relaxed`), each split at spaces.
 */
export async function startHubProcess(
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<HubProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobhub-bench-'));
  const child = spawn(
    process.execPath,
    [
      ...(process.env.HUB_NODE_ARGS ? process.env.HUB_NODE_ARGS.split(' ') : []),
      join(ROOT, 'bin/jobhub.js'),
      'server',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'info',
      ...extraArgs,
      ...(process.env.HUB_ARGS?.split(' ').filter(Boolean) ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      const m = /"url":"([^"]+)"/.exec(buf);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`hub exited with ${code}`)));
  });
  child.stdout!.resume();
  return {
    url,
    pid: child.pid!,
    child,
    dataDir,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Peak resident set size (VmHWM) of a process, in MiB. */
export function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export class Client {
  readonly pool: Pool;
  constructor(url: string, connections = 64) {
    this.pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  }
  async json<T = any>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const res = await this.pool.request({
      method,
      path,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: (text ? JSON.parse(text) : null) as T };
  }
  close(): Promise<void> {
    return this.pool.close();
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function median(xs: number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
