/**
 * Staff: benchmarkers, their bindings to teams (none = shared), and their health: when the hub
 * last heard from each (the native workers list: a benchmarker is a hub worker) and the job it
 * runs now.
 */
import { useState } from 'preact/hooks';
import { del, post, put } from '../api.js';
import { useResource } from '../live.js';
import { S, type Benchmarker, type PortalJob, type StaffTeam } from '../portal.js';
import { Link } from '../router.js';
import { ActionError, Badge, Empty, Field, fmt, Load, Section, TableWrap, Time, useAction } from '../ui.js';
import type { Worker } from '../native.js';
import { StaffTabs } from './staff.js';

function TeamPicker({
  teams,
  value,
  onChange,
  legend,
}: {
  teams: StaffTeam[];
  value: number[];
  onChange: (v: number[]) => void;
  legend: string;
}) {
  return (
    <fieldset>
      <legend>{legend}</legend>
      {teams.length === 0 && <span class="muted">No teams.</span>}
      <div class="row">
        {teams.map((t) => (
          <label key={t.id} class="check">
            <input
              type="checkbox"
              checked={value.includes(t.id)}
              onChange={(e) =>
                onChange(e.currentTarget.checked ? [...value, t.id] : value.filter((x) => x !== t.id))
              }
            />
            {t.name}
          </label>
        ))}
      </div>
      <small class="muted">
        None checked = a shared benchmarker (serves teams that have no benchmarker bound).
      </small>
    </fieldset>
  );
}

function NewBenchmarker({ teams, onDone }: { teams: StaffTeam[]; onDone: () => void }) {
  const [f, setF] = useState({ name: '', ip: '', team_ids: [] as number[], generate_token: false });
  const [token, setToken] = useState<string | null>(null);
  const a = useAction();
  return (
    <form
      aria-label="New benchmarker"
      onSubmit={async (e) => {
        e.preventDefault();
        const b = await a.run(() => post<Benchmarker>(`${S}/benchmarkers`, f));
        if (b) {
          setToken(b.token ?? null);
          setF({ name: '', ip: '', team_ids: [], generate_token: false });
          onDone();
        }
      }}
    >
      <div class="form-row">
        <Field
          label="Name"
          id="bm-name"
          required
          value={f.name}
          onInput={(e) => setF({ ...f, name: e.currentTarget.value })}
        />
        <Field
          label="IP or CIDR block"
          id="bm-ip"
          required
          placeholder="192.0.2.2"
          value={f.ip}
          onInput={(e) => setF({ ...f, ip: e.currentTarget.value })}
        />
      </div>
      <TeamPicker
        legend="Bound teams"
        teams={teams}
        value={f.team_ids}
        onChange={(team_ids) => setF({ ...f, team_ids })}
      />
      <label class="check">
        <input
          type="checkbox"
          checked={f.generate_token}
          onChange={(e) => setF({ ...f, generate_token: e.currentTarget.checked })}
        />
        Also require a token (generated, shown once)
      </label>
      <ActionError error={a.error} />
      <button type="submit" class="primary" disabled={a.busy}>
        Add benchmarker
      </button>
      {token && (
        <p role="status">
          Token (copy it now, it is not shown again): <code>{token}</code>
        </p>
      )}
    </form>
  );
}

function Row({
  b,
  teams,
  worker,
  job,
  onChanged,
}: {
  b: Benchmarker;
  teams: StaffTeam[];
  worker?: Worker;
  job?: PortalJob;
  onChanged: () => void;
}) {
  const [editing, setEditing] = useState<number[] | null>(null);
  const a = useAction();
  const name = (id: number) => teams.find((t) => t.id === id)?.name ?? `#${id}`;
  return (
    <tr data-benchmarker={b.name}>
      <th scope="row">{b.name}</th>
      <td class="mono">{b.ip}</td>
      <td>
        {editing ? (
          <form
            onSubmit={async (e) => {
              e.preventDefault();
              if (await a.run(() => put(`${S}/benchmarkers/${b.id}/teams`, { team_ids: editing }))) {
                setEditing(null);
                onChanged();
              }
            }}
          >
            <TeamPicker legend={`Teams of ${b.name}`} teams={teams} value={editing} onChange={setEditing} />
            <div class="actions">
              <button type="submit" class="small primary" disabled={a.busy}>
                Save
              </button>
              <button type="button" class="small" onClick={() => setEditing(null)}>
                Cancel
              </button>
            </div>
          </form>
        ) : b.shared ? (
          <Badge state="canceled" label="shared" />
        ) : (
          b.team_ids.map(name).join(', ')
        )}
      </td>
      <td>
        {worker ? (
          <>
            <Badge state="succeeded" label="alive" /> <Time at={worker.lastSeenAt} />
          </>
        ) : (
          <Badge state="failed" label={b.worker_id ? 'not seen recently' : 'never seen'} />
        )}
      </td>
      <td>
        {job ? (
          <Link to={`/staff/jobs/${job.id}`}>
            #{job.id} {job.team.name}
            {job.progress?.score != null ? ` (${fmt(job.progress.score)})` : ''}
          </Link>
        ) : (
          <span class="muted">idle</span>
        )}
      </td>
      <td class="opt">{b.has_token ? 'yes' : 'no'}</td>
      <td>
        <div class="actions">
          {!editing && (
            <button
              type="button"
              class="small"
              onClick={() => setEditing(b.team_ids)}
              aria-label={`Edit teams of ${b.name}`}
            >
              Teams
            </button>
          )}
          <button
            type="button"
            class="small danger"
            disabled={a.busy}
            aria-label={`Delete ${b.name}`}
            onClick={() => {
              if (confirm(`Delete benchmarker ${b.name}?`))
                void a.run(() => del(`${S}/benchmarkers/${b.id}`).then(onChanged));
            }}
          >
            Delete
          </button>
        </div>
        <ActionError error={a.error} />
      </td>
    </tr>
  );
}

export function StaffBenchmarkers() {
  const list = useResource<{ benchmarkers: Benchmarker[] }>(`${S}/benchmarkers`, 5000);
  const teams = useResource<{ teams: StaffTeam[] }>(`${S}/teams`, 15_000);
  const workers = useResource<{ workers: Worker[] }>('/api/v1/workers', 5000);
  const running = useResource<{ jobs: PortalJob[] }>(`${S}/jobs?status=running&limit=500`, 3000);
  const t = teams.data?.teams ?? [];
  return (
    <>
      <h1 tabIndex={-1}>Staff</h1>
      <StaffTabs />
      <Section title="Benchmarkers" id="benchmarkers">
        <Load r={list} what="Loading benchmarkers">
          {(d) =>
            d.benchmarkers.length === 0 ? (
              <Empty>No benchmarkers. Add one below; it is recognised by its source address.</Empty>
            ) : (
              <TableWrap label="Benchmarkers">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Address</th>
                      <th scope="col">Teams</th>
                      <th scope="col">Last seen</th>
                      <th scope="col">Current job</th>
                      <th scope="col" class="opt">
                        Token
                      </th>
                      <th scope="col">
                        <span class="sr-only">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.benchmarkers.map((b) => (
                      <Row
                        key={b.id}
                        b={b}
                        teams={t}
                        worker={workers.data?.workers.find((w) => w.id === b.worker_id)}
                        job={running.data?.jobs.find((j) => j.benchmarker === b.name)}
                        onChanged={list.reload}
                      />
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )
          }
        </Load>
        {workers.error && <p class="muted">Health unknown: {workers.error.message}</p>}
        <h3>New benchmarker</h3>
        <NewBenchmarker teams={t} onDone={list.reload} />
      </Section>
    </>
  );
}
