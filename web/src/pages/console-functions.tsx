/** Jobs console: the functions, and a form that makes one from pasted code or a file. */
import { useState } from 'preact/hooks';
import { authPath, post, upload } from '../api.js';
import { useResource } from '../live.js';
import { fnLabel, V, type Blob as BlobMeta, type Fn, type Worker } from '../native.js';
import { Link } from '../router.js';
import { ActionError, duration, Empty, Field, Load, Section, TableWrap, Time, useAction } from '../ui.js';
import { ConsoleTabs } from './console.js';

const RUNTIMES = ['dlabLua54', 'default', 'wasi'];

export const splitTags = (s: string) => s.split(/[\s,]+/).filter(Boolean);

/** The choice of a job's function (or none: the job names a runtime), for the job forms. */
export function FunctionOptions({ fns }: { fns: Fn[] }) {
  return (
    <>
      <option value="">none (runtime only)</option>
      {fns.map((fn) => (
        <option key={fn.id} value={fn.id}>
          {fnLabel(fn)} — {fn.runtime}
        </option>
      ))}
    </>
  );
}

function NewFunction({ onDone }: { onDone: (f: Fn) => void }) {
  const workers = useResource<{ workers: Worker[] }>(`${V}/workers`);
  const offered = [...new Set([...RUNTIMES, ...(workers.data?.workers ?? []).flatMap((w) => w.runtimes)])];
  const [f, setF] = useState({
    name: '',
    runtime: 'dlabLua54',
    code: '',
    tags: '',
    timeoutMs: '',
    maxAttempts: '',
  });
  const [file, setFile] = useState<File | null>(null);
  const a = useAction();
  return (
    <form
      aria-label="New function"
      onSubmit={async (e) => {
        e.preventDefault();
        const fn = await a.run(async () => {
          const code = file ?? (f.code ? f.code : null);
          const blob = code === null ? null : await upload<BlobMeta>(`${V}/blobs`, code);
          return post<Fn>(`${V}/functions`, {
            runtime: f.runtime.trim(),
            ...(f.name.trim() ? { name: f.name.trim() } : {}),
            ...(blob ? { codeBlobId: blob.id } : {}),
            ...(f.tags.trim() ? { tags: splitTags(f.tags) } : {}),
            ...(f.timeoutMs ? { timeoutMs: Number(f.timeoutMs) } : {}),
            ...(f.maxAttempts ? { maxAttempts: Number(f.maxAttempts) } : {}),
          });
        });
        if (fn) {
          setF({ ...f, name: '', code: '' });
          setFile(null);
          onDone(fn);
        }
      }}
    >
      <div class="form-row">
        <Field
          label="Name"
          id="fn-name"
          value={f.name}
          placeholder="shout"
          onInput={(e) => setF({ ...f, name: e.currentTarget.value })}
        />
        <Field
          label="Runtime"
          id="fn-runtime"
          required
          list="runtimes"
          value={f.runtime}
          onInput={(e) => setF({ ...f, runtime: e.currentTarget.value })}
        />
        <datalist id="runtimes">
          {offered.map((r) => (
            <option key={r} value={r} />
          ))}
        </datalist>
      </div>
      <div class="field">
        <label for="fn-code">Code</label>
        <textarea
          id="fn-code"
          rows={6}
          spellcheck={false}
          placeholder={'-- Lua: read the input, write the output\nio.write(string.upper(io.read("a")))'}
          value={f.code}
          disabled={file !== null}
          onInput={(e) => setF({ ...f, code: e.currentTarget.value })}
        />
      </div>
      <div class="field">
        <label for="fn-file">…or a file (an executable for default, a .wasm module for wasi)</label>
        <input id="fn-file" type="file" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
      </div>
      <div class="form-row">
        <Field
          label="Default tags"
          id="fn-tags"
          value={f.tags}
          placeholder="+gpu fast"
          onInput={(e) => setF({ ...f, tags: e.currentTarget.value })}
        />
        <Field
          label="Timeout (ms)"
          id="fn-timeout"
          type="number"
          min={100}
          value={f.timeoutMs}
          onInput={(e) => setF({ ...f, timeoutMs: e.currentTarget.value })}
        />
        <Field
          label="Max attempts"
          id="fn-attempts"
          type="number"
          min={1}
          value={f.maxAttempts}
          onInput={(e) => setF({ ...f, maxAttempts: e.currentTarget.value })}
        />
      </div>
      <ActionError error={a.error} />
      <button type="submit" class="primary" disabled={a.busy}>
        {a.busy ? 'Creating…' : 'Create function'}
      </button>
    </form>
  );
}

export function ConsoleFunctions() {
  const r = useResource<{ functions: Fn[] }>(`${V}/functions?limit=1000`, 10_000);
  const [created, setCreated] = useState<Fn | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Jobs console</h1>
      <ConsoleTabs />
      <Section title="Functions" id="functions">
        <Load r={r} what="Loading functions">
          {(d) =>
            d.functions.length === 0 ? (
              <Empty>No functions yet. Create one below.</Empty>
            ) : (
              <TableWrap label="Functions">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Function</th>
                      <th scope="col">Runtime</th>
                      <th scope="col" class="opt">
                        Code
                      </th>
                      <th scope="col" class="opt">
                        Defaults
                      </th>
                      <th scope="col" class="opt">
                        Created
                      </th>
                      <th scope="col">
                        <span class="sr-only">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.functions.map((f) => (
                      <tr key={f.id} data-function={f.name ?? f.id}>
                        <th scope="row">
                          {f.name ?? 'unnamed'} <span class="muted">#{f.id}</span>
                        </th>
                        <td class="mono">{f.runtime}</td>
                        <td class="opt">
                          {f.codeBlobId ? (
                            <a href={authPath(`${V}/blobs/${f.codeBlobId}`)}>blob #{f.codeBlobId}</a>
                          ) : (
                            <span class="muted">none</span>
                          )}
                        </td>
                        <td class="opt muted">
                          {[
                            f.tags.length ? f.tags.join(' ') : null,
                            f.timeoutMs ? `timeout ${duration(f.timeoutMs)}` : null,
                            f.maxAttempts ? `${f.maxAttempts} attempts` : null,
                          ]
                            .filter(Boolean)
                            .join(' · ') || '—'}
                        </td>
                        <td class="opt">
                          <Time at={f.createdAt} />
                        </td>
                        <td>
                          <div class="actions">
                            <Link to={`/console/submit?function=${f.id}`} class="button small">
                              Submit a job
                            </Link>
                            <Link to={`/console/jobs?function=${f.id}`} class="button small">
                              Jobs
                            </Link>
                          </div>
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
      <Section title="New function" id="new-function">
        {created && (
          <p role="status" class="banner ok">
            <span>
              Function {created.name ?? ''} #{created.id} created.{' '}
              <Link to={`/console/submit?function=${created.id}`}>Submit a job with it</Link>
            </span>
          </p>
        )}
        <NewFunction
          onDone={(f) => {
            setCreated(f);
            r.reload();
          }}
        />
      </Section>
    </>
  );
}
