/**
 * Requester commands for jobs already made, and for schedules that make them:
 *   jobs retry ID…            a failed or canceled job back in the queue (fresh attempt budget)
 *   jobs cancel ID…           cancel queued or running jobs
 *   jobs bulk ACTION          retry or cancel every job a filter selects; prints the count
 *   schedules create|list|delete|pause|resume
 * Mistakes end with one line (exit-codes.ts); each command exits 0 when everything it was asked
 * to do was done.
 */
import { Argument, Command, Option } from 'commander';
import type { HubApi, ScheduleView } from '../agent/hub-api.js';
import { list } from './args.js';
import { EXIT } from './exit-codes.js';
import { withApi, withHub, type Common } from './run.js';

/** Runs `one` for each id; prints each outcome; fails (exit 65) when any was refused. */
async function each(
  api: HubApi,
  ids: string[],
  one: (id: string) => Promise<{ state: string }>,
): Promise<number> {
  let refused = 0;
  for (const id of ids) {
    try {
      process.stdout.write(`${id}\t${(await one(id)).state}\n`);
    } catch (err) {
      refused++;
      process.stderr.write(`jobhub: job ${id}: ${(err as Error).message}\n`);
    }
  }
  return refused === 0 ? EXIT.OK : EXIT.DATA;
}

export function jobsCommand(): Command {
  const jobs = new Command('jobs').description('Retry or cancel jobs, one by one or by filter');
  jobs.addCommand(
    withHub(new Command('retry'))
      .description('Put failed or canceled jobs back in the queue with a fresh attempt budget')
      .argument('<ids...>', 'job ids')
      .action((ids: string[], o: Common) => withApi(o, (api) => each(api, ids, (id) => api.jobRetry(id)))),
  );
  jobs.addCommand(
    withHub(new Command('cancel'))
      .description('Cancel queued or running jobs')
      .argument('<ids...>', 'job ids')
      .action((ids: string[], o: Common) => withApi(o, (api) => each(api, ids, (id) => api.jobCancel(id)))),
  );
  jobs.addCommand(
    withHub(new Command('bulk'))
      .description('Retry (failed, canceled) or cancel (queued, running) every job the filter selects')
      .addArgument(new Argument('<action>', 'retry or cancel').choices(['retry', 'cancel']))
      .option('--state <list>', 'only these states, comma-separated', list)
      .option('--runtime <name>', 'only this runtime')
      .option('--function <id>', 'only jobs of this function')
      .option('--tag <tag>', 'only jobs with this tag')
      .option('--group <name>', 'only jobs of this group')
      .option('--created-before <time>', 'only jobs created before this RFC 3339 time')
      .action(
        (
          action: 'retry' | 'cancel',
          o: Common & {
            state?: string[];
            runtime?: string;
            function?: string;
            tag?: string;
            group?: string;
            createdBefore?: string;
          },
        ) =>
          withApi(o, async (api) => {
            const { count } = await api.jobBulk({
              action,
              filter: {
                ...(o.state ? { state: o.state } : {}),
                ...(o.runtime ? { runtime: o.runtime } : {}),
                ...(o.function ? { function: o.function } : {}),
                ...(o.tag ? { tag: o.tag } : {}),
                ...(o.group ? { group: o.group } : {}),
                ...(o.createdBefore ? { createdBefore: o.createdBefore } : {}),
              },
            });
            process.stdout.write(`${count}\n`);
            return EXIT.OK;
          }),
      ),
  );
  return jobs;
}

const row = (s: ScheduleView) =>
  `${s.id}\t${s.name}\t${s.cron}\t${s.timezone}\t${s.paused ? 'paused' : (s.nextRunAt ?? '-')}\t${s.lastJobId ?? '-'}\n`;

export function schedulesCommand(): Command {
  const schedules = new Command('schedules').description('Cron schedules: a job at each tick');
  schedules.addCommand(
    withHub(new Command('create'))
      .description('Create a schedule; prints its id and next tick')
      .requiredOption('--name <name>', 'a name, unique among your schedules')
      .requiredOption('--cron <expr>', '5 fields (minute hour day month weekday), or 6 with seconds first')
      .option('--timezone <tz>', 'IANA time zone the expression is read in', 'UTC')
      .addOption(
        new Option('--overlap <mode>', 'skip: no job while the last one is active').choices([
          'skip',
          'allow',
        ]),
      )
      .option('--runtime <name>', 'the job runtime')
      .option('--function <id>', 'the job function')
      .option('--input-text <text>', 'the job input, as text')
      .option('--tags <list>', 'job tags, comma-separated', list)
      .option('--json', 'print the schedule as JSON')
      .action(
        (
          o: Common & {
            name: string;
            cron: string;
            timezone: string;
            overlap?: 'skip' | 'allow';
            runtime?: string;
            function?: string;
            inputText?: string;
            tags?: string[];
          },
        ) =>
          withApi(o, async (api) => {
            const s = await api.scheduleCreate({
              name: o.name,
              cron: o.cron,
              timezone: o.timezone,
              ...(o.overlap ? { overlap: o.overlap } : {}),
              job: {
                ...(o.function ? { function: o.function } : {}),
                ...(o.runtime ? { runtime: o.runtime } : {}),
                ...(o.inputText !== undefined ? { input: { text: o.inputText } } : {}),
                ...(o.tags ? { tags: o.tags } : {}),
              },
            });
            process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : `${s.id}\t${s.nextRunAt}\n`);
            return EXIT.OK;
          }),
      ),
  );
  schedules.addCommand(
    withHub(new Command('list'))
      .description('List schedules: ID NAME CRON TIMEZONE NEXT LAST-JOB')
      .option('--json', 'print a JSON array')
      .action((o: Common) =>
        withApi(o, async (api) => {
          const all: ScheduleView[] = [];
          let after: string | undefined;
          do {
            const page = await api.scheduleList(after);
            all.push(...page.schedules);
            after = page.next ?? undefined;
          } while (after);
          if (o.json) process.stdout.write(`${JSON.stringify(all)}\n`);
          else {
            process.stdout.write('ID\tNAME\tCRON\tTIMEZONE\tNEXT\tLAST-JOB\n');
            for (const s of all) process.stdout.write(row(s));
          }
          return EXIT.OK;
        }),
      ),
  );
  for (const [name, what] of [
    ['delete', 'Delete a schedule (the jobs it made stay)'],
    ['pause', 'Pause a schedule'],
    ['resume', 'Resume a schedule from now'],
  ] as const) {
    schedules.addCommand(
      withHub(new Command(name))
        .description(what)
        .argument('<id>', 'schedule id')
        .action((id: string, o: Common) =>
          withApi(o, async (api) => {
            if (name === 'delete') await api.scheduleDelete(id);
            else process.stdout.write(row(await api.schedulePause(id, name === 'pause')));
            return EXIT.OK;
          }),
        ),
    );
  }
  return schedules;
}
