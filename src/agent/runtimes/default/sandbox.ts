/**
 * The command line that runs an exec job: resource limits (prlimit, or ulimit in sh when prlimit
 * is missing) around bubblewrap, which gives the job no network, a read-only system, a private
 * /tmp, no view of the hub's data or the worker's files, and an environment with only
 * PATH/HOME/LANG.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { JOB_UID_BASE } from './uids.js';

export interface ProcessLimits {
  cpuMs: number;
  memoryBytes: number;
  /** RLIMIT_NPROC: processes and threads of the user the job runs as. */
  processes: number;
  /** RLIMIT_NOFILE: descriptors per process. */
  openFiles: number;
}

export interface SandboxTools {
  /** bubblewrap, when present and working here; null otherwise. */
  bwrap: string | null;
  /** Why bubblewrap is unusable (not installed, or it failed to start), for the warning. */
  bwrapProblem: string | null;
  prlimit: string | null;
  /**
   * When the worker runs as root and an unprivileged user can make a sandbox here: `setpriv`.
   * Each job then runs through `dropTo(setpriv, uid)` as a user of its own (see uids.ts), so that
   * the process-count limit binds (the kernel exempts root from it) and whatever escaped a
   * sandbox is unprivileged. Null when not needed or not possible.
   */
  setpriv: string | null;
  /** util-linux `flock`, with `setpriv`: claims this worker's job users (see uids.ts). */
  flock?: string | null;
  /** Why jobs of a root worker still run as root on the host, for the warning; null if they do not. */
  rootProblem: string | null;
}

const SEARCH = ['/usr/bin', '/bin', '/usr/local/bin', '/usr/sbin', '/sbin'];
const find = (name: string) => SEARCH.map((d) => `${d}/${name}`).find((p) => existsSync(p)) ?? null;

/** Mounted read-only when they exist; everything else on the host is invisible. */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** Enough of /etc for the dynamic linker, users, time zone and `alternatives` links; no secrets. */
const ETC_FILES = [
  '/etc/alternatives',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/nsswitch.conf',
  '/etc/passwd',
  '/etc/group',
  '/etc/hosts',
];
/** Where the job's executable appears inside the sandbox. */
export const CODE_PATH = '/job/code';

/** The group of the jobs of a root worker (nogroup). */
export const NOBODY = 65534;
/**
 * The user of a root worker's start-up checks: unprivileged like the jobs' users, and not nobody,
 * whose process count other software (or another worker's jobs) may have used up. Every root
 * worker of the machine uses it for a moment at start; jobs never run as it.
 */
export const CHECK_UID = JOB_UID_BASE - 1;

/** The `setpriv` command line that runs what follows as `uid` (group nogroup, no other groups). */
export function dropTo(setpriv: string, uid: number): string[] {
  return [setpriv, `--reuid=${uid}`, `--regid=${NOBODY}`, '--clear-groups', '--'];
}

/** Finds bubblewrap and prlimit and checks that bubblewrap can actually make a sandbox here. */
export function detectTools(): SandboxTools {
  const prlimit = find('prlimit');
  const bwrap = find('bwrap');
  const none = { prlimit, setpriv: null, flock: null, rootProblem: null };
  if (!bwrap) return { ...none, bwrap: null, bwrapProblem: 'bubblewrap (bwrap) is not installed' };
  const probe = (prefix: string[]) => {
    const argv = [...prefix, bwrap, ...bwrapArgs({ tmpBytes: 1024 * 1024 }), '--', '/bin/sh', '-c', 'exit 0'];
    const r = spawnSync(argv[0]!, argv.slice(1), { env: {}, timeout: 10_000, encoding: 'utf8' });
    return r.status === 0 ? null : (r.stderr || r.error?.message || `exit status ${r.status}`).trim();
  };
  const plain = probe([]);
  if (plain !== null)
    return { ...none, bwrap: null, bwrapProblem: `bubblewrap cannot create a sandbox here: ${plain}` };
  if (process.getuid?.() !== 0) return { ...none, bwrap, bwrapProblem: null };
  const setpriv = find('setpriv');
  if (!setpriv)
    return { ...none, bwrap, bwrapProblem: null, rootProblem: 'setpriv (util-linux) is not installed' };
  const dropped = probe(dropTo(setpriv, CHECK_UID));
  if (dropped !== null)
    return {
      ...none,
      bwrap,
      bwrapProblem: null,
      rootProblem: `an unprivileged user cannot make a sandbox here: ${dropped}`,
    };
  return { ...none, bwrap, bwrapProblem: null, setpriv, flock: find('flock') };
}

export interface BwrapOptions {
  tmpBytes: number;
  /** The executable to mount at CODE_PATH. */
  codeFile?: string;
  /** Directories to hide even if they lie under a mounted system directory. */
  hide?: string[];
  lang?: string;
  /** A descriptor for bubblewrap's JSON status: the host pid of the sandbox's init, then the exit. */
  statusFd?: number;
}

let mounts: string[] | null = null;
/** The read-only system, looked at once (merged-/usr systems have symlinks for /bin, /lib...). */
function systemMounts(): string[] {
  if (mounts) return mounts;
  const m: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    if (!existsSync(dir)) continue;
    if (lstatSync(dir).isSymbolicLink()) m.push('--symlink', readlinkSync(dir), dir);
    else m.push('--ro-bind', dir, dir);
  }
  for (const f of ETC_FILES) m.push('--ro-bind-try', f, f);
  mounts = m;
  return m;
}

export function bwrapArgs(o: BwrapOptions): string[] {
  const args = [
    '--unshare-all', // network, pid, ipc, uts, cgroup, user
    '--unshare-user',
    '--uid',
    '65534',
    '--gid',
    '65534',
    '--disable-userns', // no nested namespaces to climb out of ours
    '--cap-drop',
    'ALL',
    '--die-with-parent',
    '--new-session', // no TIOCSTI into the agent's terminal
    '--hostname',
    'jobhub',
  ];
  args.push(...systemMounts());
  // /dev/shm sized like /tmp: tmpfs pages are not counted by the address-space limit.
  args.push('--proc', '/proc', '--dev', '/dev', '--size', String(o.tmpBytes), '--tmpfs', '/dev/shm');
  args.push('--size', String(o.tmpBytes), '--tmpfs', '/tmp');
  const hidden = (o.hide ?? []).filter((dir) =>
    SYSTEM_DIRS.some((s) => dir === s || dir.startsWith(`${s}/`)),
  );
  for (const dir of hidden) args.push('--tmpfs', dir);
  if (o.codeFile) args.push('--ro-bind', o.codeFile, CODE_PATH);
  // (--info-fd would do, but bubblewrap 0.8 also writes to it from the sandbox and complains.)
  if (o.statusFd !== undefined) args.push('--json-status-fd', String(o.statusFd));
  // The root and /dev are tmpfs mounts of bubblewrap's without a size: read-only, or a job could
  // fill host memory through them (e.g. `head -c 10G /dev/zero > /x`) past its memory limit.
  for (const dir of [...hidden, '/dev', '/']) args.push('--remount-ro', dir);
  args.push(
    '--chdir',
    '/tmp',
    '--clearenv',
    '--setenv',
    'PATH',
    '/usr/local/bin:/usr/bin:/bin',
    '--setenv',
    'HOME',
    '/tmp',
    '--setenv',
    'LANG',
    o.lang ?? 'C.UTF-8',
  );
  return args;
}

/** Processes (threads included) per job unless the worker is told otherwise. */
export const MAX_PROCESSES = 1024;
/** Open files per job (all its processes together) unless the worker is told otherwise. */
export const MAX_OPEN_FILES = 4096;

/**
 * Wraps `argv` so that each process runs with CPU-time, address-space, open-file and
 * process-count limits. (The limits of the whole job are the watchdog's; see watchdog.ts.)
 */
export function withLimits(argv: string[], limits: ProcessLimits, prlimit: string | null): string[] {
  const cpu = limits.cpuMs > 0 ? Math.max(1, Math.ceil(limits.cpuMs / 1000)) : 0;
  if (prlimit) {
    const opts = ['--core=0', `--nofile=${limits.openFiles}`];
    // Soft limit sends SIGXCPU (reported as a CPU-time limit); the hard one a second later kills.
    if (cpu) opts.push(`--cpu=${cpu}:${cpu + 1}`);
    if (limits.memoryBytes > 0) opts.push(`--as=${limits.memoryBytes}`);
    // Processes of the job's user on the host: a fork bomb stops here. (The kernel exempts root
    // from this limit: a root worker runs each job as a user of its own, see uids.ts.)
    opts.push(`--nproc=${limits.processes}`);
    return [prlimit, ...opts, '--', ...argv];
  }
  const ulimits = [
    'ulimit -c 0',
    `ulimit -n ${limits.openFiles}`,
    `ulimit -u ${limits.processes} 2>/dev/null || ulimit -p ${limits.processes}`,
  ];
  if (cpu) ulimits.push(`ulimit -t ${cpu}`);
  if (limits.memoryBytes > 0) ulimits.push(`ulimit -v ${Math.ceil(limits.memoryBytes / 1024)}`);
  return ['/bin/sh', '-c', `${ulimits.join('; ')}; exec "$@"`, 'sh', ...argv];
}
