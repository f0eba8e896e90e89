/**
 * Screenshots of the web UI for the docs: starts `jobhub up --demo` (built: run `npm run build`
 * first), drives headless Chromium through every main page and writes docs/img/ui-*.png.
 *
 *   npm run build && node --import tsx scripts/screenshots.ts
 *
 * JOBHUB_CHROMIUM overrides the browser (default /usr/bin/chromium, Debian's package).
 */
import { rmSync } from 'node:fs';
import { api, browser, dataDir, hub, open, shot, until } from './screenshots-kit.js';

try {
  // Wait until every team has a result, so the board and its chart have something to show.
  await until('the first benchmark results', async () => {
    const b = await api('GET', '/api/portal/leaderboard');
    return b.teams.filter((t: { runs: number }) => t.runs > 0).length >= 4;
  });
  const desk = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
  const page = await desk.newPage();

  await open(page, '/ui/', 'Jobs console');
  await shot(page, 'home');

  // A contestant: log in, run a benchmark, watch it run and finish.
  await open(page, '/ui/team', 'Log in');
  await page.getByLabel('Team').fill('alpha');
  await page.getByLabel('Password').fill('alpha-demo');
  await page.getByRole('button', { name: 'Log in' }).click();
  const run = page.getByRole('button', { name: 'Run benchmark' });
  await run.waitFor();
  await until('alpha to be idle', async () => run.isEnabled());
  await run.click();
  await page.getByTestId('job-log').waitFor({ timeout: 20_000 });
  await page.waitForTimeout(2500);
  await shot(page, 'team-running');
  await page.getByTestId('final-score').waitFor({ timeout: 30_000 });
  await shot(page, 'team');

  // Staff pages (a loopback hub without auth: no token needed).
  await open(page, '/ui/staff/jobs', 'Benchmark jobs');
  await page.locator('tr[data-job]').first().waitFor();
  await shot(page, 'staff-jobs');
  const finished = (await api('GET', '/api/portal/staff/jobs?status=done&limit=1')).jobs[0];
  await open(page, `/ui/staff/jobs/${finished.id}`, 'stderr (staff only)');
  await shot(page, 'staff-job');
  await open(page, '/ui/staff/teams/1', 'Add a server');
  await shot(page, 'staff-teams');
  await open(page, '/ui/staff/benchmarkers', 'New benchmarker');
  await page.locator('tr[data-benchmarker]').first().waitFor();
  await shot(page, 'staff-benchmarkers');
  await open(page, '/ui/staff/contest', 'Leaderboard (unfrozen, staff only)');
  await shot(page, 'staff-contest');

  // The jobs console.
  await open(page, '/ui/console', 'Queues by runtime');
  await page.locator('tr[data-worker]').first().waitFor();
  await shot(page, 'console');
  await open(page, '/ui/console/jobs', 'Function / runtime');
  await shot(page, 'console-jobs');
  const fns = (await api('GET', '/api/v1/functions')).functions as { id: string; name: string }[];
  const slow = await api('POST', '/api/v1/jobs', {
    function: fns.find((f) => f.name === 'slow-steps')!.id,
    input: { text: 'screenshots are fun' },
  });
  await open(page, `/ui/console/jobs/${slow.id}`, 'Timeline');
  await page.getByText('step 3 of 8').waitFor({ timeout: 20_000 });
  await shot(page, 'console-job-running');
  const stuck = (await api('GET', '/api/v1/jobs?runtime=python3&limit=1')).jobs[0];
  await open(page, `/ui/console/jobs/${stuck.id}`, "Why isn't it running?");
  await shot(page, 'console-job-why');
  const shout = (
    await api(
      'GET',
      `/api/v1/jobs?function=${fns.find((f) => f.name === 'word-count')!.id}&state=succeeded&limit=1`,
    )
  ).jobs[0];
  await open(page, `/ui/console/jobs/${shout.id}`, 'Download output');
  await shot(page, 'console-job');
  await open(page, '/ui/console/functions', 'Create function');
  await shot(page, 'console-functions');
  await open(page, '/ui/console/submit', 'Submit job');
  await shot(page, 'console-submit');
  // Schedules: one that has run (every 10 s), one for the night, one paused.
  const fnId = (name: string) => fns.find((f) => f.name === name)!.id;
  const often = await api('POST', '/api/v1/schedules', {
    name: 'count-words',
    cron: '*/10 * * * * *',
    job: { function: fnId('word-count'), input: { text: 'a few words to count' } },
  });
  await api('POST', '/api/v1/schedules', {
    name: 'nightly-steps',
    cron: '30 3 * * *',
    timezone: 'Europe/Paris',
    overlap: 'skip',
    job: { function: fnId('slow-steps'), input: { text: 'nightly' } },
  });
  const weekly = await api('POST', '/api/v1/schedules', {
    name: 'weekly-cleanup',
    cron: '0 6 * * 1',
    job: { runtime: 'python3' },
  });
  await api('POST', `/api/v1/schedules/${weekly.id}/pause`);
  await until('the schedule to run once', async () => {
    const all = (await api('GET', '/api/v1/schedules')).schedules as {
      id: string;
      lastJobId: string | null;
    }[];
    return all.some((x) => x.id === often.id && x.lastJobId !== null);
  });
  await open(page, '/ui/console/schedules', 'Create schedule');
  await page.locator('tr[data-schedule]').nth(2).waitFor();
  await shot(page, 'console-schedules');
  await api('POST', `/api/v1/schedules/${often.id}/pause`);

  // The leaderboard once the teams have a few results each (the demo keeps them running).
  await until(
    'a few results per team',
    async () => {
      const b = await api('GET', '/api/portal/leaderboard');
      return b.teams.reduce((n: number, t: { runs: number }) => n + t.runs, 0) >= 9;
    },
    120_000,
  );
  await open(page, '/ui/board', 'Top teams over time');
  await shot(page, 'board');

  // The freeze: bravo improves after the freeze; alpha (logged in) sees bravo's old score.
  await api('PUT', '/api/portal/staff/contest', { freezes_at: new Date().toISOString() });
  await until(
    'bravo to be idle',
    async () =>
      (await api('GET', '/api/portal/staff/jobs?team=bravo&status=waiting')).jobs.length === 0 &&
      (await api('GET', '/api/portal/staff/jobs?team=bravo&status=running')).jobs.length === 0,
  );
  const late = await api('POST', '/api/portal/staff/jobs', { team: 'bravo' });
  await until(
    'bravo’s run after the freeze',
    async () =>
      (await api('GET', `/api/portal/staff/jobs/${late.id}`)).status !== 'waiting' &&
      (await api('GET', `/api/portal/staff/jobs/${late.id}`)).finished_at !== null,
  );
  await open(page, '/ui/board', 'The leaderboard is frozen');
  await shot(page, 'board-frozen');

  // Phone width.
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  const p2 = await phone.newPage();
  await open(p2, '/ui/board', 'Top teams over time');
  await shot(p2, 'phone-board');
  await open(p2, '/ui/team', 'Log in');
  await p2.getByLabel('Team').fill('charlie');
  await p2.getByLabel('Password').fill('charlie-demo');
  await p2.getByRole('button', { name: 'Log in' }).click();
  await p2.getByRole('button', { name: 'Run benchmark' }).waitFor();
  await shot(p2, 'phone-team');
} finally {
  await browser.close();
  hub.kill('SIGINT');
  await new Promise((r) => hub.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
