/**
 * Staff: every benchmark job with filters; cancel, re-enqueue, enqueue for one team or all.
 * Needs an admin token when the hub runs with auth (Settings); without auth, loopback only.
 */
import { useState } from 'preact/hooks';
import { post, query } from '../api.js';
import { useResource } from '../live.js';
import { isActive, S, type PortalJob, type StaffTeam } from '../portal.js';
import { Link, navigate } from '../router.js';
import { ActionError, Badge, Empty, fmt, Load, Section, TableWrap, Tabs, Time, useAction } from '../ui.js';
import { Outcome } from './team-live.js';

export function StaffTabs() {
  return (
    <Tabs
      label="Staff sections"
      items={[
        { to: '/staff/jobs', label: 'Jobs' },
        { to: '/staff/teams', label: 'Teams' },
        { to: '/staff/benchmarkers', label: 'Benchmarkers' },
        { to: '/staff/contest', label: 'Contest' },
        { to: '/staff/clarifications', label: 'Clarifications' },
        { to: '/staff/announcements', label: 'Announcements' },
        { to: '/staff/health', label: 'Health' },
        { to: '/staff/results', label: 'Results' },
        { to: '/staff/settings', label: 'Settings' },
      ]}
    />
  );
}

export function JobActions({ job, onDone }: { job: PortalJob; onDone: (next?: PortalJob) => void }) {
  const a = useAction();
  return (
    <div class="actions">
      {isActive(job) ? (
        <button
          type="button"
          class="small danger"
          disabled={a.busy}
          aria-label={`Cancel job ${job.id}`}
          onClick={async () => {
            if (confirm(`Cancel job #${job.id} of ${job.team.name}?`)) {
              const r = await a.run(() => post<PortalJob>(`${S}/jobs/${job.id}/cancel`));
              if (r) onDone(r);
            }
          }}
        >
          Cancel
        </button>
      ) : (
        <button
          type="button"
          class="small"
          disabled={a.busy}
          aria-label={`Re-enqueue job ${job.id}`}
          onClick={async () => {
            const r = await a.run(() => post<PortalJob>(`${S}/jobs/${job.id}/retry`));
            if (r) onDone(r);
          }}
        >
          Re-enqueue
        </button>
      )}
      <ActionError error={a.error} />
    </div>
  );
}

type EnqueueAll = { results: { team: { name: string }; job_id: number | null; error: string | null }[] };

function Enqueue({ teams, onDone }: { teams: StaffTeam[]; onDone: () => void }) {
  const [team, setTeam] = useState('');
  const [summary, setSummary] = useState<string | null>(null);
  const a = useAction();
  return (
    <div class="stack">
      <form
        class="row"
        onSubmit={async (e) => {
          e.preventDefault();
          const j = await a.run(() => post<PortalJob>(`${S}/jobs`, { team: Number(team) }));
          if (j) {
            setSummary(`Job #${j.id} enqueued for ${j.team.name}.`);
            onDone();
          }
        }}
      >
        <label for="enqueue-team">Enqueue for</label>
        <select id="enqueue-team" value={team} required onChange={(e) => setTeam(e.currentTarget.value)}>
          <option value="">choose a team…</option>
          {teams.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
            </option>
          ))}
        </select>
        <button type="submit" disabled={a.busy || !team}>
          Enqueue
        </button>
        <button
          type="button"
          disabled={a.busy}
          onClick={async () => {
            if (!confirm('Enqueue one benchmark for every team?')) return;
            const r = await a.run(() => post<EnqueueAll>(`${S}/jobs/all`));
            if (r) {
              const ok = r.results.filter((x) => x.job_id !== null).length;
              const refused = r.results.filter((x) => x.error).map((x) => `${x.team.name}: ${x.error}`);
              setSummary(`${ok} job(s) enqueued.${refused.length ? ` Refused — ${refused.join('; ')}` : ''}`);
              onDone();
            }
          }}
        >
          Enqueue for all teams
        </button>
      </form>
      <ActionError error={a.error} />
      {summary && (
        <p class="muted" role="status">
          {summary}
        </p>
      )}
    </div>
  );
}

const STATUSES = ['waiting', 'running', 'done', 'aborted', 'canceled'];

export function StaffJobs({ query: q }: { query: URLSearchParams }) {
  const team = q.get('team') ?? '';
  const status = q.get('status') ?? '';
  const before = q.get('before');
  const teams = useResource<{ teams: StaffTeam[] }>(`${S}/teams`);
  const jobs = useResource<{ jobs: PortalJob[]; next_before: number | null }>(
    `${S}/jobs${query({ team, status, before, limit: 50 })}`,
    3000,
  );
  const setFilter = (k: string, v: string) => {
    const next = new URLSearchParams(q);
    if (k !== 'before') next.delete('before');
    if (v) next.set(k, v);
    else next.delete(k);
    const s = next.toString();
    navigate(`/staff/jobs${s ? `?${s}` : ''}`, { replace: true });
  };
  return (
    <>
      <h1 tabIndex={-1}>Staff</h1>
      <StaffTabs />
      <Section title="Benchmark jobs" id="jobs">
        <Enqueue teams={teams.data?.teams ?? []} onDone={jobs.reload} />
        <div class="form-row" role="search">
          <div class="field">
            <label for="f-team">Team</label>
            <select id="f-team" value={team} onChange={(e) => setFilter('team', e.currentTarget.value)}>
              <option value="">all teams</option>
              {(teams.data?.teams ?? []).map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="f-status">Status</label>
            <select id="f-status" value={status} onChange={(e) => setFilter('status', e.currentTarget.value)}>
              <option value="">any status</option>
              {STATUSES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </div>
        </div>
        <Load r={jobs} what="Loading jobs">
          {(d) =>
            d.jobs.length === 0 ? (
              <Empty>No jobs match.</Empty>
            ) : (
              <>
                <TableWrap label="Benchmark jobs">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Job</th>
                        <th scope="col">Team</th>
                        <th scope="col">Status</th>
                        <th scope="col" class="num">
                          Score
                        </th>
                        <th scope="col" class="opt">
                          Reason
                        </th>
                        <th scope="col" class="opt">
                          Benchmarker
                        </th>
                        <th scope="col" class="opt">
                          Queued
                        </th>
                        <th scope="col">Actions</th>
                      </tr>
                    </thead>
                    <tbody>
                      {d.jobs.map((j) => (
                        <tr key={j.id} data-job={j.id} data-status={j.status}>
                          <td>
                            <Link to={`/staff/jobs/${j.id}`}>#{j.id}</Link>
                          </td>
                          <td>{j.team.name}</td>
                          <td>
                            <Outcome job={j} />
                            {j.status === 'running' && j.progress?.score != null && (
                              <span class="muted"> {fmt(j.progress.score)}</span>
                            )}
                          </td>
                          <td class="num">{j.status === 'done' ? fmt(j.score) : '—'}</td>
                          <td class="reason opt" title={j.reason}>
                            {j.reason.split('\n')[0]}
                          </td>
                          <td class="opt">{j.benchmarker ?? <span class="muted">—</span>}</td>
                          <td class="opt">
                            <Time at={j.created_at} />
                          </td>
                          <td>
                            <JobActions job={j} onDone={jobs.reload} />
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </TableWrap>
                <div class="row">
                  {before && (
                    <button type="button" class="small" onClick={() => setFilter('before', '')}>
                      Newest
                    </button>
                  )}
                  {d.next_before !== null && (
                    <button
                      type="button"
                      class="small"
                      onClick={() => setFilter('before', String(d.next_before))}
                    >
                      Older
                    </button>
                  )}
                </div>
              </>
            )
          }
        </Load>
      </Section>
      <p class="muted">
        <Badge state="queued" label="waiting" /> jobs wait for a benchmarker bound to their team (or a shared
        one when the team has none).
      </p>
    </>
  );
}
