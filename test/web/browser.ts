/**
 * Browser test helpers: headless Debian Chromium through playwright-core, a page per test that
 * leaves a screenshot behind when the test fails, and a contest hub with real benchmark
 * supervisors (the demo's fake benchmark, in-process, bound to 127.0.0.x source addresses).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { fakeBenchSupervisor } from '../../src/cli/demo.js';
import type { Supervisor } from '../../src/agent/bench/supervisor.js';
import { api, testHub } from '../helpers/hub.js';
import { until } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';
import { afterEachTest } from '../helpers/cleanup.js';

export const CHROMIUM = process.env.JOBHUB_CHROMIUM ?? '/usr/bin/chromium';
/** Browser tests need Chromium (`apt-get install chromium`; .ci/run installs it). */
export const HAS_CHROMIUM = existsSync(CHROMIUM);
/** Where failing tests leave their screenshots. */
export const ARTIFACTS = process.env.JOBHUB_ARTIFACTS ?? join(tmpdir(), 'jobhub-web-artifacts');

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Runs `fn` with a fresh page (its own cookies). When `fn` throws, the page is saved as
 * `<ARTIFACTS>/<name>.png` and the error names the file. Browser errors are collected and
 * reported with a failure too.
 */
export async function withPage(
  browser: Browser,
  name: string,
  fn: (page: Page) => Promise<void>,
  options: BrowserContextOptions = {},
): Promise<void> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  // The UI talks to its own hub only: no fonts, CDNs or other origins.
  page.on('request', (r) => {
    if (!/^(http:\/\/127\.0\.0\.1:\d+\/|data:|blob:)/.test(r.url()))
      errors.push(`foreign request: ${r.url()}`);
  });
  page.on('dialog', (d) => void d.accept());
  try {
    await fn(page);
    expect(errors, 'errors in the page').toEqual([]);
  } catch (err) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, `${name.replace(/[^\w.-]+/g, '_')}-${Date.now()}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    const e = err as Error;
    e.message = `${e.message}\nscreenshot: ${file}${errors.length ? `\n${errors.join('\n')}` : ''}`;
    throw e;
  } finally {
    await context.close();
  }
}

const supervisors: { supervisor: Supervisor; done: Promise<void> }[] = [];
afterEachTest(async () => {
  const all = supervisors.splice(0);
  for (const s of all) s.supervisor.abort();
  await Promise.all(all.map((s) => s.done));
});

/** A benchmark supervisor sending from `ip`, running the fake benchmark (always passing). */
export function supervise(url: string, ip: string, durationMs = 1200): void {
  const s = fakeBenchSupervisor({ portal: url, sourceIp: ip, durationMs, failRate: 0 });
  supervisors.push(s);
}

/** An open contest around the real clock. */
export function openContest(now = Date.now()) {
  return {
    starts_at: new Date(now - 3600_000).toISOString(),
    freezes_at: new Date(now + 3600_000).toISOString(),
    ends_at: new Date(now + 7200_000).toISOString(),
  };
}

export const target = (i: number) => [
  { hostname: 's1', global_ip: `203.0.113.${i}`, private_ip: `10.0.0.${i}`, is_bench_target: true },
];

/** A hub with a contest loaded through the staff API. */
export async function contestHub(description: Record<string, unknown>) {
  const hub = await testHub();
  const r = await api(hub.url, 'POST', '/api/portal/staff/load', { contest: openContest(), ...description });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return hub;
}

/** Staff enqueue for a team; resolves with the finished job (staff view). */
export async function runAndWait(
  url: string,
  team: string,
): Promise<{ id: number; score: number; status: string }> {
  const r = await api(url, 'POST', '/api/portal/staff/jobs', { team });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return until(async () => {
    const j = await api(url, 'GET', `/api/portal/staff/jobs/${r.body.id}`);
    return j.body.finished_at ? j.body : null;
  }, scaled(10_000));
}
