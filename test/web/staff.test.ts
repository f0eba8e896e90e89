/**
 * Staff in a real browser (a loopback hub without auth: staff calls need no token): enqueue for
 * a team, cancel the waiting job, re-enqueue it; a finished job's full stdout and stderr; the
 * benchmarkers' health.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/hub.js';
import { buildCli } from '../helpers/worker.js';
import { contestHub, HAS_CHROMIUM, launch, runAndWait, supervise, target, withPage } from './browser.js';
import { scaled } from '../helpers/time.js';

describe.skipIf(!HAS_CHROMIUM)('web UI: staff', () => {
  let browser: Browser;
  beforeAll(async () => {
    await buildCli();
    browser = await launch();
  }, scaled(90_000));
  afterAll(async () => {
    await browser?.close();
  });

  it(
    'cancels and re-enqueues a job, shows full logs and benchmarker health',
    async () => {
      const hub = await contestHub({
        teams: [
          // gamma's benchmarker never polls: its jobs wait until staff act.
          { name: 'gamma', password: 'pw', servers: target(41) },
          { name: 'delta', password: 'pw', servers: target(42) },
        ],
        benchmarkers: [
          { name: 'bench-ghost', ip: '127.0.0.9', teams: ['gamma'] },
          { name: 'bench-live', ip: '127.0.0.4', teams: ['delta'] },
        ],
      });
      supervise(hub.url, '127.0.0.4');
      const done = await runAndWait(hub.url, 'delta');

      await withPage(browser, 'staff', async (page) => {
        await page.goto(`${hub.url}/ui/`);
        await page.getByRole('link', { name: 'Staff' }).first().click();
        await page.getByRole('heading', { name: 'Benchmark jobs' }).waitFor();
        await page.locator(`tr[data-job="${done.id}"]`).getByText('passed', { exact: true }).waitFor();

        // Enqueue for gamma: it waits (its benchmarker is away).
        await page.getByLabel('Enqueue for').selectOption({ label: 'gamma' });
        await page.getByRole('button', { name: 'Enqueue', exact: true }).click();
        await page
          .getByRole('status')
          .getByText(/enqueued for gamma/)
          .waitFor();
        const jobs = await api(hub.url, 'GET', '/api/portal/staff/jobs?team=gamma');
        const first = jobs.body.jobs[0].id as number;
        const row = page.locator(`tr[data-job="${first}"]`);
        await expect.poll(() => row.getAttribute('data-status')).toBe('waiting');

        await page.getByRole('button', { name: `Cancel job ${first}` }).click(); // confirm() is accepted
        await expect.poll(() => row.getAttribute('data-status')).toBe('canceled');
        expect((await api(hub.url, 'GET', `/api/portal/staff/jobs/${first}`)).body.status).toBe('canceled');

        await page.getByRole('button', { name: `Re-enqueue job ${first}` }).click();
        await expect
          .poll(
            async () =>
              (await api(hub.url, 'GET', '/api/portal/staff/jobs?team=gamma&status=waiting')).body.jobs
                .length,
          )
          .toBe(1);
        const second = (await api(hub.url, 'GET', '/api/portal/staff/jobs?team=gamma&status=waiting')).body
          .jobs[0].id;
        expect(second).toBeGreaterThan(first);
        await expect
          .poll(() => page.locator(`tr[data-job="${second}"]`).getAttribute('data-status'))
          .toBe('waiting');

        // Filters: only gamma's canceled job.
        await page.getByLabel('Status').selectOption('canceled');
        await expect.poll(() => page.locator('tr[data-job]').count()).toBe(1);
        await page.getByLabel('Status').selectOption('');

        // A finished job: full stdout and the staff-only stderr.
        await page.getByRole('link', { name: `#${done.id}` }).click();
        await page
          .getByTestId('stdout')
          .getByText(/"pass":true/)
          .waitFor();
        await page
          .getByTestId('stderr')
          .getByText(/fake-bench: team=delta/)
          .waitFor();

        // Benchmarkers: the live one was seen just now; the ghost never.
        await page.getByRole('link', { name: 'Benchmarkers' }).click();
        await page.locator('tr[data-benchmarker="bench-live"]').getByText('alive').waitFor();
        await page.locator('tr[data-benchmarker="bench-ghost"]').getByText('never seen').waitFor();
        await page.locator('tr[data-benchmarker="bench-ghost"]').getByText('gamma').waitFor();
      });
    },
    scaled(45_000),
  );
});
