/**
 * Staff: benchmarker health (last dequeue, running job, jobs, aborted, offline after the
 * configured silence) with "take out of service" and "put back"; and the organiser settings
 * (offline threshold, contestants' stdout after the end, notification webhooks).
 */
import { useState } from 'preact/hooks';
import { post, put } from '../api.js';
import { useResource } from '../live.js';
import { S } from '../portal.js';
import { Link } from '../router.js';
import { ActionError, Badge, Empty, Field, Load, Section, TableWrap, Time, useAction } from '../ui.js';
import { StaffTabs } from './staff.js';

interface Health {
  id: number;
  name: string;
  ip: string;
  status: 'online' | 'offline' | 'never_seen' | 'out_of_service';
  last_dequeue_at: string | null;
  seconds_since_dequeue: number | null;
  running_job: { id: number; team: { id: number; name: string } } | null;
  jobs: number;
  aborted: number;
}

interface Settings {
  offline_after_s: number;
  contestant_stdout_after_end: boolean;
  webhooks: string[];
}

const STATUS: Record<Health['status'], [string, string]> = {
  online: ['done', 'online'],
  offline: ['failed', 'offline'],
  never_seen: ['canceled', 'never seen'],
  out_of_service: ['waiting', 'out of service'],
};

function ServiceButton({ b, onDone }: { b: Health; onDone: () => void }) {
  const a = useAction();
  const out = b.status !== 'out_of_service';
  return (
    <>
      <button
        type="button"
        class={`small${out ? ' danger' : ''}`}
        disabled={a.busy}
        aria-label={`${out ? 'Take out of service' : 'Put back in service'} ${b.name}`}
        onClick={() =>
          void a
            .run(() => post(`${S}/benchmarkers/${b.id}/${out ? 'out-of-service' : 'in-service'}`))
            .then(onDone)
        }
      >
        {out ? 'Take out of service' : 'Put back'}
      </button>
      <ActionError error={a.error} />
    </>
  );
}

export function StaffHealth() {
  const health = useResource<{ offline_after_s: number; benchmarkers: Health[] }>(`${S}/health`, 3000);
  return (
    <>
      <h1 tabIndex={-1}>Staff</h1>
      <StaffTabs />
      <Section title="Benchmarker health" id="health">
        <Load r={health} what="Loading benchmarker health">
          {(d) =>
            d.benchmarkers.length === 0 ? (
              <Empty>
                No benchmarkers. <Link to="/staff/benchmarkers">Add one</Link>.
              </Empty>
            ) : (
              <>
                <p class="muted">Offline after {d.offline_after_s} s without a dequeue.</p>
                <TableWrap label="Benchmarker health">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Name</th>
                        <th scope="col">Address</th>
                        <th scope="col">Status</th>
                        <th scope="col">Last dequeue</th>
                        <th scope="col">Running</th>
                        <th scope="col">Jobs</th>
                        <th scope="col">Aborted</th>
                        <th scope="col">
                          <span class="sr-only">Actions</span>
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {d.benchmarkers.map((b) => (
                        <tr key={b.id} data-health={b.name} data-status={b.status}>
                          <th scope="row">{b.name}</th>
                          <td class="mono">{b.ip}</td>
                          <td>
                            <Badge state={STATUS[b.status][0]} label={STATUS[b.status][1]} />
                          </td>
                          <td>
                            <Time at={b.last_dequeue_at} none="never" />
                          </td>
                          <td>
                            {b.running_job ? (
                              <Link to={`/staff/jobs/${b.running_job.id}`}>
                                #{b.running_job.id} {b.running_job.team.name}
                              </Link>
                            ) : (
                              <span class="muted">idle</span>
                            )}
                          </td>
                          <td>{b.jobs}</td>
                          <td>{b.aborted}</td>
                          <td>
                            <ServiceButton b={b} onDone={health.reload} />
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </TableWrap>
              </>
            )
          }
        </Load>
      </Section>
    </>
  );
}

function SettingsForm({ s, onDone }: { s: Settings; onDone: () => void }) {
  const [f, setF] = useState({
    offline: String(s.offline_after_s),
    stdout: s.contestant_stdout_after_end,
    webhooks: s.webhooks.join('\n'),
  });
  const [saved, setSaved] = useState(false);
  const a = useAction();
  return (
    <form
      aria-label="Organiser settings"
      onSubmit={async (e) => {
        e.preventDefault();
        setSaved(false);
        const body = {
          offline_after_s: Number(f.offline),
          contestant_stdout_after_end: f.stdout,
          webhooks: f.webhooks
            .split('\n')
            .map((x) => x.trim())
            .filter(Boolean),
        };
        if (await a.run(() => put(`${S}/settings`, body))) {
          setSaved(true);
          onDone();
        }
      }}
    >
      <Field
        label="Offline after (seconds without a dequeue)"
        id="offline-after"
        type="number"
        min={1}
        required
        value={f.offline}
        onInput={(e) => setF({ ...f, offline: e.currentTarget.value })}
      />
      <label class="check">
        <input
          type="checkbox"
          checked={f.stdout}
          onChange={(e) => setF({ ...f, stdout: e.currentTarget.checked })}
        />
        Contestants see their runs' stdout after the end (stderr stays with staff)
      </label>
      <div class="field">
        <label for="webhooks">Notification webhooks (one URL a line)</label>
        <textarea
          id="webhooks"
          rows={3}
          value={f.webhooks}
          onInput={(e) => setF({ ...f, webhooks: e.currentTarget.value })}
          aria-describedby="webhooks-hint"
        />
        <small id="webhooks-hint" class="muted">
          Slack-compatible: each gets <code>{'{"text": …}'}</code> on a new clarification, an aborted
          benchmark, a benchmarker going offline, the freeze and the end.
        </small>
      </div>
      <ActionError error={a.error} />
      <button type="submit" class="primary" disabled={a.busy}>
        Save settings
      </button>
      {saved && <p role="status">Saved.</p>}
    </form>
  );
}

export function StaffSettings() {
  const s = useResource<Settings>(`${S}/settings`);
  return (
    <>
      <h1 tabIndex={-1}>Staff</h1>
      <StaffTabs />
      <Section title="Organiser settings" id="settings">
        <Load r={s} what="Loading settings">
          {(d) => <SettingsForm s={d} onDone={s.reload} />}
        </Load>
      </Section>
    </>
  );
}
