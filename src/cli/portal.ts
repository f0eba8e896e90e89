/**
 * `jobhub portal …`: contest staff commands against a running hub's staff API.
 *   portal load FILE      load (or re-load) a contest description
 *   portal enqueue        enqueue a benchmark for a team, or for all teams (--all [--at TIME])
 *   portal jobs           list every benchmark job (--json: an array)
 * and the organisers' commands of portal-organisers.ts (clarifications, announcements, health,
 * settings, results).
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { baseUrl, urlOption } from './args.js';
import { CliError, EXIT, inputFileError } from './exit-codes.js';
import { addOrganiserCommands } from './portal-organisers.js';

interface Common {
  hub: string;
  token?: string;
}

interface StaffJob {
  id: number;
  team: { id: number; name: string };
  status: string;
  score: number;
  is_passed: boolean;
  reason: string;
}

async function call<T>(o: Common, method: string, path: string, body?: unknown): Promise<T> {
  const token = o.token ?? process.env.JOBHUB_TOKEN;
  const hub = baseUrl(o.hub);
  let res: Response;
  try {
    res = await fetch(new URL(`/api/portal/staff${path}`, hub), {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    const cause = (err as Error).cause as { code?: string; message?: string } | undefined;
    throw new CliError(
      EXIT.UNAVAILABLE,
      `cannot reach the hub at ${hub} (${cause?.code ?? cause?.message ?? (err as Error).message}); start it with \`jobhub server\` or \`jobhub up\`, or give --hub (or JOBHUB_URL)`,
    );
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!res.ok) {
    const message = (parsed as { error?: { message?: string } } | null)?.error?.message;
    const why = message ?? `${res.status} ${text.slice(0, 200)}`;
    if (res.status === 401)
      throw new CliError(
        EXIT.NO_PERMISSION,
        `${why}; give an admin token with --token or JOBHUB_TOKEN (\`jobhub token create --role admin\` makes one)`,
      );
    if (res.status === 403) throw new CliError(EXIT.NO_PERMISSION, `${why}; use an admin token`);
    if (res.status >= 500)
      throw new CliError(EXIT.UNAVAILABLE, `the hub at ${hub} failed: ${why}; see its log`);
    throw new CliError(EXIT.DATA, why);
  }
  return parsed as T;
}

const withHub = (c: Command) =>
  c
    .option(
      '--hub <url>',
      'hub base URL (env JOBHUB_URL, else http://127.0.0.1:8080); host:port means http://',
      urlOption('--hub'),
      process.env.JOBHUB_URL || 'http://127.0.0.1:8080',
    )
    .option('--token <token>', 'admin token (default: $JOBHUB_TOKEN)');

export function portalCommand(): Command {
  const portal = new Command('portal')
    .description('Contest portal staff commands (teams, benchmarkers, benchmark jobs)')
    .addHelpText(
      'after',
      '\nEvery command talks to the hub at --hub, or $JOBHUB_URL (default http://127.0.0.1:8080),\n' +
        'with the admin token from --token or $JOBHUB_TOKEN.',
    );

  withHub(portal.command('load').argument('<file>', 'contest description (JSON)'))
    .description('Load a contest description; re-loading updates by name and duplicates nothing')
    .action(async (file: string, o: Common) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw inputFileError(err, file);
      }
      let description: unknown;
      try {
        description = JSON.parse(text);
      } catch (err) {
        throw new CliError(EXIT.DATA, `${file} is not JSON (${(err as Error).message}); fix the file`);
      }
      const s = await call<{
        teams: { created: number; updated: number };
        servers: number;
        benchmarkers: { created: number; updated: number };
      }>(o, 'POST', '/load', description);
      process.stdout.write(
        `teams: ${s.teams.created} created, ${s.teams.updated} updated; servers: ${s.servers}; ` +
          `benchmarkers: ${s.benchmarkers.created} created, ${s.benchmarkers.updated} updated\n`,
      );
    });

  withHub(portal.command('enqueue'))
    .description(
      'Enqueue a benchmark for a team, or for every team (as staff: also outside the contest hours)',
    )
    .option('--team <name>', 'team name')
    .option('--all', 'one benchmark for every team (the final verification); prints TEAM, JOB and ERROR')
    .option('--at <time>', 'with --all: run them at this RFC 3339 time (e.g. 2030-01-31T18:00:00Z)')
    .action(async (o: Common & { team?: string; all?: boolean; at?: string }) => {
      if (o.all === (o.team !== undefined))
        throw new CliError(EXIT.USAGE, 'give --team <name> or --all (one of them)');
      if (o.at !== undefined && !o.all) throw new CliError(EXIT.USAGE, '--at goes with --all');
      if (o.team !== undefined) {
        const job = await call<StaffJob>(o, 'POST', '/jobs', { team: o.team });
        process.stdout.write(`${job.id}\n`);
        return;
      }
      const { results } = await call<{
        results: { team: { name: string }; job_id: number | null; error: string | null }[];
      }>(o, 'POST', '/jobs/all', o.at === undefined ? {} : { run_at: o.at });
      process.stdout.write('TEAM\tJOB\tERROR\n');
      for (const r of results) process.stdout.write(`${r.team.name}\t${r.job_id ?? '-'}\t${r.error ?? ''}\n`);
    });

  withHub(portal.command('jobs'))
    .description('List benchmark jobs, newest first')
    .option('--json', 'print a JSON array of {id, team, status, score, is_passed, reason}')
    .option('--team <name>', 'only this team')
    .option('--status <status>', 'waiting, running, done, aborted or canceled')
    .action(async (o: Common & { json?: boolean; team?: string; status?: string }) => {
      const jobs: StaffJob[] = [];
      let before: number | null = null;
      do {
        const q = new URLSearchParams({ limit: '1000' });
        if (before !== null) q.set('before', String(before));
        if (o.team) q.set('team', o.team);
        if (o.status) q.set('status', o.status);
        const page = await call<{ jobs: StaffJob[]; next_before: number | null }>(o, 'GET', `/jobs?${q}`);
        jobs.push(...page.jobs);
        before = page.next_before;
      } while (before !== null);
      const rows = jobs.map((j) => ({
        id: j.id,
        team: j.team.name,
        status: j.status,
        score: j.score,
        is_passed: j.is_passed,
        reason: j.reason,
      }));
      if (o.json) {
        process.stdout.write(JSON.stringify(rows) + '\n');
        return;
      }
      // A verdict exists only once the benchmarker has reported: a waiting or running job
      // shows '-', not 'fail'.
      const verdict = (r: (typeof rows)[number]) =>
        r.status === 'done' || r.status === 'aborted' ? (r.is_passed ? 'pass' : 'fail') : '-';
      process.stdout.write('ID\tTEAM\tSTATUS\tSCORE\tRESULT\tREASON\n');
      for (const r of rows) {
        process.stdout.write(
          `${r.id}\t${r.team}\t${r.status}\t${r.score}\t${verdict(r)}\t${r.reason.split('\n')[0]}\n`,
        );
      }
    });
  addOrganiserCommands(portal, withHub, call);
  return portal;
}
