/**
 * `jobhub webhooks create|list|delete|deliveries`: webhooks on a running hub (a client token
 * manages its own, an admin token all of them). `deliveries` shows the recent deliveries and
 * their results (state, HTTP status, attempts, last error, next try), of one webhook or of all.
 * Mistakes end with one line (exit-codes.ts).
 */
import { Command, InvalidArgumentError } from 'commander';
import type { DeliveryView, HubApi, WebhookView } from '../agent/hub-api.js';
import { list, positiveInt } from './args.js';
import { EXIT } from './exit-codes.js';
import { withApi, withHub, type Common } from './run.js';
import { table } from './token.js';

const EVENTS = ['job.succeeded', 'job.failed', 'job.canceled'];

/** Comma-separated events; an unknown one is a usage mistake, named with the valid ones. */
function events(raw: string): string[] {
  const all = list(raw);
  const unknown = all.find((e) => !EVENTS.includes(e));
  if (unknown !== undefined || all.length === 0)
    throw new InvalidArgumentError(
      `unknown event ${JSON.stringify(unknown ?? '')}; events are ${EVENTS.join(', ')}`,
    );
  return all;
}

const dash = (v: string | number | null) => (v === null || v === '' ? '-' : String(v));

/** The newest `limit` deliveries of the given webhooks, newest first. */
async function recentDeliveries(api: HubApi, hooks: string[], limit: number): Promise<DeliveryView[]> {
  const all: DeliveryView[] = [];
  for (const id of hooks) all.push(...(await api.webhookDeliveries(id, limit)));
  // Ids are ascending in creation order across webhooks (one sequence per store).
  return all.sort((a, b) => Number(b.id) - Number(a.id)).slice(0, limit);
}

export function webhooksCommand(): Command {
  const webhooks = new Command('webhooks').description(
    'Webhooks: signed POSTs about job outcomes, and their deliveries',
  );
  withHub(webhooks.command('create'))
    .description('Create a webhook; prints its id')
    .requiredOption('--url <url>', 'the http(s) URL the hub POSTs to')
    .requiredOption('--events <list>', `comma-separated: ${EVENTS.join(', ')}`, events)
    .requiredOption('--secret <secret>', 'key of the HMAC-SHA256 signature, 8-200 characters')
    .option('--json', 'print the webhook as JSON')
    .action((o: Common & { url: string; events: string[]; secret: string }) =>
      withApi(o, async (api) => {
        const hook = await api.webhookCreate({ url: o.url, events: o.events, secret: o.secret });
        process.stdout.write(o.json ? `${JSON.stringify(hook)}\n` : `${hook.id}\n`);
        return EXIT.OK;
      }),
    );
  withHub(webhooks.command('list'))
    .description('List webhooks: ID URL EVENTS CREATED')
    .option('--json', 'print a JSON array')
    .action((o: Common) =>
      withApi(o, async (api) => {
        const all: WebhookView[] = await api.webhookList();
        if (o.json) process.stdout.write(`${JSON.stringify(all)}\n`);
        else {
          const rows = [['ID', 'URL', 'EVENTS', 'CREATED']];
          for (const h of all) rows.push([h.id, h.url, h.events.join(','), h.createdAt]);
          process.stdout.write(`${table(rows)}\n`);
        }
        return EXIT.OK;
      }),
    );
  withHub(webhooks.command('delete'))
    .description('Delete a webhook and its deliveries')
    .argument('<id>', 'webhook id')
    .option('--json', 'print {"deleted": ID}')
    .action((id: string, o: Common) =>
      withApi(o, async (api) => {
        await api.webhookDelete(id);
        if (o.json) process.stdout.write(`${JSON.stringify({ deleted: id })}\n`);
        return EXIT.OK;
      }),
    );
  withHub(webhooks.command('deliveries'))
    .description(
      'Recent deliveries with their results, newest first: of one webhook, or of all (ID WEBHOOK EVENT JOB STATE STATUS ATTEMPTS NEXT-TRY ERROR)',
    )
    .argument('[id]', 'webhook id (default: every webhook)')
    .option('--limit <n>', 'how many, at most 1000', positiveInt, 20)
    .option('--json', 'print a JSON array')
    .action((id: string | undefined, o: Common & { limit: number }) =>
      withApi(o, async (api) => {
        const limit = Math.min(o.limit, 1000);
        const hooks = id !== undefined ? [id] : (await api.webhookList()).map((h) => h.id);
        const all = await recentDeliveries(api, hooks, limit);
        if (o.json) process.stdout.write(`${JSON.stringify(all)}\n`);
        else {
          const rows = [
            ['ID', 'WEBHOOK', 'EVENT', 'JOB', 'STATE', 'STATUS', 'ATTEMPTS', 'NEXT-TRY', 'ERROR'],
          ];
          for (const d of all)
            rows.push([
              d.id,
              d.webhookId,
              d.event,
              d.jobId,
              d.state,
              dash(d.lastStatus),
              String(d.attempts),
              dash(d.nextAttemptAt),
              dash(d.lastError?.replace(/\s+/g, ' ') ?? null),
            ]);
          process.stdout.write(`${table(rows)}\n`);
        }
        return EXIT.OK;
      }),
    );
  return webhooks;
}
