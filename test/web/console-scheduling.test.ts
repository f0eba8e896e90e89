/**
 * The jobs console in a real browser, for scheduling and events: multi-select (tick jobs, cancel
 * the queued ones, then retry the canceled ones) and the webhooks page with delivery results.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { buildCli } from '../helpers/worker.js';
import { HAS_CHROMIUM, launch, withPage } from './browser.js';
import { scaled } from '../helpers/time.js';

describe.skipIf(!HAS_CHROMIUM)('web UI: multi-select in the jobs console', () => {
  let browser: Browser;
  beforeAll(async () => {
    await buildCli();
    browser = await launch();
  }, scaled(90_000));
  afterAll(async () => {
    await browser?.close();
  });

  it(
    'cancels and then retries the selected jobs',
    async () => {
      const hub = await testHub();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++)
        ids.push((await api(hub.url, 'POST', '/api/v1/jobs', { runtime: 'nobody' })).body.id);
      const state = async (id: string) => (await api(hub.url, 'GET', `/api/v1/jobs/${id}`)).body.state;

      await withPage(browser, 'console-bulk', async (page) => {
        await page.goto(`${hub.url}/ui/console/jobs`);
        await page.locator(`tr[data-job="${ids[2]}"]`).waitFor();
        await page.getByLabel(`Select job #${ids[0]}`).check();
        await page.getByLabel(`Select job #${ids[1]}`).check();
        await page.getByRole('button', { name: 'Cancel selected (2)' }).click();
        await page.getByRole('status').getByText('2 jobs canceled').waitFor();
        expect([await state(ids[0]!), await state(ids[1]!), await state(ids[2]!)]).toEqual([
          'canceled',
          'canceled',
          'queued',
        ]);

        // Select all: only the canceled ones can be retried, the queued one canceled.
        await page.locator(`tr[data-job="${ids[0]}"][data-state="canceled"]`).waitFor();
        await page.getByLabel('Select all jobs shown').check();
        await page.getByRole('button', { name: 'Retry selected (2)' }).click();
        await page.getByRole('status').getByText('2 jobs retried').waitFor();
        expect([await state(ids[0]!), await state(ids[1]!), await state(ids[2]!)]).toEqual([
          'queued',
          'queued',
          'queued',
        ]);
      });
    },
    scaled(60_000),
  );

  it(
    'lists webhooks with the results of their deliveries',
    async () => {
      // A receiver that always fails: the delivery stays pending with the receiver's status.
      const rx = createServer((_req, res) => res.writeHead(500).end());
      await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
      try {
        const hub = await testHub({ webhookAllow: ['127.0.0.0/8'], webhookRetryBaseMs: 600_000 });
        const port = (rx.address() as AddressInfo).port;
        const hook = await api(hub.url, 'POST', '/api/v1/webhooks', {
          url: `http://127.0.0.1:${port}/hook`,
          events: ['job.canceled'],
          secret: 'ui-test-secret',
        });
        expect(hook.status).toBe(201);
        const job = (await api(hub.url, 'POST', '/api/v1/jobs', { runtime: 'nobody' })).body;
        await api(hub.url, 'POST', `/api/v1/jobs/${job.id}/cancel`);
        await withPage(browser, 'console-webhooks', async (page) => {
          await page.goto(`${hub.url}/ui/console/webhooks`);
          const row = page.locator('tr[data-state="pending"]', { hasText: 'HTTP 500' });
          await row.waitFor({ timeout: scaled(10_000) });
          await expect.poll(() => row.textContent()).toContain(`#${job.id}`);
          await expect.poll(() => row.textContent()).toContain('job.canceled');
        });
      } finally {
        await new Promise((r) => rx.close(r));
      }
    },
    scaled(60_000),
  );
});
