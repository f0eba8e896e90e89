/**
 * `jobhub worker`: the worker agent in the foreground. SIGTERM/SIGINT drain it (stop leasing,
 * finish running jobs, give back what is left at the drain timeout); a second signal gives the
 * running jobs back at once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import pino, { type Logger } from 'pino';
import { Agent } from '../agent/agent.js';
import { RuntimeConfigError, createRuntimes, warmUp } from '../agent/runtimes/index.js';
import type { Runtime } from '../agent/runtimes/runtime.js';

import { HubHttpError } from '../agent/client.js';
import { baseUrl, list, nonNegativeInt as int, positiveInt as positive, urlOption } from './args.js';
import { EXIT, exitWith, hubError } from './exit-codes.js';

/** The options `worker` and `up` share. */
export interface AgentFlags {
  runtimes: string[];
  concurrency: number;
  tags?: string[];
  name?: string;
  leaseWait: number;
  memoryMb: number;
  outputMb: number;
  cpuMs?: number;
  maxProcesses?: number;
  maxOpenFiles?: number;
  drainMs: number;
  unsafeNoSandbox?: boolean;
  allowNet?: string[];
  runtimeAlias?: string[];
}

export function addAgentOptions(cmd: Command, defaultRuntimes = 'default,dlabLua54,wasi,js'): Command {
  return cmd
    .addOption(
      new Option(
        '--runtimes <list>',
        'runtimes to offer, comma-separated (base names offer all their features)',
      )
        .argParser(list)
        .default(list(defaultRuntimes), defaultRuntimes),
    )
    .option('--concurrency <n>', 'jobs run at once', int, 4)
    .option('--tags <list>', 'worker tags, comma-separated', list)
    .option('--name <name>', 'a label for people')
    .option('--lease-wait <ms>', 'long-poll length for leases (the hub caps it)', int, 20_000)
    .option('--memory-mb <n>', 'memory limit per job (address space, Lua heap, wasm memory)', int, 1024)
    .option('--output-mb <n>', 'output size limit per job; larger output fails the job', int, 1024)
    .option('--cpu-ms <ms>', 'CPU time limit per exec job, all its processes (default: the job timeout)', int)
    .option(
      '--max-processes <n>',
      'processes and threads per exec job, all together (default 1024)',
      positive,
    )
    .option(
      '--max-open-files <n>',
      'open files per exec job, all its processes together (default 4096)',
      positive,
    )
    .option(
      '--drain-ms <ms>',
      'on SIGTERM, how long running jobs may finish before being given back',
      int,
      60_000,
    )
    .option('--unsafe-no-sandbox', 'run exec (default runtime) jobs even without bubblewrap, unconfined')
    .option(
      '--allow-net <list>',
      'hosts that JS jobs may reach with HttpClient, comma-separated host or host:port (default: none)',
      list,
    )
    .option(
      '--runtime-alias <list>',
      "other runtime names served by the js engine, comma-separated NAME=js (e.g. 'pleiades+example=js')",
      list,
    );
}

export interface LocalAgent {
  agent: Agent;
  runtimes: Runtime[];
  /** Drains the agent, closes the runtimes and removes the work directory. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Builds runtimes and an agent from flags; the agent is not started. */
export async function buildAgent(
  f: AgentFlags,
  hub: { url: string; token?: string; hide?: string[] },
  log: Logger,
): Promise<LocalAgent> {
  const workDir = await mkdtemp(join(tmpdir(), 'jobhub-agent-'));
  let runtimes: Runtime[];
  try {
    runtimes = createRuntimes(f.runtimes, {
      threads: f.concurrency,
      workDir,
      memoryBytes: f.memoryMb * 1024 ** 2,
      unsafeNoSandbox: f.unsafeNoSandbox,
      hide: hub.hide,
      maxProcesses: f.maxProcesses,
      maxOpenFiles: f.maxOpenFiles,
      allowNet: f.allowNet,
      aliases: f.runtimeAlias,
    });
  } catch (err) {
    await rm(workDir, { recursive: true, force: true });
    throw err;
  }
  await warmUp(runtimes);
  const agent = new Agent({
    hub: hub.url,
    token: hub.token,
    name: f.name,
    tags: f.tags,
    runtimes,
    concurrency: Math.max(1, f.concurrency),
    leaseWaitMs: f.leaseWait,
    limits: { memoryBytes: f.memoryMb * 1024 ** 2, outputBytes: f.outputMb * 1024 ** 2, cpuMs: f.cpuMs },
    drainTimeoutMs: f.drainMs,
    log,
  });
  let stopping: Promise<void> | null = null;
  return {
    agent,
    runtimes,
    stop(timeoutMs) {
      stopping ??= (async () => {
        await agent.drain(timeoutMs);
        await Promise.all(runtimes.map((r) => r.close()));
        await rm(workDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/** SIGTERM/SIGINT: drain; a second signal gives running jobs back at once. */
export function onSignals(first: (signal: string) => void, again: () => void): void {
  let seen = false;
  const handle = (signal: string) => {
    if (seen) return again();
    seen = true;
    first(signal);
  };
  process.on('SIGTERM', () => handle('SIGTERM'));
  process.on('SIGINT', () => handle('SIGINT'));
}

export function workerCommand(): Command {
  const cmd = new Command('worker')
    .description('Run the worker agent: lease jobs from a hub, run them in sandboxed runtimes, report')
    .option(
      '--hub <url>',
      'the hub (env JOBHUB_URL); host:port means http://',
      urlOption('--hub'),
      process.env.JOBHUB_URL || 'http://127.0.0.1:8080',
    )
    .option('--token <token>', 'a worker token (env JOBHUB_TOKEN)')
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['debug', 'info', 'warn', 'error', 'silent'])
        .default('info'),
    );
  addAgentOptions(cmd).action(async (o: AgentFlags & { hub: string; token?: string; logLevel: string }) => {
    const log = pino({ level: o.logLevel, base: { service: 'jobhub-worker' } });
    const hub = baseUrl(o.hub);
    const token = o.token ?? process.env.JOBHUB_TOKEN;
    // The token is ours, not the jobs': keep it out of anything a job could inherit.
    delete process.env.JOBHUB_TOKEN;
    let local: LocalAgent;
    try {
      local = await buildAgent(o, { url: hub, token }, log);
    } catch (err) {
      if (!(err instanceof RuntimeConfigError)) throw err;
      process.stderr.write(`jobhub worker: ${err.message}\n`);
      process.exit(EXIT.USAGE);
    }
    onSignals(
      (signal) => {
        log.info({ signal, running: local.agent.active }, 'draining: no new jobs; finishing running ones');
        local.stop().then(
          () => {
            log.info(local.agent.stats, 'worker stopped');
            process.exit(0);
          },
          (err: unknown) => {
            log.error({ err }, 'drain failed');
            process.exit(1);
          },
        );
      },
      () => {
        log.warn('second signal: giving running jobs back now');
        local.agent.giveBack();
      },
    );
    try {
      await local.agent.start();
    } catch (err) {
      if (local.agent.isDraining) return;
      // Only a refusal ends here (bad token, wrong role...): unreachable hubs are waited for.
      await local.stop(0).catch(() => {});
      exitWith(err instanceof HubHttpError ? hubError(err, hub) : err);
    }
  });
  return cmd;
}
