/**
 * Portal test helpers: raw HTTP from a chosen loopback source address (benchmarkers are told
 * apart by IP: 127.0.0.2, 127.0.0.3, …), a contest loaded through the staff API, and a
 * contestant session.
 */
import { request, Agent } from 'node:http';
import { expect } from 'vitest';
import { api } from '../helpers/hub.js';

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

const agents = new Map<string, Agent>();
function agent(localAddress: string): Agent {
  let a = agents.get(localAddress);
  if (!a) agents.set(localAddress, (a = new Agent({ keepAlive: true, localAddress, maxSockets: 64 })));
  return a;
}

/** An HTTP request whose socket is bound to `from` (so the hub sees that source address). */
export function raw(
  base: string,
  method: string,
  path: string,
  o: { from?: string; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<RawReply> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        agent: agent(o.from ?? '127.0.0.1'),
        headers: {
          ...(o.body !== undefined ? { 'content-length': String(Buffer.byteLength(o.body)) } : {}),
          ...o.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = undefined;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

export const dequeue = (base: string, from: string, headers: Record<string, string> = {}) =>
  raw(base, 'POST', '/internal/job/dequeue/', { from, headers });

export const report = (
  base: string,
  from: string,
  id: number | string,
  body: unknown,
  headers: Record<string, string> = {},
) =>
  raw(base, 'POST', `/internal/job/${id}/report/`, {
    from,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });

export const staff = (
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) => api(base, method, `/api/portal/staff${path}`, body, headers);

export interface TeamSpec {
  name: string;
  password?: string;
  servers?: { hostname: string; global_ip: string; private_ip: string; is_bench_target: boolean }[];
}

/** Teams team0..team{n-1}, each with one bench target at 192.0.2.{i+1}. */
export function teams(n: number, from = 0): TeamSpec[] {
  return Array.from({ length: n }, (_, k) => {
    const i = k + from;
    return {
      name: `team${i}`,
      password: `pw-${i}`,
      servers: [
        {
          hostname: 's1',
          global_ip: `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}`,
          private_ip: `10.0.0.${(i % 250) + 1}`,
          is_bench_target: true,
        },
      ],
    };
  });
}

/** Loads a contest through the staff API and returns the team ids by name. */
export async function loadContest(
  base: string,
  description: Record<string, unknown>,
): Promise<Map<string, number>> {
  const r = await staff(base, 'POST', '/load', description);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const list = await staff(base, 'GET', '/teams');
  return new Map((list.body.teams as { id: number; name: string }[]).map((t) => [t.name, t.id]));
}

/** Enqueues as staff; expects 201 and returns the job id. */
export async function enqueue(base: string, team: string): Promise<number> {
  const r = await staff(base, 'POST', '/jobs', { team });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as number;
}

/** Logs a team in; returns the headers that carry its session. */
export async function login(base: string, team: string, password: string): Promise<Record<string, string>> {
  const r = await api(base, 'POST', '/api/portal/login', { team, password });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const cookie = r.headers.get('set-cookie')!.split(';')[0]!;
  return { cookie };
}

/** An open contest around the real clock (for tests that do not move time). */
export function openContest(now = Date.now()) {
  return {
    starts_at: new Date(now - 3600_000).toISOString(),
    freezes_at: new Date(now + 3600_000).toISOString(),
    ends_at: new Date(now + 7200_000).toISOString(),
  };
}
