/**
 * One function job: state and attempts as a timeline, "why isn't it running", input and output
 * previews with downloads, and the live log and progress through the job's event stream (SSE;
 * polling when the stream cannot be used).
 */
import { useEffect, useState } from 'preact/hooks';
import { authPath, get, head, post } from '../api.js';
import { useResource, useStream } from '../live.js';
import {
  base64Bytes,
  FINAL_STATES,
  preview,
  V,
  type Bytes,
  type Explanation,
  type Fn,
  type Job,
} from '../native.js';
import { Link } from '../router.js';
import {
  ActionError,
  Badge,
  bytes,
  clock,
  duration,
  ErrorBox,
  LiveDot,
  Loading,
  Section,
  useAction,
} from '../ui.js';
import { ConsoleTabs } from './console.js';

const PREVIEW_BYTES = 4096;

function BytesView({ what, value, download }: { what: string; value: Bytes; download: string | null }) {
  const [state, setState] = useState<{ text: string; binary: boolean; total: number | null } | Error | null>(
    null,
  );
  const key = value === null ? '' : 'blobId' in value ? value.blobId : value.base64;
  useEffect(() => {
    if (value === null) return;
    if (!('blobId' in value)) {
      const b = base64Bytes(value.base64);
      setState({ ...preview(b.subarray(0, PREVIEW_BYTES)), total: b.length });
      return;
    }
    let gone = false;
    head(`${V}/blobs/${value.blobId}`, PREVIEW_BYTES).then(
      (r) => !gone && setState({ ...preview(r.bytes), total: r.total }),
      (err: Error) => !gone && setState(err),
    );
    return () => {
      gone = true;
    };
  }, [key]);
  if (value === null) return <p class="muted">No {what}.</p>;
  if (state === null) return <Loading what={`Loading the ${what}`} />;
  if (state instanceof Error) return <ErrorBox error={state} />;
  const href =
    download ?? ('base64' in value ? `data:application/octet-stream;base64,${value.base64}` : null);
  return (
    <>
      <p class="row muted">
        {bytes(state.total)}
        {'blobId' in value && <span>blob #{value.blobId}</span>}
        {state.total !== null && state.total > PREVIEW_BYTES && (
          <span>· first {bytes(PREVIEW_BYTES)} shown</span>
        )}
        {state.binary && <span>· binary (hex)</span>}
        {href && (
          <a href={href} download={`job-${what}.bin`}>
            Download {what}
          </a>
        )}
      </p>
      <pre data-testid={`${what}-preview`}>{state.text || ' '}</pre>
    </>
  );
}

function Timeline({ job }: { job: Job }) {
  const events: { at: string; text: string; bad?: boolean }[] = [{ at: job.createdAt, text: 'created' }];
  for (const e of job.errors)
    events.push({ at: e.at, text: `attempt ${e.attempt} ${e.type}: ${e.message}`, bad: true });
  if (job.startedAt)
    events.push({
      at: job.startedAt,
      text: `attempt ${job.attempts} started${job.lease?.workerId ? ` on worker #${job.lease.workerId}` : ''}`,
    });
  if (job.finishedAt) events.push({ at: job.finishedAt, text: job.state, bad: job.state !== 'succeeded' });
  events.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return (
    <ol class="timeline">
      {events.map((e, i) => (
        <li key={i} class={e.bad ? 'bad' : ''}>
          <span class="muted">{clock(e.at)}</span> — {e.text}
        </li>
      ))}
    </ol>
  );
}

function Why({ id }: { id: string }) {
  const r = useResource<Explanation>(`${V}/jobs/${id}/explain`, 3000);
  if (!r.data) return r.error ? <ErrorBox error={r.error} /> : <Loading what="Asking the hub" />;
  const w = r.data.workers;
  return (
    <Section title="Why isn't it running?" id="why">
      <p>
        <Badge
          state={r.data.verdict === 'ready' ? 'queued' : 'failed'}
          label={r.data.verdict.replace(/_/g, ' ')}
        />
      </p>
      <ul>
        {r.data.reasons.map((x, i) => (
          <li key={i}>{x}</li>
        ))}
      </ul>
      <p class="muted">
        Workers alive {w.alive} · with the runtime {w.withRuntime} · eligible {w.eligible} · idle {w.idle}
      </p>
    </Section>
  );
}

export function ConsoleJob({ params }: { params: Record<string, string> }) {
  const id = params.id!;
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [lines, setLines] = useState<string[]>([]);
  const [progress, setProgress] = useState<unknown>(undefined);
  const cancel = useAction();
  const fn = useResource<Fn>(job?.function ? `${V}/functions/${job.function}` : null);
  const onState = (j: Job) => {
    setJob(j);
    setError(null);
    if (j.progress !== null && j.progress !== undefined) setProgress(j.progress);
    return FINAL_STATES.includes(j.state);
  };
  const mode = useStream(
    authPath(`${V}/jobs/${id}/events`),
    {
      state: (d) => onState(d as Job),
      progress: (d) => setProgress((d as { progress: unknown }).progress),
      log: (d) => setLines((l) => [...l, ...(d as { lines: string[] }).lines].slice(-1000)),
    },
    async () => {
      try {
        return onState(await get<Job>(`${V}/jobs/${id}`));
      } catch (err) {
        setError(err);
        return false;
      }
    },
  );
  const final = job ? FINAL_STATES.includes(job.state) : false;
  return (
    <>
      <p>
        <Link to="/console/jobs">← Jobs</Link>
      </p>
      <h1 tabIndex={-1} class="row">
        Job #{id} {job && <Badge state={job.state} />} <LiveDot mode={mode} />
      </h1>
      <ConsoleTabs />
      {error !== null && !job && <ErrorBox error={error} />}
      {!job && error === null && <Loading what="Loading the job" />}
      {job && (
        <>
          <Section
            title="Summary"
            id="summary"
            actions={
              !final && (
                <button
                  type="button"
                  class="danger"
                  disabled={cancel.busy}
                  onClick={() => void cancel.run(() => post<Job>(`${V}/jobs/${id}/cancel`).then(onState))}
                >
                  Cancel job
                </button>
              )
            }
          >
            <ActionError error={cancel.error} />
            <dl class="kv">
              <dt>Function</dt>
              <dd>
                {job.function ? (
                  `${fn.data?.name ?? 'function'} (#${job.function})`
                ) : (
                  <span class="muted">none</span>
                )}
              </dd>
              <dt>Runtime</dt>
              <dd class="mono">{job.runtime}</dd>
              <dt>Tags</dt>
              <dd>{job.tags.length ? job.tags.join(' ') : '—'}</dd>
              <dt>Group</dt>
              <dd data-testid="job-group">
                {job.group ? (
                  <Link to={`/console/jobs?group=${encodeURIComponent(job.group)}`}>{job.group}</Link>
                ) : (
                  '—'
                )}
              </dd>
              {job.runAt && (
                <>
                  <dt>Start at</dt>
                  <dd data-testid="job-run-at">
                    <time dateTime={job.runAt}>{clock(job.runAt)}</time>
                  </dd>
                </>
              )}
              <dt>Priority</dt>
              <dd>{job.priority}</dd>
              <dt>Attempts</dt>
              <dd>
                {job.attempts} of {job.maxAttempts}
              </dd>
              <dt>Timeout</dt>
              <dd>{duration(job.timeoutMs)}</dd>
              {job.exitStatus !== null && (
                <>
                  <dt>Exit status</dt>
                  <dd>{job.exitStatus}</dd>
                </>
              )}
              {job.error && (
                <>
                  <dt>Error</dt>
                  <dd>
                    <pre>{job.error}</pre>
                  </dd>
                </>
              )}
              {progress !== undefined && !final && (
                <>
                  <dt>Progress</dt>
                  <dd data-testid="progress">
                    {typeof progress === 'string' ? progress : JSON.stringify(progress)}
                  </dd>
                </>
              )}
            </dl>
            <h3>Timeline</h3>
            <Timeline job={job} />
          </Section>
          {job.state === 'queued' && <Why id={id} />}
          <Section title="Log" id="log">
            {lines.length ? (
              <pre class="log" data-testid="job-log">
                {lines.join('\n')}
              </pre>
            ) : (
              <p class="muted">
                {final ? 'Log lines are shown while a job runs; this one has finished.' : 'No log lines yet.'}
              </p>
            )}
          </Section>
          <div class="grid-2">
            <Section title="Input" id="input">
              <BytesView
                what="input"
                value={job.input}
                download={
                  'blobId' in (job.input ?? {})
                    ? authPath(`${V}/blobs/${(job.input as { blobId: string }).blobId}`)
                    : null
                }
              />
            </Section>
            <Section title="Output" id="output">
              {job.output === null && !final ? (
                <p class="muted">The output appears when the job succeeds.</p>
              ) : (
                <BytesView
                  what="output"
                  value={job.output}
                  download={job.output ? authPath(`${V}/jobs/${id}/output`) : null}
                />
              )}
            </Section>
          </div>
          {job.result !== null && job.result !== undefined && (
            <Section title="Result" id="result">
              <pre>{JSON.stringify(job.result, null, 2)}</pre>
            </Section>
          )}
        </>
      )}
    </>
  );
}
