/**
 * Job groups in the jobs console, in a real browser: the groups view lists a group with its
 * counts, its form sets limits and a pause that the hub then applies (checked over the API and
 * in explain), the job list shows and filters by group, and the job page shows its group.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { buildCli } from '../helpers/worker.js';
import { HAS_CHROMIUM, launch, withPage } from './browser.js';
import { scaled } from '../helpers/time.js';

describe.skipIf(!HAS_CHROMIUM)('web UI: job groups', () => {
  let browser: Browser;
  beforeAll(async () => {
    await buildCli();
    browser = await launch();
  }, scaled(90_000));
  afterAll(async () => {
    await browser?.close();
  });

  it(
    'lists groups, sets limits and pause from the console, and shows each job group',
    async () => {
      const hub = await testHub();
      const grouped = await api(hub.url, 'POST', '/api/v1/jobs', { runtime: 'nobody', group: 'tenant-a' });
      await api(hub.url, 'POST', '/api/v1/jobs', { runtime: 'nobody' });
      await withPage(browser, 'groups', async (page) => {
        await page.goto(`${hub.url}/ui/console`);
        await page.getByRole('link', { name: 'Groups' }).click();
        const row = page.locator('tr[data-group="tenant-a"]');
        await row.waitFor();
        expect(await row.locator('td').allTextContents()).toEqual(
          expect.arrayContaining(['—', 'no', '1', '0']),
        );

        await row.getByRole('button', { name: 'Edit tenant-a' }).click();
        const form = page.getByRole('form', { name: 'Set group limits' });
        await expect.poll(() => form.getByLabel('Group').inputValue()).toBe('tenant-a');
        await form.getByLabel('Concurrency').fill('2');
        await form.getByLabel('Starts per second').fill('0.5');
        await form.getByLabel('Paused').check();
        await form.getByRole('button', { name: 'Save group' }).click();
        await row.getByText('paused').waitFor();
        await expect.poll(() => row.locator('td').first().textContent()).toBe('2');

        const g = await api(hub.url, 'GET', '/api/v1/groups/tenant-a');
        expect(g.body).toMatchObject({ concurrency: 2, perSecond: 0.5, paused: true, queued: 1 });
        const why = await api(hub.url, 'GET', `/api/v1/jobs/${grouped.body.id}/explain`);
        expect(why.body.verdict).toBe('group_paused');

        // A bad value is the hub's refusal, shown in the form.
        await form.getByLabel('Group').fill('tenant-a');
        await form.getByLabel('Starts per second').fill('0');
        await form.getByRole('button', { name: 'Save group' }).click();
        await form.getByRole('alert').waitFor();

        // The group's jobs, from its link; the job page shows the group.
        await row.getByRole('link', { name: 'tenant-a' }).click();
        await page.locator(`tr[data-job="${grouped.body.id}"]`).getByText('group tenant-a').waitFor();
        expect(await page.locator('tr[data-job]').count()).toBe(1);
        await page.getByRole('link', { name: `#${grouped.body.id}` }).click();
        await page.getByTestId('job-group').getByText('tenant-a').waitFor();
      });
    },
    scaled(45_000),
  );
});
