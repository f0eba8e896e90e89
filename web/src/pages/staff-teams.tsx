/** Staff: teams (create, rename, password, delete), their members and servers. */
import { useState } from 'preact/hooks';
import { del, post, put } from '../api.js';
import { useResource } from '../live.js';
import { S, type Server, type StaffTeam, type StaffTeamDetail } from '../portal.js';
import { Link, navigate } from '../router.js';
import { ActionError, Badge, Empty, Field, Load, Section, TableWrap, Time, useAction } from '../ui.js';
import { StaffTabs } from './staff.js';
import { ServerForm } from './team-parts.js';

function NewTeam({ onDone }: { onDone: () => void }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const a = useAction();
  return (
    <form
      aria-label="New team"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await a.run(() => post(`${S}/teams`, { name, password: password || undefined }))) {
          setName('');
          setPassword('');
          onDone();
        }
      }}
    >
      <div class="form-row">
        <Field
          label="Team name"
          id="new-team-name"
          required
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <Field
          label="Password"
          id="new-team-password"
          type="password"
          autoComplete="new-password"
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <button type="submit" class="primary" disabled={a.busy}>
          Create team
        </button>
      </div>
      <ActionError error={a.error} />
    </form>
  );
}

function ServerList({ team, onChanged }: { team: StaffTeamDetail; onChanged: () => void }) {
  const a = useAction();
  const base = `${S}/teams/${team.id}/servers`;
  return (
    <>
      {team.servers.length === 0 ? (
        <Empty>No servers.</Empty>
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
              {team.servers.map((s: Server) => (
                <tr key={s.id}>
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
                        onClick={() =>
                          void a.run(() => put(`${base}/${s.id}`, { is_bench_target: true }).then(onChanged))
                        }
                      >
                        Make target
                      </button>
                    )}
                  </td>
                  <td>
                    <button
                      type="button"
                      class="small danger"
                      disabled={a.busy}
                      aria-label={`Delete server ${s.hostname}`}
                      onClick={() => {
                        if (confirm(`Delete server ${s.hostname}?`))
                          void a.run(() => del(`${base}/${s.id}`).then(onChanged));
                      }}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <ActionError error={a.error} />
      <h3>Add a server</h3>
      <ServerForm
        target={team.servers.length === 0}
        onAdd={(s) => post(base, s).then(() => (onChanged(), true))}
      />
    </>
  );
}

function TeamDetail({ id, onChanged }: { id: string; onChanged: () => void }) {
  const r = useResource<StaffTeamDetail>(`${S}/teams/${id}`);
  const [password, setPassword] = useState('');
  const [member, setMember] = useState('');
  const a = useAction();
  const changed = () => {
    r.reload();
    onChanged();
  };
  return (
    <Load r={r} what="Loading the team">
      {(t) => (
        <Section
          title={`Team ${t.name}`}
          id="team"
          actions={
            <button
              type="button"
              class="danger"
              disabled={a.busy}
              onClick={async () => {
                if (!confirm(`Delete team ${t.name}? Its waiting or running job is canceled.`)) return;
                if ((await a.run(() => del(`${S}/teams/${t.id}`))) !== undefined) {
                  onChanged();
                  navigate('/staff/teams');
                }
              }}
            >
              Delete team
            </button>
          }
        >
          <dl class="kv">
            <dt>Id</dt>
            <dd>{t.id}</dd>
            <dt>Password</dt>
            <dd>{t.has_password ? 'set' : 'none (cannot log in)'}</dd>
            <dt>Invite token</dt>
            <dd class="mono">{t.invite_token ?? '—'}</dd>
            <dt>Benchmarkers</dt>
            <dd>
              {t.benchmarkers.length
                ? t.benchmarkers.join(', ')
                : 'none bound (shared benchmarkers serve it)'}
            </dd>
            <dt>Members</dt>
            <dd>{t.members.length ? t.members.map((m) => m.name).join(', ') : '—'}</dd>
          </dl>
          <div class="form-row">
            <form
              class="row"
              onSubmit={async (e) => {
                e.preventDefault();
                if (await a.run(() => put(`${S}/teams/${t.id}`, { password }))) {
                  setPassword('');
                  changed();
                }
              }}
            >
              <Field
                label="New password"
                id="team-pw"
                type="password"
                autoComplete="new-password"
                required
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
              <button type="submit" disabled={a.busy}>
                Set password
              </button>
            </form>
            <form
              class="row"
              onSubmit={async (e) => {
                e.preventDefault();
                if (await a.run(() => post(`${S}/teams/${t.id}/members`, { name: member }))) {
                  setMember('');
                  changed();
                }
              }}
            >
              <Field
                label="Add member"
                id="team-member"
                required
                value={member}
                onInput={(e) => setMember(e.currentTarget.value)}
              />
              <button type="submit" disabled={a.busy}>
                Add
              </button>
            </form>
          </div>
          <ActionError error={a.error} />
          <h3>Servers</h3>
          <ServerList team={t} onChanged={changed} />
        </Section>
      )}
    </Load>
  );
}

export function StaffTeams({ params }: { params: Record<string, string> }) {
  const teams = useResource<{ teams: StaffTeam[] }>(`${S}/teams`, 10_000);
  return (
    <>
      <h1 tabIndex={-1}>Staff</h1>
      <StaffTabs />
      {params.id && <TeamDetail key={params.id} id={params.id} onChanged={teams.reload} />}
      <Section title="Teams" id="teams">
        <Load r={teams} what="Loading teams">
          {(d) =>
            d.teams.length === 0 ? (
              <Empty>No teams yet: create one below, or load a contest file (jobhub portal load).</Empty>
            ) : (
              <TableWrap label="Teams">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Team</th>
                      <th scope="col" class="num">
                        Id
                      </th>
                      <th scope="col">Password</th>
                      <th scope="col" class="opt">
                        Created
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.teams.map((t) => (
                      <tr key={t.id} class={String(t.id) === params.id ? 'own' : ''}>
                        <th scope="row">
                          <Link to={`/staff/teams/${t.id}`}>{t.name}</Link>
                        </th>
                        <td class="num">{t.id}</td>
                        <td>{t.has_password ? 'set' : <span class="muted">none</span>}</td>
                        <td class="opt">
                          <Time at={t.created_at} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )
          }
        </Load>
        <h3>New team</h3>
        <NewTeam onDone={teams.reload} />
      </Section>
    </>
  );
}
