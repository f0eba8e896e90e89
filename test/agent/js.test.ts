/**
 * The `js` runtime end to end, item by item of its contract: a real hub, an in-process agent,
 * QuickJS engine threads, functions written as Pleiades functions are (an ES module whose
 * default export is `async function fetch(input)`).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntimes } from '../../src/agent/runtimes/index.js';
import { sharedHub, testHub } from '../helpers/hub.js';
import { openEvents, uploadBlob, type SseEvent } from '../helpers/worker.js';
import { final, fn, output, runOnce, sharedAgent, startAgent, submit } from './helpers.js';

// Tests that only run jobs share a hub and an agent (engine threads take long to start); those
// that configure the worker differently, or start it late, have their own.
const shared = sharedHub();
sharedAgent(() => shared.url, ['js']);

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A local HTTP server that echoes method and body, and redirects /away to `away`. */
async function echoServer(away = 'http://127.0.0.2:1/'): Promise<string> {
  const server = createServer((req, res) => {
    if (req.url === '/away') {
      res.writeHead(302, { location: away }).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(`${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const js = (body: string) => `async function fetch(input) {\n${body}\n}\nexport default fetch;\n`;

describe('js: the contract', () => {
  it('calls the default export with the input as a Uint8Array; a string result is the output in UTF-8', async () => {
    const { url } = shared;
    const code = js(`
      if (!(input instanceof Uint8Array)) throw new Error('not a Uint8Array');
      return new TextDecoder().decode(input).toUpperCase() + ' · ' + input.length;`);
    const job = await runOnce(url, 'js', code, 'héllo');
    expect(job.state, job.error ?? '').toBe('succeeded');
    expect((await output(url, job.id)).toString()).toBe('HÉLLO · 6');
  });

  it('turns a Uint8Array or ByteData into its bytes, other values into toString(), null/undefined into nothing', async () => {
    const { url } = shared;
    const bytes = Buffer.from([0, 1, 2, 255, 254, 10, 0]);
    const reversed = await runOnce(url, 'js', js('return input.slice().reverse();'), bytes);
    expect([...(await output(url, reversed.id))]).toEqual([...bytes].reverse());
    const byteData = await runOnce(url, 'js', js('return ByteData.fromIntU8Array(input);'), bytes);
    expect([...(await output(url, byteData.id))]).toEqual([...bytes]);
    const cases: [string, string][] = [
      ['return 42;', '42'],
      ['return { toString() { return "custom"; } };', 'custom'],
      ['return { a: 1 };', '[object Object]'],
      ['return [1, 2];', '1,2'],
      ['return true;', 'true'],
      ['return null;', ''],
      ['return undefined;', ''],
      ['', ''],
    ];
    for (const [body, want] of cases) {
      const job = await runOnce(url, 'js', js(body));
      expect(job.state, `${body}: ${job.error}`).toBe('succeeded');
      expect((await output(url, job.id)).toString(), body).toBe(want);
    }
  });

  it('fails a job whose function throws, with the message and the stack', async () => {
    const { url } = shared;
    const code = `function inner() {\n  throw new TypeError('boom: ' + 6 * 7);\n}\nexport default async function fetch(input) {\n  inner();\n}\n`;
    const job = await runOnce(url, 'js', code);
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/^error: TypeError: boom: 42/);
    expect(job.error).toMatch(/at inner \(function\.js:2/);
    const rejected = await runOnce(url, 'js', js('await sleep(1); throw "plain string";'));
    expect(rejected.error).toBe('error: Uncaught plain string');
  });

  it('refuses a module that does not parse (bad_code, with the line) or has no default export', async () => {
    const { url } = shared;
    const syntax = await runOnce(url, 'js', 'export default async function fetch(input) {\n  return (;\n}');
    expect(syntax.state).toBe('failed');
    expect(syntax.error).toMatch(/^bad_code: the JavaScript module does not parse: .*\(line 2/);
    const none = await runOnce(url, 'js', 'export const x = 1;');
    expect(none.error).toMatch(/the module must have a default export/);
  });

  it('accepts TypeScript: types are stripped before the module runs', async () => {
    const { url } = shared;
    const code = `
      interface Greeting { text: string; times: number }
      type Bytes = Uint8Array;
      function greet(g: Greeting): string { return g.text.repeat(g.times); }
      export default async function fetch(input: Bytes): Promise<string> {
        const n = input.length as number;
        return greet({ text: 'ts', times: n } satisfies Greeting);
      }`;
    const job = await runOnce(url, 'js', code, 'abc');
    expect(job.state, job.error ?? '').toBe('succeeded');
    expect((await output(url, job.id)).toString()).toBe('tststs');
  });

  it('console goes to the job log', async () => {
    const { url } = await testHub();
    const id = await submit(url, {
      function: await fn(
        url,
        'js',
        js(
          `console.log('hello', 42, { a: 1 }); console.error('bad thing'); console.log(new TextEncoder().encode('ab')); return 'ok';`,
        ),
      ),
    });
    // The worker starts after we listen, so no line can be missed.
    const events = await openEvents(`${url}/api/v1/jobs/${id}/events`);
    await startAgent(url, ['js']);
    const seen: SseEvent[] = [];
    for (let e = await events.next(); e; e = await events.next()) seen.push(e);
    events.close();
    const lines = seen.filter((e) => e.event === 'log').flatMap((e) => (e.data as { lines: string[] }).lines);
    expect(lines).toEqual(['hello 42 {"a":1}', '[error] bad thing', 'Uint8Array(2) [97, 98]']);
    expect((await final(url, id)).state).toBe('succeeded');
  });

  it('TextEncoder/TextDecoder, ByteData conversions, sleep, yieldNow and blockingSleep', async () => {
    const { url } = shared;
    const code = js(`
      const enc = new TextEncoder().encode('日本');
      const bd = ByteData.fromIntU8Array(enc);
      const back = bd.toIntU8Array();
      const parts = [enc.length, bd instanceof ByteData, bd instanceof Uint8Array, back.constructor.name];
      parts.push(new TextDecoder().decode(back));
      let fatal = 'no error';
      try { new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xff])); } catch (e) { fatal = e.name; }
      parts.push(fatal);
      const t0 = Date.now();
      await sleep(50);
      await yieldNow();
      blockingSleep(30);
      parts.push(Date.now() - t0 >= 75);
      return parts.join(',');`);
    const job = await runOnce(url, 'js', code);
    expect(job.state, job.error ?? '').toBe('succeeded');
    expect((await output(url, job.id)).toString()).toBe('6,true,true,Uint8Array,日本,TypeError,true');
  });

  it('pleiades module: blob.get returns ByteData, blob.post returns the new id, both through the hub', async () => {
    const { url } = shared;
    const stored = await uploadBlob(url, Buffer.from('stored bytes'));
    const code = `
      import { blob } from "pleiades";
      async function fetch(input) {
        const id = new TextDecoder().decode(input);
        const data = await blob.get(id);
        if (!(data instanceof ByteData)) throw new Error('not ByteData');
        const upper = new TextDecoder().decode(data).toUpperCase();
        const newId = await blob.post(new TextEncoder().encode(upper));
        return typeof newId + ':' + newId;
      }
      export default fetch;`;
    const job = await runOnce(url, 'js', code, stored.id);
    expect(job.state, job.error ?? '').toBe('succeeded');
    const [type, newId] = (await output(url, job.id)).toString().split(':');
    expect(type).toBe('string');
    expect(await (await fetch(`${url}/api/v1/blobs/${newId}`)).text()).toBe('STORED BYTES');
    const missing = await runOnce(
      url,
      'js',
      `import { blob } from "pleiades";\nexport default async () => blob.get("999999");`,
    );
    expect(missing.state).toBe('failed');
    expect(missing.error).toMatch(/blob\.get: .*not found/i);
  });

  it('pleiades module: ai.infer fails clearly; other modules are not available', async () => {
    const { url } = shared;
    const ai = await runOnce(
      url,
      'js',
      `import { ai } from "pleiades";\nexport default async () => ai.infer("model", new Uint8Array());`,
    );
    expect(ai.state).toBe('failed');
    expect(ai.error).toMatch(/ai\.infer is not available: this worker has no model runtime configured/);
    const fs = await runOnce(
      url,
      'js',
      `import { readFileSync } from "fs";\nexport default async () => readFileSync("/etc/passwd");`,
    );
    expect(fs.state).toBe('failed');
    expect(fs.error).toMatch(/module 'fs' is not available in the jobhub sandbox/);
  });

  it('HttpClient is denied unless the worker allows the host, with a clear error', async () => {
    const { url } = await testHub();
    const host = await echoServer();
    await startAgent(url, (dir) =>
      createRuntimes(['js'], { threads: 2, workDir: dir, memoryBytes: 256 * 1024 ** 2 }),
    );
    const job = await runOnce(url, 'js', js(`return await new HttpClient().get('http://${host}/x');`));
    expect(job.state).toBe('failed');
    expect(job.error).toContain(
      `HttpClient: network access to ${host} is denied (this worker allows no hosts; see jobhub worker --allow-net)`,
    );
  });

  it('HttpClient get and post reach an allowed host; a redirect to another host is denied', async () => {
    const { url } = await testHub();
    const host = await echoServer('http://127.0.0.1:9/elsewhere');
    await startAgent(url, (dir) =>
      createRuntimes(['js'], { threads: 2, workDir: dir, memoryBytes: 256 * 1024 ** 2, allowNet: [host] }),
    );
    const code = js(`
      const c = new HttpClient();
      const got = new TextDecoder().decode(await c.get('http://${host}/get'));
      const posted = new TextDecoder().decode(await c.post('http://${host}/post', new TextEncoder().encode('payload')));
      return got + '|' + posted;`);
    const job = await runOnce(url, 'js', code);
    expect(job.state, job.error ?? '').toBe('succeeded');
    expect((await output(url, job.id)).toString()).toBe('GET /get |POST /post payload');
    const away = await runOnce(url, 'js', js(`return await new HttpClient().get('http://${host}/away');`));
    expect(away.state).toBe('failed');
    expect(away.error).toContain('network access to 127.0.0.1:9 is denied');
    const otherPort = await runOnce(
      url,
      'js',
      js(`return await new HttpClient().get('http://127.0.0.1:9/');`),
    );
    expect(otherPort.error).toContain('network access to 127.0.0.1:9 is denied');
  });

  it('refuses --allow-net entries that are not host or host:port, naming the entry', () => {
    const make = (allowNet: string[]) => () =>
      createRuntimes(['js'], { threads: 1, workDir: '/tmp', memoryBytes: 1, allowNet });
    for (const bad of ['http://example.com', 'example.com:0', 'example.com:99999', 'a b', 'host:port'])
      expect(make([bad]), bad).toThrow(`--allow-net entry ${JSON.stringify(bad)} is not host or host:port`);
  });

  it('serves other runtime names with the js engine (--runtime-alias)', async () => {
    const { url } = await testHub();
    const { agent } = await startAgent(url, (dir) =>
      createRuntimes([], {
        threads: 2,
        workDir: dir,
        memoryBytes: 256 * 1024 ** 2,
        aliases: ['pleiades+example=js', 'test6_0-0_o=js'],
      }),
    );
    expect(agent.runtimeNames).toEqual(['pleiades+example', 'test6_0-0_o']);
    for (const runtime of ['pleiades+example', 'pleiades', 'test6_0-0_o']) {
      const job = await runOnce(url, runtime, js(`return 'ran as js';`));
      expect(job.state, `${runtime}: ${job.error}`).toBe('succeeded');
      expect((await output(url, job.id)).toString()).toBe('ran as js');
    }
    expect(() =>
      createRuntimes([], { threads: 1, workDir: '/tmp', memoryBytes: 1, aliases: ['x=dlabLua54'] }),
    ).toThrow(/must be NAME=js/);
  });
});
