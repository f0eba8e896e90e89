/**
 * The jobs console in a real browser, for scheduling and events: multi-select (tick jobs, cancel
 * the queued ones, then retry the canceled ones), a delayed job in a group from the Submit form, the schedules page (create one, see its next
 * run, pause and delete it) and the webhooks page with delivery results.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { buildCli } from '../helpers/worker.js';
import { HAS_CHROMIUM, launch, withPage } from './browser.js';
import { scaled } from '../helpers/time.js';

describe.skipIf(!HAS_CHROMIUM)('web UI: scheduling and events in the jobs console', () => {
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
    'submits a delayed job into a group: the job waits for its start time and says so',
    async () => {
      const hub = await testHub();
      // An hour ahead, in the browser's zone (the test's, as the browser runs here), to the second.
      const start = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000);
      const pad = (n: number) => String(n).padStart(2, '0');
      const local =
        `${start.getFullYear()}-${pad(start.getMonth() + 1)}-${pad(start.getDate())}` +
        `T${pad(start.getHours())}:${pad(start.getMinutes())}:${pad(start.getSeconds())}`;
      await withPage(browser, 'console-delayed', async (page) => {
        await page.goto(`${hub.url}/ui/console/submit`);
        const submit = page.getByRole('form', { name: 'Submit a job' });
        await submit.getByLabel('Runtime').fill('nobody');
        await submit.getByLabel('Input', { exact: true }).fill('later');
        await submit.getByLabel('Group').fill('reports');
        await submit.getByLabel('Start at').fill(local);
        await submit.getByRole('button', { name: 'Submit job' }).click();

        const heading = page.getByRole('heading', { name: /^Job #\d+/ });
        await heading.getByText('queued').waitFor();
        const id = /Job #(\d+)/.exec((await heading.textContent())!)![1]!;
        const job = (await api(hub.url, 'GET', `/api/v1/jobs/${id}`)).body;
        expect(job).toMatchObject({ state: 'queued', group: 'reports', runAt: start.toISOString() });
        await page.getByTestId('job-group').getByText('reports').waitFor();
        expect(await page.getByTestId('job-run-at').locator('time').getAttribute('datetime')).toBe(
          start.toISOString(),
        );
        // Explain names the wait, not a missing worker.
        await page.getByText(/the job is scheduled for/).waitFor();
      });
    },
    scaled(45_000),
  );

  it(
    'creates a schedule, shows its next run, pauses and deletes it',
    async () => {
      const hub = await testHub();
      const listed = async () => (await api(hub.url, 'GET', '/api/v1/schedules')).body.schedules;
      await withPage(browser, 'console-schedules', async (page) => {
        await page.goto(`${hub.url}/ui/console/schedules`);
        await page.getByText('No schedules yet').waitFor();
        const form = page.getByRole('form', { name: 'Create a schedule' });
        await form.getByLabel('Name').fill('nightly-report');
        await form.getByLabel('Cron').fill('30 3 * * *');
        await form.getByLabel('Time zone').fill('Asia/Tokyo');
        await form.getByLabel('Runtime').fill('nobody');
        await form.getByLabel('Input of each job').fill('report please');
        await form.getByLabel('Overlap').selectOption('skip');
        await form.getByRole('button', { name: 'Create schedule' }).click();

        const row = page.locator('tr[data-schedule]', { hasText: 'nightly-report' });
        await row.waitFor();
        const [made] = await listed();
        expect(made).toMatchObject({ name: 'nightly-report', cron: '30 3 * * *', timezone: 'Asia/Tokyo' });
        expect(made).toMatchObject({ overlap: 'skip', paused: false, job: { runtime: 'nobody' } });
        // 03:30 in Tokyo is 18:30 UTC, within the next day.
        const next = new Date(made.nextRunAt);
        expect([next.getUTCHours(), next.getUTCMinutes()]).toEqual([18, 30]);
        expect(next.getTime() - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
        expect(await row.locator('time').getAttribute('datetime')).toBe(made.nextRunAt);
        expect(await row.textContent()).toContain('never');

        await row.getByRole('button', { name: 'Pause nightly-report' }).click();
        await page.locator(`tr[data-schedule="${made.id}"][data-paused="true"]`).waitFor();
        expect(await row.textContent()).toContain('paused');
        expect((await listed())[0]).toMatchObject({ paused: true, nextRunAt: null });

        await row.getByRole('button', { name: 'Delete nightly-report' }).click();
        await page.getByText('No schedules yet').waitFor();
        expect(await listed()).toEqual([]);

        // A refused expression shows the hub's reason under the form.
        await form.getByLabel('Name').fill('broken');
        await form.getByLabel('Cron').fill('61 * * * *');
        await form.getByRole('button', { name: 'Create schedule' }).click();
        await form.getByRole('alert').waitFor();
        expect(await form.getByRole('alert').textContent()).toMatch(/cron/i);
      });
    },
    scaled(60_000),
  );

  it(
    'creates a webhook, lists it with the results of its deliveries, and deletes it',
    async () => {
      // A receiver that always fails: the delivery stays pending with the receiver's status.
      const rx = createServer((_req, res) => res.writeHead(500).end());
      await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
      try {
        const hub = await testHub({ webhookAllow: ['127.0.0.0/8'], webhookRetryBaseMs: 600_000 });
        const target = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`;
        const hooks = async () => (await api(hub.url, 'GET', '/api/v1/webhooks')).body.webhooks;
        await withPage(browser, 'console-webhooks', async (page) => {
          await page.goto(`${hub.url}/ui/console/webhooks`);
          await page.getByText('No webhooks yet').waitFor();
          const form = page.getByRole('form', { name: 'Create a webhook' });
          await form.getByLabel('URL').fill(target);
          await form.getByLabel('Secret').fill('ui-test-secret');
          await form.getByLabel('job.succeeded').uncheck();
          await form.getByLabel('job.failed').uncheck();
          await form.getByRole('button', { name: 'Create webhook' }).click();
          await page.getByRole('heading', { name: target }).waitFor();
          const [hook] = await hooks();
          expect(hook).toMatchObject({ url: target, events: ['job.canceled'] });

          const job = (await api(hub.url, 'POST', '/api/v1/jobs', { runtime: 'nobody' })).body;
          await api(hub.url, 'POST', `/api/v1/jobs/${job.id}/cancel`);
          const row = page.locator('tr[data-state="pending"]', { hasText: 'HTTP 500' });
          await row.waitFor({ timeout: scaled(10_000) });
          await expect.poll(() => row.textContent()).toContain(`#${job.id}`);
          await expect.poll(() => row.textContent()).toContain('job.canceled');
          await expect.poll(() => row.textContent()).toContain('the receiver answered 500');
          await expect.poll(() => row.textContent()).toContain('next try');

          await page.getByRole('button', { name: `Delete webhook #${hook.id}` }).click();
          await page.getByText('No webhooks yet').waitFor();
          expect(await hooks()).toEqual([]);
        });
      } finally {
        await new Promise((r) => rx.close(r));
      }
    },
    scaled(60_000),
  );
});
