/**
 * The jobs console in a real browser against a hub with a real worker (the Lua runtime): make a
 * function from pasted code, submit a job with it, watch it finish and read its output; a job
 * nobody can run says why; the overview shows the worker and the queues.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../agent/helpers.js';
import { api, testHub } from '../helpers/hub.js';
import { buildCli } from '../helpers/worker.js';
import { HAS_CHROMIUM, launch, withPage } from './browser.js';
import { scaled } from '../helpers/time.js';

describe.skipIf(!HAS_CHROMIUM)('web UI: jobs console', () => {
  let browser: Browser;
  beforeAll(async () => {
    await buildCli();
    browser = await launch();
  }, scaled(90_000));
  afterAll(async () => {
    await browser?.close();
  });

  it(
    'submits a function job from the console and shows its output',
    async () => {
      const hub = await testHub();
      await startAgent(hub.url, ['dlabLua54'], { name: 'lua-worker', concurrency: 1 });

      await withPage(browser, 'console', async (page) => {
        await page.goto(`${hub.url}/ui/console`);
        await page.locator('tr[data-worker]').getByText('lua-worker').waitFor();

        // A function from pasted code.
        await page.getByRole('link', { name: 'Functions' }).click();
        await page.getByText('No functions yet').waitFor();
        const form = page.getByRole('form', { name: 'New function' });
        await form.getByLabel('Name').fill('shout');
        await form.getByLabel('Runtime').fill('dlabLua54');
        await form
          .getByLabel('Code', { exact: true })
          .fill('jobhub.log("shouting")\nio.write(string.upper(io.read("a")))');
        await form.getByRole('button', { name: 'Create function' }).click();
        await page.locator('tr[data-function="shout"]').waitFor();

        // Submit a job with it.
        await page.getByRole('link', { name: 'Submit a job with it' }).click();
        const submit = page.getByRole('form', { name: 'Submit a job' });
        await expect.poll(() => submit.getByLabel('Function').inputValue()).not.toBe('');
        await submit.getByLabel('Input', { exact: true }).fill('hello from the web ui');
        await submit.getByRole('button', { name: 'Submit job' }).click();

        // The job page follows it to the end and shows the output.
        await page.getByRole('heading', { name: /^Job #\d+/ }).waitFor();
        await page
          .getByRole('heading', { name: /^Job #\d+/ })
          .getByText('succeeded')
          .waitFor({ timeout: 20_000 });
        await page.getByTestId('output-preview').getByText('HELLO FROM THE WEB UI').waitFor();
        await page.getByTestId('input-preview').getByText('hello from the web ui').waitFor();
        await page.locator('.timeline').getByText('succeeded').waitFor();
        const id = /Job #(\d+)/.exec(
          (await page.getByRole('heading', { name: /^Job #\d+/ }).textContent())!,
        )![1]!;
        const output = await fetch(`${hub.url}/api/v1/jobs/${id}/output`);
        expect(await output.text()).toBe('HELLO FROM THE WEB UI');

        // The list, filtered by state, has it.
        await page.getByRole('link', { name: '← Jobs' }).click();
        await page.getByLabel('State').selectOption('succeeded');
        await page.locator(`tr[data-job="${id}"]`).getByText('shout').waitFor();

        // A job for a runtime nobody offers explains itself.
        const stuck = await api(hub.url, 'POST', '/api/v1/jobs', {
          runtime: 'python3',
          input: { text: 'x' },
        });
        await page.goto(`${hub.url}/ui/console/jobs/${stuck.body.id}`);
        await page.getByRole('heading', { name: "Why isn't it running?" }).waitFor();
        await page.getByText('no live worker offers runtime python3').waitFor();
        await page.getByRole('button', { name: 'Cancel job' }).click();
        await page
          .getByRole('heading', { name: /^Job #\d+/ })
          .getByText('canceled')
          .waitFor();

        // The overview counts the finished job for its runtime.
        await page.goto(`${hub.url}/ui/console`);
        await expect
          .poll(() => page.locator('tr[data-runtime="dlabLua54"] td').last().textContent())
          .toBe('1');
      });
    },
    scaled(45_000),
  );

  it(
    'shows code in the API reference as code, not backticks',
    async () => {
      const hub = await testHub();
      await withPage(browser, 'docs', async (page) => {
        await page.goto(`${hub.url}/docs`);
        const lease = page.locator('summary', { hasText: 'Lease up to' });
        await lease.waitFor();
        expect(await lease.locator('code').allTextContents()).toEqual(['limit', 'waitMs']);
        const summaries = await page.locator('summary').allTextContents();
        expect(summaries.length).toBeGreaterThan(10);
        expect(summaries.filter((t) => t.includes('`'))).toEqual([]);
      });
    },
    scaled(20_000),
  );

  it(
    'lines up the labels of the submit form and of the job filters',
    async () => {
      const hub = await testHub();
      await withPage(browser, 'labels', async (page) => {
        const tops = async (ids: string[]) =>
          Promise.all(ids.map(async (id) => (await page.locator(`label[for="${id}"]`).boundingBox())!.y));
        await page.goto(`${hub.url}/ui/console/submit`);
        await page.locator('label[for="s-tags"]').waitFor();
        // One row: a field with a hint (Tags) beside fields without one.
        expect(new Set(await tops(['s-tags', 's-priority', 's-attempts', 's-timeout'])).size).toBe(1);
        expect(new Set(await tops(['s-fn', 's-runtime'])).size).toBe(1);
        await page.goto(`${hub.url}/ui/console/jobs`);
        await page.locator('label[for="j-tag"]').waitFor();
        expect(new Set(await tops(['j-state', 'j-fn', 'j-runtime', 'j-tag'])).size).toBe(1);
      });
    },
    scaled(20_000),
  );
});
