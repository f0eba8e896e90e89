/**
 * `jobhub groups list|set`: job groups on a running hub (an admin token). `set` changes only
 * what it is given: `--concurrency none` or `--per-second none` removes a limit, `--pause` and
 * `--resume` hold and release the group's queued jobs. Mistakes end with one line (exit-codes.ts).
 */
import { Command, InvalidArgumentError } from 'commander';
import type { GroupView } from '../agent/hub-api.js';
import { withApi, withHub, type Common } from './run.js';
import { table } from './token.js';

/**
 * A limit, or `none` for no limit (kept as the word: commander turns an option parser's null
 * into an empty string).
 */
const limit =
  (what: string, ok: (n: number) => boolean) =>
  (raw: string): number | 'none' => {
    if (raw === 'none') return raw;
    const n = Number(raw);
    if (raw.trim() === '' || !ok(n)) throw new InvalidArgumentError(`${what}, or none for no limit`);
    return n;
  };

const noLimit = (v: number | 'none') => (v === 'none' ? null : v);

interface SetFlags extends Common {
  concurrency?: number | 'none';
  perSecond?: number | 'none';
  pause?: boolean;
  resume?: boolean;
}

const show = (v: number | null) => (v === null ? '-' : String(v));

export function groupsCommand(): Command {
  const groups = new Command('groups').description(
    'Job groups: fairness, concurrency and rate limits, pause',
  );
  withHub(groups.command('list'))
    .description('List groups with their limits and queued/running counts (admin token)')
    .option('--json', 'one JSON array')
    .action((o: Common) =>
      withApi(o, async (api) => {
        const all: GroupView[] = [];
        for (let after: string | undefined; ;) {
          const page = await api.groupList(after);
          all.push(...page.groups);
          if (page.next === null) break;
          after = page.next;
        }
        if (o.json) {
          process.stdout.write(`${JSON.stringify(all)}\n`);
          return 0;
        }
        const rows = [['GROUP', 'CONCURRENCY', 'PER SECOND', 'PAUSED', 'QUEUED', 'RUNNING']];
        for (const g of all) {
          rows.push([
            g.name,
            show(g.concurrency),
            show(g.perSecond),
            g.paused ? 'yes' : 'no',
            String(g.queued),
            String(g.running),
          ]);
        }
        process.stdout.write(`${table(rows)}\n`);
        return 0;
      }),
    );
  withHub(groups.command('set'))
    .description("Change a group's limits or pause it (admin token); what is not given stays")
    .argument('<group>', 'the group name')
    .option(
      '--concurrency <n>',
      'most jobs running at once, across all hubs (none: no limit)',
      limit('an integer of at least 1', (n) => Number.isInteger(n) && n >= 1),
    )
    .option(
      '--per-second <rate>',
      'most jobs started per second, across all hubs (none: no limit)',
      limit('a number above 0', (n) => Number.isFinite(n) && n > 0),
    )
    .option('--pause', 'start none of its jobs until --resume')
    .option('--resume', 'start its jobs again')
    .option('--json', 'print the group as JSON')
    .action((name: string, o: SetFlags) =>
      withApi(o, async (api) => {
        const g = await api.groupSet(name, {
          ...(o.concurrency !== undefined ? { concurrency: noLimit(o.concurrency) } : {}),
          ...(o.perSecond !== undefined ? { perSecond: noLimit(o.perSecond) } : {}),
          ...(o.pause || o.resume ? { paused: Boolean(o.pause) } : {}),
        });
        process.stdout.write(
          o.json
            ? `${JSON.stringify(g)}\n`
            : `${g.name}: concurrency ${show(g.concurrency)}, per second ${show(g.perSecond)}, ${g.paused ? 'paused' : 'running'}; ${g.queued} queued, ${g.running} running\n`,
        );
        return 0;
      }),
    )
    .hook('preAction', (_cmd, action) => {
      const opts = action.opts<SetFlags>();
      if (opts.pause && opts.resume) action.error('error: give --pause or --resume, not both');
      if (opts.concurrency === undefined && opts.perSecond === undefined && !opts.pause && !opts.resume)
        action.error('error: give --concurrency, --per-second, --pause or --resume');
    });
  return groups;
}
