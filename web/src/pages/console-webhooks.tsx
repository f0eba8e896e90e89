/**
 * Jobs console: webhooks and the results of their recent deliveries (state, HTTP status, last
 * error, next try, attempts); a form creates a webhook and a button deletes one. The hub checks
 * the URL (refused targets) and the secret: a mistake shows its refusal under the form.
 */
import { useState } from 'preact/hooks';
import { del, post } from '../api.js';
import { useResource } from '../live.js';
import { V } from '../native.js';
import { Link } from '../router.js';
import { ActionError, Empty, Field, Load, Section, TableWrap, Time, useAction } from '../ui.js';
import { ConsoleTabs } from './console.js';

const EVENTS = ['job.succeeded', 'job.failed', 'job.canceled'];

interface Webhook {
  id: string;
  url: string;
  events: string[];
  createdAt: string;
}

interface Delivery {
  id: string;
  event: string;
  jobId: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
}

function NewWebhook({ onDone }: { onDone: () => void }) {
  const [f, setF] = useState({ url: '', secret: '', events: [...EVENTS] });
  const a = useAction();
  return (
    <form
      aria-label="Create a webhook"
      onSubmit={async (e) => {
        e.preventDefault();
        const made = await a.run(() =>
          post<Webhook>(`${V}/webhooks`, { url: f.url.trim(), events: f.events, secret: f.secret }),
        );
        if (made) {
          setF({ ...f, url: '', secret: '' });
          onDone();
        }
      }}
    >
      <div class="form-row">
        <Field
          label="URL"
          id="w-url"
          type="url"
          required
          placeholder="https://example.com/hook"
          value={f.url}
          onInput={(e) => setF({ ...f, url: e.currentTarget.value })}
        />
        <Field
          label="Secret"
          id="w-secret"
          type="password"
          autocomplete="off"
          required
          minLength={8}
          maxLength={200}
          hint="Signs each delivery (HMAC-SHA256); never shown again."
          value={f.secret}
          onInput={(e) => setF({ ...f, secret: e.currentTarget.value })}
        />
      </div>
      <fieldset class="field">
        <legend>Events</legend>
        {EVENTS.map((ev) => (
          <label key={ev}>
            <input
              type="checkbox"
              checked={f.events.includes(ev)}
              onChange={(e) =>
                setF({
                  ...f,
                  events: e.currentTarget.checked ? [...f.events, ev] : f.events.filter((x) => x !== ev),
                })
              }
            />{' '}
            {ev}{' '}
          </label>
        ))}
      </fieldset>
      <ActionError error={a.error} />
      <button type="submit" class="primary" disabled={a.busy || f.events.length === 0}>
        {a.busy ? 'Creating…' : 'Create webhook'}
      </button>
    </form>
  );
}

function Deliveries({ hook, onDeleted }: { hook: Webhook; onDeleted: () => void }) {
  const r = useResource<{ deliveries: Delivery[] }>(`${V}/webhooks/${hook.id}/deliveries?limit=20`, 3000);
  const a = useAction();
  return (
    <Section
      title={hook.url}
      id={`webhook-${hook.id}`}
      actions={
        <button
          type="button"
          class="small danger"
          disabled={a.busy}
          onClick={() => {
            if (confirm(`Delete webhook #${hook.id} (${hook.url}) and its deliveries?`))
              void a.run(() => del(`${V}/webhooks/${hook.id}`).then(onDeleted));
          }}
        >
          Delete webhook #{hook.id}
        </button>
      }
    >
      <ActionError error={a.error} />
      <p class="muted">
        #{hook.id} · {hook.events.join(', ')} · created <Time at={hook.createdAt} />
      </p>
      <Load r={r} what="Loading deliveries">
        {(d) =>
          d.deliveries.length === 0 ? (
            <Empty>No deliveries yet.</Empty>
          ) : (
            <TableWrap label={`Deliveries of webhook ${hook.id}`}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Delivery</th>
                    <th scope="col">Event</th>
                    <th scope="col">Job</th>
                    <th scope="col">Result</th>
                    <th scope="col" class="num">
                      Attempts
                    </th>
                    <th scope="col">Queued</th>
                  </tr>
                </thead>
                <tbody>
                  {d.deliveries.map((x) => (
                    <tr key={x.id} data-delivery={x.id} data-state={x.state}>
                      <td>#{x.id}</td>
                      <td>{x.event}</td>
                      <td>
                        <Link to={`/console/jobs/${x.jobId}`}>#{x.jobId}</Link>
                      </td>
                      <td>
                        {x.state}
                        {x.lastStatus !== null && ` (HTTP ${x.lastStatus})`}
                        {x.lastError && <span class="muted"> {x.lastError}</span>}
                        {x.nextAttemptAt && (
                          <span class="muted">
                            {' '}
                            · next try <Time at={x.nextAttemptAt} />
                          </span>
                        )}
                      </td>
                      <td class="num">{x.attempts}</td>
                      <td>
                        <Time at={x.createdAt} />
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
  );
}

export function ConsoleWebhooks() {
  const hooks = useResource<{ webhooks: Webhook[] }>(`${V}/webhooks`, 10_000);
  return (
    <>
      <h1 tabIndex={-1}>Webhooks</h1>
      <ConsoleTabs />
      <Load r={hooks} what="Loading webhooks">
        {(d) =>
          d.webhooks.length === 0 ? (
            <Empty>No webhooks yet: create one below.</Empty>
          ) : (
            <>
              {d.webhooks.map((h) => (
                <Deliveries key={h.id} hook={h} onDeleted={hooks.reload} />
              ))}
            </>
          )
        }
      </Load>
      <Section title="Create a webhook" id="new-webhook">
        <NewWebhook onDone={hooks.reload} />
      </Section>
    </>
  );
}
