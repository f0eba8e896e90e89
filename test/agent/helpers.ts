/**
 * Test helpers for the agent: an in-process agent with chosen runtimes against a real test hub,
 * stopped after each test (or, `sharedAgent`, after the file); and requester shortcuts (function
 * from code, job, wait, output).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, expect } from 'vitest';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import { createRuntimes } from '../../src/agent/runtimes/index.js';
import type { Runtime } from '../../src/agent/runtimes/runtime.js';
import { api } from '../helpers/hub.js';
import { scaled } from '../helpers/time.js';
import { uploadBlob } from '../helpers/worker.js';
import { afterEachTest } from '../helpers/cleanup.js';

interface StartedAgent {
  agent: Agent;
  runtimes: Runtime[];
  dir: string;
}

const started: StartedAgent[] = [];

async function stopAgent(s: StartedAgent): Promise<void> {
  await s.agent.drain(0);
  await Promise.all(s.runtimes.map((r) => r.close()));
  rmSync(s.dir, { recursive: true, force: true });
}

afterEachTest(async () => {
  for (const s of started.splice(0)) await stopAgent(s);
});

export const quiet = pino({ level: process.env.AGENT_TEST_LOG ?? 'silent' });

type AgentChoice = string[] | ((workDir: string) => Runtime[]);
type AgentExtra = Partial<AgentOptions> & { memoryBytes?: number; outputBytes?: number };

/** Starts an agent against `hub` with runtimes by name (or given runtime objects). */
export async function startAgent(
  hub: string,
  runtimes: AgentChoice,
  o: AgentExtra = {},
): Promise<{ agent: Agent; runtimes: Runtime[]; workDir: string }> {
  const s = await launchAgent(hub, runtimes, o);
  started.push(s);
  return { agent: s.agent, runtimes: s.runtimes, workDir: s.dir };
}

/**
 * One agent for all the tests of a file (or `describe`), against `hub()` (read when it starts:
 * a `sharedHub` url): started before the first test, stopped after the last. Engine threads and
 * hosts take long to start; tests that only run jobs and look at their outcome share them. Tests
 * read `runtimes`/`agent` inside, and compare counters with their value at the test's start.
 */
export function sharedAgent(
  hub: () => string,
  runtimes: AgentChoice,
  o: AgentExtra = {},
): { readonly agent: Agent; readonly runtimes: Runtime[] } {
  let s: StartedAgent | undefined;
  beforeAll(async () => {
    s = await launchAgent(hub(), runtimes, o);
  });
  afterAll(async () => {
    if (s) await stopAgent(s);
  });
  const get = () => {
    if (!s) throw new Error('sharedAgent() is read inside tests (it starts in beforeAll)');
    return s;
  };
  return {
    get agent() {
      return get().agent;
    },
    get runtimes() {
      return get().runtimes;
    },
  };
}

async function launchAgent(hub: string, runtimes: AgentChoice, o: AgentExtra): Promise<StartedAgent> {
  const dir = mkdtempSync(join(tmpdir(), 'jobhub-agent-test-'));
  const concurrency = o.concurrency ?? 2;
  const memoryBytes = o.memoryBytes ?? 256 * 1024 ** 2;
  const rts =
    typeof runtimes === 'function'
      ? runtimes(dir)
      : createRuntimes(runtimes, { threads: concurrency, workDir: dir, memoryBytes });
  await Promise.all(rts.map((r) => (r as { ready?: () => Promise<void> }).ready?.()));
  const agent = new Agent({
    hub,
    runtimes: rts,
    concurrency,
    leaseWaitMs: 5_000,
    limits: { memoryBytes, outputBytes: o.outputBytes ?? 1024 ** 2 },
    drainTimeoutMs: 5_000,
    reportRetryMs: 10_000,
    log: quiet,
    ...o,
  });
  const s = { agent, runtimes: rts, dir };
  try {
    await agent.start();
  } catch (err) {
    await stopAgent(s);
    throw err;
  }
  return s;
}

/** Uploads `code` and makes a function of it; returns the function id. */
export async function fn(
  hub: string,
  runtime: string,
  code: string | Uint8Array,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const blob = await uploadBlob(hub, typeof code === 'string' ? Buffer.from(code) : code);
  const r = await api(hub, 'POST', '/api/v1/functions', { runtime, codeBlobId: blob.id, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

export interface Job {
  id: string;
  state: string;
  error: string | null;
  exitStatus: number | null;
  attempts: number;
  errors: { message: string }[];
  output: unknown;
  progress: unknown;
  [k: string]: unknown;
}

export async function submit(hub: string, body: Record<string, unknown>): Promise<string> {
  const r = await api(hub, 'POST', '/api/v1/jobs', { maxAttempts: 1, ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

/** Waits until the job is final; fails the test after `timeoutMs`. */
export async function final(hub: string, id: string, timeoutMs = scaled(15_000)): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    const r = await api(
      hub,
      'GET',
      `/api/v1/jobs/${id}/wait?timeoutMs=${Math.max(0, Math.min(left, 10_000))}`,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    if (['succeeded', 'failed', 'canceled'].includes(r.body.state)) return r.body as Job;
    if (Date.now() >= deadline)
      throw new Error(`job ${id} not final after ${timeoutMs} ms: ${JSON.stringify(r.body)}`);
  }
}

export async function output(hub: string, id: string): Promise<Buffer> {
  const res = await fetch(`${hub}/api/v1/jobs/${id}/output`);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/** Submits one job of a new function with `input`, waits, returns the final job. */
export async function runOnce(
  hub: string,
  runtime: string,
  code: string | Uint8Array,
  input: string | Buffer = '',
  job: Record<string, unknown> = {},
): Promise<Job> {
  const f = await fn(hub, runtime, code);
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const inp =
    bytes.length > 64 * 1024
      ? { blobId: (await uploadBlob(hub, bytes)).id }
      : { base64: bytes.toString('base64') };
  // A job with a long timeout may take long on a busy machine: wait for it a little longer.
  const timeoutMs = typeof job.timeoutMs === 'number' ? job.timeoutMs : 0;
  return final(
    hub,
    await submit(hub, { function: f, input: inp, ...job }),
    Math.max(15_000, timeoutMs + 10_000),
  );
}
