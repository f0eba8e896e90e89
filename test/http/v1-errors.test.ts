/**
 * The native API's error contract: one envelope `{error: {code, message}}`, the right status and
 * a stable code for every refusal, never a 500 for bad input, and no state change when refused.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { createJob, getJob, leaseOne, registerWorker, type Json } from '../helpers/worker.js';

function expectEnvelope(r: { status: number; body: Json }, status: number, code: string, what = ''): void {
  expect(r.status, `${what} ${JSON.stringify(r.body)}`).toBe(status);
  expect(r.body, what).toEqual({
    error: expect.objectContaining({ code, message: expect.any(String) }),
  });
  expect(
    Object.keys(r.body.error).every((k) => ['code', 'message', 'details'].includes(k)),
    what,
  ).toBe(true);
  expect(r.body.error.message.length, what).toBeGreaterThan(0);
}

/** Sends raw bytes as the body (for what fetch would not send, e.g. a wrong content-length). */
function raw(base: string, method: string, path: string, body: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: Json }>((resolve, reject) => {
    const req = request(
      base + path,
      { method, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // keep text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('malformed requests', () => {
  it('malformed JSON is 400 bad_request', async () => {
    const { url } = await testHub();
    for (const body of ['{"runtime":', '{runtime: "default"}', 'not json', '{"a":1}}', '\u0000']) {
      expectEnvelope(await api(url, 'POST', '/api/v1/jobs', body), 400, 'bad_request', body);
    }
    // An empty body where one is required.
    expectEnvelope(await api(url, 'POST', '/api/v1/jobs', ''), 400, 'bad_request', 'empty');
    expect((await api(url, 'GET', '/api/v1/jobs')).body.jobs).toEqual([]);
  });

  it('deep JSON nesting is 400 without exhausting the stack', async () => {
    const { url } = await testHub();
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expectEnvelope(await api(url, 'POST', '/api/v1/jobs', deep), 400, 'bad_request', 'deep array');
    const nestedObj = '{"a":'.repeat(200) + '1' + '}'.repeat(200);
    expectEnvelope(await api(url, 'POST', '/api/v1/jobs', nestedObj), 400, 'bad_request', 'deep object');
    // Deep nesting inside a free-form field (heartbeat progress) too.
    await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const l = await leaseOne(url, w);
    const progress = '['.repeat(1_000) + ']'.repeat(1_000);
    const r = await api(
      url,
      'POST',
      `/api/v1/jobs/${l.id}/heartbeat`,
      `{"token":"${l.token}","progress":${progress}}`,
    );
    expectEnvelope(r, 400, 'bad_request', 'deep progress');
    // Brackets inside strings do not count.
    const ok = await api(url, 'POST', `/api/v1/jobs/${l.id}/heartbeat`, {
      token: l.token,
      logs: ['['.repeat(5_000)],
    });
    expect(ok.status).toBe(200);
  });

  it('schema violations are 400 validation_failed and create nothing', async () => {
    const { url } = await testHub();
    const bodies: unknown[] = [
      [],
      'just a string',
      42,
      null,
      { runtime: 5 },
      { runtime: 'default', foo: 1 },
      { runtime: 'default', input: { text: 'a', base64: 'YQ==' } },
      { runtime: 'default', input: { base64: 'not base64!' } },
      { runtime: 'default', input: { blobId: 'abc' } },
      { runtime: 'default', input: { blobId: 7 } },
      { runtime: 'default', input: 'text' },
      { runtime: 'default', priority: 1e308 },
      { runtime: 'default', priority: 1001 },
      { runtime: 'default', priority: 1.5 },
      { runtime: 'default', priority: '1' },
      { runtime: 'default', maxAttempts: 0 },
      { runtime: 'default', maxAttempts: 1e20 },
      { runtime: 'default', timeoutMs: 99 },
      { runtime: 'default', timeoutMs: Number.MAX_SAFE_INTEGER * 4 },
      { runtime: '' },
      { runtime: 'has space' },
      { runtime: 'lua+' },
      { runtime: '+feature' },
      { runtime: 'a/b' },
      { runtime: 'x'.repeat(300) },
      { runtime: 'lua+a+b+c+d+e+f+g+h+i' },
      { runtime: 'default', tags: 'gpu' },
      { runtime: 'default', tags: [''] },
      { runtime: 'default', tags: ['has space'] },
      { runtime: 'default', tags: ['++gpu'] },
      { runtime: 'default', tags: ['x'.repeat(66)] },
      { runtime: 'default', tags: Array.from({ length: 33 }, (_, i) => `t${i}`) },
      { runtime: 'default', tags: [1] },
      { runtime: 'default', idempotencyKey: '' },
      { runtime: 'default', next: { runtime: 'bad name' } },
      { runtime: 'default', next: { input: { text: 'x' } } },
      { function: 'abc' },
      { function: 12 },
    ];
    for (const body of bodies) {
      const r = await api(url, 'POST', '/api/v1/jobs', JSON.stringify(body));
      expectEnvelope(r, 400, 'validation_failed', JSON.stringify(body).slice(0, 80));
    }
    // The same rules in a batch; one bad item refuses the whole batch.
    const batch = await api(url, 'POST', '/api/v1/jobs/batch', {
      jobs: [{ runtime: 'default' }, { runtime: 'bad name' }],
    });
    expectEnvelope(batch, 400, 'validation_failed', 'batch');
    expectEnvelope(
      await api(url, 'POST', '/api/v1/jobs/batch', { jobs: 'x' }),
      400,
      'validation_failed',
      'batch type',
    );
    expect((await api(url, 'GET', '/api/v1/jobs')).body.jobs).toEqual([]);
  });

  it('the message names the offending field, and details list the problems', async () => {
    const { url } = await testHub();
    const r = await api(url, 'POST', '/api/v1/jobs', { runtime: 'default', priority: 'high' });
    expectEnvelope(r, 400, 'validation_failed');
    expect(r.body.error.message).toContain('/priority');
    expect(r.body.error.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: '/priority' })]),
    );
  });

  it('schema violations on the worker side are 400 and change nothing', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    const w = await registerWorker(url);
    const l = await leaseOne(url, w);
    const before = await getJob(url, job.id);
    const cases: [string, unknown][] = [
      [`/api/v1/workers/${w}/lease`, { limit: 0 }],
      [`/api/v1/workers/${w}/lease`, { limit: 1001 }],
      [`/api/v1/workers/${w}/lease`, { waitMs: -1 }],
      [`/api/v1/workers/${w}/lease`, { waitMs: 1e12 }],
      [`/api/v1/workers/${w}/lease`, { tags: ['bad tag'] }],
      [`/api/v1/workers/${w}/lease`, { other: true }],
      [`/api/v1/jobs/${l.id}/heartbeat`, {}],
      [`/api/v1/jobs/${l.id}/heartbeat`, { token: 5 }],
      [`/api/v1/jobs/${l.id}/heartbeat`, { token: l.token, logs: 'line' }],
      [`/api/v1/jobs/${l.id}/complete`, { token: l.token, output: { text: 1 } }],
      [`/api/v1/jobs/${l.id}/complete`, { token: l.token, exitStatus: 'ok' }],
      [`/api/v1/jobs/${l.id}/complete`, { token: l.token, extra: 1 }],
      [`/api/v1/jobs/${l.id}/fail`, { token: l.token }],
      [`/api/v1/jobs/${l.id}/fail`, { token: l.token, error: 'x', retryable: 'no' }],
      ['/api/v1/complete', { completions: [{ jobId: 'x', token: l.token }] }],
      ['/api/v1/complete', { completions: 'all' }],
      ['/api/v1/functions', { runtime: 'bad name' }],
      ['/api/v1/functions', { name: 'f' }],
      ['/api/v1/functions', { runtime: 'default', tags: ['-'] }],
      ['/api/v1/admin/tokens', { role: 'root' }],
    ];
    for (const [path, body] of cases) {
      expectEnvelope(
        await api(url, 'POST', path, body),
        400,
        'validation_failed',
        `${path} ${JSON.stringify(body)}`,
      );
    }
    expect(await getJob(url, job.id)).toEqual(before);
    expect((await api(url, 'GET', '/api/v1/functions')).body.functions).toEqual([]);
  });

  it('bad query parameters are 400 validation_failed', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    for (const path of [
      '/api/v1/jobs?limit=abc',
      '/api/v1/jobs?limit=2.5',
      '/api/v1/jobs?state=done',
      '/api/v1/jobs?before=-1',
      `/api/v1/jobs/${job.id}/wait?timeoutMs=soon`,
      `/api/v1/jobs/${job.id}/wait?state=queued,nope`,
      '/api/v1/functions?limit=0',
      '/api/v1/functions?before=x',
    ]) {
      expectEnvelope(await api(url, 'GET', path), 400, 'validation_failed', path);
    }
  });
});

describe('routes', () => {
  it('unknown routes are 404 in the envelope', async () => {
    const { url } = await testHub();
    for (const path of [
      '/api/v1/nope',
      '/api/v1',
      '/api/v1/jobs/1/nope',
      '/api/v2/jobs',
      '/nope',
      '/api/v1/jobs/%E0%A4%A',
    ]) {
      expectEnvelope(await api(url, 'GET', path), 404, 'not_found', path);
    }
  });

  it('a wrong method is 405 with an Allow header', async () => {
    const { url } = await testHub();
    const cases: [string, string, string[]][] = [
      ['DELETE', '/api/v1/jobs', ['GET', 'POST']],
      ['PUT', '/api/v1/jobs/1', ['GET']],
      ['GET', '/api/v1/jobs/1/cancel', ['POST']],
      ['GET', '/api/v1/workers/1/lease', ['POST']],
      ['PATCH', '/api/v1/blobs', ['POST']],
      ['POST', '/healthz', ['GET']],
    ];
    for (const [method, path, allowed] of cases) {
      const r = await api(url, method, path);
      expectEnvelope(r, 405, 'method_not_allowed', `${method} ${path}`);
      const allow = (r.headers.get('allow') ?? '').split(',').map((s) => s.trim());
      expect(allow.sort(), `${method} ${path}`).toEqual(allowed);
    }
  });

  it('non-numeric and out-of-range ids are 404', async () => {
    const { url } = await testHub();
    const w = await registerWorker(url);
    for (const id of ['abc', '1a', '-1', '1.0', '0x10', '1234567890123456789012']) {
      expectEnvelope(await api(url, 'GET', `/api/v1/jobs/${id}`), 404, 'not_found', `get ${id}`);
      expectEnvelope(await api(url, 'GET', `/api/v1/jobs/${id}/explain`), 404, 'not_found', `explain ${id}`);
      expectEnvelope(await api(url, 'GET', `/api/v1/jobs/${id}/output`), 404, 'not_found', `output ${id}`);
      expectEnvelope(await api(url, 'POST', `/api/v1/jobs/${id}/cancel`), 404, 'not_found', `cancel ${id}`);
      expectEnvelope(
        await api(url, 'POST', `/api/v1/jobs/${id}/heartbeat`, { token: 't' }),
        404,
        'not_found',
        `hb ${id}`,
      );
      expectEnvelope(
        await api(url, 'POST', `/api/v1/jobs/${id}/complete`, { token: 't' }),
        404,
        'not_found',
        `complete ${id}`,
      );
      expectEnvelope(
        await api(url, 'POST', `/api/v1/jobs/${id}/fail`, { token: 't', error: 'e' }),
        404,
        'not_found',
        `fail ${id}`,
      );
      expectEnvelope(
        await api(url, 'POST', `/api/v1/workers/${id}/lease`, {}),
        404,
        'not_found',
        `lease ${id}`,
      );
      expectEnvelope(await api(url, 'GET', `/api/v1/functions/${id}`), 404, 'not_found', `function ${id}`);
    }
    // Well-formed but unknown.
    expectEnvelope(await api(url, 'GET', '/api/v1/jobs/999999999999999999'), 404, 'not_found');
    expectEnvelope(await api(url, 'GET', '/api/v1/functions/77'), 404, 'not_found');
    expect((await api(url, 'POST', `/api/v1/workers/${w}/lease`, {})).status).toBe(200);
  });
});

describe('size limits', () => {
  it('an oversized JSON body is 413 payload_too_large, declared or streamed', async () => {
    const { url } = await testHub({ maxJsonBytes: 2048 });
    const big = JSON.stringify({ runtime: 'default', input: { text: 'x'.repeat(3000) } });
    expectEnvelope(await api(url, 'POST', '/api/v1/jobs', big), 413, 'payload_too_large', 'declared');
    // Chunked (no content-length): refused while reading.
    const res = await fetch(`${url}/api/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(Buffer.from(big.slice(0, 1500)));
          c.enqueue(Buffer.from(big.slice(1500)));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expectEnvelope({ status: res.status, body: await res.json() }, 413, 'payload_too_large', 'chunked');
    // Every JSON endpoint has the same limit.
    const w = await registerWorker(url);
    const batch = JSON.stringify({ jobs: Array.from({ length: 200 }, () => ({ runtime: 'default' })) });
    expectEnvelope(await api(url, 'POST', '/api/v1/jobs/batch', batch), 413, 'payload_too_large', 'batch');
    expectEnvelope(
      await api(
        url,
        'POST',
        `/api/v1/workers/${w}/lease`,
        JSON.stringify({ tags: Array(500).fill('xxxxxxxxxx') }),
      ),
      413,
      'payload_too_large',
      'lease',
    );
    // Just under the limit is fine.
    const small = JSON.stringify({ runtime: 'default', input: { text: 'x'.repeat(1900) } });
    expect((await api(url, 'POST', '/api/v1/jobs', small)).status).toBe(201);
    expect((await api(url, 'GET', '/api/v1/jobs')).body.jobs).toHaveLength(1);
  });

  it('an inline input above the inline cap is 413', async () => {
    const { url } = await testHub({ inlineBytes: 100 });
    expectEnvelope(
      await api(url, 'POST', '/api/v1/jobs', { runtime: 'default', input: { text: 'y'.repeat(101) } }),
      413,
      'payload_too_large',
    );
    expect((await api(url, 'GET', '/api/v1/jobs')).body.jobs).toEqual([]);
  });
});

describe('never a 500', () => {
  it('answers a barrage of odd requests with 4xx envelopes', async () => {
    const { url } = await testHub();
    const job = await createJob(url, { runtime: 'default' });
    // A worker of another runtime: its lease calls that are valid find nothing to take.
    const w = await registerWorker(url, { runtimes: ['other'] });
    const leasePath = `/api/v1/workers/${w}/lease`;
    const paths = [
      '/api/v1/jobs',
      '/api/v1/jobs/batch',
      `/api/v1/jobs/${job.id}/heartbeat`,
      `/api/v1/jobs/${job.id}/complete`,
      `/api/v1/jobs/${job.id}/fail`,
      '/api/v1/complete',
      '/api/v1/workers',
      leasePath,
      '/api/v1/functions',
      '/api/v1/admin/tokens',
    ];
    const bodies = [
      '',
      'null',
      'true',
      '[]',
      '{}',
      '"\\ud800"',
      '{"__proto__":{"polluted":1}}',
      '{"constructor":{"prototype":{}}}',
      '{"runtime":"default","tags":null}',
      '{"jobs":[null]}',
      '{"completions":[{}]}',
      '{"token":"' + 'x'.repeat(300) + '"}',
      '{"runtimes":["a+' + Array.from({ length: 50 }, (_, i) => `f${i}`).join('+') + '"]}',
      '{"limit":1,"waitMs":null}',
      '\xff\xfe',
      '{"a":' + '1'.repeat(400) + '}',
    ];
    for (const path of paths) {
      for (const body of bodies) {
        const r = await raw(url, 'POST', path, body);
        if (path === leasePath && (body === '' || body === '{}')) {
          expect(r.body).toEqual({ jobs: [] });
          continue;
        }
        expect(r.status, `${path} ${body.slice(0, 40)}`).toBeGreaterThanOrEqual(400);
        expect(r.status, `${path} ${body.slice(0, 40)}`).toBeLessThan(500);
        expect(r.body?.error?.code, `${path} ${body.slice(0, 40)}`).toEqual(expect.any(String));
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // The hub still works, and the job was never touched.
    expect((await getJob(url, job.id)).state).toBe('queued');
    expect((await api(url, 'GET', '/healthz')).status).toBe(200);
  });

  it('a body shorter than its content-length (client gone) does not break the hub', async () => {
    const { url } = await testHub();
    await new Promise<void>((resolve) => {
      const req = request(`${url}/api/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': '100' },
      });
      req.on('error', () => resolve());
      req.write('{"runtime":');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    expect((await api(url, 'GET', '/api/v1/jobs')).body.jobs).toEqual([]);
    expect((await createJob(url, { runtime: 'default' })).state).toBe('queued');
  });
});
