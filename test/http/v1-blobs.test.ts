/** Native API: blobs (streamed upload, content addressing, download with ETag and Range, limits). */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';
import { scaled } from '../helpers/time.js';
import { uploadBlob } from '../helpers/worker.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('POST /api/v1/blobs', () => {
  it('stores raw bytes: 201 {id, sha256, size}; the same bytes get the same id', async () => {
    const { url } = await testHub();
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const a = await uploadBlob(url, bytes);
    expect(a).toMatchObject({ id: expect.stringMatching(/^\d+$/), sha256: sha(bytes), size: 5000 });
    const b = await uploadBlob(url, bytes);
    expect(b.id).toBe(a.id);
    const c = await uploadBlob(url, Buffer.from('other bytes'));
    expect(c.id).not.toBe(a.id);
    const meta = await api(url, 'GET', `/api/v1/blobs/${a.id}/meta`);
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({ id: a.id, sha256: sha(bytes), size: 5000 });
  });

  it('accepts an empty blob and a body without content-type', async () => {
    const { url } = await testHub();
    const empty = await uploadBlob(url, new Uint8Array(0));
    expect(empty).toMatchObject({ size: 0, sha256: sha(new Uint8Array(0)) });
    const res = await fetch(`${url}/api/v1/blobs`, { method: 'POST', body: new Uint8Array([1, 2, 3]) });
    expect(res.status).toBe(201);
  });

  it('streams a chunked upload of unknown length', async () => {
    const { url } = await testHub();
    const chunks = [Buffer.alloc(40_000, 1), Buffer.alloc(40_000, 2), Buffer.alloc(123, 3)];
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const x of chunks) c.enqueue(x);
        c.close();
      },
    });
    const res = await fetch(`${url}/api/v1/blobs`, { method: 'POST', body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(201);
    const blob = (await res.json()) as { id: string; size: number; sha256: string };
    expect(blob.size).toBe(80_123);
    expect(blob.sha256).toBe(sha(Buffer.concat(chunks)));
  });

  it('refuses an oversize blob with 413 and stores nothing', async () => {
    const running = await testHub({ maxBlobBytes: 1000 });
    const { url } = running;
    const blobsDir = join(running.hub.ctx.config.dataDir, 'blobs');
    const big = Buffer.alloc(1001, 9);
    const r = await fetch(`${url}/api/v1/blobs`, {
      method: 'POST',
      body: big,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({
      error: { code: 'payload_too_large', message: expect.any(String) },
    });
    // Without a content-length the limit is enforced while streaming.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(Buffer.alloc(600, 1));
        c.enqueue(Buffer.alloc(600, 2));
        c.close();
      },
    });
    const chunked = await fetch(`${url}/api/v1/blobs`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(((await chunked.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    // A large streamed upload is cut off, and the client still reads the 413.
    let sent = 0;
    const large = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 2 * 1024 * 1024) return c.close();
        sent += 64 * 1024;
        c.enqueue(Buffer.alloc(64 * 1024, 3));
      },
    });
    const largeRes = await fetch(`${url}/api/v1/blobs`, {
      method: 'POST',
      body: large,
      duplex: 'half',
    } as RequestInit);
    expect(largeRes.status).toBe(413);
    await largeRes.arrayBuffer();
    expect(filesUnder(blobsDir)).toEqual([]);
    // Exactly the limit is fine, and it is the first blob recorded.
    const ok = await uploadBlob(url, Buffer.alloc(1000, 9));
    expect(ok.size).toBe(1000);
    expect(filesUnder(blobsDir)).toHaveLength(1);
    const first = await api(url, 'GET', `/api/v1/blobs/${ok.id}/meta`);
    expect(first.status).toBe(200);
    expect((await api(url, 'GET', `/api/v1/blobs/${Number(ok.id) - 1}/meta`)).status).toBe(404);
  });

  it('an upload whose client left before the store was reached is refused, and leaves no file', async () => {
    // The route awaits the caller's credentials before it streams; a client that gives up in
    // that window has closed its request already, and no 'close' event will come again.
    const running = await testHub();
    const blobsDir = join(running.hub.ctx.config.dataDir, 'blobs');
    const gone = new PassThrough();
    gone.write(Buffer.alloc(1000, 7));
    gone.destroy();
    await new Promise((r) => gone.once('close', r));
    const outcome = await Promise.race([
      running.hub.blobs.upload(gone, null).then(
        () => 'stored',
        (err: { code?: string }) => err.code,
      ),
      new Promise((r) => setTimeout(() => r('still waiting'), scaled(2_000))),
    ]);
    expect(outcome).toBe('bad_request');
    expect(filesUnder(blobsDir)).toEqual([]);
  });

  it('refuses multipart with 415', async () => {
    const { url } = await testHub();
    const form = new FormData();
    form.append('file', new Blob([Buffer.from('hello')]), 'hello.txt');
    const r = await fetch(`${url}/api/v1/blobs`, { method: 'POST', body: form });
    expect(r.status).toBe(415);
    expect(await r.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
  });
});

describe('GET /api/v1/blobs/{id}', () => {
  const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256));

  it('downloads the exact bytes as application/octet-stream with an ETag', async () => {
    const { url } = await testHub();
    const blob = await uploadBlob(url, bytes);
    const r = await fetch(`${url}/api/v1/blobs/${blob.id}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    expect(r.headers.get('content-length')).toBe('1000');
    expect(r.headers.get('accept-ranges')).toBe('bytes');
    expect(r.headers.get('etag')).toBe(`"${sha(bytes)}"`);
    expect(Buffer.from(await r.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('answers If-None-Match with 304 and no body', async () => {
    const { url } = await testHub();
    const blob = await uploadBlob(url, bytes);
    const etag = (await fetch(`${url}/api/v1/blobs/${blob.id}`)).headers.get('etag')!;
    const r = await fetch(`${url}/api/v1/blobs/${blob.id}`, { headers: { 'if-none-match': etag } });
    expect(r.status).toBe(304);
    expect(await r.text()).toBe('');
    const other = await fetch(`${url}/api/v1/blobs/${blob.id}`, {
      headers: { 'if-none-match': '"something-else"' },
    });
    expect(other.status).toBe(200);
    await other.arrayBuffer();
  });

  it('serves a Range with 206 and Content-Range', async () => {
    const { url } = await testHub();
    const blob = await uploadBlob(url, bytes);
    const cases: [string, number, number][] = [
      ['bytes=10-19', 10, 19],
      ['bytes=990-', 990, 999],
      ['bytes=-5', 995, 999],
      ['bytes=900-5000', 900, 999],
    ];
    for (const [range, start, end] of cases) {
      const r = await fetch(`${url}/api/v1/blobs/${blob.id}`, { headers: { range } });
      expect(r.status, range).toBe(206);
      expect(r.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/1000`);
      expect(r.headers.get('content-length'), range).toBe(String(end - start + 1));
      expect(Buffer.from(await r.arrayBuffer()).equals(bytes.subarray(start, end + 1)), range).toBe(true);
    }
    // A malformed Range is ignored: the whole blob.
    const whole = await fetch(`${url}/api/v1/blobs/${blob.id}`, { headers: { range: 'lines=1-2' } });
    expect(whole.status).toBe(200);
    expect((await whole.arrayBuffer()).byteLength).toBe(1000);
  });

  it('answers an unsatisfiable Range with 416 and the size', async () => {
    const { url } = await testHub();
    const blob = await uploadBlob(url, bytes);
    const r = await fetch(`${url}/api/v1/blobs/${blob.id}`, { headers: { range: 'bytes=5000-' } });
    expect(r.status).toBe(416);
    expect(r.headers.get('content-range')).toBe('bytes */1000');
    expect(await r.json()).toMatchObject({ error: { code: 'range_not_satisfiable' } });
  });

  it('answers HEAD with the headers only', async () => {
    const { url } = await testHub();
    const blob = await uploadBlob(url, bytes);
    const r = await fetch(`${url}/api/v1/blobs/${blob.id}`, { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe('1000');
    expect(await r.text()).toBe('');
  });

  it('404s unknown and malformed ids in the envelope', async () => {
    const { url } = await testHub();
    for (const id of ['424242', 'abc', '1.5', '-1', '99999999999999999999']) {
      const r = await api(url, 'GET', `/api/v1/blobs/${id}`);
      expect(r.status, id).toBe(404);
      expect(r.body, id).toMatchObject({ error: { code: 'not_found', message: expect.any(String) } });
      expect((await api(url, 'GET', `/api/v1/blobs/${id}/meta`)).status, id).toBe(404);
    }
  });
});
