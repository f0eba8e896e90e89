/**
 * What the screenshot scripts share: `jobhub up --demo` (built) in a temp data directory, its
 * staff API, headless Chromium, and helpers that open a page and save it as docs/img/ui-*.png.
 * JOBHUB_CHROMIUM overrides the browser (default /usr/bin/chromium, Debian's package).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'docs/img');
export const dataDir = mkdtempSync(join(tmpdir(), 'jobhub-shots-'));

export const hub = spawn(
  process.execPath,
  ['bin/jobhub.js', 'up', '--demo', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'],
  { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
);
export const base = await new Promise<string>((resolve, reject) => {
  let text = '';
  const timer = setTimeout(() => reject(new Error(`the demo did not start:\n${text}`)), 90_000);
  hub.stderr!.on('data', (c: Buffer) => {
    text += c.toString();
    const m = /Web UI:\s+(http:\/\/\S+?)\/ui\//.exec(text);
    if (m) {
      clearTimeout(timer);
      resolve(m[1]!);
    }
  });
  hub.once('exit', (code) => reject(new Error(`the demo exited (${code}):\n${text}`)));
});
console.log(`demo at ${base}`);

export const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
};
export const until = async (what: string, fn: () => Promise<boolean>, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
};

export const browser = await chromium.launch({
  executablePath: process.env.JOBHUB_CHROMIUM ?? '/usr/bin/chromium',
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
export const shot = async (page: Page, name: string) => {
  await page.waitForTimeout(400); // let charts and relative times settle
  await page.screenshot({ path: join(OUT, `ui-${name}.png`), fullPage: true });
  console.log(`docs/img/ui-${name}.png`);
};
export const open = async (page: Page, route: string, ready: string) => {
  await page.goto(base + route);
  await page.getByText(ready, { exact: false }).first().waitFor({ timeout: 20_000 });
};
