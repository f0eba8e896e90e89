/**
 * The freeze in real browsers: after the freeze a team that runs a benchmark sees its own new
 * score, while another team and the audience keep seeing its score from before the freeze,
 * under the freeze banner.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/hub.js';
import { buildCli } from '../helpers/worker.js';
import { contestHub, HAS_CHROMIUM, launch, runAndWait, supervise, target, withPage } from './browser.js';
import { scaled } from '../helpers/time.js';

async function login(page: Page, base: string, team: string, password: string) {
  await page.goto(`${base}/ui/team`);
  await page.getByLabel('Team').fill(team);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: `Team ${team}` }).waitFor();
}

const latest = (page: Page, team: string) => page.locator(`tr[data-team="${team}"] td.latest`).textContent();

describe.skipIf(!HAS_CHROMIUM)('web UI: freeze', () => {
  let browser: Browser;
  beforeAll(async () => {
    await buildCli();
    browser = await launch();
  }, scaled(90_000));
  afterAll(async () => {
    await browser?.close();
  });

  it(
    "hides other teams' new scores during the freeze but not the team's own",
    async () => {
      const hub = await contestHub({
        teams: [
          { name: 'amber', password: 'amber-pw', servers: target(31) },
          { name: 'blue', password: 'blue-pw', servers: target(32) },
        ],
        benchmarkers: [{ name: 'bench-shared', ip: '127.0.0.3', teams: [] }],
      });
      supervise(hub.url, '127.0.0.3');
      const amberBefore = await runAndWait(hub.url, 'amber');
      const blueBefore = await runAndWait(hub.url, 'blue');
      const fmt = (n: number) => n.toLocaleString('en-US');

      const frozen = await api(hub.url, 'PUT', '/api/portal/staff/contest', {
        freezes_at: new Date().toISOString(),
      });
      expect(frozen.status, JSON.stringify(frozen.body)).toBe(200);

      await withPage(browser, 'freeze-audience', async (audience) => {
        await audience.goto(`${hub.url}/ui/board`);
        await audience.getByText('The leaderboard is frozen').waitFor();
        await withPage(browser, 'freeze-amber', async (amber) => {
          await login(amber, hub.url, 'amber', 'amber-pw');
          await amber.getByRole('link', { name: 'Leaderboard' }).first().click();
          await amber.getByText('The leaderboard is frozen').waitFor();
          await amber.getByText('Your own team is shown live.').waitFor();
          await expect.poll(() => latest(amber, 'blue')).toBe(fmt(blueBefore.score));

          await withPage(browser, 'freeze-blue', async (blue) => {
            // Blue improves after the freeze, through the UI.
            await login(blue, hub.url, 'blue', 'blue-pw');
            await blue.getByText('The leaderboard is frozen').waitFor();
            await blue.getByRole('button', { name: 'Run benchmark' }).click();
            // The page showed blue's earlier job, finished, until the new one replaces it.
            const liveJob = blue.locator('.live-job').getByRole('link', { name: /^Job #\d+$/ });
            await expect.poll(() => liveJob.textContent()).not.toBe(`Job #${blueBefore.id}`);
            await blue.locator('.live-job[data-status="done"]').waitFor({ timeout: 20_000 });
            const after = (await blue.getByTestId('final-score').textContent())!;
            expect(after).not.toBe(fmt(blueBefore.score));
            await expect.poll(() => blue.getByTestId('latest-score').textContent()).toBe(after);

            // Blue sees itself live on the leaderboard...
            await blue.getByRole('link', { name: 'Leaderboard' }).first().click();
            await expect.poll(() => latest(blue, 'blue'), { timeout: 10_000 }).toBe(after);
            expect(await blue.locator('tr[data-team="blue"]').getAttribute('class')).toContain('own');
            // ...and amber as it stood at the freeze.
            expect(await latest(blue, 'amber')).toBe(fmt(amberBefore.score));

            // Amber and the audience keep seeing blue's score from before the freeze, polls later.
            await amber.waitForTimeout(4000);
            expect(await latest(amber, 'blue')).toBe(fmt(blueBefore.score));
            expect(await latest(audience, 'blue')).toBe(fmt(blueBefore.score));
            expect(await audience.locator('tr.own').count()).toBe(0);
          });
        });
      });

      // Staff see everything live.
      const staff = await api(hub.url, 'GET', '/api/portal/staff/leaderboard');
      const blueStaff = staff.body.teams.find((t: { team: { name: string } }) => t.team.name === 'blue');
      expect(blueStaff.runs).toBe(2);
    },
    scaled(45_000),
  );
});
