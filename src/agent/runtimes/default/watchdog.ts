/**
 * Per-job limits across all of an exec job's processes. Resource limits (prlimit) bind each
 * process on its own: five processes under a 1 GiB address-space limit can hold 5 GiB together,
 * and so with CPU time and open files. A cgroup would count them together, but it needs a
 * delegated cgroup v2 subtree with controllers, which a worker often does not have; so a watchdog
 * samples the job and kills it when the sum crosses a limit.
 *
 * What it reads: the sandbox has its own PID namespace and its own procfs at /proc inside it. From
 * the host, `/proc/<namespace init>/root/proc` is that procfs: it lists exactly the job's processes
 * (orphans included, they are reparented to the namespace's init), without walking every process
 * of the host. bubblewrap tells the init's host pid (`--json-status-fd`). Each sample reads one directory listing, then `stat` and the `fd` listing of each
 * process (about 0.5 ms per process on a machine with 30 runnable processes per core), and `statfs` of the job's /tmp and
 * /dev/shm. It stops at the first limit crossed:
 * - processes (threads included): the listing alone first, before reading any process (a fork
 *   bomb is the expensive case). The kernel's per-user limit sits a little above this one (see
 *   `hardProcesses`), so that a bomb is stopped by the kernel while the watchdog sees it over;
 * - memory: the sum of resident sizes; only when that is over the limit, the sum of proportional
 *   sizes (smaps_rollup Pss: pages shared between the job's processes, e.g. after fork, count
 *   once), which decides. A process whose smaps_rollup cannot be read counts its resident size;
 * - open files: descriptors held, summed over processes;
 * - scratch: bytes used in /tmp and /dev/shm together (tmpfs: memory of the host);
 * - CPU time: user + system time of every live process plus that of its reaped children
 *   (a reaped process's time moves into its parent's, up to the namespace's init).
 *
 * Samples run every 100 ms, or 4× the time the last sample took if that is longer, so that a job
 * with very many processes cannot make the watchdog eat the agent.
 */
import { closeSync, openSync, readdirSync, readSync, statfsSync, statSync } from 'node:fs';

export interface JobBudget {
  /** Memory of all processes together (bytes). */
  memoryBytes: number;
  /** CPU time of all processes together (ms); 0: no limit. */
  cpuMs: number;
  /** Processes and threads together, bubblewrap's init in the sandbox included. */
  processes: number;
  /** File descriptors held by all processes together. */
  openFiles: number;
  /** Bytes in the job's /tmp and /dev/shm together. */
  scratchBytes: number;
}

export type BreachKind = 'memory' | 'timeout' | 'processes' | 'open_files' | 'disk';

export interface Breach {
  kind: BreachKind;
  /** For people, in the style of the runtime's other failures (ends with "(killed)"). */
  message: string;
}

/** Kernel units: USER_HZ is 100 and pages are 4 KiB on the platforms the agent runs on. */
const TICK_MS = 10;
const PAGE = 4096;
const MB = 1024 ** 2;
export const WATCH_MS = 100;

const hostProcDev = (() => {
  try {
    return statSync('/proc').dev;
  } catch {
    return -1;
  }
})();

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces and parens). */
function statFields(text: string): string[] {
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

const buf = Buffer.alloc(8192);
/**
 * A small procfs file in one read. (readFileSync sees a size of 0 and reads in growing chunks:
 * four times slower on a busy machine, and the watchdog reads one file per process per sample.)
 */
function readProc(path: string): string {
  const fd = openSync(path, 'r');
  try {
    return buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0));
  } finally {
    closeSync(fd);
  }
}

const readOr = <T>(f: () => T, fallback: T): T => {
  try {
    return f();
  } catch {
    return fallback;
  }
};

function pssBytes(dir: string): number | null {
  const m = /^Pss:\s+(\d+) kB/m.exec(readOr(() => readProc(`${dir}/smaps_rollup`), ''));
  return m ? Number(m[1]) * 1024 : null;
}

export class Watchdog {
  private timer: NodeJS.Timeout | null = null;
  /** The sandbox's init (host pid), once bubblewrap said it. */
  private init: number | null = null;
  private stopped = false;
  /** Most processes seen in one sample (for tests and failure messages). */
  peakProcesses = 0;

  constructor(
    private readonly budget: JobBudget,
    private readonly onBreach: (b: Breach) => void,
  ) {}

  /** Starts sampling the sandbox whose init has host pid `init`. */
  watch(init: number): void {
    if (this.init !== null || this.stopped) return;
    this.init = init;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const t0 = performance.now();
      let breach: Breach | null = null;
      try {
        breach = this.sample();
      } catch {
        // The sandbox ended between two reads: the job's end is reported by the runtime.
      }
      if (breach) {
        this.stop();
        this.onBreach(breach);
        return;
      }
      this.schedule(Math.max(WATCH_MS, 4 * (performance.now() - t0)));
    }, ms);
    this.timer.unref();
  }

  /** One look at the job; the first limit crossed, or null. */
  sample(): Breach | null {
    // Looked at every time: once the init is gone its pid could be another process's.
    const root = this.locate();
    if (!root) return null;
    const b = this.budget;
    const proc = `${root}/proc`;
    const pids = readdirSync(proc).filter((n) => n.charCodeAt(0) <= 57);
    this.peakProcesses = Math.max(this.peakProcesses, pids.length);
    if (pids.length > b.processes) return this.processes(pids.length);
    let tasks = 0;
    let rss = 0;
    let fds = 0;
    let ticks = 0;
    for (const pid of pids) {
      const f = readOr(() => statFields(readProc(`${proc}/${pid}/stat`)), null);
      if (!f) continue; // exited since the listing
      // utime, stime, cutime, cstime are fields 14–17, num_threads 20, rss 24 (indices −3).
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      tasks += Number(f[17]);
      rss += Number(f[21]) * PAGE;
      fds += readOr(() => readdirSync(`${proc}/${pid}/fd`).length, 0);
    }
    this.peakProcesses = Math.max(this.peakProcesses, tasks);
    if (tasks > b.processes) return this.processes(tasks);
    if (rss > b.memoryBytes) {
      // Resident sizes count shared pages in every process; the proportional sizes decide.
      let pss = 0;
      for (const pid of pids) pss += pssBytes(`${proc}/${pid}`) ?? rssOf(`${proc}/${pid}`);
      if (pss > b.memoryBytes)
        return {
          kind: 'memory',
          message: `the job's processes used ${Math.round(pss / MB)} MB, over the limit of ${Math.round(b.memoryBytes / MB)} MB (killed)`,
        };
    }
    if (fds > b.openFiles)
      return {
        kind: 'open_files',
        message: `the job's processes held ${fds} open files, over the limit of ${b.openFiles} (killed)`,
      };
    const scratch = used(`${root}/tmp`) + used(`${root}/dev/shm`);
    if (scratch > b.scratchBytes)
      return {
        kind: 'disk',
        message: `the job wrote ${Math.round(scratch / MB)} MB to /tmp and /dev/shm, over the limit of ${Math.round(b.scratchBytes / MB)} MB (killed)`,
      };
    const cpuMs = ticks * TICK_MS;
    if (b.cpuMs > 0 && cpuMs > b.cpuMs)
      return {
        kind: 'timeout',
        message: `CPU time limit of ${b.cpuMs} ms exceeded: the job's processes used ${cpuMs} ms (killed)`,
      };
    return null;
  }

  private processes(n: number): Breach {
    return {
      kind: 'processes',
      message: `the job ran ${n} processes and threads, over the limit of ${this.budget.processes} (killed)`,
    };
  }

  /** The sandbox's root, when bubblewrap has mounted its procfs there (a procfs of its own). */
  private locate(): string | null {
    const root = `/proc/${this.init}/root`;
    // Before bubblewrap changes root, this is the host's /proc: every process of the host.
    return readOr(() => statSync(`${root}/proc`).dev, hostProcDev) === hostProcDev ? null : root;
  }
}

function rssOf(dir: string): number {
  return readOr(() => Number(statFields(readProc(`${dir}/stat`))[21]) * PAGE, 0);
}

function used(path: string): number {
  return readOr(() => {
    const s = statfsSync(path);
    return (s.blocks - s.bfree) * s.bsize;
  }, 0);
}
