/**
 * `jobhub bench-worker --portal URL [--interval 3] [--timeout 180] -- <program> [args…]`: the
 * benchmarker supervisor (src/agent/bench/supervisor.ts). `{target}`, `{all_addresses}`, `{job_id}`
 * and `{team_id}` in the arguments are replaced for each job; the program also finds them in
 * JOBHUB_TARGET, JOBHUB_ALL_ADDRESSES, JOBHUB_JOB_ID, JOBHUB_TEAM_ID and JOBHUB_TEAM_NAME.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { Supervisor, SUPERVISOR_DEFAULTS } from '../agent/bench/supervisor.js';
import { positiveInt as count, urlOption } from './args.js';

function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError(`${value} is not a number of seconds`);
  return Math.round(n * 1000);
}

/** A duration option given in (fractional) seconds, held in milliseconds. */
const secondsOption = (flags: string, description: string, defaultMs: number) =>
  new Option(flags, description).argParser(seconds).default(defaultMs, String(defaultMs / 1000));

export function benchWorkerCommand(): Command {
  return new Command('bench-worker')
    .description(
      'Take contest benchmark jobs from a portal (the seed internal API) and run a benchmark program for each',
    )
    .requiredOption(
      '--portal <url>',
      'portal base URL (a /t/<token> prefix is kept; host:port means http://)',
      urlOption('--portal'),
    )
    .option('--token <token>', 'benchmarker token, sent as a bearer token (default: $JOBHUB_BENCH_TOKEN)')
    .addOption(
      secondsOption(
        '--interval <s>',
        'seconds between polls when there is no job',
        SUPERVISOR_DEFAULTS.intervalMs,
      ),
    )
    .addOption(
      secondsOption(
        '--timeout <s>',
        'hard time limit of one benchmark, in seconds',
        SUPERVISOR_DEFAULTS.timeoutMs,
      ),
    )
    .option('--source-ip <ip>', 'local address to send from (the portal identifies benchmarkers by address)')
    .addOption(
      new Option('--address <kind>', 'which server address {target} is')
        .choices(['global', 'private'])
        .default('global'),
    )
    .option('--report-retries <n>', 'attempts to deliver a report', count, SUPERVISOR_DEFAULTS.reportRetries)
    .addOption(
      secondsOption(
        '--retry-interval <s>',
        'seconds between report attempts',
        SUPERVISOR_DEFAULTS.reportRetryDelayMs,
      ),
    )
    .option(
      '--log-bytes <n>',
      'bytes of stdout/stderr kept for the report (the tail)',
      count,
      SUPERVISOR_DEFAULTS.logBytes,
    )
    .addOption(
      secondsOption(
        '--kill-grace <s>',
        'seconds between SIGTERM and SIGKILL at the time limit',
        SUPERVISOR_DEFAULTS.killGraceMs,
      ),
    )
    .argument('<program...>', 'the benchmark program and its arguments (after --)')
    .action(async (program: string[], o: Record<string, unknown>) => {
      const log = (line: string) =>
        process.stderr.write(`${new Date().toISOString()} bench-worker: ${line}\n`);
      const supervisor = new Supervisor({
        portal: o.portal as string,
        token: (o.token as string | undefined) ?? process.env.JOBHUB_BENCH_TOKEN ?? null,
        intervalMs: Math.max(10, o.interval as number),
        timeoutMs: Math.max(100, o.timeout as number),
        command: program,
        sourceIp: (o.sourceIp as string | undefined) ?? null,
        address: o.address as 'global' | 'private',
        logBytes: o.logBytes as number,
        reportRetries: o.reportRetries as number,
        reportRetryDelayMs: o.retryInterval as number,
        requestTimeoutMs: SUPERVISOR_DEFAULTS.requestTimeoutMs,
        killGraceMs: o.killGrace as number,
        progressIntervalMs: SUPERVISOR_DEFAULTS.progressIntervalMs,
        log,
      });
      let signals = 0;
      const onSignal = (signal: string) => {
        signals++;
        log(`${signal} received`);
        if (signals === 1) supervisor.stop();
        else supervisor.abort();
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      await supervisor.run();
      process.exit(0);
    });
}
