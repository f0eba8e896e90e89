/**
 * Jobs console: submit a job (a function, an input as text or a file, tags and limits, a group,
 * and a start time for a delayed job).
 */
import { useState } from 'preact/hooks';
import { post, upload } from '../api.js';
import { useResource } from '../live.js';
import { V, type Blob as BlobMeta, type Fn, type Job } from '../native.js';
import { Link, navigate } from '../router.js';
import { ActionError, Field, Load, Section, useAction } from '../ui.js';
import { ConsoleTabs } from './console.js';
import { FunctionOptions, splitTags } from './console-functions.js';

export function ConsoleSubmit({ query: q }: { query: URLSearchParams }) {
  const fns = useResource<{ functions: Fn[] }>(`${V}/functions?limit=1000`);
  const [f, setF] = useState({
    function: q.get('function') ?? '',
    runtime: '',
    input: '',
    tags: '',
    priority: '0',
    maxAttempts: '',
    timeoutMs: '',
    group: '',
    runAt: '',
  });
  const [file, setFile] = useState<File | null>(null);
  const a = useAction();
  return (
    <>
      <h1 tabIndex={-1}>Jobs console</h1>
      <ConsoleTabs />
      <Section title="Submit a job" id="submit">
        <Load r={fns} what="Loading functions">
          {(d) => (
            <form
              aria-label="Submit a job"
              onSubmit={async (e) => {
                e.preventDefault();
                const job = await a.run(async () => {
                  const input = file
                    ? { blobId: (await upload<BlobMeta>(`${V}/blobs`, file)).id }
                    : f.input
                      ? { text: f.input }
                      : undefined;
                  return post<Job>(`${V}/jobs`, {
                    ...(f.function ? { function: f.function } : {}),
                    ...(f.runtime.trim() ? { runtime: f.runtime.trim() } : {}),
                    ...(input ? { input } : {}),
                    ...(f.tags.trim() ? { tags: splitTags(f.tags) } : {}),
                    ...(f.priority && f.priority !== '0' ? { priority: Number(f.priority) } : {}),
                    ...(f.maxAttempts ? { maxAttempts: Number(f.maxAttempts) } : {}),
                    ...(f.timeoutMs ? { timeoutMs: Number(f.timeoutMs) } : {}),
                    ...(f.group.trim() ? { group: f.group.trim() } : {}),
                    ...(f.runAt ? { runAt: localToIso(f.runAt) } : {}),
                  });
                });
                if (job) navigate(`/console/jobs/${job.id}`);
              }}
            >
              <div class="form-row">
                <div class="field">
                  <label for="s-fn">Function</label>
                  <select
                    id="s-fn"
                    value={f.function}
                    onChange={(e) => setF({ ...f, function: e.currentTarget.value })}
                  >
                    <FunctionOptions fns={d.functions} />
                  </select>
                  <small class="muted">
                    <Link to="/console/functions">New function…</Link>
                  </small>
                </div>
                <Field
                  label="Runtime"
                  id="s-runtime"
                  hint="Only without a function, or to ask for more features (e.g. dlabLua54+pcli)."
                  value={f.runtime}
                  onInput={(e) => setF({ ...f, runtime: e.currentTarget.value })}
                />
              </div>
              <div class="field">
                <label for="s-input">Input</label>
                <textarea
                  id="s-input"
                  rows={5}
                  spellcheck={false}
                  value={f.input}
                  disabled={file !== null}
                  onInput={(e) => setF({ ...f, input: e.currentTarget.value })}
                />
              </div>
              <div class="field">
                <label for="s-file">…or a file as input (uploaded as a blob)</label>
                <input
                  id="s-file"
                  type="file"
                  onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
                />
              </div>
              <div class="form-row">
                <Field
                  label="Tags"
                  id="s-tags"
                  hint="+x required, -x excluded, x preferred"
                  value={f.tags}
                  onInput={(e) => setF({ ...f, tags: e.currentTarget.value })}
                />
                <Field
                  label="Priority"
                  id="s-priority"
                  type="number"
                  min={-1000}
                  max={1000}
                  value={f.priority}
                  onInput={(e) => setF({ ...f, priority: e.currentTarget.value })}
                />
                <Field
                  label="Max attempts"
                  id="s-attempts"
                  type="number"
                  min={1}
                  value={f.maxAttempts}
                  onInput={(e) => setF({ ...f, maxAttempts: e.currentTarget.value })}
                />
                <Field
                  label="Timeout (ms)"
                  id="s-timeout"
                  type="number"
                  min={100}
                  value={f.timeoutMs}
                  onInput={(e) => setF({ ...f, timeoutMs: e.currentTarget.value })}
                />
              </div>
              <div class="form-row">
                <Field
                  label="Group"
                  id="s-group"
                  hint="Jobs of a group share its limits; groups take turns."
                  value={f.group}
                  onInput={(e) => setF({ ...f, group: e.currentTarget.value })}
                />
                <Field
                  label="Start at"
                  id="s-run-at"
                  type="datetime-local"
                  step={1}
                  hint="Your local time; empty starts it now."
                  value={f.runAt}
                  onInput={(e) => setF({ ...f, runAt: e.currentTarget.value })}
                />
              </div>
              <ActionError error={a.error} />
              <button type="submit" class="primary" disabled={a.busy || (!f.function && !f.runtime.trim())}>
                {a.busy ? 'Submitting…' : 'Submit job'}
              </button>
            </form>
          )}
        </Load>
      </Section>
    </>
  );
}

/**
 * A datetime-local value ("2026-12-04T12:30" or with seconds) is a wall-clock time with no zone:
 * the browser's own zone is the one the user means. An unreadable value goes to the hub as it is,
 * so that its refusal names the field.
 */
function localToIso(local: string): string {
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? local : at.toISOString();
}
