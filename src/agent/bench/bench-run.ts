/**
 * One benchmark run for the supervisor (`jobhub bench-worker`): start the contest's benchmark
 * program against the team's target, keep the tail of its output, enforce the hard time limit
 * (the whole process group is killed), and turn what happened into the seed's Result: `done`
 * with the program's {pass, score, messages}, or `aborted` with a reason a person understands.
 */
import { spawn } from 'node:child_process';

export interface SeedServer {
  id: number;
  hostname: string;
  global_ip: string;
  private_ip: string;
  is_bench_target: boolean;
}

export interface SeedJob {
  id: number;
  team: { id: number; owner: number; name: string; servers: SeedServer[] };
}

export interface SeedResult {
  id: number;
  status: 'done' | 'aborted';
  score: number;
  is_passed: boolean;
  reason: string;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  command: string[];
  timeoutMs: number;
  /** Which address of a server the program gets. */
  address: 'global' | 'private';
  /** Bytes of stdout/stderr kept for the report (the tail). */
  logBytes: number;
  /** After SIGTERM at the time limit, SIGKILL this much later. */
  killGraceMs: number;
  env?: NodeJS.ProcessEnv;
  /** Called with each running score the program prints (a JSON line with `score` and no `pass`). */
  onProgress?: (p: { score: number; message: string | null }) => void;
}

/** Keeps the last `max` bytes written to it. */
export class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  total = 0;
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - this.chunks[0]!.length >= this.max) this.size -= this.chunks.shift()!.length;
  }
  text(max = this.max): string {
    let buf = Buffer.concat(this.chunks);
    if (buf.length > max) {
      let start = buf.length - max;
      while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++; // a whole UTF-8 character
      buf = buf.subarray(start);
    }
    return buf.toString('utf8');
  }
}

/** The program's verdict: the last JSON object with a boolean `pass` (the whole output, or a line). */
export function parseVerdict(stdout: string): { pass: boolean; score: number; messages: string[] } | null {
  const candidates = [stdout.trim(), ...stdout.trim().split('\n').reverse()];
  for (const text of candidates) {
    const t = text.trim();
    if (!t.startsWith('{')) continue;
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      continue;
    }
    if (v === null || typeof v !== 'object' || typeof (v as { pass?: unknown }).pass !== 'boolean') continue;
    const o = v as { pass: boolean; score?: unknown; messages?: unknown };
    const score = typeof o.score === 'number' && Number.isFinite(o.score) ? Math.trunc(o.score) : 0;
    const messages = Array.isArray(o.messages)
      ? o.messages.map((m) => (typeof m === 'string' ? m : JSON.stringify(m)))
      : [];
    return { pass: o.pass, score, messages };
  }
  return null;
}

function progressLine(line: string): { score: number; message: string | null } | null {
  const t = line.trim();
  if (!t.startsWith('{') || !t.includes('score')) return null;
  try {
    const v = JSON.parse(t) as { score?: unknown; pass?: unknown; message?: unknown };
    if (typeof v.score !== 'number' || v.pass !== undefined) return null;
    return { score: Math.trunc(v.score), message: typeof v.message === 'string' ? v.message : null };
  } catch {
    return null;
  }
}

export function target(job: SeedJob, kind: RunOptions['address']): { target: string | null; all: string[] } {
  const pick = (s: SeedServer) => (kind === 'private' ? s.private_ip : s.global_ip);
  const servers = Array.isArray(job.team?.servers) ? job.team.servers : [];
  const t = servers.find((s) => s.is_bench_target);
  return { target: t ? pick(t) : null, all: servers.map(pick) };
}

const MAX_REASON = 8 * 1024;

export interface Running {
  /** Resolves with the report once the program ended (or was killed). */
  result: Promise<SeedResult>;
  /** Kills the program now (shutdown); the result is `aborted` with `reason`. */
  kill(reason: string): void;
}

export function runBenchmark(job: SeedJob, o: RunOptions): Running {
  const { target: addr, all } = target(job, o.address);
  const aborted = (reason: string, stdout = '', stderr = ''): SeedResult => ({
    id: job.id,
    status: 'aborted',
    score: 0,
    is_passed: false,
    reason,
    stdout,
    stderr,
  });
  if (addr === null) {
    return { result: Promise.resolve(aborted('The team has no bench target server')), kill: () => undefined };
  }
  const fill = (arg: string) =>
    arg
      .replaceAll('{target}', addr)
      .replaceAll('{all_addresses}', all.join(','))
      .replaceAll('{job_id}', String(job.id))
      .replaceAll('{team_id}', String(job.team.id));
  const [program, ...args] = o.command.map(fill);
  const stdout = new Tail(Math.max(o.logBytes, 1024 * 1024));
  const stderr = new Tail(o.logBytes);
  let killedFor: string | null = null;
  const child = spawn(program!, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: the time limit kills everything it started
    env: {
      ...(o.env ?? process.env),
      JOBHUB_TARGET: addr,
      JOBHUB_ALL_ADDRESSES: all.join(','),
      JOBHUB_JOB_ID: String(job.id),
      JOBHUB_TEAM_ID: String(job.team.id),
      JOBHUB_TEAM_NAME: job.team.name,
    },
  });
  const group = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  let graceTimer: NodeJS.Timeout | undefined;
  const kill = (reason: string) => {
    if (killedFor !== null || child.exitCode !== null || child.signalCode !== null) return;
    killedFor = reason;
    group('SIGTERM');
    graceTimer = setTimeout(() => group('SIGKILL'), o.killGraceMs);
  };
  const limit = setTimeout(
    () => kill(`Benchmark timed out after ${Math.round(o.timeoutMs / 1000)} s`),
    o.timeoutMs,
  );
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout.push(chunk);
    if (!o.onProgress) return;
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!.slice(-64 * 1024);
    for (const line of lines) {
      const p = progressLine(line);
      if (p) o.onProgress(p);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const result = new Promise<SeedResult>((resolve) => {
    child.once('error', (err) => {
      clearTimeout(limit);
      resolve(aborted(`The benchmark program could not start: ${err.message}`));
    });
    child.once('exit', () => group('SIGKILL')); // leftovers of its group go too
    child.once('close', (code, signal) => {
      clearTimeout(limit);
      clearTimeout(graceTimer);
      const out = stdout.text(o.logBytes);
      const err = stderr.text();
      if (killedFor !== null) return resolve(aborted(killedFor, out, err));
      const verdict = parseVerdict(stdout.text());
      if (verdict) {
        const reason = verdict.messages.join('\n');
        return resolve({
          id: job.id,
          status: 'done',
          score: verdict.score,
          is_passed: verdict.pass,
          reason: reason.length > MAX_REASON ? reason.slice(0, MAX_REASON) : reason,
          stdout: out,
          stderr: err,
        });
      }
      if (signal) return resolve(aborted(`The benchmark crashed (killed by ${signal})`, out, err));
      if (code !== 0) return resolve(aborted(`The benchmark crashed (exit code ${code})`, out, err));
      resolve(
        aborted(
          'The benchmark output could not be read (expected JSON with pass, score, messages)',
          out,
          err,
        ),
      );
    });
  });
  return { result, kill };
}
