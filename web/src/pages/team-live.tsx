/** A team's benchmark followed live: waiting, running (score and messages as they come), done. */
import { useRef, useState } from 'preact/hooks';
import { get } from '../api.js';
import { useNow, useStream } from '../live.js';
import { isActive, P, type PortalJob } from '../portal.js';
import { Link } from '../router.js';
import { Badge, duration, Empty, fmt, LiveDot } from '../ui.js';

/** Pass/fail for a finished job, the status otherwise. */
export function Outcome({ job }: { job: PortalJob }) {
  if (job.status === 'done')
    return <Badge state={job.is_passed ? 'passed' : 'fail'} label={job.is_passed ? 'passed' : 'failed'} />;
  return <Badge state={job.status} />;
}

/**
 * One benchmark followed live: waiting, running (score and messages as they come), finished.
 * `onStatusChange` fires each time the status moves on (waiting → running → done), so that the
 * page's other views of the job (the history, the dashboard) move with it.
 */
export function LiveJob({
  id,
  onStatusChange,
}: {
  id: number | null;
  reloadTick?: number;
  onStatusChange: () => void;
}) {
  const [job, setJob] = useState<PortalJob | null>(null);
  const [lines, setLines] = useState<string[]>([]);
  const [score, setScore] = useState<number | null>(null);
  const lastStatus = useRef<PortalJob['status'] | null>(null);
  const now = useNow(1000);
  const addLine = (m: string | null | undefined) => {
    if (m) setLines((l) => (l[l.length - 1] === m ? l : [...l.slice(-199), m]));
  };
  const onJob = (j: PortalJob) => {
    setJob(j);
    if (j.progress) {
      setScore(j.progress.score);
      addLine(j.progress.message);
    }
    const seen = lastStatus.current;
    lastStatus.current = j.status;
    if (seen !== null && seen !== j.status) onStatusChange();
    return !isActive(j);
  };
  const mode = useStream(
    id === null ? null : `${P}/jobs/${id}/events`,
    {
      job: (d) => onJob(d as PortalJob),
      progress: (d) => {
        const p = d as { score: number | null; message: string | null };
        if (p.score !== null) setScore(p.score);
        addLine(p.message);
      },
    },
    async () => onJob(await get<PortalJob>(`${P}/jobs/${id}`)),
  );
  if (id === null) return <Empty>No benchmark yet. Press “Run benchmark” to start one.</Empty>;
  if (!job) return <p class="muted">Connecting to job #{id}…</p>;
  const since = job.started_at ?? job.created_at;
  return (
    <div class="live-job" data-status={job.status} aria-live="polite">
      <div class="row">
        <strong>
          <Link to={`/team/jobs/${job.id}`}>Job #{job.id}</Link>
        </strong>
        <Outcome job={job} />
        <LiveDot mode={mode} />
        {since && isActive(job) && (
          <span class="muted">{duration(Math.max(0, now - Date.parse(since)))}</span>
        )}
      </div>
      {job.status === 'waiting' && <p>Waiting for a benchmarker to take it…</p>}
      {job.status === 'running' && (
        <p>
          <span class="muted">Running score </span>
          <span class="big-score" data-testid="live-score">
            {score === null ? '…' : fmt(score)}
          </span>
        </p>
      )}
      {job.status === 'done' && (
        <p>
          <span class="muted">Score </span>
          <span class="big-score" data-testid="final-score">
            {fmt(job.score)}
          </span>
        </p>
      )}
      {job.reason && !isActive(job) && <pre class="reason">{job.reason}</pre>}
      {lines.length > 0 && (
        <>
          <h3>Messages</h3>
          <pre class="log" data-testid="job-log">
            {lines.join('\n')}
          </pre>
        </>
      )}
    </div>
  );
}
