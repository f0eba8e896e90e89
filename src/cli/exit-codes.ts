/**
 * How every `jobhub` command ends on an ordinary mistake: one line on stderr that names the fix,
 * and an exit status that tells scripts which kind of mistake it was. The statuses follow BSD
 * sysexits(3) where one fits, so that they mean the same as in other tools; they are listed in
 * the README ("Exit statuses"). Anything not recognised here is a bug in jobhub: it still gets
 * one line (the stack trace only with JOBHUB_DEBUG=1) and EX_SOFTWARE.
 */
import { CommanderError } from 'commander';
import { ConfigError } from '../config/config.js';
import { HubHttpError, HubUnreachableError } from '../agent/errors.js';

export const EXIT = {
  OK: 0,
  /** `run`/`wait`: the job failed or was canceled. */
  JOB_FAILED: 1,
  /** A bad flag, flag value, URL or setting. */
  USAGE: 2,
  /** `wait --timeout-ms`: the job is not final yet. */
  WAIT_TIMEOUT: 3,
  /** The hub refused the request's content (validation, conflict, not found). */
  DATA: 65,
  /** A file to read is missing or unreadable. */
  NO_INPUT: 66,
  /** The hub, the database or a worker for the runtime is not there. */
  UNAVAILABLE: 69,
  /** A bug in jobhub (an error nothing here recognises). */
  SOFTWARE: 70,
  /** The data directory cannot be created or written (permissions, read-only file system). */
  CANT_CREATE: 73,
  /** The disk is full, or the database file is damaged. */
  IO: 74,
  /** Something else holds the resource: the port is in use, the SQLite file is locked. */
  IN_USE: 75,
  /** The token is missing or wrong, or its role may not do this. */
  NO_PERMISSION: 77,
  /** The database URL names a role, password or database the server does not know. */
  CONFIG: 78,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A mistake we recognised: its line (without the `jobhub: ` prefix) and its exit status. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Node's system errors (`ENOENT`...) and driver errors carry a string `code`. */
const codeOf = (err: unknown): string | undefined => {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
};

/** The file or directory a Node system error is about. */
const pathOf = (err: unknown): string => {
  const p = (err as { path?: unknown } | null)?.path;
  return typeof p === 'string' ? p : 'the file';
};

/**
 * A file the user named could not be read: one line with the path and the reason. Use where the
 * command reads the user's file, so that ENOENT there is a missing input, not a broken data dir.
 */
export function inputFileError(err: unknown, file: string): CliError {
  const why =
    codeOf(err) === 'ENOENT'
      ? 'no such file; check the path'
      : codeOf(err) === 'EACCES'
        ? 'permission denied; check its permissions'
        : codeOf(err) === 'EISDIR'
          ? 'it is a directory; give a file'
          : (err as Error).message;
  return new CliError(EXIT.NO_INPUT, `cannot read ${file}: ${why}`);
}

/** Hub replies and unreachable hubs, for the commands that talk to a hub over HTTP. */
export function hubError(err: HubHttpError | HubUnreachableError, hub: string): CliError {
  if (err instanceof HubUnreachableError)
    return new CliError(
      EXIT.UNAVAILABLE,
      `cannot reach the hub at ${hub} (${err.message}); start it with \`jobhub server\` or \`jobhub up\`, or give --hub (or JOBHUB_URL)`,
    );
  if (err.status === 401)
    return new CliError(
      EXIT.NO_PERMISSION,
      `the hub at ${hub} refused the token (${err.message}); give a valid one with --token or JOBHUB_TOKEN (\`jobhub token create\` makes one)`,
    );
  if (err.status === 403)
    return new CliError(
      EXIT.NO_PERMISSION,
      `the hub at ${hub} refused: ${err.message}; use a token with the right role`,
    );
  if (err.status >= 500)
    return new CliError(EXIT.UNAVAILABLE, `the hub at ${hub} failed: ${err.message}; see its log`);
  return new CliError(EXIT.DATA, err.message);
}

/**
 * Errors from opening the hub's store and starting its listener (`server`, `up`, `token`): the
 * data directory, the SQLite file, PostgreSQL, the port.
 */
function startupError(err: unknown): CliError | null {
  const code = codeOf(err);
  const msg = err instanceof Error ? err.message : String(err);
  switch (code) {
    // Node system errors (the data directory, blobs, the listening socket).
    case 'EACCES':
    case 'EPERM':
      if ((err as { syscall?: string }).syscall === 'listen')
        return new CliError(
          EXIT.NO_PERMISSION,
          `cannot listen on ${(err as { port?: number }).port}: permission denied; choose --port 1024 or above`,
        );
      return new CliError(
        EXIT.CANT_CREATE,
        `cannot write ${pathOf(err)}: permission denied; choose a writable --data-dir (or JOBHUB_DATA_DIR)`,
      );
    case 'EROFS':
      return new CliError(
        EXIT.CANT_CREATE,
        `cannot write ${pathOf(err)}: read-only file system; choose a writable --data-dir (or JOBHUB_DATA_DIR)`,
      );
    case 'ENOENT':
      // Node's recursive mkdir reports ENOENT below a read-only mount, not EROFS.
      return new CliError(
        EXIT.CANT_CREATE,
        `cannot create ${pathOf(err)} (no such parent, or a read-only file system); choose a writable --data-dir (or JOBHUB_DATA_DIR)`,
      );
    case 'ENOTDIR':
    case 'EEXIST':
      return new CliError(
        EXIT.CANT_CREATE,
        `cannot use ${pathOf(err)} as a directory; choose another --data-dir (or JOBHUB_DATA_DIR)`,
      );
    case 'ENOSPC':
    case 'EDQUOT':
      return new CliError(
        EXIT.IO,
        `no space left on the disk of ${pathOf(err)}; free some space or choose another --data-dir`,
      );
    case 'EADDRINUSE': {
      const e = err as { address?: string; port?: number };
      return new CliError(
        EXIT.IN_USE,
        `port ${e.port} on ${e.address} is already in use; stop what uses it or choose another --port (0 picks a free one)`,
      );
    }
    case 'EADDRNOTAVAIL':
      return new CliError(
        EXIT.USAGE,
        `cannot listen on ${(err as { address?: string }).address}: not an address of this machine; check --host`,
      );
    // SQLite (better-sqlite3's SqliteError codes).
    case 'SQLITE_FULL':
      return new CliError(
        EXIT.IO,
        'the disk of the data directory is full; free some space or choose another --data-dir',
      );
    case 'SQLITE_READONLY':
    case 'SQLITE_READONLY_DIRECTORY':
    case 'SQLITE_CANTOPEN':
      return new CliError(
        EXIT.CANT_CREATE,
        `cannot open the SQLite database for writing (${msg}); choose a writable --data-dir (or JOBHUB_DATA_DIR)`,
      );
    case 'SQLITE_CORRUPT':
    case 'SQLITE_NOTADB':
      return new CliError(
        EXIT.IO,
        `the SQLite database in the data directory is damaged or not a database (${msg}); restore it from a backup or choose another --data-dir`,
      );
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return new CliError(
        EXIT.IN_USE,
        'the SQLite database is locked by another process (another hub on this --data-dir?); stop it, or choose another --data-dir',
      );
    case 'SQLITE_IOERR':
      return new CliError(
        EXIT.IO,
        `the disk failed while writing the database (${msg}); check the data directory's disk`,
      );
    // PostgreSQL (SQLSTATE codes from the server) and its connection.
    case '28000':
    case '28P01':
      return new CliError(
        EXIT.CONFIG,
        `PostgreSQL refused the login: ${msg}; fix the user or password in --database (or JOBHUB_DATABASE)`,
      );
    case '3D000':
      return new CliError(
        EXIT.CONFIG,
        `PostgreSQL: ${msg}; create it (createdb) or fix the database name in --database (or JOBHUB_DATABASE)`,
      );
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return new CliError(
        EXIT.UNAVAILABLE,
        `cannot reach ${(err as { address?: string; hostname?: string }).address ?? (err as { hostname?: string }).hostname ?? 'the server'}${(err as { port?: number }).port ? `:${(err as { port?: number }).port}` : ''} (${code}); is PostgreSQL running there? check --database (or JOBHUB_DATABASE)`,
      );
    default:
      return null;
  }
}

/** The line and exit status for any error that ends a command. */
export function explain(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof ConfigError) return new CliError(EXIT.USAGE, err.message);
  if (err instanceof HubHttpError || err instanceof HubUnreachableError) return hubError(err, 'the hub');
  // An AggregateError (connecting to every address of a name) carries the real cause inside.
  if (err instanceof AggregateError && err.errors.length) return explain(err.errors[0]);
  const known = startupError(err);
  if (known) return known;
  const msg = err instanceof Error ? err.message : String(err);
  return new CliError(
    EXIT.SOFTWARE,
    `unexpected error: ${msg} (a bug in jobhub; run with JOBHUB_DEBUG=1 for the stack trace and report it)`,
  );
}

/**
 * Ends the process with `err`'s line and status. Commander already printed its own errors.
 * `stack`: print an unrecognised error's stack trace anyway (a crash of a running hub or worker,
 * where the trace is what the bug report needs).
 */
export function exitWith(err: unknown, stack = false): never {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : EXIT.USAGE);
  const e = explain(err);
  if (e.exitCode === EXIT.SOFTWARE && (stack || process.env.JOBHUB_DEBUG)) console.error(err);
  process.stderr.write(`jobhub: ${e.message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(e.exitCode);
}
