/**
 * Screenshots of the organisers' pages for docs/portal.md, from the demo (which posts
 * announcements, asks clarifications and lets a benchmarker go offline): the staff queue of
 * clarifications, announcements, benchmarker health, settings, a team's clarifications with the
 * announcements above, then the end of the contest: verification, review and the published
 * final ranking.
 *
 *   npm run build && node --import tsx scripts/screenshots-organisers.ts
 */
import { rmSync } from 'node:fs';
import { api, browser, dataDir, hub, open, shot, until } from './screenshots-kit.js';

try {
  const desk = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
  const page = await desk.newPage();

  await open(page, '/ui/staff/clarifications', 'Open clarifications');
  await page.locator('article[data-clarification]').first().waitFor();
  await shot(page, 'staff-clarifications');
  await open(page, '/ui/staff/announcements', 'New announcement');
  await page.locator('article[data-announcement]').first().waitFor();
  await shot(page, 'staff-announcements');
  await open(page, '/ui/staff/settings', 'Organiser settings');
  await page.getByRole('button', { name: 'Save settings' }).waitFor();
  await shot(page, 'staff-settings');

  // The demo's spare benchmarker stops polling after 30 s and is offline 20 s later.
  await until(
    'bench-spare to go offline',
    async () =>
      (await api('GET', '/api/portal/staff/health')).benchmarkers.some(
        (b: { name: string; status: string }) => b.name === 'bench-spare' && b.status === 'offline',
      ),
    120_000,
  );
  await open(page, '/ui/staff/health', 'Benchmarker health');
  await page.locator('tr[data-health="bench-spare"][data-status="offline"]').waitFor();
  await shot(page, 'staff-health');

  // A team: announcements on top, its clarifications (bravo's question was answered to everyone).
  await open(page, '/ui/team', 'Log in');
  await page.getByLabel('Team').fill('alpha');
  await page.getByLabel('Password').fill('alpha-demo');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Run benchmark' }).waitFor();
  await page.getByTestId('unread').first().waitFor();
  await shot(page, 'team-announcements');
  await open(page, '/ui/team/clarifications', 'Ask the organisers');
  await page.locator('article[data-clarification]').first().waitFor();
  await shot(page, 'team-clarifications');

  // The end: verification for every team, the review, publication, the public ranking.
  await api('PUT', '/api/portal/staff/contest', {
    freezes_at: new Date(Date.now() - 60_000).toISOString(),
    ends_at: new Date().toISOString(),
  });
  await until(
    'the benchmarks of the contest to finish',
    async () =>
      (await api('GET', '/api/portal/staff/jobs?status=waiting')).jobs.length === 0 &&
      (await api('GET', '/api/portal/staff/jobs?status=running')).jobs.length === 0,
    120_000,
  );
  await api('POST', '/api/portal/staff/results/verify');
  await until(
    'the verification runs',
    async () =>
      (await api('GET', '/api/portal/staff/results')).teams.every(
        (t: { verification: { status: string } | null }) =>
          t.verification !== null &&
          t.verification.status !== 'waiting' &&
          t.verification.status !== 'running',
      ),
    180_000,
  );
  const delta = (await api('GET', '/api/portal/staff/teams')).teams.find(
    (t: { name: string }) => t.name === 'delta',
  );
  await api('PUT', `/api/portal/staff/results/teams/${delta.id}`, {
    disqualified: true,
    note: 'used another team’s server',
  });
  await open(page, '/ui/staff/results', 'Run verification for every team');
  await page.locator('tr[data-review]').first().waitFor();
  await shot(page, 'staff-results');
  await api('POST', '/api/portal/staff/results/publish');
  await open(page, '/ui/results', 'Final results');
  await page.locator('tr[data-final]').first().waitFor();
  await shot(page, 'results');
} finally {
  await browser.close();
  hub.kill('SIGINT');
  await new Promise((r) => hub.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
