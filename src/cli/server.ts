/** `jobhub server`: run the hub in the foreground until SIGTERM/SIGINT. */
import { Command, Option } from 'commander';
import { DURABILITIES, loadConfig, type Durability } from '../config/config.js';
import { startHub } from '../app/start.js';
import { int, list } from './args.js';

/** `--durability`, for every command that runs a hub. */
export function durabilityOption(): Option {
  return new Option(
    '--durability <mode>',
    'full: replies wait for the disk flush; relaxed: for the commit only (survives a crash of the hub, not necessarily of the machine or database server)',
  ).choices(DURABILITIES);
}

export function serverCommand(): Command {
  return new Command('server')
    .description('Run the hub (HTTP API, dispatch, reaper) in the foreground')
    .option('--host <host>', 'address to listen on (auth is forced on beyond loopback)')
    .option('--port <port>', 'port to listen on', int)
    .option('--data-dir <dir>', 'where the SQLite file and blobs live')
    .option(
      '--database <url>',
      'postgres://… to share state with other hubs (default: SQLite in the data dir)',
    )
    .option(
      '--blobs <url>',
      's3://bucket[/prefix]?endpoint=… for S3-compatible blob storage (default: the data dir)',
    )
    .addOption(durabilityOption())
    .option('--auth', 'require tokens even on loopback')
    .option('--lease-ms <ms>', 'lease length for native workers', int)
    .option('--max-wait-ms <ms>', 'cap on any long-poll', int)
    .option(
      '--retention-ms <ms>',
      'keep finished jobs, unreferenced blobs and done webhook deliveries this long',
      int,
    )
    .option('--max-blob-bytes <n>', 'largest blob accepted', int)
    .option(
      '--webhook-allow <cidrs>',
      'loopback, link-local or private blocks webhooks may be sent to, comma-separated (env JOBHUB_WEBHOOK_ALLOW)',
      list,
    )
    .addOption(
      new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error', 'silent']),
    )
    .action(async (o: Record<string, unknown>) => {
      // A bad setting (ConfigError) or a store/port that cannot be opened ends in main.ts's one line.
      const config = loadConfig(process.env, {
        host: o.host as string | undefined,
        port: o.port as number | undefined,
        dataDir: o.dataDir as string | undefined,
        database: o.database as string | undefined,
        blobs: o.blobs as string | undefined,
        durability: o.durability as Durability | undefined,
        auth: o.auth as boolean | undefined,
        leaseMs: o.leaseMs as number | undefined,
        maxWaitMs: o.maxWaitMs as number | undefined,
        retentionMs: o.retentionMs as number | undefined,
        maxBlobBytes: o.maxBlobBytes as number | undefined,
        logLevel: o.logLevel as 'info' | undefined,
        webhookAllow: o.webhookAllow as string[] | undefined,
      });
      const running = await startHub(config);
      const log = running.hub.ctx.log;
      log.info(
        { url: running.url, dataDir: config.dataDir, auth: config.auth, durability: config.durability },
        'jobhub listening',
      );
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'stopping: finishing in-flight requests');
        running.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'stop failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
