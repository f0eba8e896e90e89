/**
 * The `jobhub` command. Every way a command can end with an error goes through exit-codes.ts:
 * one line on stderr naming the fix and a status from one table, never a stack trace.
 */
import { Command } from 'commander';
import { VERSION } from '../config/version.js';
import { exitWith } from './exit-codes.js';

/**
 * Each command's module, imported only when that command runs (or when `jobhub --help` lists
 * them all): `jobhub worker` then loads neither the SQLite nor the PostgreSQL driver, nor the hub.
 */
const COMMANDS: Record<string, () => Promise<Command[]>> = {
  server: async () => [(await import('./server.js')).serverCommand()],
  token: async () => [(await import('./token.js')).tokenCommand()],
  worker: async () => [(await import('./worker.js')).workerCommand()],
  up: async () => [(await import('./up.js')).upCommand()],
  run: async () => (await import('./run.js')).runCommands(),
  jobs: async () => [(await import('./jobs.js')).jobsCommand()],
  schedules: async () => [(await import('./jobs.js')).schedulesCommand()],
  groups: async () => [(await import('./groups.js')).groupsCommand()],
  webhooks: async () => [(await import('./webhooks.js')).webhooksCommand()],
  portal: async () => [(await import('./portal.js')).portalCommand()],
  'bench-worker': async () => [(await import('./bench-worker.js')).benchWorkerCommand()],
};
/** Commands defined by another command's module. */
const ALIASES: Record<string, string> = { submit: 'run', wait: 'run', get: 'run' };

const program = new Command('jobhub')
  .description('A job hub: clients submit jobs, pull-based workers lease, run and report them.')
  .version(VERSION);
const named = process.argv[2] ?? '';
const only = COMMANDS[ALIASES[named] ?? named];
// `--version` needs no command; anything else that names none (`--help`, a typo) lists them all.
const versionOnly = named === '--version' || named === '-V';
for (const load of only ? [only] : versionOnly ? [] : Object.values(COMMANDS)) {
  for (const c of await load()) program.addCommand(c);
}

// Commander's own errors (unknown flag, bad value) throw instead of exiting with status 1, so
// that they end with the usage status like every other usage mistake. Added commands do not
// inherit this setting: set it on each.
const everyCommand = (c: Command): Command[] => [c, ...c.commands.flatMap(everyCommand)];
for (const c of everyCommand(program)) c.exitOverride();

// Errors outside the command's own promise (a failing listener, a stray rejection) end the same
// way; an unrecognised one there is a crash of a running process, so its stack trace is kept.
process.on('uncaughtException', (err) => exitWith(err, true));
process.on('unhandledRejection', (err) => exitWith(err, true));
try {
  await program.parseAsync(process.argv);
} catch (err) {
  exitWith(err);
}
