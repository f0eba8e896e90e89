/**
 * Network access for `HttpClient` in JS jobs: denied unless the worker allows the host
 * (`--allow-net host[:port],…`). The check is made on every request and on every redirect, by
 * host name and port as written in the URL (an entry without a port allows every port of that
 * host). Bodies are capped, so a job cannot pull more into the agent than its memory limit.
 */
import { RuntimeConfigError } from '../runtime.js';

export interface NetRule {
  host: string;
  /** Undefined: any port. */
  port?: number;
}

/** Parses `--allow-net` entries: `example.com`, `example.com:8080`, `127.0.0.1:9000`, `[::1]:80`. */
export function parseAllowNet(entries: string[]): NetRule[] {
  return entries.map((raw) => {
    const e = raw.trim().toLowerCase();
    const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(e);
    const port = m?.[2] === undefined ? undefined : Number(m[2]);
    if (!m || (port !== undefined && (port < 1 || port > 65535)))
      throw new RuntimeConfigError(`--allow-net entry ${JSON.stringify(raw)} is not host or host:port`);
    return { host: m[1]!, port };
  });
}

const MAX_REDIRECTS = 5;

export class NetDenied extends Error {}

/** Whether `url` may be fetched under `rules`; throws a clear error if not. */
export function checkUrl(url: URL, rules: NetRule[]): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new NetDenied(`HttpClient: only http and https URLs are supported, not ${url.protocol}`);
  const host = url.hostname.toLowerCase();
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  if (rules.some((r) => r.host === host && (r.port === undefined || r.port === port))) return;
  const what = `${host}:${port}`;
  throw new NetDenied(
    rules.length === 0
      ? `HttpClient: network access to ${what} is denied (this worker allows no hosts; see jobhub worker --allow-net)`
      : `HttpClient: network access to ${what} is denied (this worker allows ${rules.map((r) => (r.port ? `${r.host}:${r.port}` : r.host)).join(', ')})`,
  );
}

/** GET or POST `target`, following allowed redirects; resolves to the response body. */
export async function httpRequest(
  target: string,
  body: Uint8Array | undefined,
  o: { rules: NetRule[]; maxBytes: number; signal: AbortSignal },
): Promise<Uint8Array> {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new Error(`HttpClient: ${JSON.stringify(target)} is not a URL`);
  }
  let method = body ? 'POST' : 'GET';
  for (let hop = 0; ; hop++) {
    checkUrl(url, o.rules);
    const res = await fetch(url, {
      method,
      body: method === 'POST' ? body : undefined,
      redirect: 'manual',
      signal: o.signal,
    });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw new Error(`HttpClient: more than ${MAX_REDIRECTS} redirects`);
      url = new URL(location, url);
      if (res.status !== 307 && res.status !== 308) method = 'GET';
      continue;
    }
    return readCapped(res, o.maxBytes);
  }
}

async function readCapped(res: Response, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.length;
    if (size > maxBytes) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`HttpClient: the response is larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
