/** Operations endpoints: /healthz, /readyz, /metrics, /openapi.json, /docs. */
import { describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { complete, createJob, fail, leaseOne, registerWorker, sleep, until } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (enough of it for these tests). */
function parseMetrics(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(m, `malformed metrics line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const l of (m![2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m![1]!, labels, value: Number(m![3]) });
  }
  return { samples, types };
}

function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

async function scrape(url: string) {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return parseMetrics(await res.text());
}

describe('health', () => {
  it('/healthz and /readyz answer 200', async () => {
    const { url } = await testHub();
    const h = await api(url, 'GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.body).toEqual({ status: 'ok' });
    const r = await api(url, 'GET', '/readyz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ready' });
  });

  it('/readyz says 503 when the store does not answer', async () => {
    const running = await testHub();
    running.hub.ctx.store.ping = async () => {
      throw new Error('database gone');
    };
    const r = await api(running.url, 'GET', '/readyz');
    expect(r.status).toBe(503);
    expect((await api(running.url, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('/metrics', () => {
  it('counts queued and running jobs by state and runtime', async () => {
    const { url } = await testHub({ leaseMs: 30_000 });
    // Registered first: the created-jobs counter names only runtimes a live worker offers.
    const w = await registerWorker(url);
    for (let i = 0; i < 3; i++) await createJob(url, { runtime: 'default' });
    await createJob(url, { runtime: 'lua+x' });
    await leaseOne(url, w);
    const { samples, types } = await scrape(url);
    expect(types.get('jobhub_jobs')).toBe('gauge');
    expect(find(samples, 'jobhub_jobs', { state: 'queued', runtime: 'default' }).map((s) => s.value)).toEqual(
      [2],
    );
    expect(
      find(samples, 'jobhub_jobs', { state: 'running', runtime: 'default' }).map((s) => s.value),
    ).toEqual([1]);
    expect(find(samples, 'jobhub_jobs', { state: 'queued', runtime: 'lua+x' }).map((s) => s.value)).toEqual([
      1,
    ]);
    expect(find(samples, 'jobhub_jobs_created_total', { runtime: 'default' })[0]?.value).toBe(3);
    expect(find(samples, 'jobhub_jobs_created_total', { runtime: 'other' })[0]?.value).toBe(1);
    expect(find(samples, 'jobhub_leases_granted_total')[0]?.value).toBe(1);
    expect(find(samples, 'jobhub_workers_alive')[0]?.value).toBe(1);
    // The gauge follows changes (it is cached for up to a second).
    await sleep(1_100);
    await createJob(url, { runtime: 'default' });
    const after = await scrape(url);
    expect(find(after.samples, 'jobhub_jobs', { state: 'queued', runtime: 'default' })[0]?.value).toBe(3);
  });

  it('counts lease expiries, failed attempts and finished jobs; a retry is not a new job', async () => {
    const { url } = await testHub({ leaseMs: 200, retryBaseMs: 0, retryMaxMs: 0 });
    const before = await scrape(url);
    expect(find(before.samples, 'jobhub_lease_expiries_total')[0]?.value).toBe(0);
    expect(before.types.get('jobhub_lease_expiries_total')).toBe('counter');
    const w = await registerWorker(url);
    const job = await createJob(url, { runtime: 'default', maxAttempts: 5 });
    await leaseOne(url, w);
    await until(
      async () => (await api(url, 'GET', `/api/v1/jobs/${job.id}`)).body.state === 'queued',
      scaled(3_000),
    );
    const l2 = await leaseOne(url, w);
    await fail(url, l2.id, { token: l2.token, error: 'x' });
    const l3 = await leaseOne(url, w);
    await complete(url, l3.id, { token: l3.token });
    const { samples } = await scrape(url);
    expect(find(samples, 'jobhub_lease_expiries_total')[0]?.value).toBe(1);
    expect(find(samples, 'jobhub_attempts_failed_total')[0]?.value).toBe(1);
    expect(find(samples, 'jobhub_jobs_finished_total', { state: 'succeeded' })[0]?.value).toBe(1);
    expect(find(samples, 'jobhub_jobs_created_total', { runtime: 'default' })[0]?.value).toBe(1);
    expect(find(samples, 'jobhub_leases_granted_total')[0]?.value).toBe(3);
  });

  it('has a request latency histogram by face and status class', async () => {
    const { url } = await testHub();
    for (let i = 0; i < 5; i++) await api(url, 'GET', '/api/v1/jobs');
    await api(url, 'GET', '/api/v1/jobs/999');
    await api(url, 'GET', '/healthz');
    const { samples, types } = await scrape(url);
    const name = 'jobhub_http_request_duration_seconds';
    expect(types.get(name)).toBe('histogram');
    const ok = { face: 'v1', status: '2xx' };
    expect(find(samples, `${name}_count`, ok)[0]?.value).toBe(5);
    expect(find(samples, `${name}_count`, { face: 'v1', status: '4xx' })[0]?.value).toBe(1);
    expect(find(samples, `${name}_count`, { face: 'ops', status: '2xx' })[0]?.value).toBeGreaterThanOrEqual(
      1,
    );
    const buckets = find(samples, `${name}_bucket`, ok);
    expect(buckets.length).toBeGreaterThan(5);
    const values = buckets.map((b) => b.value);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(buckets.find((b) => b.labels.le === '+Inf')?.value).toBe(5);
    expect(find(samples, `${name}_sum`, ok)[0]?.value).toBeGreaterThan(0);
  });
});

describe('API description', () => {
  it('/openapi.json is an OpenAPI 3.1 document of the native API', async () => {
    const { url } = await testHub();
    const r = await api(url, 'GET', '/openapi.json');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    const doc = r.body;
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    for (const path of [
      '/api/v1/jobs',
      '/api/v1/jobs/{id}',
      '/api/v1/jobs/{id}/wait',
      '/api/v1/blobs',
      '/api/v1/workers/{id}/lease',
      '/api/v1/complete',
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(doc.paths['/api/v1/jobs'].post.requestBody.content['application/json'].schema).toMatchObject({
      type: 'object',
    });
    expect(doc.paths['/api/v1/jobs'].get).toBeDefined();
    expect(doc.paths['/api/v1/jobs/{id}'].get.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'id', in: 'path', required: true })]),
    );
    expect(doc.paths['/api/v1/blobs'].post.requestBody.content['application/octet-stream']).toBeDefined();
  });

  it('/docs is an HTML page', async () => {
    const { url } = await testHub();
    const r = await fetch(`${url}/docs`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await r.text();
    expect(html).toMatch(/<!doctype html>/i);
    expect(html).toContain('/openapi.json');
  });
});
