/**
 * Pleiades functions end to end, as the Pleiades clients drive them: raw HTTP on the Pleiades face
 * (multipart upload of the function and its input, `POST /lambda`, `POST /job`, the long-poll
 * `GET /job/{id}?except=Finished&timeout=…`, `GET /data/{id}/blob`), a hub process and a real
 * `jobhub worker --runtimes js --runtime-alias 'pleiades+example=js'` process (compiled build)
 * that runs the JavaScript. A function that throws reads `Finished` with an empty output, as the
 * original server did, so that the clients' requester code does not crash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaled } from '../helpers/time.js';
import { ROOT, buildCli, killSpawned, spawnHub, until, type HubProcess } from '../helpers/worker.js';
import { call, expectJson, raw, upload } from './pleiades-helpers.js';

let hub: HubProcess;
let base = '';
let worker: ChildProcess;
const workerLog: string[] = [];
let dataDir = '';

beforeAll(async () => {
  await buildCli();
  dataDir = mkdtempSync(join(tmpdir(), 'jobhub-pleiades-js-'));
  hub = await spawnHub(dataDir);
  base = `${hub.url}/api/v0.5`;
  worker = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/jobhub.js'),
      'worker',
      '--hub',
      hub.url,
      '--runtimes',
      'js',
      '--runtime-alias',
      'pleiades+example=js',
      '--concurrency',
      '4',
      '--log-level',
      'info',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JOBHUB_LOG_LEVEL: '' } },
  );
  for (const s of [worker.stdout!, worker.stderr!])
    s.on('data', (c: Buffer) => workerLog.push(...c.toString().split('\n')));
  await until(async () => {
    const r = await call(`${hub.url}/api/v1/workers`, 'GET');
    return r.status === 200 && r.json.workers.length > 0;
  }, scaled(30_000));
}, scaled(120_000));

afterAll(async () => {
  worker?.kill('SIGKILL');
  await killSpawned();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Uploads the function, makes a lambda for `runtime` and a job on `input`; returns the job id. */
async function submit(code: string, runtime: string, input: string): Promise<string> {
  const codex = await upload(base, code);
  const lambda = expectJson(await call(`${base}/lambda`, 'POST', { codex, runtime }), 200);
  expect(expectJson(await call(`${base}/lambda/${lambda.id}`, 'GET'), 200).runtime).toBe(runtime);
  const inputId = await upload(base, input);
  return expectJson(await call(`${base}/job`, 'POST', { lambda: lambda.id, input: inputId, tags: [] }), 200)
    .id as string;
}

/** Waits as pypleiades does: `GET /job/{id}?except=Finished&timeout=…`, again until it is. */
async function finished(id: string): Promise<any> {
  return until(
    async () => {
      const ctx = expectJson(await call(`${base}/job/${id}?except=Finished&timeout=5`, 'GET'), 200);
      return ctx.state === 'Finished' ? ctx : null;
    },
    scaled(30_000),
    10,
  );
}

async function download(id: string): Promise<Buffer> {
  const r = await raw(`${base}/data/${id}/blob`, 'GET');
  expect(r.status, r.text).toBe(200);
  expect(r.headers['content-type']).toBe('application/octet-stream');
  return r.body;
}

describe('Pleiades functions on the js runtime, through the Pleiades face and a real worker', () => {
  it('runs a JavaScript function of runtime js; the client reads Finished and downloads the output', async () => {
    const code = `
export default async function fetch(input) {
  const name = new TextDecoder().decode(input);
  await sleep(10);
  return \`hello \${name}\`;
}
`;
    const id = await submit(code, 'js', 'pleiades');
    const ctx = await finished(id);
    expect(ctx.lambda.runtime).toBe('js');
    expect(typeof ctx.output.id).toBe('string');
    expect(ctx.job_output_id).toBe(ctx.output.id);
    expect((await download(ctx.output.id)).toString()).toBe('hello pleiades');
  });

  it('runs a function of an aliased runtime (pleiades+example) with the pleiades module, bytes out', async () => {
    const code = `
import { blob } from "pleiades";

async function fetch(input) {
  const stored = await blob.post(new TextEncoder().encode("kept: " + new TextDecoder().decode(input)));
  const back = await blob.get(stored);
  const out = new Uint8Array(back.length + 1);
  out.set(back);
  out[back.length] = 33;
  console.log("stored", stored);
  return ByteData.fromIntU8Array(out);
}

export default fetch;
`;
    const id = await submit(code, 'pleiades+example', 'input');
    const ctx = await finished(id);
    expect(ctx.lambda.runtime).toBe('pleiades+example');
    expect((await download(ctx.output.id)).toString()).toBe('kept: input!');
  });

  it('a TypeScript function runs with its types stripped', async () => {
    const code = `
interface Greeting { text: string }
export default async function fetch(input: Uint8Array): Promise<string> {
  const g: Greeting = { text: 'ts ' + input.length };
  return g.text;
}
`;
    const ctx = await finished(await submit(code, 'js', 'abc'));
    expect((await download(ctx.output.id)).toString()).toBe('ts 3');
  });

  it('a function that throws reads Finished with an empty output; the error stays on the native API', async () => {
    const code = `
export default async function fetch(input) {
  throw new Error("no luck with " + new TextDecoder().decode(input));
}
`;
    const id = await submit(code, 'js', 'this input');
    const ctx = await finished(id);
    expect(typeof ctx.output.id).toBe('string');
    expect(ctx.job_output_id).toBe(ctx.output.id);
    expect((await download(ctx.output.id)).length).toBe(0);
    const native = await call(`${hub.url}/api/v1/jobs/${id}`, 'GET');
    expect(native.json.state).toBe('failed');
    expect(native.json.error).toMatch(
      /^error: Error: no luck with this input\n {2}at fetch \(function\.js:3:/,
    );
    // The worker goes on: the next job runs.
    const next = await finished(await submit('export default async (input) => input;', 'js', 'again'));
    expect((await download(next.output.id)).toString()).toBe('again');
    expect(worker.exitCode, workerLog.slice(-20).join('\n')).toBeNull();
  });
});
