/**
 * Jobs console overview: queues by runtime (depth, running, oldest waiting from the hub's
 * gauges; throughput from the recently finished jobs) and the live workers (runtimes, tags,
 * in-flight jobs, last heartbeat).
 */
import { get, text } from '../api.js';
import { usePoll, useResource } from '../live.js';
import { queuesFromMetrics, V, type Job, type Worker } from '../native.js';
import { Link } from '../router.js';
import { duration, Empty, Load, Section, TableWrap, Tabs, Time } from '../ui.js';

export function ConsoleTabs() {
  return (
    <Tabs
      label="Console sections"
      items={[
        { to: '/console', label: 'Overview' },
        { to: '/console/jobs', label: 'Jobs' },
        { to: '/console/functions', label: 'Functions' },
        { to: '/console/groups', label: 'Groups' },
        { to: '/console/schedules', label: 'Schedules' },
        { to: '/console/submit', label: 'Submit a job' },
        { to: '/console/webhooks', label: 'Webhooks' },
      ]}
    />
  );
}

const WINDOW_MS = 60_000;

function Queues() {
  const metrics = usePoll(
    'metrics',
    async (signal) => ({ data: queuesFromMetrics(await text('/metrics', signal)), changed: true }),
    3000,
  );
  const finished = usePoll(
    'finished',
    async (signal) => {
      const r = await get<{ jobs: Job[] }>(`${V}/jobs?state=succeeded,failed,canceled&limit=1000`, signal);
      const since = Date.now() - WINDOW_MS;
      const per = new Map<string, number>();
      for (const j of r.jobs)
        if (j.finishedAt && Date.parse(j.finishedAt) >= since)
          per.set(j.runtime, (per.get(j.runtime) ?? 0) + 1);
      return { data: per, changed: true };
    },
    5000,
  );
  return (
    <Section title="Queues by runtime" id="queues">
      <Load r={metrics} what="Loading queues">
        {(rows) => {
          const per = finished.data ?? new Map<string, number>();
          const runtimes = [...new Set([...rows.map((r) => r.runtime), ...per.keys()])].sort();
          if (runtimes.length === 0)
            return <Empty>No jobs waiting or running, and none finished in the last minute.</Empty>;
          return (
            <TableWrap label="Queues">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Runtime</th>
                    <th scope="col" class="num">
                      Waiting
                    </th>
                    <th scope="col" class="num">
                      Running
                    </th>
                    <th scope="col" class="num">
                      Oldest waiting
                    </th>
                    <th scope="col" class="num">
                      Finished / min
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {runtimes.map((rt) => {
                    const r = rows.find((x) => x.runtime === rt);
                    return (
                      <tr key={rt} data-runtime={rt}>
                        <th scope="row">
                          <Link to={`/console/jobs?runtime=${encodeURIComponent(rt)}`}>{rt}</Link>
                        </th>
                        <td class="num">{r?.queued ?? 0}</td>
                        <td class="num">{r?.running ?? 0}</td>
                        <td class="num">
                          {r?.oldestSeconds != null && r.queued > 0 ? duration(r.oldestSeconds * 1000) : '—'}
                        </td>
                        <td class="num">{finished.data ? (per.get(rt) ?? 0) : '…'}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </TableWrap>
          );
        }}
      </Load>
    </Section>
  );
}

function Workers() {
  const workers = useResource<{ workers: Worker[] }>(`${V}/workers`, 5000);
  const running = useResource<{ jobs: Job[] }>(`${V}/jobs?state=running&limit=1000`, 3000);
  return (
    <Section title="Workers" id="workers">
      <Load r={workers} what="Loading workers">
        {(d) => {
          if (d.workers.length === 0)
            return (
              <Empty>No worker has been seen recently. Start one with jobhub worker (or jobhub up).</Empty>
            );
          const inFlight = new Map<string, number>();
          for (const j of running.data?.jobs ?? [])
            if (j.lease?.workerId) inFlight.set(j.lease.workerId, (inFlight.get(j.lease.workerId) ?? 0) + 1);
          return (
            <TableWrap label="Workers">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Worker</th>
                    <th scope="col">Runtimes</th>
                    <th scope="col" class="opt">
                      Tags
                    </th>
                    <th scope="col" class="num">
                      In flight
                    </th>
                    <th scope="col">Last heartbeat</th>
                  </tr>
                </thead>
                <tbody>
                  {d.workers.map((w) => (
                    <tr key={w.id} data-worker={w.id}>
                      <th scope="row">
                        {w.name ?? `worker ${w.id}`} <span class="muted">#{w.id}</span>
                      </th>
                      <td>{w.runtimes.join(', ')}</td>
                      <td class="opt">{w.tags.length ? w.tags.join(', ') : <span class="muted">—</span>}</td>
                      <td class="num">
                        {inFlight.get(w.id) ?? 0} / {w.capacity}
                        {w.parked > 0 && <span class="muted"> (waiting for work)</span>}
                      </td>
                      <td>
                        <Time at={w.lastSeenAt} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          );
        }}
      </Load>
    </Section>
  );
}

export function ConsoleOverview() {
  return (
    <>
      <h1 tabIndex={-1}>Jobs console</h1>
      <ConsoleTabs />
      <Queues />
      <Workers />
    </>
  );
}
