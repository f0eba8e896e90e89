/**
 * Requester commands. `jobhub run --runtime R FILE < input` uploads FILE as a function's code,
 * submits a job with stdin as its input, waits (with a live progress line on a terminal) and
 * writes the output bytes to stdout; on failure it prints the error and exits 1. `submit`,
 * `wait` and `get` are the same steps one at a time, for scripts (`--json` for machine output).
 * A job for a runtime no live worker offers is canceled after a short grace period (it would
 * wait forever), unless `--wait-for-worker`. Mistakes end with one line (exit-codes.ts).
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command } from 'commander';
import { HubClient, HubHttpError, HubUnreachableError } from '../agent/client.js';
import { hubApi, type HubApi, type JobView } from '../agent/hub-api.js';
import { acceptedRuntimes } from '../core/runtime.js';
import { baseUrl, list, nonNegativeInt as int, urlOption } from './args.js';
import { CliError, EXIT, exitWith, hubError, inputFileError } from './exit-codes.js';

const FINAL = ['succeeded', 'failed', 'canceled'];
const INLINE_MAX = 64 * 1024;

/** How long `run` waits for a worker that offers the job's runtime before giving up. */
const WORKER_GRACE_MS = 10_000;

export interface Common {
  hub: string;
  token?: string;
  json?: boolean;
}

export function withHub(cmd: Command): Command {
  return cmd
    .option(
      '--hub <url>',
      'the hub (env JOBHUB_URL); host:port means http://',
      urlOption('--hub'),
      process.env.JOBHUB_URL || 'http://127.0.0.1:8080',
    )
    .option('--token <token>', 'a client token (env JOBHUB_TOKEN)');
}

/** Runs `fn` with a client; a mistake ends with one line on stderr (exit-codes.ts). */
export async function withApi(o: Common, fn: (api: HubApi) => Promise<number>): Promise<never> {
  let client: HubClient | null = null;
  let code: number;
  try {
    // The default and JOBHUB_URL bypass the flag's parser: check them here.
    const hub = baseUrl(o.hub);
    client = new HubClient({ url: hub, token: o.token ?? process.env.JOBHUB_TOKEN, connections: 4 });
    code = await fn(hubApi(client));
  } catch (err) {
    await client?.close().catch(() => {});
    if (err instanceof HubHttpError || err instanceof HubUnreachableError) exitWith(hubError(err, o.hub));
    exitWith(err);
  }
  await client.close().catch(() => {});
  process.exit(code);
}

/** Reads a file the user named; a missing or unreadable one is an input mistake. */
async function readInput(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw inputFileError(err, file);
  }
}

async function readStdin(): Promise<Buffer> {
  // A terminal on stdin means "no input", not "wait for the user to type".
  if (process.stdin.isTTY) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Small inputs go inline; larger ones are uploaded as a blob first. */
async function inputRef(api: HubApi, bytes: Buffer): Promise<{ base64: string } | { blobId: string }> {
  if (bytes.length <= INLINE_MAX) return { base64: bytes.toString('base64') };
  return { blobId: (await api.blobPut(bytes)).id };
}

interface SubmitFlags extends Common {
  runtime?: string;
  function?: string;
  input?: string;
  tags?: string[];
  timeoutMs?: number;
  maxAttempts?: number;
  runAt?: string;
  delayMs?: number;
  group?: string;
}

async function submit(
  api: HubApi,
  file: string | undefined,
  o: SubmitFlags,
  input: Buffer,
  warn = true,
): Promise<JobView & { warnings: string[] }> {
  let fn = o.function;
  if (!fn) {
    if (!o.runtime) throw new CliError(EXIT.USAGE, 'give --runtime R with a code FILE, or --function ID');
    if (file) fn = await functionFor(api, o.runtime, file);
  }
  const job = await api.jobCreate({
    ...(fn ? { function: fn } : { runtime: o.runtime }),
    input: await inputRef(api, input),
    ...(o.tags ? { tags: o.tags } : {}),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
    ...(o.runAt !== undefined ? { runAt: o.runAt } : {}),
    ...(o.delayMs !== undefined ? { delayMs: o.delayMs } : {}),
    ...(o.group !== undefined ? { group: o.group } : {}),
  });
  if (warn) printWarnings(job.warnings);
  return job;
}

/**
 * The function for FILE's code and a runtime: the newest one with the same code blob (blobs are
 * content-addressed, so the same bytes have the same id), runtime and name, or a new one. Running
 * a script again does not add a function each time.
 */
async function functionFor(api: HubApi, runtime: string, file: string): Promise<string> {
  const code = await api.blobPut(await readInput(file));
  const name = basename(file);
  const { functions } = await api.functionList();
  const same = functions.find((f) => f.codeBlobId === code.id && f.runtime === runtime && f.name === name);
  return same?.id ?? (await api.functionCreate({ runtime, codeBlobId: code.id, name })).id;
}

const printWarnings = (warnings: string[] | undefined) => {
  for (const w of warnings ?? []) process.stderr.write(`jobhub: warning: ${w}\n`);
};

/** Long-polls until the job is final (or `timeoutMs` passes; 0 = forever). */
async function waitFinal(api: HubApi, id: string, timeoutMs = 0): Promise<JobView> {
  const until = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
  for (;;) {
    const left = Math.min(30_000, until - Date.now());
    const job = await api.jobWait(id, Math.max(0, Math.floor(left)), FINAL);
    if (FINAL.includes(job.state) || Date.now() >= until) return job;
  }
}

async function writeOutput(api: HubApi, id: string): Promise<void> {
  const body = await api.jobOutput(id);
  for await (const c of body as AsyncIterable<Buffer>) {
    if (!process.stdout.write(c)) await new Promise((r) => process.stdout.once('drain', r));
  }
}

const failureText = (job: JobView) =>
  `job ${job.id} ${job.state}${job.exitStatus !== null && job.exitStatus !== undefined ? ` (exit status ${job.exitStatus})` : ''}${job.error ? `: ${job.error}` : ''}`;

const SPIN = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';

/** A live status line on stderr (state, time, progress), with the job's log lines above it. */
function watchProgress(api: HubApi, id: string): { stop(): void } {
  const started = Date.now();
  const abort = new AbortController();
  let state = 'queued';
  let progress = '';
  let tick = 0;
  const draw = () => {
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(
      `\r\x1b[K${SPIN[tick++ % SPIN.length]} job ${id} ${state} ${secs}s${progress ? ` ${progress}` : ''}`,
    );
  };
  const timer = setInterval(draw, 100);
  const onEvent = (event: string, data: string) => {
    const d = JSON.parse(data) as { state?: string; progress?: unknown; lines?: string[] };
    if (event === 'state' && d.state) state = d.state;
    else if (event === 'progress')
      progress =
        typeof d.progress === 'number' && d.progress <= 1
          ? `${Math.round(d.progress * 100)}%`
          : JSON.stringify(d.progress);
    else if (event === 'log') for (const l of d.lines ?? []) process.stderr.write(`\r\x1b[K${l}\n`);
    draw();
  };
  void (async () => {
    const body = await api.jobEvents(id, abort.signal);
    let buf = '';
    for await (const chunk of body as AsyncIterable<Buffer>) {
      buf += chunk.toString('utf8');
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) onEvent(event, data);
      }
    }
  })().catch(() => {});
  return {
    stop() {
      clearInterval(timer);
      abort.abort();
      process.stderr.write('\r\x1b[K');
    },
  };
}

interface RunFlags extends SubmitFlags {
  quiet?: boolean;
  waitForWorker?: boolean;
  workerGraceMs: number;
}

/**
 * `waitFinal`, but a job still queued after `graceMs` while no live worker offers its runtime is
 * canceled and reported with the runtimes the live workers do offer (it would wait forever).
 */
async function waitFinalOrNoWorker(
  api: HubApi,
  job: JobView & { warnings: string[] },
  graceMs: number,
): Promise<JobView> {
  const first = await waitFinal(api, job.id, Math.max(1, graceMs));
  if (first.state !== 'queued') return first.state === 'running' ? waitFinal(api, job.id) : first;
  const { workers } = await api.workerList();
  if (workers.some((w) => acceptedRuntimes(w.runtimes).includes(first.runtime))) {
    // Still queued with a worker for its runtime (busy, or tags it lacks): say what the hub said,
    // less the creation-time "no live worker" warning, which a worker has made out of date.
    printWarnings(job.warnings.filter((w) => !w.startsWith('no live worker')));
    return waitFinal(api, job.id);
  }
  const offered = [...new Set(workers.flatMap((w) => w.runtimes))].sort();
  const canceled = await api.jobCancel(job.id).catch(() => null);
  // The job may have been leased just now: then it runs, and we wait for it after all.
  if (canceled && canceled.state !== 'canceled') return waitFinal(api, job.id);
  throw new CliError(
    EXIT.UNAVAILABLE,
    `no live worker offers runtime ${first.runtime} (${offered.length ? `live workers offer: ${offered.join(', ')}` : 'no worker is live'}); ` +
      `job ${job.id} canceled. Start one with \`jobhub worker --runtimes ${first.runtime}\`, or pass --wait-for-worker to keep the job queued`,
  );
}

function addSubmitOptions(cmd: Command): Command {
  return cmd
    .option('--runtime <name>', 'runtime, e.g. default, dlabLua54, wasi')
    .option('--function <id>', 'an existing function instead of a code file')
    .option('--tags <list>', 'job tags, comma-separated (+x required, -x excluded)', list)
    .option('--timeout-ms <ms>', 'per-attempt timeout', int)
    .option('--max-attempts <n>', 'attempts before the job fails for good', int)
    .option('--run-at <time>', 'do not run before this RFC 3339 time (e.g. 2030-01-31T18:00:00Z)')
    .option('--delay-ms <ms>', 'do not run before this many ms from now', int)
    .option('--group <name>', "the job's group (fair dispatch; the group's limits, see `jobhub groups`)");
}

export function runCommands(): Command[] {
  const run = addSubmitOptions(withHub(new Command('run')))
    .description('Upload FILE as code, run it on stdin, print the output (exit 1 when the job fails)')
    .argument(
      '[file]',
      'the code: a script/executable (default), a Lua script (dlabLua54), a wasm module (wasi)',
    )
    .option('--quiet', 'no progress line, even on a terminal')
    .option('--wait-for-worker', 'keep the job queued even when no live worker offers its runtime')
    .option(
      '--worker-grace-ms <ms>',
      'how long to wait for a worker that offers the runtime before canceling the job',
      int,
      WORKER_GRACE_MS,
    )
    .action((file: string | undefined, o: RunFlags) =>
      withApi(o, async (api) => {
        // Without --wait-for-worker, "no worker offers the runtime" becomes an error after the
        // grace period: the warnings wait until then, so that a mistake prints one line.
        const graced = !o.waitForWorker && o.workerGraceMs > 0;
        const job = await submit(api, file, o, await readStdin(), !graced);
        const watcher = process.stderr.isTTY && !o.quiet ? watchProgress(api, job.id) : null;
        const done = await (
          graced && job.state === 'queued'
            ? waitFinalOrNoWorker(api, job, o.workerGraceMs)
            : waitFinal(api, job.id)
        ).finally(() => watcher?.stop());
        if (done.state !== 'succeeded') {
          process.stderr.write(`jobhub: ${failureText(done)}\n`);
          return EXIT.JOB_FAILED;
        }
        if (done.output) await writeOutput(api, done.id);
        return 0;
      }),
    );
  const submitCmd = addSubmitOptions(withHub(new Command('submit')))
    .description('Submit a job (input from --input FILE or stdin); print its id')
    .argument('[file]', 'a code file to make a function from (with --runtime)')
    .option('--input <file>', 'read the input from FILE instead of stdin')
    .option('--json', 'print the job as JSON')
    .action((file: string | undefined, o: SubmitFlags) =>
      withApi(o, async (api) => {
        const input = o.input ? await readInput(o.input) : await readStdin();
        const job = await submit(api, file, o, input);
        process.stdout.write(o.json ? `${JSON.stringify(job)}\n` : `${job.id}\n`);
        return 0;
      }),
    );
  const wait = withHub(new Command('wait'))
    .description(
      'Wait until a job is final; print its state (exit 0 succeeded, 1 failed/canceled, 3 timed out)',
    )
    .argument('<id>', 'job id')
    .option('--timeout-ms <ms>', 'give up after this long (0 = never)', int, 0)
    .option('--json', 'print the job as JSON')
    .action((id: string, o: Common & { timeoutMs: number }) =>
      withApi(o, async (api) => {
        const job = await waitFinal(api, id, o.timeoutMs);
        process.stdout.write(o.json ? `${JSON.stringify(job)}\n` : `${job.state}\n`);
        if (!o.json && job.state !== 'succeeded' && FINAL.includes(job.state))
          process.stderr.write(`jobhub: ${failureText(job)}\n`);
        return job.state === 'succeeded'
          ? EXIT.OK
          : FINAL.includes(job.state)
            ? EXIT.JOB_FAILED
            : EXIT.WAIT_TIMEOUT;
      }),
    );
  const get = withHub(new Command('get'))
    .description('Print a job (as JSON), or with --output its output bytes')
    .argument('<id>', 'job id')
    .option('--output', 'print the output bytes instead')
    .option('--json', 'print the job as JSON (the default)')
    .action((id: string, o: Common & { output?: boolean }) =>
      withApi(o, async (api) => {
        if (o.output) await writeOutput(api, id);
        else process.stdout.write(`${JSON.stringify(await api.jobGet(id), null, o.json ? undefined : 2)}\n`);
        return 0;
      }),
    );
  for (const c of [run, submitCmd]) {
    c.hook('preAction', (_cmd, action) => {
      const opts = action.opts<SubmitFlags>();
      if (!opts.runtime && !opts.function)
        action.error('error: give --runtime R (with a code FILE) or --function ID');
    });
  }
  return [run, submitCmd, wait, get];
}
