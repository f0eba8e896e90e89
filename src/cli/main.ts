/** The `jobhub` command. */
import { Command } from 'commander';
import { serverCommand } from './server.js';
import { tokenCommand } from './token.js';
import { workerCommand } from './worker.js';
import { upCommand } from './up.js';
import { runCommands } from './run.js';
import { VERSION } from '../http/app.js';
import { portalCommand } from './portal.js';
import { benchWorkerCommand } from './bench-worker.js';

const program = new Command('jobhub')
  .description('A job hub: clients submit jobs, pull-based workers lease, run and report them.')
  .version(VERSION);
program.addCommand(serverCommand());
program.addCommand(tokenCommand());
program.addCommand(workerCommand());
program.addCommand(upCommand());
for (const c of runCommands()) program.addCommand(c);
program.addCommand(portalCommand());
program.addCommand(benchWorkerCommand());
await program.parseAsync(process.argv);
