/**
 * Jobs console: cron schedules. Each schedule's expression, time zone, next tick, last run (with
 * its job) and whether it is paused; buttons pause, resume and delete it, and a form creates one
 * (name, cron, time zone, the job's function or runtime and input, overlap). The hub checks the
 * expression and the time zone: a mistake shows its refusal under the form.
 */
import { useState } from 'preact/hooks';
import { del, post } from '../api.js';
import { useResource } from '../live.js';
import { fnLabel, V, type Fn, type Schedule } from '../native.js';
import { Link } from '../router.js';
import { ActionError, clock, Empty, Field, Load, Section, TableWrap, Time, useAction } from '../ui.js';
import { ConsoleTabs } from './console.js';
import { FunctionOptions } from './console-functions.js';

/** The browser's own zone, offered as the default: people write cron in their local time. */
const LOCAL_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

function NewSchedule({ fns, onDone }: { fns: Fn[]; onDone: () => void }) {
  const [f, setF] = useState({
    name: '',
    cron: '',
    timezone: LOCAL_ZONE,
    function: '',
    runtime: '',
    input: '',
    overlap: 'allow',
  });
  const a = useAction();
  return (
    <form
      aria-label="Create a schedule"
      onSubmit={async (e) => {
        e.preventDefault();
        const made = await a.run(() =>
          post<Schedule>(`${V}/schedules`, {
            name: f.name.trim(),
            cron: f.cron.trim(),
            timezone: f.timezone.trim() || 'UTC',
            overlap: f.overlap,
            job: {
              ...(f.function ? { function: f.function } : {}),
              ...(f.runtime.trim() ? { runtime: f.runtime.trim() } : {}),
              ...(f.input ? { input: { text: f.input } } : {}),
            },
          }),
        );
        if (made) {
          setF({ ...f, name: '', cron: '', input: '' });
          onDone();
        }
      }}
    >
      <div class="form-row">
        <Field
          label="Name"
          id="c-name"
          required
          maxLength={200}
          value={f.name}
          onInput={(e) => setF({ ...f, name: e.currentTarget.value })}
        />
        <Field
          label="Cron"
          id="c-cron"
          required
          spellcheck={false}
          placeholder="0 3 * * *"
          hint="minute hour day month weekday; 6 fields: seconds first"
          value={f.cron}
          onInput={(e) => setF({ ...f, cron: e.currentTarget.value })}
        />
        <Field
          label="Time zone"
          id="c-tz"
          hint="IANA name, e.g. Europe/Paris"
          value={f.timezone}
          onInput={(e) => setF({ ...f, timezone: e.currentTarget.value })}
        />
        <div class="field">
          <label for="c-overlap">Overlap</label>
          <select
            id="c-overlap"
            value={f.overlap}
            onChange={(e) => setF({ ...f, overlap: e.currentTarget.value })}
          >
            <option value="allow">allow (a job every tick)</option>
            <option value="skip">skip (while the last job runs)</option>
          </select>
        </div>
      </div>
      <div class="form-row">
        <div class="field">
          <label for="c-fn">Function</label>
          <select
            id="c-fn"
            value={f.function}
            onChange={(e) => setF({ ...f, function: e.currentTarget.value })}
          >
            <FunctionOptions fns={fns} />
          </select>
        </div>
        <Field
          label="Runtime"
          id="c-runtime"
          hint="Only without a function."
          value={f.runtime}
          onInput={(e) => setF({ ...f, runtime: e.currentTarget.value })}
        />
      </div>
      <div class="field">
        <label for="c-input">Input of each job</label>
        <textarea
          id="c-input"
          rows={3}
          spellcheck={false}
          value={f.input}
          onInput={(e) => setF({ ...f, input: e.currentTarget.value })}
        />
      </div>
      <ActionError error={a.error} />
      <button type="submit" class="primary" disabled={a.busy || (!f.function && !f.runtime.trim())}>
        {a.busy ? 'Creating…' : 'Create schedule'}
      </button>
    </form>
  );
}

function Row({ s, fns, onChanged }: { s: Schedule; fns: Fn[]; onChanged: () => void }) {
  const a = useAction();
  const fn = s.job.function ? fns.find((x) => x.id === s.job.function) : undefined;
  const act = (what: 'pause' | 'resume') =>
    void a.run(() => post<Schedule>(`${V}/schedules/${s.id}/${what}`).then(onChanged));
  return (
    <tr data-schedule={s.id} data-paused={String(s.paused)}>
      <th scope="row">{s.name}</th>
      <td class="cron">
        <code>{s.cron}</code>
      </td>
      <td>{s.timezone}</td>
      <td>{s.job.function ? fnLabel(fn, s.job.function) : (s.job.runtime ?? '—')}</td>
      <td>{s.overlap}</td>
      <td data-next-run={s.nextRunAt ?? ''}>
        {s.paused ? (
          <span class="muted">paused</span>
        ) : (
          <time dateTime={s.nextRunAt ?? undefined}>{clock(s.nextRunAt)}</time>
        )}
      </td>
      <td>
        <Time at={s.lastRunAt} none="never" />
        {s.lastJobId && (
          <>
            {' '}
            <Link to={`/console/jobs/${s.lastJobId}`}>#{s.lastJobId}</Link>
          </>
        )}
      </td>
      <td>
        <button
          type="button"
          class="small"
          disabled={a.busy}
          onClick={() => act(s.paused ? 'resume' : 'pause')}
        >
          {s.paused ? 'Resume' : 'Pause'} {s.name}
        </button>{' '}
        <button
          type="button"
          class="small danger"
          disabled={a.busy}
          onClick={() => {
            if (confirm(`Delete schedule ${s.name}? The jobs it made stay.`))
              void a.run(() => del(`${V}/schedules/${s.id}`).then(onChanged));
          }}
        >
          Delete {s.name}
        </button>
        <ActionError error={a.error} />
      </td>
    </tr>
  );
}

export function ConsoleSchedules() {
  const schedules = useResource<{ schedules: Schedule[]; next: string | null }>(
    `${V}/schedules?limit=1000`,
    5000,
  );
  const fns = useResource<{ functions: Fn[] }>(`${V}/functions?limit=1000`);
  const functions = fns.data?.functions ?? [];
  return (
    <>
      <h1 tabIndex={-1}>Jobs console</h1>
      <ConsoleTabs />
      <Section title="Schedules" id="schedules">
        <p class="muted">
          A schedule makes one job at each tick of its cron expression, however many hubs run. After downtime,
          missed ticks run once. Times are shown in your local time.
        </p>
        <Load r={schedules} what="Loading schedules">
          {(d) =>
            d.schedules.length === 0 ? (
              <Empty>No schedules yet: create one below.</Empty>
            ) : (
              <TableWrap label="Schedules">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Cron</th>
                      <th scope="col">Time zone</th>
                      <th scope="col">Job</th>
                      <th scope="col">Overlap</th>
                      <th scope="col">Next run</th>
                      <th scope="col">Last run</th>
                      <th scope="col">
                        <span class="sr-only">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.schedules.map((s) => (
                      <Row key={s.id} s={s} fns={functions} onChanged={schedules.reload} />
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            )
          }
        </Load>
      </Section>
      <Section title="Create a schedule" id="new-schedule">
        <NewSchedule fns={functions} onDone={schedules.reload} />
      </Section>
    </>
  );
}
