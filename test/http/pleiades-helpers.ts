/**
 * Raw HTTP for the Pleiades face tests: `node:http` requests, the way foreign clients talk, so
 * headers and bodies are seen byte for byte.
 */
import http from 'node:http';
import { expect } from 'vitest';

export interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  /** Parsed JSON, or undefined when the body is not JSON. */
  json: any;
}

export function raw(
  url: string,
  method: string,
  opts: { body?: Buffer | string; headers?: Record<string, string | number> } = {},
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A JSON request; `body` as a string is sent as is (for malformed JSON). */
export function call(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<RawReply> {
  if (body === undefined) return raw(url, method, { headers });
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return raw(url, method, { body: text, headers: { 'content-type': 'application/json', ...headers } });
}

export interface Part {
  name: string;
  filename?: string;
  data: Buffer | string;
  type?: string;
}

export const BOUNDARY = '----jobhubTestBoundary7MA4YWxkTrZu0gW';

export function multipart(parts: Part[], boundary = BOUNDARY): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename === undefined ? '' : `; filename="${p.filename}"`}`;
    const head =
      `--${boundary}\r\nContent-Disposition: ${disposition}\r\n` +
      (p.type ? `Content-Type: ${p.type}\r\n` : '') +
      '\r\n';
    out.push(Buffer.from(head), Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data), Buffer.from('\r\n'));
  }
  out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

export function postMultipart(
  url: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<RawReply> {
  return raw(url, 'POST', {
    body,
    headers: {
      'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
      'content-length': body.length,
      ...headers,
    },
  });
}

/** Uploads bytes as the `file` part (as the Rust client does) and returns the data id. */
export async function upload(
  base: string,
  data: Buffer | string,
  headers: Record<string, string> = {},
): Promise<string> {
  const r = await postMultipart(
    `${base}/data`,
    multipart([{ name: 'file', filename: 'data', data, type: 'application/octet-stream' }]),
    headers,
  );
  expect(r.status, r.text).toBe(200);
  return r.json.id as string;
}

/** Asserts a JSON reply: HTTP status, `Content-Type: application/json` exactly, and the body. */
export function expectJson(r: RawReply, status: number): any {
  expect(r.status, r.text).toBe(status);
  expect(r.headers['content-type']).toBe('application/json');
  expect(r.json).toBeTypeOf('object');
  return r.json;
}

export function keys(o: object): string[] {
  return Object.keys(o).sort();
}

export const NOT_FOUND_BODY = '{"code":601,"status":"error","message":"Object Not Found"}';

/** Registers a worker, creates a lambda and one job on `input`; returns their ids. */
export async function setup(base: string, input = 'input bytes', runtime = 'default') {
  const codex = await upload(base, '#!/bin/sh\ncat\n');
  const lambda = expectJson(await call(`${base}/lambda`, 'POST', { codex, runtime }), 200).id as string;
  const worker = expectJson(await call(`${base}/worker`, 'POST', { runtime: [runtime] }), 200).id as string;
  const inputId = await upload(base, input);
  const job = expectJson(await call(`${base}/job`, 'POST', { lambda, input: inputId, tags: [] }), 200)
    .id as string;
  return { codex, lambda, worker, input: inputId, job };
}

/** Contracts one job for `worker` (timeout 0 unless given) and returns the reply body. */
export async function contract(base: string, worker: string, timeout = 0, tags: string[] = []): Promise<any> {
  return expectJson(
    await call(`${base}/worker/${worker}/contract`, 'POST', { id: worker, tags, timeout }),
    200,
  );
}
