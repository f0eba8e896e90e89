/**
 * The HTTP front: one node:http server, several API faces chosen by path. Each face has its own
 * router and its own error format; a request never ends in a 500 because of what it sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HubError } from '../core/errors.js';
import type { Hub } from '../hub/hub.js';
import type { Principal } from '../hub/auth.js';
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
  /** Stops accepting, lets in-flight requests finish (long-polls answer at once), then resolves. */
  close(): Promise<void>;
}

export function createHttpServer(hub: Hub, mounts: FaceMount[]): HttpServer {
  const sockets = new Set<Socket>();
  const busy = new WeakSet<Socket>();
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
    busy.add(req.socket);
    res.on('finish', () => busy.delete(req.socket));
    void handle(hub, mounts, req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  let closing: Promise<void> | null = null;
  return {
    server,
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

async function handle(
  hub: Hub,
  mounts: FaceMount[],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const started = process.hrtime.bigint();
  let url: URL;
  let path: string;
  let token: string | null = null;
  try {
    url = new URL(req.url ?? '/', 'http://hub');
    path = url.pathname;
    const m = TOKEN_PREFIX.exec(path);
    if (m) {
      token = decodeURIComponent(m[1]!);
      path = m[2]!;
    }
  } catch {
    // A request target that cannot be parsed (`/t/%ZZ/…`) is the client's error, answered in
    // the native envelope; thrown here it would be an unhandled rejection and end the process.
    mounts[mounts.length - 1]!.face.sendError(res, new HubError('bad_request', 'malformed request path'));
    return;
  }
  const auth = req.headers.authorization;
  if (!token && auth?.startsWith('Bearer ')) token = auth.slice(7).trim();

  const mount = mounts.find((x) => x.serves(path)) ?? mounts[mounts.length - 1]!;
  const face = mount.face;
  // Made only for the routes that wait (long-polls, waits, streams): creating and aborting a
  // signal for every request costs a DOMException with a stack trace each time.
  let abort: AbortController | undefined;
  const signal = () => {
    if (!abort) {
      const a = (abort = new AbortController());
      if (res.closed || res.writableFinished) a.abort();
      else res.once('close', () => res.writableFinished || a.abort());
    }
    return abort.signal;
  };
  try {
    const match = face.router.match(req.method ?? 'GET', mount.strip ? mount.strip(path) : path);
    if (!match) throw new HubError('not_found', `no route for ${req.method} ${path}`);
    if ('allowed' in match) {
      res.setHeader('allow', [...new Set(match.allowed)].join(', '));
      throw new HubError('method_not_allowed', `${req.method} is not allowed on ${path}`);
    }
    let principal: Promise<Principal> | null = null;
    const ctx: RequestContext = {
      req,
      res,
      hub,
      params: match.params,
      query: url.searchParams,
      token,
      get signal() {
        return signal();
      },
      principal: () => (principal ??= hub.auth.authenticate(token)),
    };
    await match.handler(ctx);
  } catch (err) {
    const e = toHubError(err, hub);
    if (!res.headersSent) face.sendError(res, e);
    else res.destroy();
  } finally {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    hub.ctx.metrics.requestSeconds.observe(seconds, {
      face: face.name,
      status: `${Math.floor(res.statusCode / 100)}xx`,
    });
  }
}

function toHubError(err: unknown, hub: Hub): HubError {
  if (err instanceof HubError) return err;
  hub.ctx.log.error({ err }, 'request failed');
  if (isDiskFull(err)) return new HubError('unavailable', 'the hub is out of disk space; try again later');
  return new HubError('internal', 'internal error');
}

function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'ENOSPC' || code === 'SQLITE_FULL' || code === 'EDQUOT';
}
