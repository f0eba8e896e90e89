/**
 * The `jobhub` command. Every way a command can end with an error goes through exit-codes.ts:
 * one line on stderr naming the fix and a status from one table, never a stack trace.
 */
import { Command } from 'commander';
import { serverCommand } from './server.js';
import { tokenCommand } from './token.js';
import { groupsCommand } from './groups.js';
import { workerCommand } from './worker.js';
import { upCommand } from './up.js';
import { runCommands } from './run.js';
import { VERSION } from '../http/app.js';
import { portalCommand } from './portal.js';
import { jobsCommand, schedulesCommand } from './jobs.js';
import { benchWorkerCommand } from './bench-worker.js';
import { exitWith } from './exit-codes.js';

const program = new Command('jobhub')
  .description('A job hub: clients submit jobs, pull-based workers lease, run and report them.')
  .version(VERSION);
program.addCommand(serverCommand());
program.addCommand(tokenCommand());
program.addCommand(workerCommand());
program.addCommand(upCommand());
for (const c of runCommands()) program.addCommand(c);
program.addCommand(jobsCommand());
program.addCommand(schedulesCommand());
program.addCommand(groupsCommand());
program.addCommand(portalCommand());
program.addCommand(benchWorkerCommand());

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
