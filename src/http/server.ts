/**
 * The HTTP front: one node:http server, several API faces chosen by path. Each face has its own
 * router and its own error format; a request never ends in a 500 because of what it sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { CancelListener, CancelSignal } from '../core/cancel.js';
import { HubError } from '../core/errors.js';
import type { HubServices } from './services.js';
import type { Principal } from '../auth/auth.js';
import type { RequestContext, Router } from './router.js';

export interface Face {
  name: string;
  router: Router;
  /** Writes an error in this face's wire format. */
  sendError(res: ServerResponse, err: HubError): void;
}

export interface FaceMount {
  face: Face;
  /** Whether this face serves a path (after a `/t/<token>` prefix is removed). */
  serves(path: string): boolean;
  /** The path the face's router sees. */
  strip?(path: string): string;
}

const TOKEN_PREFIX = /^\/t\/([^/]+)(\/.*)$/;

export interface HttpServer {
  server: Server;
  /** Connections open and admitted (not counting those being shed). */
  readonly connections: number;
  /** Most connections admitted at once; more are answered 503 and closed. */
  readonly connectionCap: number;
  /** Stops accepting, lets in-flight requests finish (long-polls answer at once), then resolves. */
  close(): Promise<void>;
}

export function createHttpServer(hub: HubServices, mounts: FaceMount[]): HttpServer {
  const { config, log } = hub.ctx;
  const sockets = new Set<Socket>();
  const busy = new WeakSet<Socket>();
  /** Connections past the cap: their one request is answered 503 and they close. */
  const shed = new WeakSet<Socket>();
  let admitted = 0;
  // One listener for all responses (and one for all connections): a closure each would stay
  // alive as long as the long-poll or the keep-alive connection.
  function notBusy(this: ServerResponse): void {
    busy.delete(this.req.socket);
  }
  function admittedClosed(this: Socket): void {
    admitted--;
    sockets.delete(this);
  }
  const cap = config.maxConnections || connectionCapFromFileLimit();
  // Node looks for late heads and bodies every `check` ms; the limits given to it are shortened by
  // that much so that a connection is closed within the configured time, not up to `check` after.
  const check = Math.max(50, Math.min(1000, Math.floor(config.headersTimeoutMs / 20)));
  const server = createServer(
    {
      headersTimeout: config.headersTimeoutMs - check,
      requestTimeout: config.requestTimeoutMs - check,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      connectionsCheckingInterval: check,
    },
    (req, res) => {
      busy.add(req.socket);
      // 'finish' comes once per response: `on` spares the wrapper `once` would make.
      res.on('finish', notBusy);
      if (shed.has(req.socket)) return void refuseOverCap(hub, mounts, req, res);
      handle(hub, mounts, req, res);
    },
  );
  server.on('connection', (s) => {
    sockets.add(s);
    if (admitted >= cap) {
      // Past the cap the connection is still answered (503, then closed) rather than reset: the
      // client learns to come back, and the descriptors kept in reserve are not spent on it.
      shed.add(s);
      // A client sends its request as soon as it connects; one that does not is not waited for.
      const t = setTimeout(() => s.destroy(), Math.min(1_000, config.headersTimeoutMs));
      t.unref();
      s.on('close', () => {
        clearTimeout(t);
        sockets.delete(s);
      });
      return;
    }
    admitted++;
    s.on('close', admittedClosed);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return;
    // A head or body not received in time is 408 (the client may retry), anything else 400.
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  // accept(2) failing is said and survived. On EMFILE libuv itself takes and closes the waiting
  // connections (its reserve descriptor); what it cannot handle (ENFILE, ENOBUFS) arrives here,
  // and without a listener the 'error' event would end the process.
  let lastAcceptWarning = 0;
  server.on('error', (err: NodeJS.ErrnoException) => {
    const now = Date.now();
    if (now - lastAcceptWarning < 10_000) return;
    lastAcceptWarning = now;
    log.warn({ err, connections: sockets.size }, 'could not accept a connection');
  });
  let closing: Promise<void> | null = null;
  return {
    server,
    get connections() {
      return admitted;
    },
    connectionCap: cap,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive connections would hold close() open; busy ones finish their request.
        for (const s of sockets) if (!busy.has(s)) s.destroy();
        server.on('request', (_req, res: ServerResponse) => res.setHeader('connection', 'close'));
        const t = setInterval(() => {
          for (const s of sockets) if (!busy.has(s)) s.destroy();
        }, 50);
        server.once('close', () => clearInterval(t));
      });
      return closing;
    },
  };
}

/** The one answer a connection past the cap gets, in the envelope of the face it asked. */
function refuseOverCap(
  hub: HubServices,
  mounts: FaceMount[],
  req: IncomingMessage,
  res: ServerResponse,
): void {
  let path = '/';
  try {
    path = new URL(req.url ?? '/', 'http://hub').pathname.replace(TOKEN_PREFIX, '$2');
  } catch {
    // an unparsable target gets the native envelope below
  }
  const face = (mounts.find((x) => x.serves(path)) ?? mounts[mounts.length - 1]!).face;
  res.setHeader('connection', 'close');
  res.setHeader('retry-after', '1');
  face.sendError(
    res,
    new HubError('unavailable', 'the hub has too many open connections; try again shortly'),
  );
  hub.ctx.metrics.connectionsShed.inc();
}

/**
 * Connections allowed: half the process's file limit (a connection may hold a second descriptor,
 * a blob file it uploads or downloads) less 32 for the store, the listener and the rest.
 */
export function connectionCapFromFileLimit(limits = '/proc/self/limits'): number {
  let soft = Number.NaN;
  try {
    const line = readFileSync(limits, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    soft = Number(line?.slice('Max open files'.length).trim().split(/\s+/)[0]);
  } catch {
    // not Linux: fall back below
  }
  if (!Number.isFinite(soft)) return 10_000;
  return Math.max(8, Math.floor(soft / 2) - 32);
}

/**
 * Aborted when the client goes away before its answer is sent. Not an AbortController: one with
 * a listener costs about a kilobyte, and creating and aborting one a DOMException with a stack
 * trace, for every long-poll.
 */
class ClientGone implements CancelSignal {
  aborted = false;
  private listeners: CancelListener[] = [];

  addEventListener(_type: 'abort', listener: CancelListener): void {
    // Listeners run once (the signal aborts once), so `once` needs nothing more.
    if (!this.aborted && !this.listeners.includes(listener)) this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: CancelListener): void {
    const i = this.listeners.indexOf(listener);
    if (i >= 0) this.listeners.splice(i, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners;
    this.listeners = [];
    for (const l of listeners) {
      if (typeof l === 'function') l();
      else l.handleEvent();
    }
  }
}

/**
 * What a route handler sees of its request. A class rather than an object literal with closures:
 * a parked long-poll keeps its context alive for minutes, 10,000 of them at once, so the few
 * bytes per request that closures, a parsed URL and a getter of its own would cost add up.
 */
class HttpRequestContext implements RequestContext {
  private gone: ClientGone | undefined = undefined;
  private principalOnce: Promise<Principal> | null = null;
  private searchParams: URLSearchParams | undefined = undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly hub: HubServices,
    readonly params: Record<string, string>,
    /** The query part of the parsed URL (`URL.search`), turned into parameters on first use. */
    private readonly search: string,
    readonly token: string | null,
  ) {}

  get query(): URLSearchParams {
    return (this.searchParams ??= new URLSearchParams(this.search));
  }

  // Made only for the routes that wait (long-polls, waits, streams).
  get signal(): CancelSignal {
    if (!this.gone) {
      const gone = (this.gone = new ClientGone());
      const res = this.res;
      if (res.closed || res.writableFinished) gone.abort();
      // 'close' comes once per response: `on` spares the wrapper `once` would make.
      else res.on('close', () => res.writableFinished || gone.abort());
    }
    return this.gone;
  }

  principal(): Promise<Principal> {
    return (this.principalOnce ??= this.hub.auth.authenticate(this.token));
  }
}

/** The path, query and token of a request target; null when it cannot be parsed. */
function parseTarget(target: string): { path: string; search: string; token: string | null } | null {
  try {
    const url = new URL(target, 'http://hub');
    const m = TOKEN_PREFIX.exec(url.pathname);
    if (!m) return { path: url.pathname, search: url.search, token: null };
    return { path: m[2]!, search: url.search, token: decodeURIComponent(m[1]!) };
  } catch {
    return null;
  }
}

/**
 * Routes one request and answers errors in its face's format. Not an async function: a
 * long-poll's handler runs for minutes, and a suspended frame here would be kept all that time.
 */
function handle(hub: HubServices, mounts: FaceMount[], req: IncomingMessage, res: ServerResponse): void {
  const started = process.hrtime.bigint();
  const target = parseTarget(req.url ?? '/');
  if (!target) {
    // A request target that cannot be parsed (`/t/%ZZ/…`) is the client's error, answered in
    // the native envelope; thrown here it would be an unhandled rejection and end the process.
    mounts[mounts.length - 1]!.face.sendError(res, new HubError('bad_request', 'malformed request path'));
    return;
  }
  const { path, search } = target;
  let token = target.token;
  const auth = req.headers.authorization;
  if (!token && auth?.startsWith('Bearer ')) token = auth.slice(7).trim();

  const mount = mounts.find((x) => x.serves(path)) ?? mounts[mounts.length - 1]!;
  const face = mount.face;
  let running: Promise<void>;
  try {
    const match = face.router.match(req.method ?? 'GET', mount.strip ? mount.strip(path) : path);
    if (!match) throw new HubError('not_found', `no route for ${req.method} ${path}`);
    if ('allowed' in match) {
      res.setHeader('allow', [...new Set(match.allowed)].join(', '));
      throw new HubError('method_not_allowed', `${req.method} is not allowed on ${path}`);
    }
    running = match.handler(new HttpRequestContext(req, res, hub, match.params, search, token));
  } catch (err) {
    running = Promise.reject(err);
  }
  running.then(
    () => observe(hub, face, res, started),
    (err: unknown) => {
      const e = toHubError(err, hub);
      if (!res.headersSent) face.sendError(res, e);
      else res.destroy();
      observe(hub, face, res, started);
    },
  );
}

function observe(hub: HubServices, face: Face, res: ServerResponse, started: bigint): void {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  hub.ctx.metrics.requestSeconds.observe(seconds, {
    face: face.name,
    status: `${Math.floor(res.statusCode / 100)}xx`,
  });
}

function toHubError(err: unknown, hub: HubServices): HubError {
  if (err instanceof HubError) return err;
  hub.ctx.log.error({ err }, 'request failed');
  if (isResourceShortage(err)) {
    return new HubError('unavailable', 'the hub is out of disk space or file descriptors; try again later');
  }
  return new HubError('internal', 'internal error');
}

function isResourceShortage(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  // Out of descriptors is as temporary as out of space: the client should come back, not give up.
  return (
    code === 'ENOSPC' || code === 'SQLITE_FULL' || code === 'EDQUOT' || code === 'EMFILE' || code === 'ENFILE'
  );
}
