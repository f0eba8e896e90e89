/** Reading and checking request bodies; every failure is a HubError with a 4xx code. */
import type { IncomingMessage } from 'node:http';
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { HubError } from '../core/errors.js';

/** Reads the whole body, refusing more than `limit` bytes (checked while reading, not after). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new HubError('payload_too_large', `request body above ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Once the body is in (or refused), the listeners go: a long-poll keeps its request alive
    // for minutes, and they would keep the chunks and these closures with it.
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        req.resume();
        reject(new HubError('payload_too_large', `request body above ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      done();
      reject(new HubError('bad_request', `request body could not be read: ${err.message}`));
    };
    const onAborted = () => {
      done();
      reject(new HubError('bad_request', 'request aborted'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

const MAX_DEPTH = 64;

/** Parses JSON, refusing empty bodies, syntax errors and absurd nesting (stack safety). */
export function parseJson(body: Buffer, emptyAs?: unknown): unknown {
  if (body.length === 0) {
    if (emptyAs !== undefined) return emptyAs;
    throw new HubError('bad_request', 'a JSON body is required');
  }
  const text = body.toString('utf8');
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92) i++;
      else if (ch === 34) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 123 || ch === 91) max = Math.max(max, ++depth);
    else if (ch === 125 || ch === 93) depth--;
  }
  if (max > MAX_DEPTH) throw new HubError('bad_request', `JSON nested deeper than ${MAX_DEPTH} levels`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HubError('bad_request', `body is not valid JSON: ${(err as Error).message}`);
  }
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

/** Checks a value against a TypeBox schema; the error names the first offending field. */
export function check<T extends TSchema>(schema: T, value: unknown, what = 'body'): Static<T> {
  let c = compiled.get(schema);
  if (!c) compiled.set(schema, (c = TypeCompiler.Compile(schema)));
  if (c.Check(value)) return value as Static<T>;
  const errors = [...c.Errors(value)].slice(0, 5).map((e) => ({ path: e.path || '/', message: e.message }));
  const first = errors[0]!;
  throw new HubError(
    'validation_failed',
    `${what}${first.path === '/' ? '' : ' ' + first.path}: ${first.message}`,
    errors,
  );
}

export async function readJson<T extends TSchema>(
  req: IncomingMessage,
  schema: T,
  limit: number,
  emptyAs?: unknown,
): Promise<Static<T>> {
  return check(schema, parseJson(await readBody(req, limit), emptyAs));
}
