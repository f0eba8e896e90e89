/**
 * Sandbox escapes, against the real thing: a hub process with auth on and the real
 * `jobhub worker` process (compiled build) holding a worker token. Jobs in each runtime try to
 * read the hub's files and the worker's token, reach the network, write outside their scratch
 * space, fork without end, eat memory and disk, and kill what they can see. Every attempt must
 * fail, the job must end (failed or with an output showing the attempt failed), nothing must
 * linger on the host, and the worker must survive and run a normal job afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hardProcesses } from '../../src/agent/runtimes/default/runtime.js';
import { detectTools } from '../../src/agent/runtimes/default/sandbox.js';
import { echoModule, hugeTableModule, recursionModule, tableGrowModule } from '../agent/fixtures/wasm.js';
import { api } from '../helpers/hub.js';
import { scaled } from '../helpers/time.js';
import { ROOT, buildCli, killSpawned, runCli, spawnHub, until, type HubProcess } from '../helpers/worker.js';

const bwrap = detectTools().bwrap !== null;

/**
 * Workers run as an unprivileged user in production (deploy/systemd: User=jobhub); the kernel
 * exempts root from the process-count limit. When the tests run as root, the worker runs as
 * nobody, if this machine lets an unprivileged user make a bubblewrap sandbox.
 */
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];
const unprivileged: string[] | null = (() => {
  if (process.getuid?.() !== 0) return [];
  const probe = spawnSync(
    AS_NOBODY[0]!,
    [
      ...AS_NOBODY.slice(1),
      'bwrap',
      '--unshare-all',
      '--unshare-user',
      '--ro-bind',
      '/',
      '/',
      '--',
      '/bin/true',
    ],
    { timeout: 10_000, stdio: 'ignore' },
  );
  return probe.status === 0 ? AS_NOBODY : null;
})();
let hub: HubProcess;
let worker: ChildProcess;
let workerLog: string[] = [];
let dataDir = '';
let workerToken = '';
let admin: Record<string, string> = {};

beforeAll(async () => {
  await buildCli();
  // Not the helpers' tempDir: that one is removed after every test, and the hub lives for the file.
  dataDir = mkdtempSync(join(tmpdir(), 'jobhub-sandbox-'));
  const token = (role: string) => {
    const r = runCli(['token', 'create', '--role', role, '--data-dir', dataDir]);
    expect(r.status, r.stderr).toBe(0);
    return /jh_[A-Za-z0-9_-]+/.exec(r.stdout)![0];
  };
  workerToken = token('worker');
  admin = { authorization: `Bearer ${token('admin')}` };
  hub = await spawnHub(dataDir, ['--auth', '--lease-ms', '3000']);
  const prefix = unprivileged ?? [];
  worker = spawn(
    prefix[0] ?? process.execPath,
    [
      ...(prefix.length ? [...prefix.slice(1), process.execPath] : []),
      join(ROOT, 'bin/jobhub.js'),
      'worker',
      '--hub',
      hub.url,
      '--runtimes',
      'default,dlabLua54,wasi,js',
      '--concurrency',
      '2',
      '--memory-mb',
      '256',
      // Low, so that a fork bomb reaches it at once however slowly the machine forks.
      '--max-processes',
      '64',
      '--lease-wait',
      '1000',
      '--drain-ms',
      '1000',
      '--log-level',
      'info',
    ],
    // The token in the environment: the place a job would look for it.
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, JOBHUB_TOKEN: workerToken, JOBHUB_LOG_LEVEL: '' },
    },
  );
  workerLog = [];
  for (const s of [worker.stdout!, worker.stderr!])
    s.on('data', (c: Buffer) => workerLog.push(...c.toString().split('\n')));
  await until(async () => {
    const r = await api(hub.url, 'GET', '/api/v1/workers', undefined, admin);
    return r.status === 200 && r.body.workers.length > 0;
  }, 30_000);
}, 180_000);

afterAll(async () => {
  worker?.kill('SIGKILL');
  await killSpawned();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Final {
  id: string;
  state: string;
  error: string | null;
  output: { base64?: string; blobId?: string } | null;
}

async function run(
  runtime: string,
  code: string | Uint8Array,
  input = '',
  timeoutMs = 10_000,
): Promise<Final & { text: string }> {
  const up = await fetch(`${hub.url}/api/v1/blobs`, { method: 'POST', headers: admin, body: code });
  const blob = (await up.json()) as { id: string };
  expect(up.status, JSON.stringify(blob)).toBe(201);
  const fn = await api(hub.url, 'POST', '/api/v1/functions', { runtime, codeBlobId: blob.id }, admin);
  expect(fn.status, JSON.stringify(fn.body)).toBe(201);
  const job = await api(
    hub.url,
    'POST',
    '/api/v1/jobs',
    { function: fn.body.id, input: { text: input }, maxAttempts: 1, timeoutMs },
    admin,
  );
  expect(job.status).toBe(201);
  const done = await until(
    async () => {
      const r = await api(
        hub.url,
        'GET',
        `/api/v1/jobs/${job.body.id}/wait?timeoutMs=5000`,
        undefined,
        admin,
      );
      return ['succeeded', 'failed', 'canceled'].includes(r.body.state) ? (r.body as Final) : null;
    },
    timeoutMs + 30_000,
    10,
  );
  let text = '';
  if (done.state === 'succeeded') {
    const out = await fetch(`${hub.url}/api/v1/jobs/${done.id}/output`, { headers: admin });
    text = out.status === 200 ? await out.text() : '';
  }
  return { ...done, text };
}

/** The worker process is alive and still runs an ordinary job in `runtime`. */
async function workerSurvives(runtime: 'default' | 'dlabLua54' | 'wasi' | 'js') {
  expect(worker.exitCode, workerLog.slice(-20).join('\n')).toBeNull();
  expect(worker.signalCode).toBeNull();
  const ok =
    runtime === 'default'
      ? await run('default', '#!/bin/sh\necho alive\n')
      : runtime === 'wasi'
        ? await run('wasi', echoModule(), 'alive')
        : runtime === 'js'
          ? await run('js', 'export default async function fetch(input) { return input; }', 'alive')
          : await run('dlabLua54', 'io.write("alive")');
  expect(ok.state, JSON.stringify(ok)).toBe('succeeded');
  expect(ok.text.trim()).toBe('alive');
}

describe.skipIf(!bwrap)('default runtime (bubblewrap)', () => {
  it("cannot read the hub's files, the worker's token or other secrets", async () => {
    const script = `#!/bin/bash
D="$(cat)"
for f in "$D/jobhub.db" "$D/jobhub.db-wal" /etc/shadow /root/.bash_history /etc/ssh/ssh_host_rsa_key "${ROOT}package.json" /var/lib/postgresql; do
  if [ -e "$f" ]; then echo "SEES $f"; fi
  if cat "$f" >/dev/null 2>&1; then echo "READ $f"; fi
done
echo "TMP: $(ls -A /tmp | tr '\\n' ' ')"
cat /proc/*/environ /proc/*/cmdline 2>/dev/null | tr '\\0' '\\n'
env
find / -xdev \\( -name 'jobhub.db' -o -name 'code-*' \\) 2>/dev/null
echo DONE`;
    const r = await run('default', script, dataDir);
    expect(r.state, JSON.stringify(r)).toBe('succeeded');
    expect(r.text).toContain('DONE');
    expect(r.text).not.toMatch(/SEES|READ/);
    expect(r.text).toMatch(/^TMP: *$/m);
    expect(r.text).not.toContain(workerToken);
    expect(r.text).not.toContain('JOBHUB_TOKEN');
    expect(r.text).not.toContain('jobhub.db');
    await workerSurvives('default');
  });

  it('cannot reach the network: not the hub, not the world', async () => {
    const port = new URL(hub.url).port;
    const script = `#!/bin/bash
(exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && echo "CONNECTED hub"
(exec 3<>/dev/tcp/1.1.1.1/53) 2>/dev/null && echo "CONNECTED world"
(exec 3<>/dev/udp/8.8.8.8/53) 2>/dev/null && echo "CONNECTED udp"
getent hosts example.com && echo "RESOLVED"
echo DONE`;
    const r = await run('default', script);
    expect(r.state, JSON.stringify(r)).toBe('succeeded');
    expect(r.text).toContain('DONE');
    expect(r.text).not.toMatch(/CONNECTED|RESOLVED/);
    await workerSurvives('default');
  });

  it('cannot write outside its scratch space, and no writable place grows without bound', async () => {
    // 600 MB is more than the job's memory limit (256 MiB): tmpfs pages escape that limit, so
    // every writable mount must be sized (or read-only).
    const script = `#!/bin/sh
for f in /usr/evil /etc/evil /evil /bin/evil /job/evil; do
  (echo x > "$f") 2>/dev/null && echo "WROTE $f"
done
for f in /big /dev/big /dev/shm/big /tmp/big /job/big; do
  head -c 600000000 /dev/zero > "$f" 2>/dev/null
  echo "FILL $f $(wc -c < "$f" 2>/dev/null || echo 0)"
  rm -f "$f"
done
echo DONE`;
    const r = await run('default', script, '', 60_000);
    expect(r.state, JSON.stringify(r)).toBe('succeeded');
    expect(r.text).toContain('DONE');
    expect(r.text).not.toContain('WROTE');
    const fills = [...r.text.matchAll(/^FILL (\S+) (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])] as const);
    expect(fills).toHaveLength(5);
    for (const [f, size] of fills) expect(size, f).toBeLessThanOrEqual(256 * 1024 ** 2);
    // Nothing reached the host.
    for (const f of ['/evil', '/etc/evil', '/usr/evil', '/big']) expect(existsSync(f), f).toBe(false);
    await workerSurvives('default');
  }, 90_000);

  // A worker that is root and cannot drop to a user has no kernel bound on processes (root is
  // exempt): the test needs an unprivileged worker. The worker's limit is 64 (--max-processes).
  it.skipIf(unprivileged === null)(
    'a fork bomb is contained: ended at the process limit, bounded, nothing left on the host',
    async () => {
      // Bounded by the test itself (3000) so that a missing limit cannot hurt the machine.
      const script = `#!/bin/sh
i=0
while [ $i -lt 3000 ]; do
  sleep 271828 >/dev/null 2>&1 < /dev/null &
  i=$((i+1))
done
echo "PROCS $(ls /proc | grep -c '^[0-9]')"`;
      // A timeout far beyond what the bomb needs to reach 64 processes, even at 10 forks a second.
      const r = await run('default', script, '', 60_000);
      expect(r.state, JSON.stringify(r)).toBe('failed');
      expect(r.error).toMatch(
        /^processes: the job ran \d+ processes and threads, over the limit of 64 \(killed\)/,
      );
      // The worker's user is shared with the worker and its other jobs: the kernel's bound is the
      // user's, and the watchdog ended the job within a sample of passing 64.
      const ran = Number(/ran (\d+) processes/.exec(r.error!)![1]);
      expect(ran).toBeGreaterThan(64);
      expect(ran).toBeLessThan(hardProcesses(64, false));
      // Its processes die with it (the sandbox's PID namespace goes away with the job).
      const left = () =>
        Number(spawnSync('pgrep', ['-fc', 'sleep 271828'], { encoding: 'utf8' }).stdout.trim() || 0);
      await until(async () => left() === 0, 10_000, 100).catch(() => undefined);
      expect(left(), 'processes of the job left on the host').toBe(0);
      await workerSurvives('default');
    },
    90_000,
  );

  it('a memory bomb fails the job, not the worker', async () => {
    const r = await run(
      'default',
      '#!/bin/sh\nawk \'BEGIN { s = "xxxxxxxxxxxxxxxx"; while (1) s = s s }\'\necho "AWK rc=$?"\n',
      '',
      20_000,
    );
    // The bomb dies (out of memory) and the job goes on to report it; or the job fails outright.
    if (r.state === 'succeeded') expect(r.text).toMatch(/AWK rc=[1-9]/);
    else expect(r.state).toBe('failed');
    await workerSurvives('default');
  }, 60_000);

  it('killing everything it can see kills only its own processes', async () => {
    const r = await run('default', '#!/bin/sh\nkill -9 -1\nkill -9 1\nkill -9 $PPID\necho STILL\n');
    expect(['succeeded', 'failed']).toContain(r.state);
    await workerSurvives('default');
  });
});

describe('dlabLua54 runtime', () => {
  it('has no way to the system: no os.execute, io.popen, files, native modules or bytecode', async () => {
    const script = `
local function try(name, f)
  local ok, v = pcall(f)
  if ok and v ~= nil and v ~= false then io.write("OPEN ", name, " ", tostring(v), "\\n") else io.write("closed ", name, "\\n") end
end
try("os.execute", function() return os.execute("id") end)
try("io.popen", function() return io.popen("id"):read("a") end)
try("io.open", function() return io.open("/etc/passwd"):read("a") end)
try("io.lines", function() for l in io.lines("/etc/passwd") do return l end end)
try("loadfile", function() return loadfile("/etc/passwd") end)
try("dofile", function() return dofile("/etc/passwd") end)
try("require os", function() return require("os").execute("id") end)
try("package.loadlib", function() return package.loadlib("/lib/x86_64-linux-gnu/libc.so.6", "system") end)
try("os.getenv", function() return os.getenv("JOBHUB_TOKEN") end)
try("os.remove", function() return os.remove("/tmp/x") end)
try("bytecode", function() return load(string.dump(function() return 1 end)) end)
try("debug.getregistry", function() return debug.getregistry() end)
io.write("DONE")`;
    const r = await run('dlabLua54', script);
    expect(r.state, JSON.stringify(r)).toBe('succeeded');
    expect(r.text).toContain('DONE');
    expect(r.text).not.toMatch(/^OPEN /m);
    expect(r.text).not.toContain(workerToken);
    await workerSurvives('dlabLua54');
  });

  it('memory and CPU bombs fail the job, not the worker', async () => {
    const bombs = [
      'local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 4096) .. i end',
      'local s = string.rep("x", 2^40)',
      'local s = "x" while true do s = s .. s end',
      'while true do end',
      'local function f() return f() + 1 end f()',
      'local co = coroutine.wrap(function() while true do coroutine.yield(string.rep("y", 1e6)) end end) local t = {} while true do t[#t + 1] = co() end',
    ];
    // A short time limit: the endless loop ends at it, and the others end sooner or at it.
    for (const bomb of bombs) {
      const t0 = Date.now();
      const r = await run('dlabLua54', bomb, '', 1_000);
      expect(r.state, `${bomb}: ${JSON.stringify(r)}`).toBe('failed');
      expect(Date.now() - t0, bomb).toBeLessThan(30_000);
    }
    await workerSurvives('dlabLua54');
  }, 180_000);

  it('engine failures fail the job with a clear error, not the worker', async () => {
    const bombs: [string, RegExp][] = [
      [
        'local t = setmetatable({}, {}) getmetatable(t).__index = function(t, k) return t[k] end return t.x',
        /C stack overflow/,
      ],
      ['local function f(s) return (string.gsub(s, ".", f)) end f("x")', /C stack overflow/],
      ['local function f() return coroutine.wrap(f)() end f()', /C stack overflow/],
      ['error(string.rep("x", 2^22))', /^error: Lua error: script:1: x+$/],
      [
        'setmetatable({}, {__gc = function() while true do end end})',
        /timeout: time limit of 1000 ms exceeded/,
      ],
    ];
    for (const [bomb, message] of bombs) {
      const r = await run('dlabLua54', bomb, '', 1_000);
      expect(r.state, `${bomb}: ${JSON.stringify(r)}`).toBe('failed');
      expect(r.error, bomb).toMatch(message);
    }
    await workerSurvives('dlabLua54');
  }, 180_000);
});

// A WASI module that calls path_open (on fd 3, which no preopen backs) and exits with the errno,
// and one importing a host function WASI does not provide. Hand-assembled (no assembler here).
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const str = (s: string) => [...uleb(s.length), ...Buffer.from(s)];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const I32 = 0x7f;
const I64 = 0x7e;
function wasm(
  imports: { module: string; name: string; type: number }[],
  types: number[][],
  body: number[],
  data: number[] = [],
): Uint8Array {
  const code = [0, ...body, 0x0b];
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, vec(types)),
    ...section(2, vec(imports.map((i) => [...str(i.module), ...str(i.name), 0x00, i.type]))),
    ...section(3, vec([[types.length - 1]])),
    ...section(5, vec([[0x00, 1]])),
    ...section(
      7,
      vec([
        [...str('memory'), 0x02, 0],
        [...str('_start'), 0x00, imports.length],
      ]),
    ),
    ...section(10, vec([[...uleb(code.length), ...code]])),
    ...(data.length ? section(11, vec([[0x00, 0x41, 0, 0x0b, ...uleb(data.length), ...data]])) : []),
  ]);
}
const PATH = [...Buffer.from('/etc/passwd')];
/** path_open(3, 0, 0, len, 0, all rights, all rights, 0, 100) then proc_exit(errno). */
const pathOpenModule = wasm(
  [
    { module: 'wasi_snapshot_preview1', name: 'path_open', type: 0 },
    { module: 'wasi_snapshot_preview1', name: 'proc_exit', type: 1 },
  ],
  [
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I64], [I64], [I32], [I32]]), ...vec([[I32]])],
    [0x60, ...vec([[I32]]), 0],
    [0x60, 0, 0],
  ],
  [
    0x41,
    3,
    0x41,
    0,
    0x41,
    0,
    0x41,
    PATH.length,
    0x41,
    0,
    0x42,
    0x7f,
    0x42,
    0x7f,
    0x41,
    0,
    0x41,
    0xe4,
    0x00,
    0x10,
    0, // call path_open
    0x10,
    1, // call proc_exit(errno)
  ],
  PATH,
);
const foreignImportModule = wasm(
  [{ module: 'env', name: 'system', type: 0 }],
  [
    [0x60, ...vec([[I32]]), ...vec([[I32]])],
    [0x60, 0, 0],
  ],
  [0x41, 0, 0x10, 0, 0x1a],
);
/** memory.grow(1) until it fails, then loop forever. */
const growModule = wasm([], [[0x60, 0, 0]], [0x03, 0x40, 0x41, 1, 0x40, 0x00, 0x1a, 0x0c, 0, 0x0b]);

describe('wasi runtime', () => {
  it('has no files to open, no foreign host functions, bounded memory and time', async () => {
    const open = await run('wasi', pathOpenModule);
    expect(open.state, JSON.stringify(open)).toBe('failed');
    // proc_exit(errno): a non-zero errno (EBADF: no such descriptor) — the open failed.
    expect(open.error).not.toMatch(/status 0\b/);
    const foreign = await run('wasi', foreignImportModule);
    expect(foreign.state, JSON.stringify(foreign)).toBe('failed');
    const t0 = Date.now();
    const grow = await run('wasi', growModule, '', 3_000);
    expect(grow.state, JSON.stringify(grow)).toBe('failed');
    expect(Date.now() - t0).toBeLessThan(30_000);
    await workerSurvives('dlabLua54');
  }, 90_000);

  it('a module declaring a 10M-entry table (it used to abort the worker) fails alone; so do table.grow and recursion', async () => {
    const table = await run('wasi', hugeTableModule());
    expect(table.state, JSON.stringify(table)).toBe('failed');
    expect(table.error).toMatch(/bad_code: the module's tables have 10000000 entries at start/);
    const grow = await run('wasi', tableGrowModule());
    expect(grow.error).toMatch(/error: wasm trap: unreachable/);
    const deep = await run('wasi', recursionModule());
    expect(deep.error).toMatch(/error: wasm trap: Maximum call stack size exceeded/);
    await workerSurvives('wasi');
    await workerSurvives('dlabLua54');
  }, 90_000);
});

/** A Pleiades function whose body is `body` (inside `async function fetch(input)`). */
const jsFunction = (body: string) => `export default async function fetch(input) {\n${body}\n}\n`;

describe('js runtime', () => {
  it(
    'endless loops, memory bombs, deep recursion and huge strings fail the job with a clear error, not the worker',
    async () => {
      // The loops' limit is short: what counts is that the limit ends them, not how long it is.
      const cpuLimit = /^timeout: (CPU )?time limit of 1000 ms exceeded/;
      const memory = /^memory: memory limit of 268435456 bytes exceeded \(out of memory\)$/;
      // [name, body of fetch, job timeout, the error]. The memory bombs get long timeouts: their
      // outcome must be the memory limit, however slowly this machine hands out fresh pages.
      const bombs: [string, string, number, RegExp][] = [
        ['endless loop', 'for (;;) {}', 1_000, cpuLimit],
        ['endless loop that catches', 'for (;;) { try { for (;;) {} } catch (e) {} }', 1_000, cpuLimit],
        [
          'buffer bomb',
          'const keep = []; for (;;) keep.push(new Uint8Array(1 << 20));',
          scaled(10_000),
          memory,
        ],
        [
          'object bomb',
          'const keep = []; for (let i = 0; ; i++) keep.push({ i, a: [i, i, i] });',
          scaled(20_000),
          memory,
        ],
        [
          'deep recursion',
          'const f = (n) => f(n + 1) + 1; return f(0);',
          3_000,
          /^error: InternalError: stack overflow/,
        ],
        ['huge string', 'return "x".repeat(2 ** 31);', 3_000, /^error: RangeError: invalid repeat count/],
        [
          'doubling string',
          'let s = "x"; for (;;) s += s;',
          scaled(10_000),
          /^(memory: memory limit of 268435456 bytes exceeded|error: InternalError: string too long)/,
        ],
        // One builtin call, which the interrupt handler does not see (QuickJS checks it between
        // bytecodes): it ends at the engine's memory maximum, or the engine thread is stopped a
        // second after the job's time limit.
        [
          'half a GiB string built in one call',
          'return "x".repeat(2 ** 29).length;',
          3_000,
          /^(memory: memory limit of 268435456 bytes exceeded|timeout: time limit of 3000 ms exceeded \(the JavaScript engine thread was stopped\))/,
        ],
      ];
      for (const [name, body, timeoutMs, error] of bombs) {
        const r = await run('js', jsFunction(body), '', timeoutMs);
        expect(r.state, `${name}: ${JSON.stringify(r)}`).toBe('failed');
        expect(r.error, name).toMatch(error);
        await workerSurvives('js');
      }
    },
    scaled(200_000),
  );

  it('cannot reach Node APIs, the environment or the network', async () => {
    const attempts: [string, string, RegExp][] = [
      ['process', 'return process.env.JOBHUB_TOKEN;', /^error: ReferenceError: 'process' is not defined/],
      [
        'require',
        'return require("fs").readFileSync("/etc/passwd");',
        /^error: ReferenceError: 'require' is not defined/,
      ],
      [
        'import("fs")',
        'const fs = await import("fs"); return fs.readFileSync("/etc/passwd");',
        /module 'fs' is not available in the jobhub sandbox/,
      ],
      [
        'import("node:child_process")',
        'const cp = await import("node:child_process"); return cp.execSync("id");',
        /module 'node:child_process' is not available in the jobhub sandbox/,
      ],
      [
        'the Function constructor',
        'return globalThis.constructor.constructor("return process")().env.JOBHUB_TOKEN;',
        /^error: ReferenceError: 'process' is not defined/,
      ],
      [
        'a host object behind a prototype',
        'return Object.getPrototypeOf(async () => {}).constructor("return process")();',
        /^error: ReferenceError: 'process' is not defined/,
      ],
      [
        'the global fetch',
        'return await globalThis.fetch("http://127.0.0.1/");',
        /^error: TypeError: not a function/,
      ],
      [
        'HttpClient without --allow-net',
        `return await new HttpClient().get(${JSON.stringify(`${hub.url}/api/v1/workers`)});`,
        /^error: Error: HttpClient: network access to 127\.0\.0\.1:\d+ is denied/,
      ],
    ];
    for (const [name, body, error] of attempts) {
      const r = await run('js', jsFunction(body));
      expect(r.state, `${name}: ${JSON.stringify(r)}`).toBe('failed');
      expect(r.error, name).toMatch(error);
      expect(r.error, name).not.toContain(workerToken);
    }
    await workerSurvives('js');
  }, 180_000);
});
