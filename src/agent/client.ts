/**
 * The native API over HTTP/1.1 keep-alive (an undici Pool), for the worker agent and the CLI.
 * Errors come out typed: HubHttpError carries the hub's stable error code; anything without a
 * reply (refused, reset, timed out) is a HubUnreachableError. `retry` repeats a call with
 * jittered exponential backoff on exactly the failures a retry can fix.
 */
import { Readable } from 'node:stream';
import { Pool } from 'undici';
import { HubHttpError, HubUnreachableError } from './errors.js';

// Callers name them as this client's errors; they live apart so that the CLI's exit statuses
// can recognise them without loading undici.
export { HubHttpError, HubUnreachableError };

/** Whether repeating the same request may succeed (protocol §3: retry 5xx, never other 4xx). */
export function isTransient(err: unknown): boolean {
  if (err instanceof HubUnreachableError) return true;
  return err instanceof HubHttpError && (err.status >= 500 || err.status === 429);
}

export const isStale = (err: unknown): boolean =>
  err instanceof HubHttpError &&
  (err.code === 'lease_stale' || (err.status === 404 && err.code === 'not_found'));

/**
 * "Equal jitter" backoff: half the exponential delay fixed, half random, so that workers that
 * lost the hub together do not come back together.
 */
export function backoffMs(attempt: number, baseMs = 200, maxMs = 10_000): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return exp / 2 + Math.random() * (exp / 2);
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export interface RetryOptions {
  /** Stop retrying after this moment (epoch ms). Default: never. */
  until?: number;
  signal?: AbortSignal;
  onRetry?(err: unknown, attempt: number, delayMs: number): void;
}

/** Calls `fn` until it succeeds or fails with a non-transient error (or time/abort runs out). */
export async function retry<T>(fn: () => Promise<T>, o: RetryOptions = {}): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const delay = backoffMs(attempt);
      if (!isTransient(err) || o.signal?.aborted || (o.until !== undefined && Date.now() + delay > o.until))
        throw err;
      o.onRetry?.(err, attempt, delay);
      await sleep(delay, o.signal);
    }
  }
}

export interface HubClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8080 (a path prefix such as /t/<token> is kept). */
  url: string;
  token?: string;
  connections?: number;
}

export interface RequestOptions {
  json?: unknown;
  body?: Buffer | Readable;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export class HubClient {
  readonly pool: Pool;
  private readonly prefix: string;
  private readonly auth: Record<string, string>;

  constructor(o: HubClientOptions) {
    const u = new URL(o.url);
    this.prefix = u.pathname.replace(/\/+$/, '');
    this.pool = new Pool(u.origin, {
      connections: o.connections ?? 16,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      // Lease and wait long-polls are held up to the hub's cap (30 s by default, 1 h at most).
      headersTimeout: 3_700_000,
      bodyTimeout: 3_700_000,
    });
    this.auth = o.token ? { authorization: `Bearer ${o.token}` } : {};
  }

  /** The headers (auth, then the caller's) and body of a request; `json` becomes the body. */
  private request(o: RequestOptions): { headers: Record<string, string>; body?: string | Buffer | Readable } {
    const headers: Record<string, string> = { ...this.auth, ...o.headers };
    if (o.json === undefined) return { headers, body: o.body };
    headers['content-type'] = 'application/json';
    return { headers, body: JSON.stringify(o.json) };
  }

  /** Sends a request and returns the raw reply body stream after checking the status. */
  async stream(
    method: 'GET' | 'POST',
    path: string,
    o: RequestOptions = {},
  ): Promise<{ status: number; body: Readable; headers: Record<string, unknown> }> {
    const { headers, body } = this.request(o);
    let res;
    try {
      res = await this.pool.request({ method, path: this.prefix + path, headers, body, signal: o.signal });
    } catch (err) {
      if (o.signal?.aborted) throw err;
      throw sendFailure(err, body);
    }
    if (res.statusCode >= 400) {
      const text = await res.body.text().catch(() => '');
      throw replyError(method, path, res.statusCode, text);
    }
    return { status: res.statusCode, body: res.body as unknown as Readable, headers: res.headers };
  }

  /**
   * A call whose reply is JSON. The reply is gathered in the dispatch handler itself, without a
   * body stream: on the lease long-poll that is the path from a job's creation to a worker
   * starting it, and a stream plus its async iteration cost more than the rest of the client.
   */
  json<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, o: RequestOptions = {}): Promise<T> {
    const { headers, body } = this.request(o);
    const signal = o.signal;
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      let status = 0;
      const chunks: Buffer[] = [];
      let onAbort: (() => void) | undefined;
      const settle = () => onAbort && signal!.removeEventListener('abort', onAbort);
      this.pool.dispatch(
        { method, path: this.prefix + path, headers, body },
        {
          onRequestStart(controller) {
            // Called again when undici resends the request on a new connection: start afresh.
            status = 0;
            chunks.length = 0;
            settle();
            if (!signal) return;
            onAbort = () => controller.abort(signal.reason as Error);
            // Aborted while the request waited for a free connection: stop before sending.
            if (signal.aborted) return onAbort();
            signal.addEventListener('abort', onAbort, { once: true });
          },
          onResponseStart(_controller, statusCode) {
            status = statusCode;
          },
          onResponseData(_controller, chunk) {
            chunks.push(chunk);
          },
          onResponseEnd() {
            settle();
            const text = Buffer.concat(chunks).toString('utf8');
            if (status >= 400) return reject(replyError(method, path, status, text));
            try {
              resolve((text ? JSON.parse(text) : null) as T);
            } catch (err) {
              reject(
                new HubHttpError(
                  status,
                  'bad_reply',
                  `${method} ${path}: reply is not JSON (${String(err)})`,
                ),
              );
            }
          },
          onResponseError(_controller, err) {
            settle();
            reject(signal?.aborted ? err : sendFailure(err, body));
          },
        },
      );
    });
  }

  async bytes(path: string, o: RequestOptions & { maxBytes?: number } = {}): Promise<Buffer> {
    const { body } = await this.stream('GET', path, o);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of body as AsyncIterable<Buffer>) {
      size += c.length;
      if (o.maxBytes !== undefined && size > o.maxBytes) {
        body.destroy();
        throw new HubHttpError(413, 'payload_too_large', `GET ${path}: more than ${o.maxBytes} bytes`);
      }
      chunks.push(c);
    }
    return Buffer.concat(chunks, size);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** undici's refusals of a request it could not even send as asked: retrying cannot help. */
const MALFORMED = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_INVALID_RETURN_VALUE',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
]);

/**
 * The error for a request that got no reply. Usually the hub could not be reached (refused,
 * reset, timed out), which a retry may fix. Not when the request itself was at fault: undici
 * refused its arguments, or a body stream of ours failed to read (a missing output file); those
 * are passed on as they are, so that callers do not retry them until their deadline.
 */
function sendFailure(err: unknown, body: unknown): Error {
  const e = err as { code?: string; message?: string };
  if ((e.code && MALFORMED.has(e.code)) || (body instanceof Readable && body.errored)) return err as Error;
  return new HubUnreachableError(`hub unreachable (${e.code ?? e.message ?? String(err)})`, { cause: err });
}

/** The error for a reply ≥ 400: the hub's envelope code and message, else the reply's text. */
function replyError(method: string, path: string, status: number, text: string): HubHttpError {
  let code = 'http_' + status;
  let message = text.slice(0, 500) || `HTTP ${status}`;
  try {
    const env = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (env.error?.code) code = env.error.code;
    if (env.error?.message) message = env.error.message;
  } catch {
    // not the JSON envelope (a proxy's error page): keep the text
  }
  return new HubHttpError(status, code, `${method} ${path}: ${message}`);
}
