/**
 * The jobhub web UI: the contest (leaderboard for the audience, a team's page, staff) and the jobs
 * console for function jobs, on the hub's public APIs only.
 */
import { render, type ComponentType } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { getToken, setToken } from './api.js';
import { Link, match, navigate, useRoute } from './router.js';
import { Announcements, DeskProvider, UnreadBadge } from './desk.js';
import { Board } from './pages/board.js';
import { ConsoleFunctions } from './pages/console-functions.js';
import { ConsoleGroups } from './pages/console-groups.js';
import { ConsoleJob } from './pages/console-job.js';
import { ConsoleJobs } from './pages/console-jobs.js';
import { ConsoleOverview } from './pages/console.js';
import { ConsoleSchedules } from './pages/console-schedules.js';
import { ConsoleSubmit } from './pages/console-submit.js';
import { ConsoleWebhooks } from './pages/console-webhooks.js';
import { Home } from './pages/home.js';
import { Results, StaffResults } from './pages/results.js';
import { StaffBenchmarkers } from './pages/staff-bench.js';
import { StaffAnnouncements, StaffClarifications } from './pages/staff-desk.js';
import { StaffHealth, StaffSettings } from './pages/staff-health.js';
import { StaffContest } from './pages/staff-contest.js';
import { StaffJob } from './pages/staff-job.js';
import { StaffJobs } from './pages/staff.js';
import { StaffTeams } from './pages/staff-teams.js';
import { TeamClarifications } from './pages/team-clarifications.js';
import { TeamJob } from './pages/team-job.js';
import { Team } from './pages/team.js';
import './styles/base.css';
import './styles/components.css';

type Page = ComponentType<{ params: Record<string, string>; query: URLSearchParams }>;

/** `/staff` and the like: the first tab. */
const redirect = (to: string): Page =>
  function Redirect() {
    useEffect(() => navigate(to, { replace: true }), []);
    return null;
  };

const ROUTES: [string, Page][] = [
  ['/', Home],
  ['/board', Board],
  ['/team', Team],
  ['/team/jobs/:id', TeamJob],
  ['/team/clarifications', TeamClarifications],
  ['/results', Results],
  ['/staff', redirect('/staff/jobs')],
  ['/staff/jobs', StaffJobs],
  ['/staff/jobs/:id', StaffJob],
  ['/staff/teams', StaffTeams],
  ['/staff/teams/:id', StaffTeams],
  ['/staff/benchmarkers', StaffBenchmarkers],
  ['/staff/contest', StaffContest],
  ['/staff/clarifications', StaffClarifications],
  ['/staff/announcements', StaffAnnouncements],
  ['/staff/health', StaffHealth],
  ['/staff/results', StaffResults],
  ['/staff/settings', StaffSettings],
  ['/console', ConsoleOverview],
  ['/console/jobs', ConsoleJobs],
  ['/console/jobs/:id', ConsoleJob],
  ['/console/functions', ConsoleFunctions],
  ['/console/groups', ConsoleGroups],
  ['/console/schedules', ConsoleSchedules],
  ['/console/submit', ConsoleSubmit],
  ['/console/webhooks', ConsoleWebhooks],
];

function NotFound() {
  return (
    <>
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        Nothing lives at this address. <Link to="/">Go to the start page</Link>.
      </p>
    </>
  );
}

function Settings({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [value, setValue] = useState(getToken() ?? '');
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} onClose={onClose} aria-labelledby="settings-h">
      <form
        method="dialog"
        onSubmit={() => {
          const next = value.trim() || null;
          if (next === getToken()) return;
          setToken(next);
          // Every page reloads its data with the new token.
          location.reload();
        }}
      >
        <h2 id="settings-h">Settings</h2>
        <div class="field">
          <label for="token">API token</label>
          <input
            id="token"
            type="password"
            autoComplete="off"
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
            aria-describedby="token-hint"
          />
          <small id="token-hint" class="muted">
            Needed for the staff pages and the jobs console when the hub runs with auth (an admin or client
            token from <code>jobhub token create</code>). Kept in this browser only. Teams log in with their
            name and password instead.
          </small>
        </div>
        <div class="row">
          <button type="submit" class="primary">
            Save
          </button>
          <button type="button" onClick={() => ref.current?.close()}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}

function App() {
  const { path, query } = useRoute();
  const [settings, setSettings] = useState(false);
  let page: { C: Page; params: Record<string, string> } | null = null;
  for (const [pattern, C] of ROUTES) {
    const params = match(pattern, path);
    if (params) {
      page = { C, params };
      break;
    }
  }
  const first = useRef(true);
  useEffect(() => {
    // After a navigation, keyboard and screen-reader users start at the new page's heading.
    if (first.current) {
      first.current = false;
      return;
    }
    window.scrollTo(0, 0);
    document.querySelector<HTMLElement>('main h1')?.focus({ preventScroll: true });
  }, [path]);
  // Contestant and audience pages show the announcements and keep the unread badge live.
  const contestPage = !path.startsWith('/staff') && !path.startsWith('/console');
  return (
    <DeskProvider enabled={contestPage}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link to="/" class="brand">
          jobhub
        </Link>
        <nav aria-label="Main">
          <Link to="/board">Leaderboard</Link>
          <Link to="/team">
            My team <UnreadBadge />
          </Link>
          <Link to="/staff">Staff</Link>
          <Link to="/console">Jobs console</Link>
        </nav>
        <button type="button" class="ghost" onClick={() => setSettings(true)} aria-haspopup="dialog">
          Settings
        </button>
      </header>
      <main id="main">
        {contestPage && <Announcements />}
        {page ? <page.C key={path} params={page.params} query={query} /> : <NotFound />}
      </main>
      {settings && <Settings onClose={() => setSettings(false)} />}
    </DeskProvider>
  );
}

const root = document.getElementById('app')!;
root.textContent = ''; // the static "Loading…" placeholder
render(<App />, root);
