/**
 * The Pleiades v0.5 face against a real hub over raw HTTP: the seed's worker loop, wire
 * exactness (fields, content types), data upload/download and lambdas.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { testHub } from '../helpers/hub.js';
import {
  BOUNDARY,
  call,
  contract,
  expectJson,
  keys,
  multipart,
  NOT_FOUND_BODY,
  postMultipart,
  raw,
  setup,
  upload,
} from './pleiades-helpers.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('Pleiades v0.5: the seed worker loop', () => {
  for (const prefix of ['/api/v0.5', '']) {
    it(`register → contract → job → input → output → finished (${prefix || 'root paths'})`, async () => {
      const { url } = await testHub();
      const base = url + prefix;

      // A requester uploads the script and the input, creates a lambda and a job.
      const codex = await upload(base, '#!/bin/sh\ntr a-z A-Z\n');
      const lam = expectJson(await call(`${base}/lambda`, 'POST', { codex, runtime: 'default' }), 200);
      expect(keys(lam)).toEqual(['code', 'id', 'status']);
      expect(lam).toMatchObject({ code: 0, status: 'ok' });
      expect(lam.id).toMatch(/^\d+$/);
      const input = await upload(base, 'hello pleiades');

      // The worker registers (seed body) and gets its runtimes echoed.
      const reg = expectJson(
        await call(`${base}/worker`, 'POST', { runtime: ['default', 'dlabLua54'] }),
        200,
      );
      expect(keys(reg)).toEqual(['code', 'id', 'message', 'runtime', 'status']);
      expect(reg).toMatchObject({ code: 0, status: 'ok', runtime: ['default', 'dlabLua54'] });
      expect(reg.id).toMatch(/^\d+$/);

      const created = expectJson(
        await call(`${base}/job`, 'POST', { lambda: lam.id, input, tags: ['job tag'.replace(' ', '-')] }),
        200,
      );
      expect(keys(created)).toEqual(['code', 'id', 'message', 'status']);
      expect(created).toMatchObject({ code: 0, status: 'ok' });

      // contract: the seed's body; both `job` and `id` carry the job id.
      const got = await contract(base, reg.id, 5);
      expect(got).toEqual({ code: 0, status: 'ok', job: created.id, id: created.id });

      // job context while running
      const ctx = expectJson(await raw(`${base}/job/${created.id}`, 'GET'), 200);
      expect(keys(ctx)).toEqual(
        [
          'code',
          'functio',
          'id',
          'input',
          'job_input_id',
          'job_output_id',
          'job_status',
          'lambda',
          'message',
          'runtime',
          'state',
          'status',
          'tags',
        ].sort(),
      );
      expect(ctx).toEqual({
        code: 0,
        status: 'ok',
        message: 'Job found',
        id: created.id,
        state: 'Running',
        lambda: { id: lam.id, codex, runtime: 'default' },
        input: { id: input },
        tags: ['job-tag'],
        job_status: 'Running',
        job_input_id: input,
        job_output_id: '0',
        functio: lam.id,
        runtime: 'default',
      });

      // input bytes, exactly application/octet-stream
      const blob = await raw(`${base}/data/${ctx.input.id}/blob`, 'GET');
      expect(blob.status).toBe(200);
      expect(blob.headers['content-type']).toBe('application/octet-stream');
      expect(blob.text).toBe('hello pleiades');

      // output upload and the update
      const out = await postMultipart(
        `${base}/data`,
        multipart([{ name: 'file', filename: 'output', data: 'HELLO PLEIADES' }]),
      );
      const outBody = expectJson(out, 200);
      expect(keys(outBody)).toEqual(['checksum', 'code', 'id', 'message', 'status']);
      expect(outBody.checksum).toBe(sha256('HELLO PLEIADES'));
      const upd = expectJson(
        await call(`${base}/job/${created.id}`, 'POST', { state: 'finished', output: outBody.id }),
        200,
      );
      expect(upd).toEqual({ code: 0, status: 'ok', message: 'Job found' });

      const done = expectJson(await raw(`${base}/job/${created.id}`, 'GET'), 200);
      expect(done).toMatchObject({
        state: 'Finished',
        job_status: 'Finished',
        output: { id: outBody.id },
        job_output_id: outBody.id,
      });
      const result = await raw(`${base}/data/${done.output.id}/blob`, 'GET');
      expect(result.text).toBe('HELLO PLEIADES');
    });
  }

  it('answers ping at the root and under /api/v0.5/ with exact JSON', async () => {
    const { url } = await testHub();
    for (const path of ['/ping', '/api/v0.5/ping', '/api/v0.5/ping/']) {
      const r = await raw(url + path, 'GET');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.text).toBe('{"code":0,"status":"ok","message":"pong"}');
    }
  });
});

describe('Pleiades v0.5: data', () => {
  it('round-trips binary bytes with the sha256 as checksum', async () => {
    const { url } = await testHub();
    const base = `${url}/api/v0.5`;
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    const r = expectJson(
      await postMultipart(`${base}/data`, multipart([{ name: 'file', filename: 'x.bin', data: bytes }])),
      200,
    );
    expect(r).toMatchObject({ code: 0, status: 'ok', checksum: sha256(bytes) });
    expect(r.message).toBeTypeOf('string');

    const meta = expectJson(await raw(`${base}/data/${r.id}`, 'GET'), 200);
    expect(meta).toEqual({ code: 0, status: 'ok', message: 'Data found', id: r.id, checksum: sha256(bytes) });

    const back = await raw(`${base}/data/${r.id}/blob`, 'GET');
    expect(back.headers['content-type']).toBe('application/octet-stream');
    expect(back.body.equals(bytes)).toBe(true);

    const part = await raw(`${base}/data/${r.id}/blob`, 'GET', { headers: { range: 'bytes=0-9' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-type']).toBe('application/octet-stream');
    expect(part.body.equals(bytes.subarray(0, 10))).toBe(true);
  });

  it('accepts an empty file, other parts around it, and any file name', async () => {
    const { url } = await testHub();
    const body = multipart([
      { name: 'note', data: 'a plain field' },
      { name: 'other', filename: 'ignored.txt', data: 'not me' },
      { name: 'file', filename: 'empty', data: '' },
    ]);
    const r = expectJson(await postMultipart(`${url}/data`, body), 200);
    expect(r.checksum).toBe(sha256(''));
    expect((await raw(`${url}/data/${r.id}/blob`, 'GET')).body.length).toBe(0);
  });

  it('unknown data id: 404 with the exact body and application/json', async () => {
    const { url } = await testHub();
    for (const path of [
      '/data/987654321/blob',
      '/api/v0.5/data/987654321/blob',
      '/data/987654321',
      '/data/0/blob',
      '/data/1234567890123456789012/blob',
    ]) {
      const r = await raw(url + path, 'GET');
      expect(r.status, path).toBe(404);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.text).toBe(NOT_FOUND_BODY);
    }
  });

  it('bad data ids are 400, not 500', async () => {
    const { url } = await testHub();
    for (const id of ['abc', '-1', '1.5', '%20']) {
      const r = expectJson(await raw(`${url}/data/${id}/blob`, 'GET'), 400);
      expect(r.code).toBe(1);
      expect(r.status).toBe('error');
      expect(r.message).toMatch(/decimal/);
    }
  });

  it('missing file part: "http: no such file"', async () => {
    const { url } = await testHub();
    const r = await postMultipart(`${url}/data`, multipart([{ name: 'upload', filename: 'x', data: 'abc' }]));
    expect(expectJson(r, 400)).toEqual({ code: 1, status: 'error', message: 'http: no such file' });
    // A `file` field without a file name is not a file either (as Go's FormFile sees it).
    const r2 = await postMultipart(`${url}/data`, multipart([{ name: 'file', data: 'abc' }]));
    expect(expectJson(r2, 400).message).toBe('http: no such file');
  });

  it('refuses non-multipart, boundary-less, truncated and malformed bodies with 400', async () => {
    const { url } = await testHub();
    const notMultipart = await raw(`${url}/data`, 'POST', {
      body: 'raw bytes',
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(expectJson(notMultipart, 400).code).toBe(1);

    const noBoundary = await raw(`${url}/data`, 'POST', {
      body: 'x',
      headers: { 'content-type': 'multipart/form-data' },
    });
    expect(expectJson(noBoundary, 400).code).toBe(1);

    const full = multipart([{ name: 'file', filename: 'f', data: 'x'.repeat(5000) }]);
    const truncated = full.subarray(0, 3000);
    const r = await raw(`${url}/data`, 'POST', {
      body: truncated,
      headers: {
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        'content-length': truncated.length,
      },
    });
    expect(expectJson(r, 400).message).toMatch(/multipart/);

    const garbage = Buffer.from(
      `--${BOUNDARY}\r\nthis is not a header line at all\r\n\r\ndata\r\n--${BOUNDARY}--\r\n`,
    );
    expect(expectJson(await postMultipart(`${url}/data`, garbage), 400).code).toBe(1);

    // A good `file` part followed by another file part cut short: the form is broken.
    const two = multipart([
      { name: 'file', filename: 'f', data: 'complete' },
      { name: 'extra', filename: 'g', data: 'y'.repeat(5000) },
    ]);
    const cut = two.subarray(0, two.length - 2000);
    const r2 = await raw(`${url}/data`, 'POST', {
      body: cut,
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': cut.length },
    });
    expect(expectJson(r2, 400).message).toMatch(/multipart/);

    // The hub keeps serving afterwards.
    expect((await raw(`${url}/ping`, 'GET')).status).toBe(200);
  });

  it('refuses a file above maxBlobBytes with 413', async () => {
    const { url } = await testHub({ maxBlobBytes: 1024 });
    const r = await postMultipart(
      `${url}/data`,
      multipart([{ name: 'file', filename: 'big', data: Buffer.alloc(4096, 1) }]),
    );
    expect(expectJson(r, 413)).toMatchObject({ code: 1, status: 'error' });
    // Chunked (no length declared): refused while streaming, not after reading it all.
    const big = multipart([{ name: 'file', filename: 'big', data: Buffer.alloc(3 * 1024 * 1024, 1) }]);
    const chunked = await raw(`${url}/data`, 'POST', {
      body: big,
      headers: {
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        'transfer-encoding': 'chunked',
      },
    });
    expect(expectJson(chunked, 413).message).toMatch(/1024 bytes/);
    await upload(url, Buffer.alloc(1024, 2));
  });
});

describe('Pleiades v0.5: lambdas', () => {
  it('creates and reads a lambda; codex "0" means no script', async () => {
    const { url } = await testHub();
    const base = `${url}/api/v0.5`;
    const noScript = expectJson(
      await call(`${base}/lambda`, 'POST', { codex: '0', runtime: 'dlabLua54+pcli' }),
      200,
    );
    const got = expectJson(await raw(`${base}/lambda/${noScript.id}`, 'GET'), 200);
    expect(got).toEqual({ code: 0, status: 'ok', id: noScript.id, codex: '0', runtime: 'dlabLua54+pcli' });

    const codex = await upload(base, 'print(io.read("a"))');
    const withScript = expectJson(await call(`${base}/lambda`, 'POST', { codex, runtime: 'dlabLua54' }), 200);
    expect(expectJson(await raw(`${base}/lambda/${withScript.id}`, 'GET'), 200).codex).toBe(codex);
  });

  it('refuses bad lambda requests with clear errors', async () => {
    const { url } = await testHub();
    const unknownCodex = await call(`${url}/lambda`, 'POST', { codex: '424242', runtime: 'default' });
    expect(unknownCodex.status).toBe(404);
    expect(unknownCodex.text).toBe(NOT_FOUND_BODY);

    const numeric = expectJson(await call(`${url}/lambda`, 'POST', { codex: 5, runtime: 'default' }), 400);
    expect(numeric.message).toMatch(/codex/);
    expect(expectJson(await call(`${url}/lambda`, 'POST', { runtime: 'not a runtime!' }), 400).code).toBe(1);
    expect(expectJson(await call(`${url}/lambda`, 'POST', { runtime: 7 }), 400).message).toMatch(/runtime/);
    expect(expectJson(await call(`${url}/lambda`, 'POST', '{"runtime":'), 400).message).toMatch(/JSON/);
    expect(expectJson(await call(`${url}/lambda`, 'POST', '[1,2]'), 400).message).toMatch(/object/);
    expect(expectJson(await raw(`${url}/lambda`, 'POST'), 400).code).toBe(1);
    expect(expectJson(await raw(`${url}/lambda/abc`, 'GET'), 400).code).toBe(1);
    expect((await raw(`${url}/lambda/77777`, 'GET')).text).toBe(NOT_FOUND_BODY);
  });

  it('reads JSON bodies whatever the content type says', async () => {
    const { url } = await testHub();
    const r = await raw(`${url}/lambda`, 'POST', {
      body: '{"codex":"0","runtime":"default"}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(expectJson(r, 200).code).toBe(0);
    const none = await raw(`${url}/worker`, 'POST', { body: JSON.stringify({ runtime: ['default'] }) });
    expect(expectJson(none, 200).runtime).toEqual(['default']);
  });
});

describe('Pleiades v0.5: routing and errors', () => {
  it('unknown paths and methods answer in the Pleiades error format', async () => {
    const { url } = await testHub();
    const missing = expectJson(await raw(`${url}/api/v0.5/nothing/here`, 'GET'), 404);
    expect(missing).toMatchObject({ code: 1, status: 'error' });
    const method = expectJson(await raw(`${url}/api/v0.5/ping`, 'DELETE'), 405);
    expect(keys(method)).toEqual(['code', 'message', 'status']);
    expect(method).toMatchObject({ code: 1, status: 'error' });
  });

  it('a full job through setup() works at the root paths too', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    expect(await contract(url, s.worker)).toMatchObject({ job: s.job });
  });
});
