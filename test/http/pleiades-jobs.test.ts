/**
 * Pleiades v0.5 jobs and contracts: updates (state names in any case, `status` or `state`),
 * cancels, long-polls (`except`/`timeout`, contract timeouts), pipelines, and bad input.
 */
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { testHub } from '../helpers/hub.js';
import { call, contract, expectJson, keys, NOT_FOUND_BODY, raw, setup, upload } from './pleiades-helpers.js';
import { scaled } from '../helpers/time.js';

describe('Pleiades v0.5: job updates', () => {
  for (const [key, value] of [
    ['state', 'finished'],
    ['state', 'Finished'],
    ['state', 'FINISHED'],
    ['status', 'finished'],
    ['status', 'Finished'],
  ] as const) {
    it(`finishes with {${key}: "${value}"}`, async () => {
      const { url } = await testHub();
      const s = await setup(url);
      await contract(url, s.worker);
      const out = await upload(url, 'out');
      const r = expectJson(await call(`${url}/job/${s.job}`, 'POST', { [key]: value, output: out }), 200);
      expect(r).toEqual({ code: 0, status: 'ok', message: 'Job found' });
      const ctx = expectJson(await raw(`${url}/job/${s.job}`, 'GET'), 200);
      expect(ctx.state).toBe('Finished');
      expect(ctx.output).toEqual({ id: out });
    });
  }

  it('accepts status and state together (as Python clients send) and finishes without output', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    await contract(url, s.worker);
    const r = await call(`${url}/job/${s.job}`, 'POST', {
      output: null,
      status: 'Finished',
      state: 'finished',
    });
    expect(expectJson(r, 200).code).toBe(0);
    const ctx = expectJson(await raw(`${url}/job/${s.job}`, 'GET'), 200);
    expect(ctx.state).toBe('Finished');
    // Requester code reads `output.id` of every finished job: it names an empty blob.
    expect(ctx.job_output_id).toBe(ctx.output.id);
    expect((await raw(`${url}/data/${ctx.output.id}/blob`, 'GET')).body.length).toBe(0);
  });

  it('refuses unknown, missing and conflicting states with 400', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    await contract(url, s.worker);
    for (const body of [
      { state: 'done' },
      { state: 'Running' },
      {},
      { state: 3 },
      { state: 'finished', status: 'cancelled' },
    ]) {
      const r = expectJson(await call(`${url}/job/${s.job}`, 'POST', body), 400);
      expect(r).toMatchObject({ code: 1, status: 'error' });
      expect(keys(r)).toEqual(['code', 'message', 'status']);
    }
    expect(
      expectJson(await call(`${url}/job/${s.job}`, 'POST', { state: 'finished', output: 12 }), 400).message,
    ).toMatch(/output/);
    expect(expectJson(await call(`${url}/job/${s.job}`, 'POST', '{nope'), 400).code).toBe(1);
    // Still running: nothing above changed it.
    expect(expectJson(await raw(`${url}/job/${s.job}`, 'GET'), 200).state).toBe('Running');
  });

  it('an unknown output blob is an unknown object', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    await contract(url, s.worker);
    const r = await call(`${url}/job/${s.job}`, 'POST', { state: 'finished', output: '999999' });
    expect(r.status).toBe(404);
    expect(r.text).toBe(NOT_FOUND_BODY);
  });

  it('cancelled by the worker while running, or while queued', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    await contract(url, s.worker);
    expect(expectJson(await call(`${url}/job/${s.job}`, 'POST', { state: 'Cancelled' }), 200).message).toBe(
      'Job found',
    );
    const cancelled = expectJson(await raw(`${url}/job/${s.job}`, 'GET'), 200);
    expect(cancelled.state).toBe('Cancelled');
    // Requester code that reads the output of a cancelled job finds an empty one, not nothing.
    expect(cancelled.job_output_id).toBe(cancelled.output.id);
    expect((await raw(`${url}/data/${cancelled.output.id}/blob`, 'GET')).body.length).toBe(0);

    const queued = expectJson(
      await call(`${url}/job`, 'POST', { lambda: s.lambda, input: s.input, tags: [] }),
      200,
    ).id;
    expect(expectJson(await call(`${url}/job/${queued}`, 'POST', { status: 'CANCELLED' }), 200).code).toBe(0);
    expect(expectJson(await raw(`${url}/job/${queued}`, 'GET'), 200).state).toBe('Cancelled');
    // A cancelled job is not handed out.
    expect((await contract(url, s.worker)).code).toBe(1299);
  });

  it('a final job is no longer running: 409 with code 1 (an exact repeat is acknowledged)', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    await contract(url, s.worker);
    const out = await upload(url, 'first');
    expect(
      expectJson(await call(`${url}/job/${s.job}`, 'POST', { state: 'finished', output: out }), 200).code,
    ).toBe(0);
    // The same update again (a retried request): acknowledged, nothing changes.
    expect(
      expectJson(await call(`${url}/job/${s.job}`, 'POST', { state: 'finished', output: out }), 200).code,
    ).toBe(0);

    const other = await upload(url, 'second');
    const r = expectJson(
      await call(`${url}/job/${s.job}`, 'POST', { state: 'finished', output: other }),
      409,
    );
    expect(keys(r)).toEqual(['code', 'message', 'status']);
    expect(r).toMatchObject({ code: 1, status: 'error' });
    expect(r.message).toMatch(/no longer running/);
    expect(expectJson(await call(`${url}/job/${s.job}`, 'POST', { state: 'cancelled' }), 409).code).toBe(1);
    expect(expectJson(await raw(`${url}/job/${s.job}`, 'GET'), 200).output).toEqual({ id: out });
  });

  it('finishing a queued job is refused with 409', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    const r = expectJson(await call(`${url}/job/${s.job}`, 'POST', { state: 'finished' }), 409);
    expect(r).toMatchObject({ code: 1, status: 'error' });
    expect(expectJson(await raw(`${url}/job/${s.job}`, 'GET'), 200).state).toBe('Enqueued');
  });

  it('a job leased by a native worker cannot be finished through v0.5', async () => {
    const { url, hub } = await testHub();
    const s = await setup(url);
    const native = await hub.workers.register({
      protocol: 'v1',
      capacity: 1,
      tags: [],
      name: 'native',
      runtimes: ['default'],
    });
    const [leased] = await hub.leases.lease(native.record.id, { limit: 1, waitMs: 0 });
    expect(leased?.id).toBe(s.job);
    expect(expectJson(await call(`${url}/job/${s.job}`, 'POST', { state: 'finished' }), 409).code).toBe(1);
    expect(expectJson(await raw(`${url}/job/${s.job}`, 'GET'), 200).state).toBe('Running');
  });
});

describe('Pleiades v0.5: pipelines through `input` on update', () => {
  async function pipeline(url: string, hub: Awaited<ReturnType<typeof testHub>>['hub']) {
    const s = await setup(url);
    const [first] = await hub.jobs.create(
      [{ functionId: s.lambda, input: { blobId: s.input }, next: { functionId: s.lambda } }],
      null,
    );
    // setup() queued a job too; take both and find ours.
    const a = await contract(url, s.worker);
    const b = await contract(url, s.worker);
    expect([a.job, b.job].sort()).toEqual([s.job, first!.job.id].sort());
    return { s, parent: first!.job.id };
  }

  it('the next job takes the given input', async () => {
    const { url, hub } = await testHub();
    const { s, parent } = await pipeline(url, hub);
    const out = await upload(url, 'stage one output');
    const next = await upload(url, 'stage two input');
    expect(
      expectJson(
        await call(`${url}/job/${parent}`, 'POST', { state: 'finished', output: out, input: next }),
        200,
      ).code,
    ).toBe(0);
    const child = await contract(url, s.worker);
    expect(child.job).toMatch(/^\d+$/);
    const ctx = expectJson(await raw(`${url}/job/${child.job}`, 'GET'), 200);
    expect(ctx.input).toEqual({ id: next });
    expect(ctx.lambda.id).toBe(s.lambda);
  });

  it("without `input` the next job's input is the output", async () => {
    const { url, hub } = await testHub();
    const { s, parent } = await pipeline(url, hub);
    const out = await upload(url, 'stage one output');
    expect(
      expectJson(await call(`${url}/job/${parent}`, 'POST', { state: 'finished', output: out }), 200).code,
    ).toBe(0);
    const child = await contract(url, s.worker);
    expect(expectJson(await raw(`${url}/job/${child.job}`, 'GET'), 200).input).toEqual({ id: out });
  });

  it('an unknown `input` is refused and the job stays running', async () => {
    const { url, hub } = await testHub();
    const { parent } = await pipeline(url, hub);
    const r = await call(`${url}/job/${parent}`, 'POST', { state: 'finished', input: '888888' });
    expect(r.status).toBe(404);
    expect(expectJson(await raw(`${url}/job/${parent}`, 'GET'), 200).state).toBe('Running');
  });
});

describe('Pleiades v0.5: contracts', () => {
  it('no job within the timeout: code 1299, "no job", no job key', async () => {
    const { url } = await testHub();
    const worker = expectJson(await call(`${url}/worker`, 'POST', { runtime: ['default'] }), 200).id;
    const t0 = Date.now();
    const r = await contract(url, worker, 1);
    const elapsed = Date.now() - t0;
    expect(r).toEqual({ code: 1299, status: 'ok', message: 'no job' });
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(scaled(5_000));
  });

  it('a parked contract gets a job created after it, quickly', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    await contract(url, s.worker); // takes setup's job
    const parked = contract(url, s.worker, 10);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const job = expectJson(
      await call(`${url}/job`, 'POST', { lambda: s.lambda, input: s.input, tags: [] }),
      200,
    ).id;
    const got = await parked;
    expect(got).toEqual({ code: 0, status: 'ok', job, id: job });
    expect(Date.now() - t0).toBeLessThan(scaled(1_000)); // not the 10 s of the wait
  });

  it('a contract whose worker hung up does not swallow the next job', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    await contract(url, s.worker); // takes setup's job
    const req = http.request(`${url}/worker/${s.worker}/contract`, { method: 'POST', agent: false });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ id: s.worker, tags: [], timeout: 10 }));
    await new Promise((r) => setTimeout(r, 200));
    req.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const job = expectJson(
      await call(`${url}/job`, 'POST', { lambda: s.lambda, input: s.input, tags: [] }),
      200,
    ).id;
    expect((await contract(url, s.worker, 2)).job).toBe(job);
  });

  it('matches runtimes: a job of another runtime is not handed out', async () => {
    const { url } = await testHub();
    const s = await setup(url, 'x', 'dlabLua54');
    const other = expectJson(await call(`${url}/worker`, 'POST', { runtime: ['default'] }), 200).id;
    expect((await contract(url, other)).code).toBe(1299);
    expect((await contract(url, s.worker)).job).toBe(s.job);
  });

  it('accepts an empty body, a string timeout and extra tags; refuses bad ones', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    const empty = expectJson(await raw(`${url}/worker/${s.worker}/contract`, 'POST'), 200);
    expect(empty.job).toBe(s.job);
    const r = expectJson(
      await call(`${url}/worker/${s.worker}/contract`, 'POST', { timeout: '0', tags: ['gpu'] }),
      200,
    );
    expect(r.code).toBe(1299);
    for (const body of [
      { timeout: -1 },
      { timeout: 'soon' },
      { tags: 'gpu' },
      { tags: ['-gpu'] },
      { id: 5 },
    ]) {
      expect(expectJson(await call(`${url}/worker/${s.worker}/contract`, 'POST', body), 400).code).toBe(1);
    }
    expect((await call(`${url}/worker/55555/contract`, 'POST', { timeout: 0 })).text).toBe(NOT_FOUND_BODY);
    expect(expectJson(await call(`${url}/worker/abc/contract`, 'POST', { timeout: 0 }), 400).code).toBe(1);
  });
});

describe('Pleiades v0.5: waiting for a state (except/timeout)', () => {
  it('answers at once when the timeout is empty or absent (as pypleiades sends by default)', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    await contract(url, s.worker);
    for (const q of ['except=Finished&timeout=', 'except=Finished']) {
      const ctx = expectJson(await raw(`${url}/job/${s.job}?${q}`, 'GET'), 200);
      expect(ctx.state, q).toBe('Running');
      // No output yet: the legacy field is a string all the same, and `output` is absent.
      expect(ctx.job_output_id).toBe('0');
      expect(ctx).not.toHaveProperty('output');
    }
  });

  it("holds a long-poll no longer than the Pleiades cap, below the clients' HTTP timeouts", async () => {
    const { url } = await testHub({ pleiadesMaxWaitMs: 300 });
    const s = await setup(url);
    // Asked for 60 s, answered at the cap with the current state (the test would time out otherwise).
    const ctx = expectJson(await raw(`${url}/job/${s.job}?except=Finished&timeout=60`, 'GET'), 200);
    expect(ctx.state).toBe('Enqueued');
    const other = expectJson(await call(`${url}/worker`, 'POST', { runtime: ['nothing-here'] }), 200).id;
    expect((await contract(url, other, 60)).code).toBe(1299);
  });

  it('holds GET /job until the expected state', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    await contract(url, s.worker);
    const waiting = raw(`${url}/job/${s.job}?except=Finished&timeout=10`, 'GET');
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const out = await upload(url, 'done');
    await call(`${url}/job/${s.job}`, 'POST', { state: 'finished', output: out });
    const ctx = expectJson(await waiting, 200);
    expect(ctx.state).toBe('Finished');
    expect(ctx.output).toEqual({ id: out });
    expect(Date.now() - t0).toBeLessThan(scaled(1_000));
  });

  it('answers with the current context when the timeout ends (state matched in any case)', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    const t0 = Date.now();
    const ctx = expectJson(await raw(`${url}/api/v0.5/job/${s.job}?except=finished&timeout=1`, 'GET'), 200);
    expect(ctx.state).toBe('Enqueued');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    // Already in the state: at once.
    const now = expectJson(await raw(`${url}/job/${s.job}?except=ENQUEUED&timeout=10`, 'GET'), 200);
    expect(now.state).toBe('Enqueued');
    // Running shows up as soon as the worker contracts.
    const running = raw(`${url}/job/${s.job}?except=Running&timeout=10`, 'GET');
    await new Promise((r) => setTimeout(r, 100));
    await contract(url, s.worker);
    expect(expectJson(await running, 200).state).toBe('Running');
  });

  it('a final job answers at once whatever state is expected', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    await call(`${url}/job/${s.job}`, 'POST', { state: 'cancelled' });
    const t0 = Date.now();
    expect(expectJson(await raw(`${url}/job/${s.job}?except=Running&timeout=5`, 'GET'), 200).state).toBe(
      'Cancelled',
    );
    expect(Date.now() - t0).toBeLessThan(scaled(1_000)); // not the 5 s of the wait
  });

  it('refuses an unknown state or a bad timeout with 400', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    expect(expectJson(await raw(`${url}/job/${s.job}?except=Sleeping`, 'GET'), 400).code).toBe(1);
    expect(expectJson(await raw(`${url}/job/${s.job}?except=Finished&timeout=abc`, 'GET'), 400).code).toBe(1);
    expect(expectJson(await raw(`${url}/job/${s.job}?except=Finished&timeout=-1`, 'GET'), 400).code).toBe(1);
  });
});

describe('Pleiades v0.5: job create and read errors', () => {
  it('bad ids are 400 or 404, never 500', async () => {
    const { url } = await testHub();
    for (const id of ['abc', '-1', '1e3']) {
      expect(expectJson(await raw(`${url}/job/${id}`, 'GET'), 400).code).toBe(1);
      expect(expectJson(await call(`${url}/job/${id}`, 'POST', { state: 'finished' }), 400).code).toBe(1);
    }
    for (const id of ['0', '123456', '99999999999999999999999']) {
      const r = await raw(`${url}/job/${id}`, 'GET');
      expect(r.status).toBe(404);
      expect(r.text).toBe(NOT_FOUND_BODY);
    }
    expect((await call(`${url}/job/123456`, 'POST', { state: 'finished' })).text).toBe(NOT_FOUND_BODY);
    expect((await raw(`${url}/worker/123456`, 'GET')).text).toBe(NOT_FOUND_BODY);
  });

  it('validates POST /job', async () => {
    const { url } = await testHub();
    const s = await setup(url);
    const bad = [
      { input: s.input },
      { lambda: s.lambda },
      { lambda: Number(s.lambda), input: s.input },
      { lambda: s.lambda, input: s.input, tags: 'x' },
      { lambda: s.lambda, input: s.input, tags: [1] },
      { lambda: s.lambda, input: s.input, tags: ['not a tag'] },
    ];
    for (const body of bad) {
      const r = expectJson(await call(`${url}/job`, 'POST', body), 400);
      expect(r).toMatchObject({ code: 1, status: 'error' });
    }
    expect((await call(`${url}/job`, 'POST', { lambda: '98765', input: s.input })).text).toBe(NOT_FOUND_BODY);
    expect((await call(`${url}/job`, 'POST', { lambda: s.lambda, input: '98765' })).text).toBe(
      NOT_FOUND_BODY,
    );
    expect(expectJson(await call(`${url}/job`, 'POST', 'not json'), 400).code).toBe(1);
    // tags may be left out
    expect(expectJson(await call(`${url}/job`, 'POST', { lambda: s.lambda, input: s.input }), 200).code).toBe(
      0,
    );
  });

  it('shows jobs made through the native service, inline input and output included', async () => {
    const { url, hub } = await testHub();
    const [created] = await hub.jobs.create(
      [{ runtime: 'default', input: { bytes: Buffer.from('inline in') } }],
      null,
    );
    const id = created!.job.id;
    const ctx = expectJson(await raw(`${url}/job/${id}`, 'GET'), 200);
    expect(ctx.lambda).toEqual({ id: '0', codex: '0', runtime: 'default' });
    expect(ctx.functio).toBe('0');
    expect((await raw(`${url}/data/${ctx.input.id}/blob`, 'GET')).text).toBe('inline in');

    const w = await hub.workers.register({
      protocol: 'v1',
      capacity: 1,
      tags: [],
      name: null,
      runtimes: ['default'],
    });
    const [leased] = await hub.leases.lease(w.record.id, { limit: 1, waitMs: 0 });
    await hub.leases.complete({
      jobId: id,
      token: leased!.leaseToken!,
      output: { bytes: Buffer.from('inline out') },
    });
    const done = expectJson(await raw(`${url}/job/${id}`, 'GET'), 200);
    expect(done.state).toBe('Finished');
    expect((await raw(`${url}/data/${done.output.id}/blob`, 'GET')).text).toBe('inline out');
    // Reading again names the same blob (content-addressed).
    expect(expectJson(await raw(`${url}/job/${id}`, 'GET'), 200).output.id).toBe(done.output.id);
  });

  it('a failed job reads Finished with an empty output, as the original server ended it', async () => {
    const { url, hub } = await testHub();
    const s = await setup(url);
    const waiting = raw(`${url}/job/${s.job}?except=Finished&timeout=10`, 'GET');
    const w = await hub.workers.register({
      protocol: 'v1',
      capacity: 1,
      tags: [],
      name: null,
      runtimes: ['default'],
    });
    const [leased] = await hub.leases.lease(w.record.id, { limit: 1, waitMs: 0 });
    expect(leased!.id).toBe(s.job);
    await hub.leases.fail({ jobId: s.job, token: leased!.leaseToken!, error: 'boom', retryable: false });
    // The requester waiting for Finished gets it, and reads an output that downloads (empty).
    const ctx = expectJson(await waiting, 200);
    expect(ctx.state).toBe('Finished');
    expect(ctx.job_status).toBe('Finished');
    expect(ctx.job_output_id).toBe(ctx.output.id);
    const blob = await raw(`${url}/data/${ctx.output.id}/blob`, 'GET');
    expect(blob.status).toBe(200);
    expect(blob.body.length).toBe(0);
    // The error stays on the native API.
    expect((await hub.jobs.get(s.job)).error).toMatch(/boom/);
  });

  it('echoes runtime names as sent; matching stays blind to the order of features', async () => {
    const { url } = await testHub();
    const codex = await upload(url, 'export default async function fetch(i) { return i }');
    const lambda = expectJson(
      await call(`${url}/lambda`, 'POST', { codex, runtime: 'js+resize+compress' }),
      200,
    ).id;
    expect(expectJson(await raw(`${url}/lambda/${lambda}`, 'GET'), 200).runtime).toBe('js+resize+compress');
    const input = await upload(url, 'x');
    const job = expectJson(await call(`${url}/job`, 'POST', { lambda, input, tags: [] }), 200).id;
    const ctx = expectJson(await raw(`${url}/job/${job}`, 'GET'), 200);
    expect(ctx.lambda.runtime).toBe('js+resize+compress');
    expect(ctx.runtime).toBe('js+resize+compress');
    // A worker naming the features in another order still gets the job.
    const worker = expectJson(
      await call(`${url}/worker`, 'POST', { runtime: ['js+compress+resize'] }),
      200,
    ).id;
    expect((await contract(url, worker)).job).toBe(job);
  });
});
