/**
 * Job users of a root worker, claimed per worker so that two workers on one machine never share
 * one. The process-count limit counts per user: two workers whose jobs both ran as uid 200000
 * shared one budget, and one worker's fork bomb stopped the other's jobs from forking.
 *
 * The uids from JOB_UID_BASE up are cut into UID_SLOTS slots of UIDS_PER_SLOT. A worker owns a
 * slot while it holds an exclusive lock (flock) on `<dir>/slot-<n>`; the lock is held by a small
 * `flock … cat` process reading a pipe from the worker. The kernel drops the lock when that
 * process ends, and it ends when the worker closes the pipe or dies (the pipe closes with it), so
 * a crashed worker's slot frees itself: there is no stale lock to recover and no pid to check.
 * The directory is root's (mode 0700): the lock files cannot be taken by anybody else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Where root workers of one machine keep their slot locks. */
export const UID_LOCK_DIR = '/run/jobhub/uid-slots';
/** First uid of the first slot (uids below are the host's own users). */
export const JOB_UID_BASE = 200_000;
/** Uids per slot: one per job running at once (jobs reuse them afterwards). */
export const UIDS_PER_SLOT = 1000;
export const UID_SLOTS = 1000;

export interface UidRange {
  slot: number;
  /** First and one past the last uid of the slot. */
  first: number;
  end: number;
  /** Gives the slot back (the lock process ends). */
  release(): void;
}

/** Tries slot `n`: resolves with the lock's process when it holds the lock, null when taken. */
function tryLock(flock: string, path: string): Promise<ChildProcess | null> {
  return new Promise((resolve, reject) => {
    // Exit status 75 when another process holds the lock (--nonblock); "held" once we do.
    const p = spawn(
      flock,
      ['--nonblock', '--conflict-exit-code', '75', path, '/bin/sh', '-c', 'echo held; exec cat >/dev/null'],
      { stdio: ['pipe', 'pipe', 'ignore'] },
    );
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      if (out.includes('held')) {
        p.stdout!.off('data', onData);
        p.stdout!.destroy();
        p.off('exit', onExit);
        resolve(p);
      }
    };
    const onExit = (code: number | null) =>
      code === 75 ? resolve(null) : reject(new Error(`flock ${path} ended with status ${code}`));
    p.stdout!.on('data', onData);
    p.once('exit', onExit);
    p.once('error', reject);
  });
}

/** Claims the first free slot; throws when every slot is held or locking is impossible. */
export async function claimUidRange(flock: string, dir = UID_LOCK_DIR): Promise<UidRange> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (let slot = 0; slot < UID_SLOTS; slot++) {
    const holder = await tryLock(flock, join(dir, `slot-${slot}`));
    if (!holder) continue;
    // The lock must not keep the worker's event loop alive.
    holder.unref();
    (holder.stdin as unknown as { unref?: () => void }).unref?.();
    const first = JOB_UID_BASE + slot * UIDS_PER_SLOT;
    return {
      slot,
      first,
      end: first + UIDS_PER_SLOT,
      // `cat` reads end of file and ends; with it, `flock` and the lock.
      release: () => holder.stdin?.destroy(),
    };
  }
  throw new Error(`every one of the ${UID_SLOTS} job-user slots in ${dir} is held by another worker`);
}
