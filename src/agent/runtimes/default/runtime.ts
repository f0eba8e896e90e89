/**
 * `default`: the function's code blob is an executable (a script with `#!`, or a binary). The
 * input goes to its stdin, its stdout is the output, its stderr the job log, exit status ≠ 0 a
 * failure. Each job runs in a bubblewrap sandbox with limits on each process (prlimit), on the
 * whole job (the watchdog: memory, CPU time, processes, open files and scratch space of all its
 * processes together), on wall time and on output. Without bubblewrap, jobs are refused unless
 * the agent was started with `--unsafe-no-sandbox` (and then only the per-process limits hold).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { chmod, chown, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import {
  fail,
  LineSplitter,
  Tail,
  type CodeBlob,
  type RunContext,
  type RunOutcome,
  type Runtime,
} from '../runtime.js';
import { OutputCollector } from './collect.js';
import {
  CHECK_UID,
  CODE_PATH,
  MAX_OPEN_FILES,
  MAX_PROCESSES,
  NOBODY,
  bwrapArgs,
  detectTools,
  dropTo,
  withLimits,
  type SandboxTools,
} from './sandbox.js';
import { claimUidRange, type UidRange } from './uids.js';
import { Watchdog, type Breach } from './watchdog.js';

export interface DefaultRuntimeOptions {
  /** A private directory of the agent for code files and output spill files. */
  workDir: string;
  /** Run jobs without a sandbox when bubblewrap is missing (never the default). */
  unsafeNoSandbox?: boolean;
  /** Scratch space of a job: its /tmp and /dev/shm together (each a tmpfs of this size). */
  tmpBytes?: number;
  /** Processes and threads of one job together (default MAX_PROCESSES). */
  maxProcesses?: number;
  /** Open files of one job's processes together, and of each (default MAX_OPEN_FILES). */
  maxOpenFiles?: number;
  /** For tests: where root workers claim their job users (default UID_LOCK_DIR). */
  uidLockDir?: string;
  /** Outputs larger than this go to a temporary file instead of memory. */
  spillBytes?: number;
  /** Paths to hide inside the sandbox even when under a system directory (e.g. the hub's data). */
  hide?: string[];
  /** For tests: the tools to use instead of looking for them. */
  tools?: SandboxTools;
}

export const NO_SANDBOX_MESSAGE =
  'refusing to run an exec job without a sandbox: bubblewrap (bwrap) is not available on this worker; ' +
  'install bubblewrap, or start the worker with --unsafe-no-sandbox to run jobs unconfined';

interface Prepared {
  path: string;
}

const SIGNALS = Object.fromEntries(Object.entries(constants.signals).map(([name, n]) => [n, name])) as Record<
  number,
  string
>;

export class DefaultRuntime implements Runtime<Prepared> {
  readonly base = 'default';
  readonly features = [] as const;
  readonly tools: SandboxTools;
  private seq = 0;
  /** Job users free for the next job (a root worker's jobs run as users of their own). */
  private readonly freeUids: number[] = [];
  private nextUid = 0;
  /** This worker's slot of job users, claimed at the first job (or by `ready`). */
  private uidClaim: Promise<UidRange> | null = null;
  private uidProblem: string | null = null;
  private released = false;

  constructor(private readonly o: DefaultRuntimeOptions) {
    const tools = o.tools ?? detectTools();
    this.tools = tools.setpriv ? openToJobUsers(tools, tools.setpriv, o.workDir) : tools;
  }

  /** The job users this worker holds (a root worker's), once claimed. */
  async uidRange(): Promise<UidRange | null> {
    const { setpriv, flock } = this.tools;
    if (!setpriv) return null;
    this.uidClaim ??= (async () => {
      if (!flock) throw new Error('flock (util-linux) is not installed');
      const range = await claimUidRange(flock, this.o.uidLockDir);
      // Closed meanwhile: give it back at once.
      if (this.released) range.release();
      this.nextUid = range.first;
      return range;
    })();
    try {
      return await this.uidClaim;
    } catch (err) {
      this.uidProblem = `cannot claim job users for this root worker: ${err instanceof Error ? err.message : String(err)}`;
      return null;
    }
  }

  /** Claims the job users before the first job, so that a problem shows in the warning. */
  async ready(): Promise<void> {
    await this.uidRange();
  }

  /** True when jobs run inside bubblewrap. */
  get sandboxed(): boolean {
    return this.tools.bwrap !== null;
  }

  warning(): string | null {
    if (this.sandboxed) {
      if (this.uidProblem) return `${this.uidProblem}; exec jobs will be failed (retryable) on this worker`;
      const why = this.tools.rootProblem;
      return why === null
        ? null
        : `${why}; exec jobs of this root worker run as root on the host, without a process-count limit (run the worker as an unprivileged user)`;
    }
    const why = this.tools.bwrapProblem ?? 'bubblewrap is not available';
    return this.o.unsafeNoSandbox
      ? `${why}; exec jobs run WITHOUT a sandbox (--unsafe-no-sandbox): they can read the worker's files and use the network`
      : `${why}; exec jobs will be failed (start with --unsafe-no-sandbox to run them unconfined)`;
  }

  /** Writes the executable once per sha256 (atomically: a half-written file is never run). */
  async prepare(code: CodeBlob): Promise<Prepared> {
    const path = join(this.o.workDir, `code-${code.sha256}`);
    const tmp = `${path}.${process.pid}.${this.seq++}`;
    await writeFile(tmp, code.bytes, { mode: 0o700 });
    if (this.tools.setpriv) {
      // Jobs run in group nogroup: theirs to read and run, not other users' of the host.
      await chown(tmp, 0, NOBODY);
      await chmod(tmp, 0o550);
    } else await chmod(tmp, 0o755);
    await rename(tmp, path);
    return { path };
  }

  release(prepared: Prepared): void {
    void rm(prepared.path, { force: true });
  }

  async run(prepared: Prepared | null, ctx: RunContext): Promise<RunOutcome> {
    if (!prepared)
      return fail('bad_code', 'the default runtime needs a function whose code blob is an executable');
    if (!this.sandboxed && !this.o.unsafeNoSandbox) return fail('refused', NO_SANDBOX_MESSAGE);
    const { limits } = ctx;
    let argv: string[];
    let cwd: string | undefined;
    let env: NodeJS.ProcessEnv;
    let scratch: string | null = null;
    let uid: number | null = null;
    if (this.tools.bwrap) {
      const { setpriv } = this.tools;
      if (setpriv) {
        const range = await this.uidRange();
        if (!range) return fail('refused', this.uidProblem ?? 'no job users', true);
        uid = this.freeUids.pop() ?? (this.nextUid < range.end ? this.nextUid++ : null);
        if (uid === null)
          return fail('refused', `all ${range.end - range.first} job users of this worker are in use`, true);
      }
      argv = [
        ...(setpriv && uid !== null ? dropTo(setpriv, uid) : []),
        this.tools.bwrap,
        ...bwrapArgs({
          tmpBytes: this.scratchBytes,
          codeFile: prepared.path,
          hide: this.o.hide,
          lang: process.env.LANG,
          statusFd: STATUS_FD,
        }),
        '--',
        CODE_PATH,
      ];
      env = {};
    } else {
      scratch = await mkdtemp(join(this.o.workDir, 'tmp-'));
      argv = [prepared.path];
      cwd = scratch;
      env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: scratch, LANG: process.env.LANG ?? 'C.UTF-8' };
    }
    const processes = hardProcesses(this.maxProcesses, uid !== null);
    argv = withLimits(
      argv,
      { cpuMs: limits.cpuMs, memoryBytes: limits.memoryBytes, processes, openFiles: this.maxOpenFiles },
      this.tools.prlimit,
    );
    try {
      return await this.exec(argv, { cwd, env }, ctx);
    } finally {
      // The sandbox's PID namespace ended with it: nothing runs as this user any more.
      if (uid !== null) this.freeUids.push(uid);
      if (scratch) await rm(scratch, { recursive: true, force: true });
    }
  }

  private get scratchBytes(): number {
    return this.o.tmpBytes ?? 256 * 1024 ** 2;
  }

  private get maxProcesses(): number {
    return this.o.maxProcesses ?? MAX_PROCESSES;
  }

  private get maxOpenFiles(): number {
    return this.o.maxOpenFiles ?? MAX_OPEN_FILES;
  }

  private async exec(
    argv: string[],
    opts: { cwd?: string; env: NodeJS.ProcessEnv },
    ctx: RunContext,
  ): Promise<RunOutcome> {
    const { limits } = ctx;
    const child = spawn(argv[0]!, argv.slice(1), {
      ...opts,
      // A fourth descriptor for bubblewrap's status (the sandbox's init), when sandboxed.
      stdio: this.sandboxed ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let stoppedFor: 'timeout' | 'output_limit' | 'aborted' | 'limit' | null = null;
    let breach: Breach | null = null;
    const kill = (why: typeof stoppedFor) => {
      stoppedFor ??= why;
      // The whole process group: prlimit/bwrap (same pid) and, through --die-with-parent, the job.
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const collector = new OutputCollector({
      dir: this.o.workDir,
      name: `${ctx.jobId}-${this.seq++}`,
      spillBytes: this.o.spillBytes ?? 8 * 1024 ** 2,
      capBytes: limits.outputBytes,
      onOverflow: () => kill('output_limit'),
    });
    const timer = setTimeout(() => kill('timeout'), limits.wallMs);
    const onAbort = () => kill('aborted');
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    // Stopped before it started (an abort event does not fire again for a late listener).
    if (ctx.signal.aborted) onAbort();
    const tail = new Tail();
    const lines = new LineSplitter((l) => ctx.log(l));
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      tail.push(s);
      lines.push(s);
    });
    // A job that does not read its input closes stdin early: EPIPE is not an error of ours.
    child.stdin.on('error', () => {});
    const started = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('close', (code, signal) => resolve({ code, signal })),
    );
    let watchdog: Watchdog | null = null;
    try {
      await started;
    } catch (err) {
      clearTimeout(timer);
      return fail(
        'crash',
        `could not start the job: ${err instanceof Error ? err.message : String(err)}`,
        true,
      );
    }
    // The limits of the whole job, over every process in the sandbox.
    if (this.sandboxed) {
      const w = new Watchdog(
        {
          memoryBytes: limits.memoryBytes,
          cpuMs: limits.cpuMs,
          processes: this.maxProcesses,
          openFiles: this.maxOpenFiles,
          scratchBytes: this.scratchBytes,
        },
        (b) => {
          breach = b;
          kill('limit');
        },
      );
      watchdog = w;
      readStatus(child.stdio[STATUS_FD] as Readable, (pid) => w.watch(pid));
    }
    if (ctx.input.size === 0) child.stdin.end();
    else (await ctx.input.stream()).on('error', () => child.stdin.destroy()).pipe(child.stdin);
    const reading = collector.consume(child.stdout);
    const { code, signal } = await exited;
    clearTimeout(timer);
    watchdog?.stop();
    ctx.signal.removeEventListener('abort', onAbort);
    lines.end();
    await reading.catch(() => {});
    if (stoppedFor !== null || code !== 0) await collector.discard();
    const stderr = tail.toString();
    const withTail = (m: string) => (stderr ? `${m}; stderr: ${stderr}` : m);
    if (stoppedFor === 'aborted') return fail('aborted', 'stopped');
    if (stoppedFor === 'timeout')
      return fail('timeout', withTail(`time limit of ${limits.timeoutMs} ms exceeded (killed)`));
    if (stoppedFor === 'limit' && breach) {
      const b: Breach = breach;
      return fail(b.kind, withTail(b.message));
    }
    if (stoppedFor === 'output_limit')
      return fail('output_limit', `output exceeds the limit of ${limits.outputBytes} bytes (killed)`);
    // bubblewrap reports a job killed by signal n as exit status 128+n.
    const signo = signal
      ? constants.signals[signal]
      : this.sandboxed && code !== null && code > 128 && code < 160
        ? code - 128
        : 0;
    if (signo) {
      const name = SIGNALS[signo] ?? `signal ${signo}`;
      if (name === 'SIGXCPU')
        return fail('timeout', withTail(`CPU time limit of ${limits.cpuMs} ms exceeded (${name})`));
      return fail('signal', withTail(`the job was killed by ${name}`), true, code ?? 128 + signo);
    }
    if (code !== 0)
      return fail('exit', withTail(`the job exited with status ${code}`), false, code ?? undefined);
    return { ok: true, output: await collector.output(), exitStatus: 0 };
  }

  async close(): Promise<void> {
    this.released = true;
    const claim = this.uidClaim;
    if (claim) (await claim.catch(() => null))?.release();
  }
}

/** The child's descriptor for bubblewrap's JSON status. */
const STATUS_FD = 3;

/** Calls `onInit` with the sandbox's init pid from bubblewrap's status lines (`{"child-pid": n}`). */
function readStatus(stream: Readable, onInit: (pid: number) => void): void {
  let text = '';
  const onData = (c: Buffer) => {
    text += c.toString();
    const m = /"child-pid":\s*(\d+)/.exec(text);
    if (m) {
      onInit(Number(m[1]));
      text = '';
      stream.off('data', onData);
      stream.resume(); // the exit status follows; not needed (the exit is the child's)
    } else if (text.length > 64 * 1024) text = '';
  };
  stream.on('data', onData);
  stream.on('error', () => {});
}

/**
 * The kernel's process-count limit (RLIMIT_NPROC) for a job whose watchdog limit is `limit`. With
 * a job user of its own the count is the job's: a little above the watchdog's limit, so that a
 * fork bomb is stopped by the kernel (a bound that no timing can pass) and then seen over the
 * limit and ended by the watchdog (a bomb whose forks fail often loses a process or two; right at
 * the limit, it could sit there unseen until its timeout). Otherwise the count is the worker's
 * user's, shared with the worker and its other jobs: a backstop for the host only.
 */
export function hardProcesses(limit: number, ownUser: boolean): number {
  return ownUser ? limit + Math.max(8, Math.ceil(limit / 8)) : MAX_PROCESSES + limit;
}

/**
 * Jobs of a root worker run as unprivileged users, who must reach their executables in the work
 * directory: it becomes crossable (not listable) by others; its files stay the agent's, or group
 * nogroup's. If they still cannot reach it (a parent directory closed to others), jobs run as root.
 */
function openToJobUsers(tools: SandboxTools, setpriv: string, workDir: string): SandboxTools {
  chmodSync(workDir, 0o711);
  const drop = dropTo(setpriv, CHECK_UID);
  const r = spawnSync(drop[0]!, [...drop.slice(1), '/bin/sh', '-c', 'test -x "$1"', 'sh', workDir], {
    env: {},
    timeout: 10_000,
  });
  if (r.status === 0) return tools;
  return {
    ...tools,
    setpriv: null,
    rootProblem: `unprivileged users cannot reach the work directory ${workDir}`,
  };
}
