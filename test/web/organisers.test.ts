/**
 * The organisers' pages in Debian Chromium: a team asks a clarification, staff answer it to
 * everyone with the question rewritten, and the team's open page shows the unread badge live;
 * announcements posted, pinned and withdrawn reach an open audience page live; benchmarker health
 * with "take out of service" and back; the settings form; verification, review, publication and
 * the public final ranking.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/hub.js';
import { buildCli } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';
import { contestHub, HAS_CHROMIUM, launch, supervise, target, withPage } from './browser.js';

const S = '/api/portal/staff';

async function logIn(page: Page, url: string, team: string, password: string) {
  await page.goto(`${url}/ui/team`);
  await page.getByLabel('Team').fill(team);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: `Team ${team}` }).waitFor();
}

describe.skipIf(!HAS_CHROMIUM)('web UI: organisers', () => {
  let browser: Browser;
  beforeAll(async () => {
    await buildCli();
    browser = await launch();
  }, scaled(90_000));
  afterAll(async () => {
    await browser?.close();
  });

  it(
    'clarifications: asked by a team, answered to everyone by staff, unread badge live',
    async () => {
      const hub = await contestHub({
        teams: [
          { name: 'alpha', password: 'pw-a', servers: target(51) },
          { name: 'bravo', password: 'pw-b', servers: target(52) },
        ],
      });
      await withPage(browser, 'clarifications', async (team) => {
        await logIn(team, hub.url, 'alpha', 'pw-a');
        await team.getByRole('link', { name: /^Clarifications/ }).click();
        await team.getByLabel('Your question').fill('can we reuse team bravo s cache server 203.0.113.52?');
        await team.getByRole('button', { name: 'Ask' }).click();
        await team.getByText('waiting for an answer').waitFor();
        await team.getByRole('link', { name: 'Back to your team' }).click();
        await team.getByRole('heading', { name: 'Team alpha' }).waitFor();
        expect(await team.getByTestId('unread').count()).toBe(0);

        await withPage(browser, 'staff-clarifications', async (staff) => {
          await staff.goto(`${hub.url}/ui/staff/clarifications`);
          const item = staff.locator('article[data-clarification]');
          await item.getByText('alpha').waitFor();
          await item.getByLabel('Answer', { exact: true }).fill('No: use only your own servers.');
          await item.getByLabel('Answer to every team').check();
          await item
            .getByLabel('Question as every team will read it')
            .fill("May we use another team's servers?");
          await item.getByRole('button', { name: 'Send answer' }).click();
          await staff.getByText('No open clarifications.').waitFor();
        });

        // The team page, open all along, shows the unread answer without a reload.
        await expect
          .poll(() => team.getByTestId('unread').first().textContent(), { timeout: 15_000 })
          .toBe('1');
        await team.getByRole('link', { name: /^Clarifications/ }).click();
        await team.getByLabel('Answer to #1').getByText('No: use only your own servers.').waitFor();
        await team.getByText("May we use another team's servers?").waitFor();
        await expect.poll(() => team.getByTestId('unread').count()).toBe(0);
      });
      // bravo sees the public answer with the rewritten question only.
      await withPage(browser, 'clarifications-bravo', async (page) => {
        await logIn(page, hub.url, 'bravo', 'pw-b');
        await expect.poll(() => page.getByTestId('unread').first().textContent()).toBe('1');
        await page.goto(`${hub.url}/ui/team/clarifications`);
        await page.getByText("May we use another team's servers?").waitFor();
        expect(await page.getByText('203.0.113.52').count()).toBe(0);
      });
    },
    scaled(60_000),
  );

  it(
    'announcements: posted, pinned and withdrawn, live on the audience board',
    async () => {
      const hub = await contestHub({ teams: [{ name: 'alpha', password: 'pw-a', servers: target(53) }] });
      await withPage(browser, 'announcements', async (board) => {
        await board.goto(`${hub.url}/ui/board`);
        await board.getByRole('heading', { name: 'Leaderboard' }).waitFor();
        const shown = board.getByRole('region', { name: 'Announcements' });

        await withPage(browser, 'staff-announcements', async (staff) => {
          await staff.goto(`${hub.url}/ui/staff/announcements`);
          const post = async (title: string, body: string) => {
            await staff.getByLabel('Title').first().fill(title);
            await staff.getByLabel('Text').first().fill(body);
            await staff.getByRole('button', { name: 'Post to every team and the audience' }).click();
            await staff.locator('article[data-announcement]').getByText(title).waitFor();
          };
          await post('Lunch', 'At noon on floor 3.');
          await shown.getByText('At noon on floor 3.').waitFor();
          await post('Network maintenance', 'The bench network restarts at 14:00.');
          await shown.getByText('The bench network restarts at 14:00.').waitFor();
          await staff.getByRole('button', { name: 'Pin Lunch' }).click();
          await expect
            .poll(() => shown.locator('article').first().textContent(), { timeout: 15_000 })
            .toContain('Lunch');
          await staff.getByRole('button', { name: 'Withdraw Network maintenance' }).click();
          await expect
            .poll(() => shown.getByText('Network maintenance').count(), { timeout: 15_000 })
            .toBe(0);
          await staff.getByRole('button', { name: 'Edit Lunch' }).click();
          const edit = staff.getByRole('form', { name: /^Edit announcement/ });
          await edit.getByLabel('Text').fill('At 12:30 on floor 3.');
          await edit.getByRole('button', { name: 'Save' }).click();
          await shown.getByText('At 12:30 on floor 3.').waitFor();
        });
      });
    },
    scaled(60_000),
  );

  it(
    'health: a live benchmarker, one never seen, out of service and back; settings saved',
    async () => {
      const hub = await contestHub({
        teams: [{ name: 'alpha', password: 'pw-a', servers: target(54) }],
        benchmarkers: [
          { name: 'bench-live', ip: '127.0.0.5', teams: [] },
          { name: 'bench-ghost', ip: '127.0.0.6', teams: [] },
        ],
      });
      supervise(hub.url, '127.0.0.5');
      await withPage(browser, 'health', async (page) => {
        await page.goto(`${hub.url}/ui/staff/health`);
        const live = page.locator('tr[data-health="bench-live"]');
        await expect.poll(() => live.getAttribute('data-status'), { timeout: 15_000 }).toBe('online');
        await page.locator('tr[data-health="bench-ghost"]').getByText('never seen').waitFor();
        await page.getByRole('button', { name: 'Take out of service bench-live' }).click();
        await expect.poll(() => live.getAttribute('data-status')).toBe('out_of_service');
        const job = await api(hub.url, 'POST', `${S}/jobs`, { team: 'alpha' });
        await new Promise((r) => setTimeout(r, 1000));
        expect((await api(hub.url, 'GET', `${S}/jobs/${job.body.id}`)).body.status).toBe('waiting');
        await page.getByRole('button', { name: 'Put back in service bench-live' }).click();
        await expect.poll(() => live.getAttribute('data-status')).toBe('online');
        await expect
          .poll(async () => (await api(hub.url, 'GET', `${S}/jobs/${job.body.id}`)).body.status, {
            timeout: 15_000,
          })
          .toBe('done');
        await expect.poll(() => live.locator('td').nth(4).textContent(), { timeout: 10_000 }).toBe('1');

        await page.getByRole('link', { name: 'Settings' }).last().click();
        await page.getByLabel('Offline after (seconds without a dequeue)').fill('45');
        await page.getByLabel(/Contestants see their runs' stdout/).uncheck();
        await page.getByLabel('Notification webhooks (one URL a line)').fill('http://127.0.0.1:9/hook');
        await page.getByRole('button', { name: 'Save settings' }).click();
        await page.getByRole('status').getByText('Saved.').waitFor();
        expect((await api(hub.url, 'GET', `${S}/settings`)).body).toEqual({
          offline_after_s: 45,
          contestant_stdout_after_end: false,
          webhooks: ['http://127.0.0.1:9/hook'],
        });
      });
    },
    scaled(60_000),
  );

  it(
    'results: verification after the end, a disqualification, publication and the public ranking',
    async () => {
      const hub = await contestHub({
        teams: [
          { name: 'alpha', password: 'pw-a', servers: target(55) },
          { name: 'bravo', password: 'pw-b', servers: target(56) },
        ],
        benchmarkers: [{ name: 'bench', ip: '127.0.0.7', teams: [] }],
      });
      supervise(hub.url, '127.0.0.7', 300);
      for (const team of ['alpha', 'bravo']) {
        const j = await api(hub.url, 'POST', `${S}/jobs`, { team });
        await expect
          .poll(async () => (await api(hub.url, 'GET', `${S}/jobs/${j.body.id}`)).body.status, {
            timeout: 15_000,
          })
          .toBe('done');
      }
      // The contest ends now.
      const now = Date.now();
      await api(hub.url, 'PUT', `${S}/contest`, {
        freezes_at: new Date(now - 1000).toISOString(),
        ends_at: new Date(now).toISOString(),
      });
      await withPage(browser, 'results', async (page) => {
        await page.goto(`${hub.url}/ui/results`);
        await page.getByText('The final results are not published yet.').waitFor();
        await page.goto(`${hub.url}/ui/staff/results`);
        await page.getByText('not published: the public board stays frozen').waitFor();
        await page.getByRole('button', { name: 'Run verification for every team' }).click();
        await page.getByRole('status').getByText('Verification runs enqueued for every team.').waitFor();
        for (const team of ['alpha', 'bravo'])
          await page
            .locator(`tr[data-review="${team}"]`)
            .getByText('passed', { exact: true })
            .waitFor({ timeout: 20_000 });
        const bravo = page.locator('tr[data-review="bravo"]');
        await bravo.getByLabel('Note for bravo').fill('shared a server');
        await bravo.getByRole('button', { name: 'Disqualify bravo' }).click();
        await bravo.getByText('disqualified').waitFor();
        await page.getByRole('button', { name: 'Publish final ranking' }).click();
        await page.getByRole('status').getByText('Final ranking published.').waitFor();

        await page.goto(`${hub.url}/ui/results`);
        await page.locator('tr[data-final="alpha"]').getByText('1', { exact: true }).waitFor();
        await page.locator('tr[data-final="bravo"]').getByText('shared a server').waitFor();
        await page.goto(`${hub.url}/ui/board`);
        await page.getByRole('link', { name: 'see the final ranking' }).waitFor();
      });
    },
    scaled(90_000),
  );
});
