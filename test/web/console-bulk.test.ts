/**
 * The jobs console's multi-select in a real browser: tick jobs, cancel the queued ones, then retry
 * the canceled ones; the hub's job states change accordingly.
 */
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
});
