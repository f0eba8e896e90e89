/**
 * Jobs console: every job, newest first, filtered by state, runtime, function, tag and group; jobs
 * can be selected to retry (failed, canceled) or cancel (queued, running) several at once.
 */
import { useState } from 'preact/hooks';
import { post, query } from '../api.js';
import { useResource } from '../live.js';
import { fnLabel, JOB_STATES, V, type Fn, type Job } from '../native.js';
import { Link, navigate } from '../router.js';
import { ActionError, Badge, duration, Empty, Load, Section, TableWrap, Time, useAction } from '../ui.js';
import { ConsoleTabs } from './console.js';

/** Which jobs are ticked, and how to tick them (absent: the table has no checkboxes). */
export interface Selection {
  selected: ReadonlySet<string>;
  toggle: (ids: string[], on: boolean) => void;
}

export function JobRows({ jobs, fns, selection }: { jobs: Job[]; fns: Fn[]; selection?: Selection }) {
  const all = selection !== undefined && jobs.length > 0 && jobs.every((j) => selection.selected.has(j.id));
  return (
    <TableWrap label="Jobs">
      <table>
        <thead>
          <tr>
            {selection && (
              <th scope="col">
                <input
                  type="checkbox"
                  aria-label="Select all jobs shown"
                  checked={all}
                  onChange={(e) =>
                    selection.toggle(
                      jobs.map((j) => j.id),
                      e.currentTarget.checked,
                    )
                  }
                />
              </th>
            )}
            <th scope="col">Job</th>
            <th scope="col">State</th>
            <th scope="col">Function / runtime</th>
            <th scope="col" class="num opt">
              Attempts
            </th>
            <th scope="col">Created</th>
            <th scope="col" class="num opt">
              Took
            </th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((j) => (
            <tr key={j.id} data-job={j.id} data-state={j.state}>
              {selection && (
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select job #${j.id}`}
                    checked={selection.selected.has(j.id)}
                    onChange={(e) => selection.toggle([j.id], e.currentTarget.checked)}
                  />
                </td>
              )}
              <td>
                <Link to={`/console/jobs/${j.id}`}>#{j.id}</Link>
              </td>
              <td>
                <Badge state={j.state} />
              </td>
              <td>
                {j.function ? (
                  fnLabel(
                    fns.find((f) => f.id === j.function),
                    j.function,
                  )
                ) : (
                  <span class="muted">
                    {j.runtime === 'isucon-bench' ? 'contest benchmark' : 'no function'}
                  </span>
                )}{' '}
                <span class="muted">{j.runtime}</span>
                {j.tags.length > 0 && <span class="muted opt"> [{j.tags.join(' ')}]</span>}
                {j.group && (
                  <span class="muted" data-group={j.group}>
                    {' '}
                    · group {j.group}
                  </span>
                )}
              </td>
              <td class="num opt">
                {j.attempts}/{j.maxAttempts}
              </td>
              <td>
                <Time at={j.createdAt} />
              </td>
              <td class="num opt">
                {j.startedAt && j.finishedAt
                  ? duration(Date.parse(j.finishedAt) - Date.parse(j.startedAt))
                  : '—'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

export function ConsoleJobs({ query: q }: { query: URLSearchParams }) {
  const f = {
    state: q.get('state') ?? '',
    runtime: q.get('runtime') ?? '',
    function: q.get('function') ?? '',
    tag: q.get('tag') ?? '',
    group: q.get('group') ?? '',
    before: q.get('before') ?? '',
  };
  const [tag, setTag] = useState(f.tag);
  const [group, setGroup] = useState(f.group);
  const [runtime, setRuntime] = useState(f.runtime);
  const fns = useResource<{ functions: Fn[] }>(`${V}/functions?limit=1000`, 30_000);
  const jobs = useResource<{ jobs: Job[]; next: string | null }>(
    `${V}/jobs${query({ ...f, limit: 50 })}`,
    3000,
  );
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [done, setDone] = useState<string | null>(null);
  const action = useAction();
  const selection: Selection = {
    selected,
    toggle: (ids, on) => {
      const next = new Set(selected);
      for (const id of ids)
        if (on) next.add(id);
        else next.delete(id);
      setSelected(next);
    },
  };
  const shown = jobs.data?.jobs ?? [];
  const picked = shown.filter((j) => selected.has(j.id));
  const retryable = picked.filter((j) => j.state === 'failed' || j.state === 'canceled');
  const cancelable = picked.filter((j) => j.state === 'queued' || j.state === 'running');
  /** Retries or cancels the ticked jobs it applies to, one request each; says how it went. */
  const apply = (verb: 'retry' | 'cancel', targets: Job[]) =>
    void action.run(async () => {
      setDone(null);
      const results = await Promise.allSettled(targets.map((j) => post<Job>(`${V}/jobs/${j.id}/${verb}`)));
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      const word = verb === 'retry' ? 'retried' : 'canceled';
      setDone(
        `${ok} job${ok === 1 ? '' : 's'} ${word}${ok < targets.length ? `, ${targets.length - ok} refused` : ''}`,
      );
      setSelected(new Set());
      jobs.reload();
    });
  const set = (changes: Partial<typeof f>) => {
    const next = { ...f, before: '', ...changes };
    navigate(`/console/jobs${query(next)}`, { replace: true });
  };
  return (
    <>
      <h1 tabIndex={-1}>Jobs console</h1>
      <ConsoleTabs />
      <Section title="Jobs" id="jobs">
        <form
          class="form-row"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            set({ tag: tag.trim(), runtime: runtime.trim(), group: group.trim() });
          }}
        >
          <div class="field">
            <label for="j-state">State</label>
            <select id="j-state" value={f.state} onChange={(e) => set({ state: e.currentTarget.value })}>
              <option value="">any state</option>
              {JOB_STATES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="j-fn">Function</label>
            <select id="j-fn" value={f.function} onChange={(e) => set({ function: e.currentTarget.value })}>
              <option value="">any function</option>
              {(fns.data?.functions ?? []).map((fn) => (
                <option key={fn.id} value={fn.id}>
                  {fnLabel(fn)}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="j-runtime">Runtime</label>
            <input
              id="j-runtime"
              value={runtime}
              placeholder="e.g. dlabLua54"
              onInput={(e) => setRuntime(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="j-tag">Tag</label>
            <input id="j-tag" value={tag} onInput={(e) => setTag(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="j-group">Group</label>
            <input id="j-group" value={group} onInput={(e) => setGroup(e.currentTarget.value)} />
          </div>
          <button type="submit">Filter</button>
        </form>
        <Load r={jobs} what="Loading jobs">
          {(d) =>
            d.jobs.length === 0 ? (
              <Empty>
                No jobs match. <Link to="/console/submit">Submit one</Link>.
              </Empty>
            ) : (
              <>
                <div class="row" role="group" aria-label="Selected jobs">
                  <span class="muted">{picked.length} selected</span>
                  <button
                    type="button"
                    class="small"
                    disabled={action.busy || retryable.length === 0}
                    onClick={() => apply('retry', retryable)}
                  >
                    Retry selected ({retryable.length})
                  </button>
                  <button
                    type="button"
                    class="small danger"
                    disabled={action.busy || cancelable.length === 0}
                    onClick={() => apply('cancel', cancelable)}
                  >
                    Cancel selected ({cancelable.length})
                  </button>
                  {done && (
                    <span role="status" class="muted">
                      {done}
                    </span>
                  )}
                </div>
                <ActionError error={action.error} />
                <JobRows jobs={d.jobs} fns={fns.data?.functions ?? []} selection={selection} />
                <div class="row">
                  {f.before && (
                    <button type="button" class="small" onClick={() => set({ before: '' })}>
                      Newest
                    </button>
                  )}
                  {d.next && (
                    <button type="button" class="small" onClick={() => set({ before: d.next! })}>
                      Older
                    </button>
                  )}
                </div>
              </>
            )
          }
        </Load>
      </Section>
    </>
  );
}
