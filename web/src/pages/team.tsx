/**
 * A contestant's page: log in; then run a benchmark and follow it live, the team's scores and
 * chart, its servers (the bench target) and its job history.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, forget, post } from '../api.js';
import { ScoreChart } from '../chart.js';
import { useResource } from '../live.js';
import { isActive, P, PHASE_TEXT, type Dashboard, type Me, type PortalJob } from '../portal.js';
import { Link } from '../router.js';
import {
  ActionError,
  Badge,
  Banner,
  clock,
  ErrorBox,
  Field,
  fmt,
  Load,
  Loading,
  Section,
  useAction,
} from '../ui.js';
import { UnreadBadge, useDesk } from '../desk.js';
import { LiveJob } from './team-live.js';
import { JobHistory, Servers } from './team-parts.js';

function Login({ onDone }: { onDone: () => void }) {
  const [team, setTeam] = useState('');
  const [password, setPassword] = useState('');
  const a = useAction();
  return (
    <Section title="Log in" id="login">
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const ok = await a.run(() => post(`${P}/login`, { team, password }));
          if (ok) {
            forget(P);
            onDone();
          }
        }}
      >
        <div class="form-row">
          <Field
            label="Team"
            name="team"
            autoComplete="username"
            required
            value={team}
            onInput={(e) => setTeam(e.currentTarget.value)}
          />
          <Field
            label="Password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </div>
        <ActionError error={a.error} />
        <button type="submit" class="primary" disabled={a.busy}>
          {a.busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </Section>
  );
}

function RunButton({ dash, me, onStarted }: { dash: Dashboard; me: Me; onStarted: (j: PortalJob) => void }) {
  const a = useAction();
  const open = dash.contest.phase === 'running' || dash.contest.phase === 'frozen';
  const target = me.servers.some((s) => s.is_bench_target);
  const busy = isActive(dash.current_job);
  const why = !open
    ? `The contest is not open for benchmarks (${PHASE_TEXT[dash.contest.phase].toLowerCase()}).`
    : !target
      ? 'Register a server and choose it as the bench target first.'
      : busy
        ? 'A benchmark of your team is waiting or running.'
        : null;
  return (
    <div class="stack">
      <div class="row">
        <button
          type="button"
          class="primary big"
          disabled={a.busy || why !== null}
          aria-describedby={why ? 'run-why' : undefined}
          onClick={async () => {
            const job = await a.run(() => post<PortalJob>(`${P}/jobs`));
            if (job) onStarted(job);
          }}
        >
          {a.busy ? 'Starting…' : 'Run benchmark'}
        </button>
        {why && (
          <span id="run-why" class="muted">
            {why}
          </span>
        )}
      </div>
      <ActionError error={a.error} />
    </div>
  );
}

function TeamHome({ me, onLogout, onChanged }: { me: Me; onLogout: () => void; onChanged: () => void }) {
  const dash = useResource<Dashboard>(`${P}/dashboard`, 3000);
  // A session that ended (expired, password changed) brings the login form back.
  useEffect(() => {
    if (dash.error instanceof ApiError && dash.error.status === 401) onLogout();
  }, [dash.error, onLogout]);
  const [jobsTick, setJobsTick] = useState(0);
  const [started, setStarted] = useState<number | null>(null);
  const logout = useAction();
  const refresh = () => {
    dash.reload();
    setJobsTick((n) => n + 1);
  };
  return (
    <>
      <div class="card-head">
        <h1 tabIndex={-1}>Team {me.team.name}</h1>
        <button
          type="button"
          disabled={logout.busy}
          onClick={async () => {
            await logout.run(() => post(`${P}/logout`));
            forget(P);
            onLogout();
          }}
        >
          Log out
        </button>
      </div>
      <Load r={dash} what="Loading your dashboard">
        {(d) => {
          const focus = started ?? d.current_job?.id ?? d.history[d.history.length - 1]?.job_id ?? null;
          return (
            <>
              <p class="row muted">
                <Badge
                  state={d.contest.phase === 'ended' ? 'canceled' : 'running'}
                  label={PHASE_TEXT[d.contest.phase]}
                />
                {d.contest.ends_at && <span>Ends {clock(d.contest.ends_at)}</span>}
                <Link to="/board">Leaderboard</Link>
                <Link to="/team/clarifications">
                  Clarifications <UnreadBadge />
                </Link>
              </p>
              {d.contest.phase === 'frozen' && (
                <Banner kind="warn">
                  The leaderboard is frozen: others see your results up to the freeze; you see your own live.
                </Banner>
              )}
              <Section title="Benchmark" id="bench">
                <RunButton dash={d} me={me} onStarted={(j) => (setStarted(j.id), refresh())} />
                <LiveJob key={focus ?? 'last'} id={focus} reloadTick={jobsTick} onStatusChange={refresh} />
              </Section>
              <div class="grid-2">
                <Section title="Scores" id="scores">
                  <dl class="stats">
                    <div>
                      <dt>Latest</dt>
                      <dd data-testid="latest-score">
                        {d.latest_passed === null ? '—' : d.latest_passed ? fmt(d.latest_score) : 'fail'}
                      </dd>
                    </div>
                    <div>
                      <dt>Best</dt>
                      <dd>{d.best_at ? fmt(d.best_score) : '—'}</dd>
                    </div>
                    <div>
                      <dt>Runs</dt>
                      <dd>{d.runs}</dd>
                    </div>
                  </dl>
                  <ScoreChart
                    label="Your scores over time"
                    series={[
                      {
                        name: me.team.name,
                        strong: true,
                        points: d.history
                          .filter((h) => h.finished_at)
                          .map((h) => ({
                            t: Date.parse(h.finished_at!),
                            v: h.is_passed ? h.score : 0,
                            failed: !h.is_passed,
                          })),
                      },
                    ]}
                  />
                </Section>
                <Servers me={me} onChanged={onChanged} />
              </div>
              <JobHistory tick={jobsTick} />
            </>
          );
        }}
      </Load>
    </>
  );
}

export function Team() {
  const [tick, setTick] = useState(0);
  const me = useResource<Me>(`${P}/me?_=${tick}`);
  const desk = useDesk();
  // Logged in or out: the session changed, so the event stream is opened again for it.
  const again = () => {
    setTick((n) => n + 1);
    desk.reconnect();
  };
  if (me.error instanceof ApiError && me.error.status === 401) {
    return (
      <>
        <h1 tabIndex={-1}>My team</h1>
        <p class="muted">Log in with your team name and password to run benchmarks and see your results.</p>
        <Login onDone={again} />
      </>
    );
  }
  if (me.data === undefined) {
    return (
      <>
        <h1 tabIndex={-1}>My team</h1>
        {me.error ? <ErrorBox error={me.error} retry={again} /> : <Loading what="Checking your session" />}
      </>
    );
  }
  return <TeamHome me={me.data} onLogout={again} onChanged={me.reload} />;
}
