/**
 * Test helpers for the agent: an in-process agent with chosen runtimes against a real test hub,
 * stopped after each test; and requester shortcuts (function from code, job, wait, output).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, expect } from 'vitest';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import { createRuntimes } from '../../src/agent/runtimes/index.js';
import type { Runtime } from '../../src/agent/runtimes/runtime.js';
import { api } from '../helpers/hub.js';
import { scaled } from '../helpers/time.js';
import { uploadBlob } from '../helpers/worker.js';

const started: { agent: Agent; runtimes: Runtime[]; dir: string }[] = [];

afterEach(async () => {
  for (const s of started.splice(0)) {
    await s.agent.drain(0);
    await Promise.all(s.runtimes.map((r) => r.close()));
    rmSync(s.dir, { recursive: true, force: true });
  }
});

export const quiet = pino({ level: process.env.AGENT_TEST_LOG ?? 'silent' });

/** Starts an agent against `hub` with runtimes by name (or given runtime objects). */
export async function startAgent(
  hub: string,
  runtimes: string[] | ((workDir: string) => Runtime[]),
  o: Partial<AgentOptions> & { memoryBytes?: number; outputBytes?: number } = {},
): Promise<{ agent: Agent; runtimes: Runtime[]; workDir: string }> {
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
  started.push({ agent, runtimes: rts, dir });
  await agent.start();
  return { agent, runtimes: rts, workDir: dir };
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
