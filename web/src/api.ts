/**
 * The hub's public HTTP APIs as the UI calls them: JSON in and out, the native error envelope
 * turned into `ApiError`, an optional API token (admin or client; kept in localStorage) sent as a
 * bearer token, and conditional GETs (ETag / If-None-Match) so that polling costs little.
 * Contestants are recognised by the portal's HttpOnly session cookie, which the browser sends.
 */

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const TOKEN_KEY = 'jobhub.token';

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY) || null;
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // private mode: the token lasts for this page only
  }
  cache.clear();
}

/**
 * A path usable where no header can be set (EventSource, download links): with a token it
 * goes through the hub's `/t/<token>/…` prefix.
 */
export function authPath(path: string): string {
  const token = getToken();
  return token ? `/t/${encodeURIComponent(token)}${path}` : path;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = getToken();
  return { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  let code = 'http_' + res.status;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } | string };
    if (typeof body.error === 'string') message = body.error;
    else if (body.error?.message) {
      message = body.error.message;
      code = body.error.code ?? code;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(message, res.status, code);
}

async function send(method: string, path: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(path, { method, credentials: 'same-origin', ...init });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError('Cannot reach the hub. Is it running?', 0, 'network');
  }
}

/** A JSON request; resolves with the parsed body (null for an empty one). */
export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  const res = await send(method, path, {
    headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw await failure(res);
  const text = await res.text();
  return (text ? JSON.parse(text) : null) as T;
}

export const post = <T>(path: string, body: unknown = {}) => request<T>('POST', path, body);
export const put = <T>(path: string, body: unknown) => request<T>('PUT', path, body);
export const del = <T>(path: string) => request<T>('DELETE', path);

/** Raw bytes up (a blob upload); resolves with the JSON answer. */
export async function upload<T>(path: string, bytes: Blob | ArrayBuffer | string): Promise<T> {
  const res = await send('POST', path, {
    headers: headers({ 'content-type': 'application/octet-stream' }),
    body: bytes,
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** The first `max` bytes of a resource (Range where the hub supports it), and its full size. */
export async function head(path: string, max: number): Promise<{ bytes: Uint8Array; total: number | null }> {
  const res = await send('GET', path, { headers: headers({ range: `bytes=0-${max - 1}` }) });
  if (!res.ok) throw await failure(res);
  const range = res.headers.get('content-range');
  const total = range ? Number(range.split('/')[1]) : Number(res.headers.get('content-length') ?? NaN);
  const buf = new Uint8Array(await res.arrayBuffer());
  return { bytes: buf.subarray(0, max), total: Number.isFinite(total) ? total : null };
}

/** Plain text (e.g. /metrics). */
export async function text(path: string, signal?: AbortSignal): Promise<string> {
  const res = await send('GET', path, { headers: headers({ accept: 'text/plain' }), signal });
  if (!res.ok) throw await failure(res);
  return res.text();
}

const cache = new Map<string, { etag: string; data: unknown }>();

/**
 * A GET that revalidates with the last ETag: `changed` is false when the hub answered 304 (the
 * cached value is returned), so a poll that found nothing new costs no parsing or rendering.
 */
export async function getTagged<T>(
  path: string,
  signal?: AbortSignal,
): Promise<{ data: T; changed: boolean }> {
  const hit = cache.get(path);
  const res = await send('GET', path, {
    headers: headers(hit ? { 'if-none-match': hit.etag } : {}),
    cache: 'no-store',
    signal,
  });
  if (res.status === 304 && hit) return { data: hit.data as T, changed: false };
  if (!res.ok) throw await failure(res);
  const data = (await res.json()) as T;
  const etag = res.headers.get('etag');
  if (etag) cache.set(path, { etag, data });
  else cache.delete(path);
  return { data, changed: true };
}

/** Forget cached answers (after a write, or on log-out). */
export function forget(prefix = ''): void {
  for (const key of [...cache.keys()]) if (key.startsWith(prefix)) cache.delete(key);
}

export const get = <T>(path: string, signal?: AbortSignal) => request<T>('GET', path, undefined, signal);

/** `?a=1&b=2` from the defined, non-empty values. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
