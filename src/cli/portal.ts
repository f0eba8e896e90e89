/**
 * `jobhub portal …`: contest staff commands against a running hub's staff API.
 *   portal load FILE      load (or re-load) a contest description
 *   portal enqueue        enqueue a benchmark for a team
 *   portal jobs           list every benchmark job (--json: an array)
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';

interface Common {
  hub: string;
  token?: string;
}

class CliError extends Error {}

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
  let res: Response;
  try {
    res = await fetch(new URL(`/api/portal/staff${path}`, o.hub), {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new CliError(`cannot reach the hub at ${o.hub}: ${(err as Error).cause ?? (err as Error).message}`);
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
    throw new CliError(message ?? `${res.status} ${text.slice(0, 200)}`);
  }
  return parsed as T;
}

function action<T extends unknown[]>(fn: (...args: T) => Promise<void>) {
  return async (...args: T) => {
    try {
      await fn(...args);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      process.stderr.write(`jobhub: ${err.message}\n`);
      process.exitCode = 1;
    }
  };
}

const withHub = (c: Command) =>
  c
    .option(
      '--hub <url>',
      'hub base URL (default: $JOBHUB_URL, else http://127.0.0.1:8080)',
      process.env.JOBHUB_URL ?? 'http://127.0.0.1:8080',
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
    .action(
      action(async (file: string, o: Common) => {
        let description: unknown;
        try {
          description = JSON.parse(readFileSync(file, 'utf8'));
        } catch (err) {
          throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
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
      }),
    );

  withHub(portal.command('enqueue').requiredOption('--team <name>', 'team name'))
    .description('Enqueue a benchmark for a team (as staff: also outside the contest hours)')
    .action(
      action(async (o: Common & { team: string }) => {
        const job = await call<StaffJob>(o, 'POST', '/jobs', { team: o.team });
        process.stdout.write(`${job.id}\n`);
      }),
    );

  withHub(portal.command('jobs'))
    .description('List benchmark jobs, newest first')
    .option('--json', 'print a JSON array of {id, team, status, score, is_passed, reason}')
    .option('--team <name>', 'only this team')
    .option('--status <status>', 'waiting, running, done, aborted or canceled')
    .action(
      action(async (o: Common & { json?: boolean; team?: string; status?: string }) => {
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
      }),
    );
  return portal;
}
