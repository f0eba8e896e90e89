/**
 * Staff view of one benchmark job: status, score, benchmarker, full stdout and stderr; cancel or
 * re-enqueue. Live through the native API's job events (SSE), falling back to polling.
 */
import { useState } from 'preact/hooks';
import { authPath, get } from '../api.js';
import { useResource, useStream } from '../live.js';
import { isActive, S, type PortalJob } from '../portal.js';
import { Link, navigate } from '../router.js';
import { clock, fmt, LiveDot, Load, Section } from '../ui.js';
import { JobActions, StaffTabs } from './staff.js';
import { Outcome } from './team-live.js';

const FINAL = ['succeeded', 'failed', 'canceled'];

export function StaffJob({ params }: { params: Record<string, string> }) {
  const id = params.id!;
  const [tick, setTick] = useState(0);
  const r = useResource<PortalJob>(`${S}/jobs/${id}?_=${tick}`);
  const { reload } = r;
  const active = r.data ? isActive(r.data) : true;
  // Each event (state, progress) makes us re-read the staff view of the job, which has the logs.
  const mode = useStream(
    active ? authPath(`/api/v1/jobs/${id}/events`) : null,
    {
      state: (d) => {
        reload();
        return FINAL.includes((d as { state: string }).state);
      },
      progress: () => reload(),
    },
    async () => {
      const j = await get<PortalJob>(`${S}/jobs/${id}`);
      if (!isActive(j)) setTick((n) => n + 1);
      else reload();
      return !isActive(j);
    },
  );
  return (
    <>
      <h1 tabIndex={-1}>Benchmark job #{id}</h1>
      <StaffTabs />
      <p>
        <Link to="/staff/jobs">← All jobs</Link>
      </p>
      <Load r={r} what="Loading the job">
        {(j) => (
          <>
            <Section
              title={
                <span class="row">
                  {j.team.name} <Outcome job={j} /> <LiveDot mode={active ? mode : 'closed'} />
                </span>
              }
              actions={
                <JobActions
                  job={j}
                  onDone={(n) => (n && n.id !== j.id ? navigate(`/staff/jobs/${n.id}`) : reload())}
                />
              }
              id="job"
            >
              <dl class="kv">
                <dt>Score</dt>
                <dd>
                  {j.status === 'done'
                    ? fmt(j.score)
                    : j.progress?.score != null
                      ? `${fmt(j.progress.score)} (running)`
                      : '—'}
                </dd>
                <dt>Reason</dt>
                <dd class="pre">{j.reason || <span class="muted">—</span>}</dd>
                {j.progress?.message && (
                  <>
                    <dt>Latest message</dt>
                    <dd>{j.progress.message}</dd>
                  </>
                )}
                <dt>Benchmarker</dt>
                <dd>{j.benchmarker ?? <span class="muted">—</span>}</dd>
                <dt>Queued</dt>
                <dd>{clock(j.created_at)}</dd>
                <dt>Started</dt>
                <dd>{clock(j.started_at)}</dd>
                <dt>Finished</dt>
                <dd>{clock(j.finished_at)}</dd>
                {j.error && (
                  <>
                    <dt>Error</dt>
                    <dd>{j.error}</dd>
                  </>
                )}
              </dl>
            </Section>
            <Section title="stdout" id="stdout">
              {j.stdout ? <pre data-testid="stdout">{j.stdout}</pre> : <p class="muted">Empty.</p>}
            </Section>
            <Section title="stderr (staff only)" id="stderr">
              {j.stderr ? <pre data-testid="stderr">{j.stderr}</pre> : <p class="muted">Empty.</p>}
            </Section>
          </>
        )}
      </Load>
    </>
  );
}
