/** The start page: where to go, and whether the hub and the contest are up. */
import { PHASE_TEXT, P, type Contest } from '../portal.js';
import { useResource } from '../live.js';
import { Link } from '../router.js';
import { Badge } from '../ui.js';

export function Home() {
  const health = useResource<{ status: string }>('/readyz', 10_000);
  const contest = useResource<Contest>(`${P}/contest`, 10_000);
  return (
    <>
      <h1 tabIndex={-1}>jobhub</h1>
      <p class="row">
        Hub:{' '}
        {health.data ? (
          <Badge state="succeeded" label="ready" />
        ) : health.error ? (
          <Badge state="failed" label="unreachable" />
        ) : (
          <Badge state="queued" label="checking" />
        )}
        {contest.data && (
          <>
            Contest:{' '}
            <Badge
              state={contest.data.phase === 'ended' ? 'canceled' : 'running'}
              label={PHASE_TEXT[contest.data.phase]}
            />
          </>
        )}
      </p>
      <div class="home-grid">
        <Link to="/board" class="card">
          <h2>Leaderboard</h2>
          <p class="muted">Ranks, latest and best scores, and the leading teams over time. Updates live.</p>
        </Link>
        <Link to="/team" class="card">
          <h2>My team</h2>
          <p class="muted">Log in, register servers, run a benchmark and follow it live; your history.</p>
        </Link>
        <Link to="/staff" class="card">
          <h2>Staff</h2>
          <p class="muted">
            Teams, servers, benchmarkers, the schedule; every job with cancel and re-enqueue.
          </p>
        </Link>
        <Link to="/console" class="card">
          <h2>Jobs console</h2>
          <p class="muted">Function jobs: queues, workers, job details with live logs, submit a job.</p>
        </Link>
      </div>
      <p class="muted">
        API reference: <a href="/docs">/docs</a> · metrics: <a href="/metrics">/metrics</a>
      </p>
    </>
  );
}
