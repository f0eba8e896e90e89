/**
 * `jobhub portal …` for the organisers' staff actions (docs/portal.md "Contest day"), each with
 * `--json` (the staff API's answer as is):
 *   clarifications [--open]          the queue (all, or the unanswered)
 *   answer ID --text T [--public] [--question Q]
 *   announce --title T --body B [--pin]; announcements; announcement ID [--title|--body|--pin|
 *     --unpin|--withdraw|--restore]
 *   health; service BENCHMARKER in|out
 *   settings [--offline-after S] [--stdout-after-end yes|no] [--webhook URL]… [--no-webhooks]
 *   verify; results; decide TEAM --disqualify|--accept [--note N]; publish; unpublish;
 *   export [--format csv|json]
 */
import type { Command } from 'commander';
import { CliError, EXIT } from './exit-codes.js';

export interface StaffCall {
  <T>(o: { hub: string; token?: string }, method: string, path: string, body?: unknown): Promise<T>;
}

type Common = { hub: string; token?: string; json?: boolean };
type Row = Record<string, unknown>;

const out = (text: string) => process.stdout.write(text.endsWith('\n') ? text : text + '\n');
const table = (head: string[], rows: unknown[][]) =>
  out(
    [
      head.join('\t'),
      ...rows.map((r) => r.map((v) => (v === null || v === undefined ? '-' : String(v))).join('\t')),
    ].join('\n'),
  );
const oneLine = (s: unknown) => String(s ?? '').split('\n')[0]!;

/** A benchmarker or team named by id or name, resolved through the staff API. */
async function idOf(
  call: StaffCall,
  o: Common,
  kind: 'benchmarkers' | 'teams',
  ref: string,
): Promise<number> {
  if (/^\d{1,15}$/.test(ref)) return Number(ref);
  const list = (await call<Record<string, { id: number; name: string }[]>>(o, 'GET', `/${kind}`))[kind]!;
  const hit = list.find((x) => x.name === ref);
  if (!hit) throw new CliError(EXIT.DATA, `no ${kind.slice(0, -1)} named ${ref}`);
  return hit.id;
}

export function addOrganiserCommands(
  portal: Command,
  withHub: (c: Command) => Command,
  call: StaffCall,
): void {
  const cmd = (spec: string, description: string) =>
    withHub(portal.command(spec)).description(description).option('--json', 'print the answer as JSON');
  /** Prints JSON with --json, else the human form. */
  const show = <T>(o: Common, value: T, human: (v: T) => void) =>
    o.json ? out(JSON.stringify(value)) : human(value);

  cmd('clarifications', 'List clarifications, newest first')
    .option('--open', 'only the unanswered ones')
    .action(async (o: Common & { open?: boolean }) => {
      const r = await call<{ clarifications: Row[] }>(o, 'GET', `/clarifications${o.open ? '?open=1' : ''}`);
      show(o, r.clarifications, (list) =>
        table(
          ['ID', 'TEAM', 'STATUS', 'QUESTION', 'ANSWER'],
          list.map((c) => [
            c.id,
            (c.team as { name: string } | null)?.name,
            c.answer === null ? 'open' : c.disclosed ? 'public' : 'private',
            oneLine(c.question),
            c.answer === null ? null : oneLine(c.answer),
          ]),
        ),
      );
    });

  cmd('answer <id>', 'Answer a clarification (to the asking team, or to everyone with --public)')
    .requiredOption('--text <answer>', 'the answer')
    .option('--public', 'answer to every team')
    .option('--question <text>', 'rewrite the question as everyone will read it')
    .action(async (id: string, o: Common & { text: string; public?: boolean; question?: string }) => {
      const c = await call<Row>(o, 'POST', `/clarifications/${encodeURIComponent(id)}/answer`, {
        answer: o.text,
        disclosed: Boolean(o.public),
        ...(o.question !== undefined ? { question: o.question } : {}),
      });
      show(o, c, () =>
        out(`clarification ${String(c.id)} answered ${c.disclosed ? 'to everyone' : 'privately'}`),
      );
    });

  const announcementRows = (list: Row[]) =>
    table(
      ['ID', 'PINNED', 'WITHDRAWN', 'TITLE'],
      list.map((a) => [a.id, a.pinned ? 'pinned' : '', a.withdrawn_at ? 'withdrawn' : '', a.title]),
    );
  cmd('announce', 'Post an announcement to every contestant and audience page')
    .requiredOption('--title <title>', 'title')
    .requiredOption('--body <text>', 'text')
    .option('--pin', 'pin it on top')
    .action(async (o: Common & { title: string; body: string; pin?: boolean }) => {
      const a = await call<Row>(o, 'POST', '/announcements', {
        title: o.title,
        body: o.body,
        pinned: Boolean(o.pin),
      });
      show(o, a, () => out(String(a.id)));
    });
  cmd('announcements', 'List announcements (withdrawn ones included)').action(async (o: Common) => {
    const r = await call<{ announcements: Row[] }>(o, 'GET', '/announcements');
    show(o, r.announcements, announcementRows);
  });
  cmd('announcement <id>', 'Edit, pin, unpin, withdraw or restore an announcement')
    .option('--title <title>', 'new title')
    .option('--body <text>', 'new text')
    .option('--pin', 'pin it')
    .option('--unpin', 'unpin it')
    .option('--withdraw', 'withdraw it (kept in the staff list)')
    .option('--restore', 'show it again')
    .action(
      async (
        id: string,
        o: Common & {
          title?: string;
          body?: string;
          pin?: boolean;
          unpin?: boolean;
          withdraw?: boolean;
          restore?: boolean;
        },
      ) => {
        if ((o.pin && o.unpin) || (o.withdraw && o.restore))
          throw new CliError(EXIT.USAGE, 'give --pin or --unpin, --withdraw or --restore, not both');
        const body = {
          ...(o.title !== undefined ? { title: o.title } : {}),
          ...(o.body !== undefined ? { body: o.body } : {}),
          ...(o.pin || o.unpin ? { pinned: Boolean(o.pin) } : {}),
          ...(o.withdraw || o.restore ? { withdrawn: Boolean(o.withdraw) } : {}),
        };
        const a = await call<Row>(o, 'PUT', `/announcements/${encodeURIComponent(id)}`, body);
        show(o, a, (x) => announcementRows([x]));
      },
    );

  cmd('health', 'Benchmarker health: last dequeue, running job, jobs, aborted, offline').action(
    async (o: Common) => {
      const r = await call<{ offline_after_s: number; benchmarkers: Row[] }>(o, 'GET', '/health');
      show(o, r, (h) =>
        table(
          ['NAME', 'IP', 'STATUS', 'LAST DEQUEUE', 'RUNNING', 'JOBS', 'ABORTED'],
          h.benchmarkers.map((b) => [
            b.name,
            b.ip,
            b.status,
            b.seconds_since_dequeue === null ? null : `${String(b.seconds_since_dequeue)} s ago`,
            (b.running_job as { id: number; team: { name: string } } | null)
              ? `#${(b.running_job as { id: number }).id} ${(b.running_job as { team: { name: string } }).team.name}`
              : null,
            b.jobs,
            b.aborted,
          ]),
        ),
      );
    },
  );
  cmd('service <benchmarker> <state>', 'Take a benchmarker out of service (out) or put it back (in)').action(
    async (ref: string, state: string, o: Common) => {
      if (state !== 'in' && state !== 'out') throw new CliError(EXIT.USAGE, 'state must be in or out');
      const id = await idOf(call, o, 'benchmarkers', ref);
      const r = await call<Row>(
        o,
        'POST',
        `/benchmarkers/${id}/${state === 'in' ? 'in-service' : 'out-of-service'}`,
      );
      show(o, r, () => out(`${String(r.name)}: ${state === 'in' ? 'in service' : 'out of service'}`));
    },
  );

  cmd('settings', 'Show or change the organiser settings')
    .option('--offline-after <seconds>', 'a benchmarker without a dequeue this long is offline', Number)
    .option('--stdout-after-end <yes|no>', 'contestants see their stdout after the end')
    .option('--webhook <url...>', 'notification targets (replaces the list)')
    .option('--no-webhooks', 'send no notifications')
    .action(
      async (
        o: Common & {
          offlineAfter?: number;
          stdoutAfterEnd?: string;
          webhook?: string[];
          webhooks?: boolean;
        },
      ) => {
        const body: Row = {};
        if (o.offlineAfter !== undefined) body.offline_after_s = o.offlineAfter;
        if (o.stdoutAfterEnd !== undefined) {
          if (!['yes', 'no'].includes(o.stdoutAfterEnd))
            throw new CliError(EXIT.USAGE, '--stdout-after-end must be yes or no');
          body.contestant_stdout_after_end = o.stdoutAfterEnd === 'yes';
        }
        if (o.webhook) body.webhooks = o.webhook;
        if (o.webhooks === false) body.webhooks = [];
        const s = await call<Row>(
          o,
          Object.keys(body).length ? 'PUT' : 'GET',
          '/settings',
          Object.keys(body).length ? body : undefined,
        );
        show(o, s, () =>
          out(
            `offline after: ${String(s.offline_after_s)} s\nstdout after the end: ${s.contestant_stdout_after_end ? 'yes' : 'no'}\n` +
              `webhooks: ${(s.webhooks as string[]).join(' ') || '-'}`,
          ),
        );
      },
    );

  cmd('verify', 'After the end: run a verification benchmark for every team').action(async (o: Common) => {
    const r = await call<{
      results: { team: { name: string }; job_id: number | null; error: string | null }[];
    }>(o, 'POST', '/results/verify');
    show(o, r.results, (list) =>
      table(
        ['TEAM', 'JOB', 'ERROR'],
        list.map((x) => [x.team.name, x.job_id, x.error]),
      ),
    );
  });
  cmd('results', 'Review: final standing, verification and decision per team').action(async (o: Common) => {
    const r = await call<{ published_at: string | null; teams: Row[] }>(o, 'GET', '/results');
    show(o, r, (x) => {
      table(
        ['TEAM', 'RANK', 'SCORE', 'VERIFICATION', 'DISQUALIFIED', 'NOTE'],
        x.teams.map((t) => {
          const v = t.verification as { status: string; score: number; is_passed: boolean } | null;
          return [
            (t.team as { name: string }).name,
            t.contest_rank,
            t.score,
            v ? `${v.status} ${v.score} ${v.is_passed ? 'pass' : 'fail'}` : null,
            t.disqualified ? 'yes' : 'no',
            (t.decision as { note: string } | null)?.note,
          ];
        }),
      );
      out(x.published_at ? `published at ${x.published_at}` : 'not published');
    });
  });
  cmd('decide <team>', 'Decide about a team after review')
    .option('--disqualify', 'disqualify the team')
    .option('--accept', 'keep the team ranked')
    .option('--note <text>', 'why (published with the ranking)')
    .action(async (ref: string, o: Common & { disqualify?: boolean; accept?: boolean; note?: string }) => {
      if (Boolean(o.disqualify) === Boolean(o.accept))
        throw new CliError(EXIT.USAGE, 'give --disqualify or --accept');
      const id = await idOf(call, o, 'teams', ref);
      const r = await call<Row>(o, 'PUT', `/results/teams/${id}`, {
        disqualified: Boolean(o.disqualify),
        note: o.note ?? '',
      });
      show(o, r, () => out(`${ref}: ${r.disqualified ? 'disqualified' : 'accepted'}`));
    });
  cmd('publish', 'Publish the final ranking (unfreezes the public board)').action(async (o: Common) => {
    const r = await call<{ published_at: string; teams: Row[] }>(o, 'POST', '/results/publish');
    show(o, r, () => out(`published at ${r.published_at}: ${r.teams.length} teams`));
  });
  cmd('unpublish', 'Withdraw the published ranking (the board is frozen again)').action(async (o: Common) => {
    const r = await call<Row>(o, 'DELETE', '/results/publication');
    show(o, r, () => out('withdrawn'));
  });
  withHub(portal.command('export'))
    .description('Print the final ranking as CSV (default) or JSON')
    .option('--format <format>', 'csv or json', 'csv')
    .action(async (o: Common & { format: string }) => {
      if (o.format !== 'csv' && o.format !== 'json')
        throw new CliError(EXIT.USAGE, '--format must be csv or json');
      const r = await call<unknown>(o, 'GET', `/results/export?format=${o.format}`);
      out(typeof r === 'string' ? r : JSON.stringify(r));
    });
}
