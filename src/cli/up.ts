/**
 * `jobhub up`: the hub and one local worker with every runtime, in one process, so that a new
 * user can submit a job and see its output at once. Exec jobs are sandboxed with bubblewrap when
 * it is installed (and refused, with a clear message, when not, unless --unsafe-no-sandbox).
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { loadConfig, type Durability } from '../config/config.js';
import { startHub } from '../app/start.js';
import { RuntimeConfigError } from '../agent/runtimes/index.js';
import { addAgentOptions, buildAgent, onSignals, type AgentFlags, type LocalAgent } from './worker.js';
import { demoDataDir, startDemo, type Demo } from './demo.js';
import { durabilityOption } from './server.js';

import { int } from './args.js';
import { EXIT } from './exit-codes.js';

export function upCommand(): Command {
  const cmd = new Command('up')
    .description('Run the hub and a local worker (all runtimes) in one process')
    .option('--host <host>', 'address to listen on (auth is forced on beyond loopback)')
    .option('--port <port>', 'port to listen on', int)
    .option('--data-dir <dir>', 'where the SQLite file and blobs live')
    .addOption(durabilityOption())
    .option('--auth', 'require tokens even on loopback')
    .option('--lease-ms <ms>', 'lease length for native workers', int)
    .option(
      '--demo',
      'also load a sample contest and sample functions (data in a fresh temp dir unless --data-dir)',
    )
    .addOption(
      new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error', 'silent']),
    );
  addAgentOptions(cmd).action(async (o: AgentFlags & Record<string, unknown>) => {
    // A demo without --data-dir keeps its data in a fresh temp dir, gone when the demo stops.
    const demoDir = o.demo && !o.dataDir && !process.env.JOBHUB_DATA_DIR ? demoDataDir() : undefined;
    if (demoDir) process.once('exit', () => rmSync(demoDir, { recursive: true, force: true }));
    // A bad setting (ConfigError) or a store/port that cannot be opened ends in main.ts's one line.
    const config = loadConfig(process.env, {
      host: o.host as string | undefined,
      port: o.port as number | undefined,
      dataDir: (o.dataDir as string | undefined) ?? demoDir,
      auth: o.auth as boolean | undefined,
      durability: o.durability as Durability | undefined,
      leaseMs: o.leaseMs as number | undefined,
      logLevel: o.logLevel as 'info' | undefined,
    });
    const running = await startHub(config);
    const log = running.hub.ctx.log;
    // With auth on, the local worker gets a token of its own, made directly in the store.
    const token = config.auth
      ? (await running.hub.auth.create('worker', 'jobhub up (local worker)')).token
      : undefined;
    let local: LocalAgent;
    try {
      local = await buildAgent(
        o,
        { url: running.url, token, hide: [resolve(config.dataDir)] },
        log.child({ component: 'agent' }),
      );
    } catch (err) {
      await running.stop();
      if (!(err instanceof RuntimeConfigError)) throw err;
      process.stderr.write(`jobhub up: ${err.message}\n`);
      process.exit(EXIT.USAGE);
    }
    let demo: Demo | null = null;
    onSignals(
      (signal) => {
        log.info({ signal }, 'stopping: draining the local worker, then the hub');
        Promise.resolve(demo?.stop())
          .then(() => local.stop())
          .then(() => running.stop())
          .then(
            () => process.exit(0),
            (err: unknown) => {
              log.error({ err }, 'stop failed');
              process.exit(1);
            },
          );
      },
      () => local.agent.giveBack(),
    );
    await local.agent.start();
    log.info(
      { url: running.url, dataDir: config.dataDir, runtimes: local.agent.runtimeNames },
      'jobhub is up',
    );
    if (o.demo) {
      const admin = config.auth ? (await running.hub.auth.create('admin', 'jobhub demo')).token : undefined;
      demo = await startDemo({ url: running.url, token: admin, log: (line) => log.debug(line) });
      process.stderr.write(
        `\njobhub demo (data in ${config.dataDir}):\n  ${demo.describe().join('\n  ')}\n\n`,
      );
    } else if (process.stderr.isTTY) {
      process.stderr.write(
        `\njobhub is up at ${running.url} with a local worker (${local.agent.runtimeNames.join(', ')}).\n` +
          `Try:  echo 'io.write(io.read("a"):upper())' > hello.lua && echo hello | npx jobhub run --hub ${running.url} --runtime dlabLua54 hello.lua\n\n`,
      );
    }
  });
  return cmd;
}
