/**
 * Jobs console: job groups. Each group's limits (concurrency, starts per second), pause, and
 * how many of its jobs wait and run; a form sets a group's limits or pauses it (admin tokens:
 * anyone else sees the hub's refusal). Links lead to the group's jobs.
 */
import { useState } from 'preact/hooks';
import { put } from '../api.js';
import { useResource } from '../live.js';
import { V, type Group } from '../native.js';
import { Link } from '../router.js';
import { ActionError, Empty, Field, Load, Section, TableWrap, Time, useAction } from '../ui.js';
import { ConsoleTabs } from './console.js';

/** A limit field: empty means no limit. */
const limitValue = (s: string) => (s.trim() === '' ? null : Number(s));

function SetGroup({ initial, onDone }: { initial: Group | null; onDone: () => void }) {
  const [f, setF] = useState({
    name: initial?.name ?? '',
    concurrency: initial?.concurrency == null ? '' : String(initial.concurrency),
    perSecond: initial?.perSecond == null ? '' : String(initial.perSecond),
    paused: initial?.paused ?? false,
  });
  const a = useAction();
  return (
    <form
      aria-label="Set group limits"
      onSubmit={async (e) => {
        e.preventDefault();
        const done = await a.run(() =>
          put<Group>(`${V}/groups/${encodeURIComponent(f.name.trim())}`, {
            concurrency: limitValue(f.concurrency),
            perSecond: limitValue(f.perSecond),
            paused: f.paused,
          }),
        );
        if (done) onDone();
      }}
    >
      <div class="form-row">
        <Field
          label="Group"
          id="g-name"
          required
          maxLength={200}
          value={f.name}
          onInput={(e) => setF({ ...f, name: e.currentTarget.value })}
        />
        <Field
          label="Concurrency"
          id="g-concurrency"
          type="number"
          min={1}
          step={1}
          placeholder="no limit"
          value={f.concurrency}
          onInput={(e) => setF({ ...f, concurrency: e.currentTarget.value })}
        />
        <Field
          label="Starts per second"
          id="g-rate"
          type="number"
          min={0}
          step="any"
          placeholder="no limit"
          value={f.perSecond}
          onInput={(e) => setF({ ...f, perSecond: e.currentTarget.value })}
        />
        <div class="field">
          <label>
            <input
              type="checkbox"
              checked={f.paused}
              onChange={(e) => setF({ ...f, paused: e.currentTarget.checked })}
            />{' '}
            Paused
          </label>
        </div>
        <button type="submit" disabled={a.busy}>
          Save group
        </button>
      </div>
      <ActionError error={a.error} />
    </form>
  );
}

export function ConsoleGroups() {
  const groups = useResource<{ groups: Group[]; next: string | null }>(`${V}/groups?limit=1000`, 3000);
  const [editing, setEditing] = useState<Group | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Jobs console</h1>
      <ConsoleTabs />
      <Section title="Groups" id="groups">
        <p class="muted">
          Jobs that name a group are served round-robin with the other groups; a group may limit how many of
          its jobs run at once and start per second, on every hub, or be paused.
        </p>
        <Load r={groups} what="Loading groups">
          {(d) =>
            d.groups.length === 0 ? (
              <Empty>No groups yet: a job names its group when it is submitted, or set one below.</Empty>
            ) : (
              <TableWrap label="Groups">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Group</th>
                      <th scope="col" class="num">
                        Concurrency
                      </th>
                      <th scope="col" class="num">
                        Per second
                      </th>
                      <th scope="col">Paused</th>
                      <th scope="col" class="num">
                        Waiting
                      </th>
                      <th scope="col" class="num">
                        Running
                      </th>
                      <th scope="col" class="opt">
                        Changed
                      </th>
                      <th scope="col">
                        <span class="sr-only">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.groups.map((g) => (
                      <tr key={g.name} data-group={g.name}>
                        <th scope="row">
                          <Link to={`/console/jobs?group=${encodeURIComponent(g.name)}`}>{g.name}</Link>
                        </th>
                        <td class="num">{g.concurrency ?? '—'}</td>
                        <td class="num">{g.perSecond ?? '—'}</td>
                        <td>{g.paused ? 'paused' : 'no'}</td>
                        <td class="num">{g.queued}</td>
                        <td class="num">{g.running}</td>
                        <td class="opt">
                          <Time at={g.updatedAt} />
                        </td>
                        <td>
                          <button type="button" class="small" onClick={() => setEditing(g)}>
                            Edit {g.name}
                          </button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )
          }
        </Load>
      </Section>
      <Section title={editing ? `Edit group ${editing.name}` : 'Set a group'} id="set-group">
        <SetGroup
          key={editing?.name ?? ''}
          initial={editing}
          onDone={() => {
            setEditing(null);
            groups.reload();
          }}
        />
      </Section>
    </>
  );
}
