/**
 * A contestant in a real browser against a real hub and a real benchmark supervisor: log in, add
 * a server (the bench target), run a benchmark, follow it to the end; the leaderboard, open in
 * another browser, changes without a reload.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../helpers/worker.js';
import { contestHub, HAS_CHROMIUM, launch, runAndWait, supervise, target, withPage } from './browser.js';
import { scaled } from '../helpers/time.js';

describe.skipIf(!HAS_CHROMIUM)('web UI: contestant', () => {
  let browser: Browser;
  beforeAll(async () => {
    await buildCli(); // dist/web
    browser = await launch();
  }, scaled(90_000));
  afterAll(async () => {
    await browser?.close();
  });

  it(
    'logs in, adds a server, runs a benchmark, watches it finish and sees the leaderboard change',
    async () => {
      const hub = await contestHub({
        teams: [
          { name: 'red', password: 'red-pw', members: ['ann'] },
          { name: 'blue', password: 'blue-pw', servers: target(20) },
        ],
        benchmarkers: [{ name: 'bench-shared', ip: '127.0.0.2', teams: [] }],
      });
      supervise(hub.url, '127.0.0.2');
      const blue = await runAndWait(hub.url, 'blue');
      expect(blue.status).toBe('done');

      await withPage(browser, 'contestant-board', async (board) => {
        await board.goto(`${hub.url}/ui/board`);
        const redRow = board.locator('tr[data-team="red"]');
        await expect.poll(() => redRow.locator('td.latest').textContent()).toBe('—');
        await expect
          .poll(() => board.locator('tr[data-team="blue"] td.latest').textContent())
          .toBe(blue.score.toLocaleString('en-US'));

        await withPage(browser, 'contestant', async (page) => {
          await page.goto(`${hub.url}/`);
          await page.getByRole('link', { name: 'My team' }).first().click();
          await page.getByLabel('Team').fill('red');
          await page.getByLabel('Password').fill('wrong');
          await page.getByRole('button', { name: 'Log in' }).click();
          await page
            .getByRole('alert')
            .getByText(/password/i)
            .waitFor();
          // The keyboard alone will do: type, and Enter submits.
          await page.getByLabel('Password').focus();
          await page.keyboard.press('Control+A');
          await page.keyboard.type('red-pw');
          await page.keyboard.press('Enter');
          await page.getByRole('heading', { name: 'Team red' }).waitFor();

          // No bench target yet: the button says why it cannot run.
          const run = page.getByRole('button', { name: 'Run benchmark' });
          expect(await run.isDisabled()).toBe(true);
          await page.getByText('Register a server and choose it as the bench target first.').waitFor();

          const form = page.getByRole('form', { name: 'Add a server' });
          await form.getByLabel('Hostname').fill('app1');
          await form.getByLabel('Global IP').fill('203.0.113.77');
          await form.getByLabel('Private IP').fill('10.1.0.1');
          expect(await form.getByLabel(/Bench target/).isChecked()).toBe(true);
          await form.getByRole('button', { name: 'Add server' }).click();
          await page.locator('#servers').getByText('bench target', { exact: true }).waitFor();
          await expect.poll(() => run.isEnabled()).toBe(true);

          await run.focus();
          await page.keyboard.press('Enter');
          const live = page.locator('.live-job');
          await expect.poll(() => live.getAttribute('data-status')).toMatch(/waiting|running/);
          // Running scores and messages arrive while it runs, then the result.
          await page
            .getByTestId('job-log')
            .getByText(/points against 203\.0\.113\.77/)
            .first()
            .waitFor();
          await page.getByTestId('final-score').waitFor({ timeout: 20_000 });
          expect(await live.getAttribute('data-status')).toBe('done');
          await live.getByText('passed', { exact: true }).waitFor();
          const score = (await page.getByTestId('final-score').textContent())!;
          expect(Number(score.replace(/,/g, ''))).toBeGreaterThan(0);
          await live.getByText(/red: all checks passed/).waitFor();

          // History and the team's own numbers follow.
          await page.locator('#history tr[data-job]').first().getByText('passed', { exact: true }).waitFor();
          await expect.poll(() => page.getByTestId('latest-score').textContent()).toBe(score);

          // The leaderboard in the other browser updated by itself; the team's own view too.
          await expect.poll(() => redRow.locator('td.latest').textContent(), { timeout: 10_000 }).toBe(score);
          expect(await redRow.locator('td').first().textContent()).toMatch(/^[12]$/);
          await page.getByRole('link', { name: 'Leaderboard' }).first().click();
          await page.locator('tr[data-team="red"].own td.latest').getByText(score).waitFor();
        });
      });
    },
    scaled(45_000),
  );
});
