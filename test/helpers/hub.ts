/**
 * Test helpers: a real hub (SQLite file in a temp dir, HTTP on an ephemeral port) per test, or
 * one per file (`sharedHub`) for tests that do not interfere; hubs are stopped and their temp
 * dirs removed after the test (or the file) that started them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig, type HubConfig } from '../../src/config/config.js';
import { startHub, type RunningHub } from '../../src/app/start.js';
import type { HubDeps } from '../../src/app/hub.js';
import { scaled } from './time.js';
import { afterEachTest } from './cleanup.js';

const running = new Set<RunningHub>();
const dirs: string[] = [];

export function tempDir(prefix = 'jobhub-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** Starts a hub with short test intervals; stopped automatically after the test. */
export async function testHub(overrides: Partial<HubConfig> = {}, deps: HubDeps = {}): Promise<RunningHub> {
  const hub = await startTestHub(tempDir(), overrides, deps);
  running.add(hub);
  return hub;
}

/**
 * One hub for all the tests of a file (or of the `describe` it is called in): started before the
 * first, stopped after the last. Starting a hub per test is most of what a short test costs. For
 * tests that do not interfere: each creates its own functions, jobs, workers and names, and
 * asserts on those, never on counts or lists of the whole hub. Read `url`/`hub` inside tests.
 */
export function sharedHub(
  overrides: Partial<HubConfig> = {},
  deps: HubDeps = {},
): { readonly url: string; readonly hub: RunningHub } {
  let shared: RunningHub | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'jobhub-test-'));
    shared = await startTestHub(dir, overrides, deps);
  });
  afterAll(async () => {
    await shared?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const started = () => {
    if (!shared) throw new Error('sharedHub() is read inside tests (it starts in beforeAll)');
    return shared;
  };
  return {
    get url() {
      return started().url;
    },
    get hub() {
      return started();
    },
  };
}

async function startTestHub(
  dataDir: string,
  overrides: Partial<HubConfig>,
  deps: HubDeps,
): Promise<RunningHub> {
  const config = loadConfig(
    {},
    {
      host: '127.0.0.1',
      port: 0,
      dataDir,
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
  return startHub(config, deps);
}

export async function stopHub(hub: RunningHub): Promise<void> {
  running.delete(hub);
  await hub.stop();
}

afterEachTest(async () => {
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
