/**
 * The Pleiades v0.5 wire format: JSON replies with `Content-Type: application/json` exactly (no
 * charset; clients compare the header string), `{code, status, message}` errors, ids as decimal
 * strings, and the small checks every request body goes through. Foreign clients differ in what
 * they send, so bodies are read whatever their content type and unknown fields are ignored.
 */
import type { ServerResponse } from 'node:http';
import { HubError } from '../../core/errors.js';
import { parseJson, readBody } from '../body.js';
import type { RequestContext } from '../router.js';

export const CODE_OK = 0;
export const CODE_ERROR = 1;
export const CODE_NOT_FOUND = 601;
export const CODE_NO_JOB = 1299;

/** Writes a JSON reply; `body` holds exactly the fields the clients expect, nothing more. */
export function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function ok(res: ServerResponse, fields: Record<string, unknown>): void {
  sendJson(res, 200, { code: CODE_OK, status: 'ok', ...fields });
}

/** The router's own "no such path" error (server.ts); kept apart from unknown objects. */
const NO_ROUTE = 'no route for ';

/**
 * Every error as `{code, status: "error", message}`. An unknown object is HTTP 404 with the
 * exact body the clients test for; everything else is code 1 with the HTTP status of the error.
 */
export function sendError(res: ServerResponse, err: HubError): void {
  if (err.code === 'not_found' && !err.message.startsWith(NO_ROUTE)) {
    sendJson(res, 404, { code: CODE_NOT_FOUND, status: 'error', message: 'Object Not Found' });
    return;
  }
  sendJson(res, err.status, { code: CODE_ERROR, status: 'error', message: err.message });
}

const invalid = (message: string) => new HubError('validation_failed', message);

/** Ids the hub can hold: longer ones cannot name anything (and would lose precision). */
const MAX_ID_DIGITS = 18;

/**
 * A path id: a decimal string (400 otherwise), returned without leading zeros. One that cannot
 * exist (0, or too long) is an unknown object.
 */
export function pathId(raw: string | undefined, what: string): string {
  if (raw === undefined || !/^\d+$/.test(raw)) {
    throw invalid(`${what} id must be a decimal string like "42", got ${JSON.stringify(raw ?? '')}`);
  }
  const id = raw.replace(/^0+(?=\d)/, '');
  if (id === '0' || id.length > MAX_ID_DIGITS) throw new HubError('not_found', `${what} ${raw} not found`);
  return id;
}

export type Body = Record<string, unknown>;

/**
 * Reads a JSON object body (any content type; an empty body is `{}` when `emptyOk`), at most
 * `maxJsonBytes`.
 */
export async function readObject(c: RequestContext, emptyOk: boolean): Promise<Body> {
  const raw = await readBody(c.req, c.hub.ctx.config.maxJsonBytes);
  const value = emptyOk && raw.toString('utf8').trim() === '' ? {} : parseJson(raw);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('the body must be a JSON object');
  }
  return value as Body;
}

/** Absent and null are the same to these clients (Go's `omitempty`, Python's `None`). */
const absent = (v: unknown): v is undefined | null => v === undefined || v === null;

/**
 * An id field: a decimal string (JSON numbers are refused: ids are 64-bit and would lose
 * precision in most clients). Returns undefined when absent, null, or `"0"` where `zeroIsNone`.
 */
export function idField(
  body: Body,
  field: string,
  opts: { required?: boolean; zeroIsNone?: boolean } = {},
): string | undefined {
  const v = body[field];
  let id: string | undefined;
  if (!absent(v)) {
    if (typeof v !== 'string' || !/^\d+$/.test(v)) {
      throw invalid(`${field} must be an id as a decimal string like "42", got ${JSON.stringify(v)}`);
    }
    id = v.replace(/^0+(?=\d)/, '');
    if (id === '0' && opts.zeroIsNone) id = undefined;
    else if (id === '0' || id.length > MAX_ID_DIGITS)
      throw new HubError('not_found', `${field} ${v} not found`);
  }
  if (id === undefined && opts.required) throw invalid(`${field} is required (an id as a decimal string)`);
  return id;
}

export function stringField(
  body: Body,
  field: string,
  opts: { required?: boolean; max?: number } = {},
): string | undefined {
  const v = body[field];
  if (absent(v)) {
    if (opts.required) throw invalid(`${field} is required (a string)`);
    return undefined;
  }
  if (typeof v !== 'string') throw invalid(`${field} must be a string, got ${JSON.stringify(v)}`);
  if (opts.max !== undefined && v.length > opts.max)
    throw invalid(`${field} is longer than ${opts.max} characters`);
  return v;
}

export function stringArrayField(body: Body, field: string, maxItems = 64): string[] | undefined {
  const v = body[field];
  if (absent(v)) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw invalid(`${field} must be an array of strings, got ${JSON.stringify(v)}`);
  }
  if (v.length > maxItems) throw invalid(`${field}: at most ${maxItems} items`);
  return v as string[];
}

export function boolField(body: Body, field: string): boolean {
  const v = body[field];
  if (absent(v)) return false;
  if (typeof v !== 'boolean') throw invalid(`${field} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A number of seconds: a JSON number or a numeric string, at least 0. */
export function secondsValue(v: unknown, field: string): number | undefined {
  if (absent(v) || v === '') return undefined;
  const n =
    typeof v === 'number' ? v : typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1e9) {
    throw invalid(`${field} must be a number of seconds (0 or more), got ${JSON.stringify(v)}`);
  }
  return n;
}
