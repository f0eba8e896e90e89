/**
 * Test helpers: a real hub (SQLite file in a temp dir, HTTP on an ephemeral port) per test, and
 * a guard that fails the test run if a hub is left running.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { loadConfig, type HubConfig } from '../../src/config/config.js';
import { startHub, type RunningHub } from '../../src/http/app.js';
import type { HubDeps } from '../../src/app/hub.js';
import { scaled } from './time.js';

const running = new Set<RunningHub>();
const dirs: string[] = [];

export function tempDir(prefix = 'jobhub-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Starts a hub with short test intervals; stopped automatically after the test. */
export async function testHub(overrides: Partial<HubConfig> = {}, deps: HubDeps = {}): Promise<RunningHub> {
  const config = loadConfig(
    {},
    {
      host: '127.0.0.1',
      port: 0,
      dataDir: tempDir(),
      logLevel: 'silent',
      // A live worker's heartbeat must not miss its lease on a busy machine: scaled like every
      // other time limit. Tests of expiry itself set their own, shorter lease.
      leaseMs: scaled(1_000),
      reapIntervalMs: 50,
      retryBaseMs: 50,
      retryMaxMs: 200,
      ...overrides,
    },
  );
  const hub = await startHub(config, deps);
  running.add(hub);
  return hub;
}

export async function stopHub(hub: RunningHub): Promise<void> {
  running.delete(hub);
  await hub.stop();
}

afterEach(async () => {
  for (const hub of [...running]) await stopHub(hub);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** JSON over real HTTP. */
export async function api(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
