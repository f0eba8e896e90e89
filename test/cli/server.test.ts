/** The real `jobhub` command in child processes: help, server start/stop, tokens. */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, tempDir } from '../helpers/hub.js';
import { bearer, buildCli, killSpawned, registerWorker, runCli, spawnHub, until } from '../helpers/worker.js';
import { scaled } from '../helpers/time.js';

beforeAll(() => buildCli(), scaled(60_000));
afterEach(() => killSpawned());

describe('jobhub --help', () => {
  it('lists the server and token commands', () => {
    const r = runCli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\s*server\b/m);
    expect(r.stdout).toMatch(/^\s*token\b/m);
    const server = runCli(['server', '--help']);
    expect(server.status).toBe(0);
    for (const flag of ['--port', '--data-dir', '--auth', '--lease-ms', '--log-level'])
      expect(server.stdout).toContain(flag);
  });

  it('refuses a bad setting with exit status 2 and the setting named', () => {
    const r = runCli(['server', '--port', '70000', '--data-dir', tempDir()]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/port/);
  });

  it('refuses an unknown durability from the flag and from the environment', () => {
    const flag = runCli(['server', '--durability', 'none', '--data-dir', tempDir()]);
    expect(flag.status).not.toBe(0);
    expect(flag.stderr).toMatch(/durability.*full, relaxed/s);
    const env = runCli(['server', '--data-dir', tempDir()], { env: { JOBHUB_DURABILITY: 'fast' } });
    expect(env.status).toBe(2);
    expect(env.stderr).toContain('durability must be full or relaxed, got fast');
  });
});

describe('jobhub server', () => {
  it('starts on port 0, logs its url, answers /healthz, and stops on SIGTERM after answering a parked long-poll', async () => {
    const dir = tempDir();
    const hub = await spawnHub(dir);
    expect(hub.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await api(hub.url, 'GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });

    const w = await registerWorker(hub.url);
    const t0 = Date.now();
    const parked = api(hub.url, 'POST', `/api/v1/workers/${w}/lease`, { waitMs: 10_000 });
    // Wait until the lease request is really parked in the hub.
    await until(async () =>
      /jobhub_parked_lease_requests 1\b/.test(await (await fetch(`${hub.url}/metrics`)).text()),
    );
    hub.proc.kill('SIGTERM');
    const answer = await parked;
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ jobs: [] });
    expect(Date.now() - t0).toBeLessThan(5_000);
    const exit = await hub.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    // Gone: new connections are refused.
    await expect(fetch(`${hub.url}/healthz`)).rejects.toThrow();
  });

  it('keeps jobs across a restart on the same data directory', async () => {
    const dir = tempDir();
    const first = await spawnHub(dir);
    const created = await api(first.url, 'POST', '/api/v1/jobs', {
      runtime: 'default',
      input: { text: 'kept' },
    });
    expect(created.status).toBe(201);
    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    const second = await spawnHub(dir);
    const got = await api(second.url, 'GET', `/api/v1/jobs/${created.body.id}`);
    expect(got.body).toMatchObject({
      id: created.body.id,
      state: 'queued',
      input: { base64: Buffer.from('kept').toString('base64') },
    });
    second.proc.kill('SIGINT');
    expect((await second.exited).code).toBe(0);
  });
});

describe('jobhub token create', () => {
  it('prints a token that works against a server started with --auth', async () => {
    const dir = tempDir();
    const client = runCli(['token', 'create', '--role', 'client', '--name', 'ci', '--data-dir', dir]);
    expect(client.status).toBe(0);
    const token = client.stdout.trim();
    expect(token).toMatch(/^jh_[A-Za-z0-9_-]{20,}$/);
    expect(client.stderr).toMatch(/client token/);
    const worker = runCli(['token', 'create', '--role', 'worker', '--data-dir', dir]);
    const workerToken = worker.stdout.trim();
    expect(workerToken).not.toBe(token);
    expect(runCli(['token', 'create', '--role', 'root', '--data-dir', dir]).status).not.toBe(0);

    const hub = await spawnHub(dir, ['--auth']);
    expect((await api(hub.url, 'GET', '/api/v1/jobs')).status).toBe(401);
    expect((await api(hub.url, 'GET', '/api/v1/jobs', undefined, bearer('jh_not_a_token'))).status).toBe(401);
    const list = await api(hub.url, 'GET', '/api/v1/jobs', undefined, bearer(token));
    expect(list.status).toBe(200);
    expect(list.body.jobs).toEqual([]);
    const job = await api(hub.url, 'POST', '/api/v1/jobs', { runtime: 'default' }, bearer(token));
    expect(job.status).toBe(201);
    // Roles hold: the client token cannot register a worker, the worker token can.
    expect(
      (await api(hub.url, 'POST', '/api/v1/workers', { runtimes: ['default'] }, bearer(token))).status,
    ).toBe(403);
    expect(
      (await api(hub.url, 'POST', '/api/v1/workers', { runtimes: ['default'] }, bearer(workerToken))).status,
    ).toBe(201);
    hub.proc.kill('SIGTERM');
    expect((await hub.exited).code).toBe(0);
  });
});
