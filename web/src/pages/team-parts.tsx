/** Parts of the team page: the servers and the job history. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { del, post, put, query } from '../api.js';
import { useResource } from '../live.js';
import { P, type Me, type PortalJob, type Server } from '../portal.js';
import { Link } from '../router.js';
import { ActionError, Badge, Empty, Field, fmt, Load, Section, TableWrap, Time, useAction } from '../ui.js';
import { Outcome } from './team-live.js';

function ServerRow({ s, onChanged }: { s: Server; onChanged: () => void }) {
  const [editing, setEditing] = useState(false);
  const [f, setF] = useState(s);
  const a = useAction();
  const save = (body: Partial<Server>) =>
    a.run(async () => {
      await put(`${P}/servers/${s.id}`, body);
      setEditing(false);
      onChanged();
    });
  if (editing) {
    return (
      <tr>
        <td colSpan={5}>
          <form
            class="form-row"
            onSubmit={(e) => {
              e.preventDefault();
              void save({ hostname: f.hostname, global_ip: f.global_ip, private_ip: f.private_ip });
            }}
          >
            <Field
              label="Hostname"
              id={`h-${s.id}`}
              value={f.hostname}
              onInput={(e) => setF({ ...f, hostname: e.currentTarget.value })}
            />
            <Field
              label="Global IP"
              id={`g-${s.id}`}
              value={f.global_ip}
              onInput={(e) => setF({ ...f, global_ip: e.currentTarget.value })}
            />
            <Field
              label="Private IP"
              id={`p-${s.id}`}
              value={f.private_ip}
              onInput={(e) => setF({ ...f, private_ip: e.currentTarget.value })}
            />
            <div class="actions">
              <button type="submit" class="primary" disabled={a.busy}>
                Save
              </button>
              <button type="button" onClick={() => (setEditing(false), setF(s))}>
                Cancel
              </button>
            </div>
          </form>
          <ActionError error={a.error} />
        </td>
      </tr>
    );
  }
  return (
    <tr>
      <th scope="row">{s.hostname}</th>
      <td class="mono">{s.global_ip}</td>
      <td class="mono opt">{s.private_ip}</td>
      <td>
        {s.is_bench_target ? (
          <Badge state="running" label="bench target" />
        ) : (
          <button
            type="button"
            class="small"
            disabled={a.busy}
            onClick={() => void save({ is_bench_target: true })}
          >
            Make target
          </button>
        )}
      </td>
      <td>
        <div class="actions">
          <button
            type="button"
            class="small"
            onClick={() => setEditing(true)}
            aria-label={`Edit ${s.hostname}`}
          >
            Edit
          </button>
          <button
            type="button"
            class="small danger"
            disabled={a.busy}
            aria-label={`Delete ${s.hostname}`}
            onClick={() => {
              if (confirm(`Delete server ${s.hostname}?`))
                void a.run(() => del(`${P}/servers/${s.id}`).then(onChanged));
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

export function ServerForm({
  onAdd,
  target,
}: {
  onAdd: (s: Omit<Server, 'id'>) => Promise<unknown>;
  target: boolean;
}) {
  const empty = { hostname: '', global_ip: '', private_ip: '', is_bench_target: target };
  const [f, setF] = useState(empty);
  const a = useAction();
  return (
    <form
      aria-label="Add a server"
      onSubmit={async (e) => {
        e.preventDefault();
        if ((await a.run(() => onAdd(f))) !== undefined) setF({ ...empty, is_bench_target: false });
      }}
    >
      <div class="form-row">
        <Field
          label="Hostname"
          name="hostname"
          required
          value={f.hostname}
          onInput={(e) => setF({ ...f, hostname: e.currentTarget.value })}
        />
        <Field
          label="Global IP"
          name="global_ip"
          required
          placeholder="203.0.113.10"
          value={f.global_ip}
          onInput={(e) => setF({ ...f, global_ip: e.currentTarget.value })}
        />
        <Field
          label="Private IP"
          name="private_ip"
          required
          placeholder="10.0.0.1"
          value={f.private_ip}
          onInput={(e) => setF({ ...f, private_ip: e.currentTarget.value })}
        />
      </div>
      <label class="check">
        <input
          type="checkbox"
          checked={f.is_bench_target}
          onChange={(e) => setF({ ...f, is_bench_target: e.currentTarget.checked })}
        />
        Bench target (benchmarks run against this server)
      </label>
      <ActionError error={a.error} />
      <button type="submit" disabled={a.busy}>
        Add server
      </button>
    </form>
  );
}

export function Servers({ me, onChanged }: { me: Me; onChanged: () => void }) {
  return (
    <Section title="Servers" id="servers">
      {me.servers.length === 0 ? (
        <Empty>No servers yet. Add one and make it the bench target to run benchmarks.</Empty>
      ) : (
        <TableWrap label="Servers">
          <table>
            <thead>
              <tr>
                <th scope="col">Hostname</th>
                <th scope="col">Global IP</th>
                <th scope="col" class="opt">
                  Private IP
                </th>
                <th scope="col">Target</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {me.servers.map((s) => (
                <ServerRow key={s.id} s={s} onChanged={onChanged} />
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {me.servers.length < me.max_servers ? (
        <ServerForm
          target={me.servers.length === 0}
          onAdd={(s) => post(`${P}/servers`, s).then(() => (onChanged(), true))}
        />
      ) : (
        <p class="muted">A team has at most {me.max_servers} servers.</p>
      )}
    </Section>
  );
}

export function JobHistory({ tick }: { tick: number }) {
  const [before, setBefore] = useState<number | null>(null);
  const r = useResource<{ jobs: PortalJob[]; next_before: number | null }>(
    `${P}/jobs${query({ limit: 20, before })}`,
    3000,
  );
  const { reload } = r;
  const first = useRef(true);
  useEffect(() => {
    if (first.current) first.current = false;
    else reload();
  }, [tick, reload]);
  return (
    <Section
      title="Job history"
      id="history"
      actions={
        before !== null && (
          <button type="button" class="small" onClick={() => setBefore(null)}>
            Newest
          </button>
        )
      }
    >
      <Load r={r} what="Loading your jobs">
        {(d) =>
          d.jobs.length === 0 ? (
            <Empty>No benchmark runs yet.</Empty>
          ) : (
            <>
              <TableWrap label="Job history">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Job</th>
                      <th scope="col">Result</th>
                      <th scope="col" class="num">
                        Score
                      </th>
                      <th scope="col" class="opt">
                        Reason
                      </th>
                      <th scope="col">Finished</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.jobs.map((j) => (
                      <tr key={j.id} data-job={j.id}>
                        <td>
                          <Link to={`/team/jobs/${j.id}`}>#{j.id}</Link>
                        </td>
                        <td>
                          <Outcome job={j} />
                        </td>
                        <td class="num">{j.status === 'done' ? fmt(j.score) : '—'}</td>
                        <td class="reason opt" title={j.reason}>
                          {j.reason.split('\n')[0]}
                        </td>
                        <td>
                          <Time at={j.finished_at} none={j.status === 'running' ? 'running' : 'waiting'} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
              {d.next_before !== null && (
                <button type="button" class="small" onClick={() => setBefore(d.next_before)}>
                  Older
                </button>
              )}
            </>
          )
        }
      </Load>
    </Section>
  );
}
