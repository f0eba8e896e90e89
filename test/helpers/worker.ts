/**
 * Test helpers for the native API: a small typed client over `api()` for the calls most tests
 * make (create jobs, register workers, lease, heartbeat, complete, fail), an SSE reader, and
 * the real CLI in child processes (build, run, spawn a hub).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, inject } from 'vitest';
import { api } from './hub.js';
import { scaled } from './time.js';

export type Headers = Record<string, string>;

/**
 * A JSON reply as tests read it: shape-checked by the assertions themselves (as `api()` in
 * hub.ts does), so property access stays unchecked by the compiler.
 */
export type Json = any;

export interface LeasedJob {
  id: string;
  token: string;
  attempt: number;
  runtime: string;
  tags: string[];
  input: { blobId?: string; size: number | null; sha256?: string | null; base64?: string } | null;
  function: { id: string; name: string | null; runtime: string; codeBlobId: string | null } | null;
  leaseExpiresAt: string | null;
  timeoutMs: number;
}

export const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });

/** POST /api/v1/jobs; expects 201 (or 200 when `expectStatus` says so) and returns the job. */
export async function createJob(
  base: string,
  body: Record<string, unknown>,
  headers: Headers = {},
  expectStatus = 201,
) {
  const r = await api(base, 'POST', '/api/v1/jobs', body, headers);
  expect(r.status, JSON.stringify(r.body)).toBe(expectStatus);
  return r.body as { id: string; state: string; warnings: string[]; [k: string]: unknown };
}

export async function getJob(base: string, id: string, headers: Headers = {}) {
  const r = await api(base, 'GET', `/api/v1/jobs/${id}`, undefined, headers);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as Record<string, Json>;
}

/** Registers a worker; returns its id. */
export async function registerWorker(
  base: string,
  body: { runtimes: string[]; tags?: string[]; capacity?: number; name?: string } = { runtimes: ['default'] },
  headers: Headers = {},
): Promise<string> {
  const r = await api(base, 'POST', '/api/v1/workers', body, headers);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

export async function lease(
  base: string,
  workerId: string,
  body: { limit?: number; waitMs?: number; tags?: string[] } = {},
  headers: Headers = {},
): Promise<LeasedJob[]> {
  const r = await api(base, 'POST', `/api/v1/workers/${workerId}/lease`, body, headers);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.jobs as LeasedJob[];
}

/** Leases exactly one job (no waiting) and fails the test otherwise. */
export async function leaseOne(
  base: string,
  workerId: string,
  body: { waitMs?: number; tags?: string[] } = {},
) {
  const jobs = await lease(base, workerId, { limit: 1, ...body });
  expect(jobs).toHaveLength(1);
  return jobs[0]!;
}

export function heartbeat(base: string, jobId: string, body: Record<string, unknown>, headers: Headers = {}) {
  return api(base, 'POST', `/api/v1/jobs/${jobId}/heartbeat`, body, headers);
}

export function complete(base: string, jobId: string, body: Record<string, unknown>, headers: Headers = {}) {
  return api(base, 'POST', `/api/v1/jobs/${jobId}/complete`, body, headers);
}

export function fail(base: string, jobId: string, body: Record<string, unknown>, headers: Headers = {}) {
  return api(base, 'POST', `/api/v1/jobs/${jobId}/fail`, body, headers);
}

/** Uploads raw bytes as a blob; returns {id, sha256, size}. */
export async function uploadBlob(base: string, bytes: Uint8Array, headers: Headers = {}) {
  const res = await fetch(`${base}/api/v1/blobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', ...headers },
    body: bytes,
  });
  const body = (await res.json()) as { id: string; sha256: string; size: number };
  expect(res.status, JSON.stringify(body)).toBe(201);
  return body;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function until<T>(
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = scaled(5_000),
  stepMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}

export interface SseEvent {
  event: string;
  data: Json;
}

/**
 * Opens an SSE stream with fetch and parses it as events arrive. `next()` resolves with the next
 * event (or null at the end of the stream); `close()` aborts the request.
 */
export async function openEvents(url: string, headers: Headers = {}) {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ended = false;
  const queue: SseEvent[] = [];

  const parseBuffered = () => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end < 0) return;
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue; // comment (keep-alive)
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length) queue.push({ event, data: JSON.parse(data.join('\n')) });
    }
  };

  return {
    status: res.status,
    headers: res.headers,
    async next(timeoutMs = scaled(5_000)): Promise<SseEvent | null> {
      const deadline = Date.now() + timeoutMs;
      while (queue.length === 0 && !ended) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>(
          (r) => (timer = setTimeout(() => r('timeout'), deadline - Date.now())),
        );
        const chunk = await Promise.race([reader.read(), timeout]);
        clearTimeout(timer);
        if (chunk === 'timeout') throw new Error(`no SSE event within ${timeoutMs} ms`);
        if (chunk.done) ended = true;
        else buffer += decoder.decode(chunk.value, { stream: true });
        parseBuffered();
      }
      return queue.shift() ?? null;
    },
    close(): void {
      abort.abort();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The real CLI in child processes (test/cli, test/crash).

/** The repository root (where package.json and bin/ are). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Makes bin/jobhub.js run the current sources: `npm run build` at most once per test run, by the
 * first test file that asks (the others find its stamp and reuse the build), and not at all when
 * dist/ was built by an earlier run from the same build inputs (their content hash is in the
 * stamp): a build is the longest single step of a run. Test files run in parallel processes;
 * flock(1) keeps two builds from writing dist/ at the same time and makes the others wait for
 * the one under way.
 */
export async function buildCli(): Promise<void> {
  const key = createHash('sha256').update(ROOT).digest('hex').slice(0, 12);
  const lock = join(tmpdir(), `jobhub-test-build-${key}.lock`);
  const stamp = join(tmpdir(), `jobhub-test-build-${key}.stamp`);
  const runId = inject('testRunId') ?? `${process.pid}`;
  const inputs = buildInputsHash();
  // The stamp is "<inputs hash> <run id>" of the last build; dist/ must still be there.
  const script =
    `s=$(cat '${stamp}' 2>/dev/null); ` +
    `case "$s" in *' ${runId}') exit 0;; '${inputs} '*) [ -f dist/cli/main.js ] && exit 0;; esac; ` +
    `npm run build --silent && echo '${inputs} ${runId}' > '${stamp}'`;
  const hasFlock = spawnSync('sh', ['-c', 'command -v flock'], { stdio: 'ignore' }).status === 0;
  const [cmd, args] = hasFlock ? ['flock', [lock, 'sh', '-c', script]] : ['sh', ['-c', script]];
  // Not spawnSync: a build takes long on a busy machine, and a blocked event loop makes vitest's
  // own messages to this test process time out ("Timeout calling onTaskUpdate").
  const r = await runProcess(cmd as string, args as string[], ROOT, scaled(60_000));
  if (r.status !== 0) throw new Error(`npm run build failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}

/** What `npm run build` reads: the sources, the web UI, the build's configs and scripts. */
const BUILD_INPUTS = [
  'src',
  'web',
  'scripts',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
];

/** A hash of the build inputs' paths and contents (a few hundred small files: milliseconds). */
function buildInputsHash(): string {
  const hash = createHash('sha256');
  const visit = (rel: string) => {
    const path = join(ROOT, rel);
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).sort()) if (name !== 'node_modules') visit(join(rel, name));
    } else hash.update(`${rel}\0`).update(readFileSync(path)).update('\0');
  };
  for (const input of BUILD_INPUTS) if (existsSync(join(ROOT, input))) visit(input);
  return hash.digest('hex').slice(0, 32);
}

/** Runs a command to its end without blocking the event loop; kills it after `timeoutMs`. */
export function runProcess(
  cmd: string,
  args: string[],
  cwd: string,
  timeoutMs: number,
  input?: string,
): Promise<{ status: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', (err) => {
      clearTimeout(timer);
      resolve({ status: err.message, stdout, stderr });
    });
    p.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code ?? signal ?? 'unknown', stdout, stderr });
    });
    // A command that exits without reading its input (cp, tar, a failing start) closes the pipe
    // first: EPIPE then says nothing about the command, whose status is what counts.
    p.stdin.on('error', () => {});
    p.stdin.end(input ?? '');
  });
}

/**
 * Runs the CLI without blocking this process (a hub under test may run in it), with no token
 * from the environment: the caller passes `--token` (or `env`) when it means one.
 */
export function runCliAsync(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'bin/jobhub.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, JOBHUB_TOKEN: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the CLI to completion. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/jobhub.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: scaled(30_000),
    env: { ...process.env, ...opts.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface HubProcess {
  proc: ChildProcess;
  url: string;
  /** Every stdout/stderr line so far (the hub logs JSON lines). */
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const spawned = new Set<ChildProcess>();

/**
 * Starts `jobhub server --port 0 --log-level info …` (this checkout's, or the one at `opts.bin`) and
 * resolves once it logged its URL. Processes still running after a test are killed (see
 * `killSpawned`).
 */
export async function spawnHub(
  dataDir: string,
  extra: string[] = [],
  timeoutMs = scaled(10_000),
  opts: { wrap?: string[]; env?: NodeJS.ProcessEnv; bin?: string } = {},
): Promise<HubProcess> {
  // `wrap`: a command that runs the hub, e.g. `prlimit --nofile=256`.
  const [cmd, ...pre] = [...(opts.wrap ?? []), process.execPath];
  const proc = spawn(
    cmd!,
    [
      ...pre,
      opts.bin ?? join(ROOT, 'bin/jobhub.js'),
      'server',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'info',
      ...extra,
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, JOBHUB_LOG_LEVEL: '', ...opts.env },
    },
  );
  spawned.add(proc);
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      spawned.delete(proc);
      resolve({ code, signal });
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start:\n${output.join('\n')}`)), timeoutMs);
    const onLine = (line: string) => {
      output.push(line);
      try {
        const entry = JSON.parse(line) as { url?: string };
        if (entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a JSON log line
      }
    };
    for (const stream of [proc.stdout!, proc.stderr!]) {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
    }
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`hub exited (${e.code ?? e.signal}) before listening:\n${output.join('\n')}`));
    });
  });
  return { proc, url, output, exited };
}

/** Kills (SIGKILL) the hub processes this test file started and that are still running. */
export async function killSpawned(): Promise<void> {
  const waits = [...spawned].map((p) => {
    const done = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    return done;
  });
  await Promise.all(waits);
}
