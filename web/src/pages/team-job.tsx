/** One of the team's benchmark jobs: followed live while it runs, then its result and output. */
import { useState } from 'preact/hooks';
import { useResource } from '../live.js';
import { P, type PortalJob } from '../portal.js';
import { Link } from '../router.js';
import { clock, Load, Section } from '../ui.js';
import { LiveJob } from './team-live.js';

export function TeamJob({ params }: { params: Record<string, string> }) {
  const id = Number(params.id);
  const [tick, setTick] = useState(0);
  const r = useResource<PortalJob>(`${P}/jobs/${id}?_=${tick}`);
  return (
    <>
      <p>
        <Link to="/team">← My team</Link>
      </p>
      <h1 tabIndex={-1}>Benchmark #{id}</h1>
      <Section title="Status" id="status">
        <LiveJob id={id} onStatusChange={() => setTick((n) => n + 1)} />
      </Section>
      <Load r={r} what="Loading the job">
        {(j) => (
          <Section title="Details" id="details">
            <dl class="kv">
              <dt>Queued</dt>
              <dd>{clock(j.created_at)}</dd>
              <dt>Started</dt>
              <dd>{clock(j.started_at)}</dd>
              <dt>Finished</dt>
              <dd>{clock(j.finished_at)}</dd>
            </dl>
            <h3>Output</h3>
            {j.stdout ? <pre data-testid="stdout">{j.stdout}</pre> : <p class="muted">No output (yet).</p>}
          </Section>
        )}
      </Load>
    </>
  );
}
