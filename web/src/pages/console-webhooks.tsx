/** Jobs console: webhooks and the results of their recent deliveries (read-only). */
import { useResource } from '../live.js';
import { V } from '../native.js';
import { Link } from '../router.js';
import { Empty, Load, Section, TableWrap, Time } from '../ui.js';
import { ConsoleTabs } from './console.js';

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

function Deliveries({ hook }: { hook: Webhook }) {
  const r = useResource<{ deliveries: Delivery[] }>(`${V}/webhooks/${hook.id}/deliveries?limit=20`, 3000);
  return (
    <Section title={hook.url} id={`webhook-${hook.id}`}>
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
            <Empty>No webhooks. Create one with POST /api/v1/webhooks (see the protocol).</Empty>
          ) : (
            <>
              {d.webhooks.map((h) => (
                <Deliveries key={h.id} hook={h} />
              ))}
            </>
          )
        }
      </Load>
    </>
  );
}
