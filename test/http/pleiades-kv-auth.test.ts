/** Pleiades v0.5: the key-value store, workers, and tokens (in the base URL path or a header). */
import { describe, expect, it } from 'vitest';
import { testHub } from '../helpers/hub.js';
import { call, contract, expectJson, keys, NOT_FOUND_BODY, raw, setup, upload } from './pleiades-helpers.js';

describe('Pleiades v0.5: key-value store', () => {
  async function namespace(url: string): Promise<string> {
    const r = expectJson(await call(`${url}/kv`, 'POST', { consistency: 'none' }), 200);
    expect(keys(r)).toEqual(['code', 'id', 'status']);
    expect(r.code).toBe(0);
    expect(r.id).toMatch(/^\d+$/);
    return r.id as string;
  }

  it('sets, gets, appends and returns the old value', async () => {
    const { url } = await testHub();
    const base = `${url}/api/v0.5`;
    const ns = await namespace(base);
    const field = `${base}/kv/${ns}/field/greeting`;

    const set = expectJson(
      await call(field, 'POST', { value: 'hello', expire: 0, get: false, append: false }),
      200,
    );
    expect(set).toEqual({ code: 0, status: 'ok', value: 'hello' });
    expect(expectJson(await raw(field, 'GET'), 200)).toEqual({ code: 0, status: 'ok', value: 'hello' });

    const appended = expectJson(await call(field, 'POST', { value: ' world', append: true }), 200);
    expect(appended.value).toBe('hello world');

    const old = expectJson(await call(field, 'POST', { value: 'bye', get: true }), 200);
    expect(old).toEqual({ code: 0, status: 'ok', value: 'hello world' });
    expect(expectJson(await raw(field, 'GET'), 200).value).toBe('bye');

    // get on a new key: the old value is none, still a string.
    expect(
      expectJson(await call(`${base}/kv/${ns}/field/fresh`, 'POST', { value: 'v', get: true }), 200).value,
    ).toBe('');
    // append to a missing key just sets it; only `value` is required (the Python client sends no more).
    expect(
      expectJson(await call(`${base}/kv/${ns}/field/log`, 'POST', { value: 'a', append: true }), 200).value,
    ).toBe('a');
    expect(expectJson(await call(`${base}/kv/${ns}/field/k2`, 'POST', { value: '' }), 200).value).toBe('');
    // keys are per namespace
    const other = await namespace(base);
    expect((await raw(`${base}/kv/${other}/field/greeting`, 'GET')).text).toBe(NOT_FOUND_BODY);
  });

  it('expires values after `expire` seconds', async () => {
    const { url } = await testHub();
    const ns = await namespace(url);
    const field = `${url}/kv/${ns}/field/short`;
    expectJson(await call(field, 'POST', { value: 'soon gone', expire: 1 }), 200);
    expect(expectJson(await raw(field, 'GET'), 200).value).toBe('soon gone');
    await new Promise((r) => setTimeout(r, 1100));
    const gone = await raw(field, 'GET');
    expect(gone.status).toBe(404);
    expect(gone.text).toBe(NOT_FOUND_BODY);
  });

  it('refuses bad KV requests', async () => {
    const { url } = await testHub();
    const ns = await namespace(url);
    expect((await raw(`${url}/kv/${ns}/field/missing`, 'GET')).text).toBe(NOT_FOUND_BODY);
    expect((await raw(`${url}/kv/424242/field/k`, 'GET')).text).toBe(NOT_FOUND_BODY);
    expect((await call(`${url}/kv/424242/field/k`, 'POST', { value: 'x' })).text).toBe(NOT_FOUND_BODY);
    expect(expectJson(await raw(`${url}/kv/abc/field/k`, 'GET'), 400).code).toBe(1);
    for (const body of [
      {},
      { value: 5 },
      { value: 'x', get: 'yes' },
      { value: 'x', append: 1 },
      { value: 'x', expire: -3 },
    ]) {
      expect(expectJson(await call(`${url}/kv/${ns}/field/k`, 'POST', body), 400).code).toBe(1);
    }
    expect(expectJson(await call(`${url}/kv/${ns}/field/k`, 'POST', '{"value":'), 400).code).toBe(1);
    expect(expectJson(await call(`${url}/kv`, 'POST', { consistency: 'strongest' }), 400).code).toBe(1);
    // An empty body makes a namespace with the default consistency.
    expect(expectJson(await raw(`${url}/kv`, 'POST'), 200).id).toMatch(/^\d+$/);
  });
});

describe('Pleiades v0.5: workers', () => {
  it('registers with the default runtime when none is given, and reads back', async () => {
    const { url } = await testHub();
    const empty = expectJson(await raw(`${url}/worker`, 'POST'), 200);
    expect(empty).toMatchObject({ code: 0, status: 'ok', runtime: ['default'] });
    const none = expectJson(await call(`${url}/worker`, 'POST', { runtime: [] }), 200);
    expect(none.runtime).toEqual(['default']);

    const w = expectJson(await call(`${url}/worker`, 'POST', { runtime: ['dlabLua54+pcli'] }), 200);
    const got = expectJson(await raw(`${url}/worker/${w.id}`, 'GET'), 200);
    expect(keys(got)).toEqual(['code', 'id', 'message', 'runtime', 'status']);
    expect(got).toMatchObject({ code: 0, status: 'ok', id: w.id, runtime: ['dlabLua54+pcli'] });
  });

  it('refuses bad registrations', async () => {
    const { url } = await testHub();
    for (const body of [{ runtime: 'default' }, { runtime: [1] }, { runtime: ['bad name!'] }]) {
      expect(expectJson(await call(`${url}/worker`, 'POST', body), 400).code).toBe(1);
    }
    expect(expectJson(await raw(`${url}/worker/x1`, 'GET'), 400).code).toBe(1);
  });
});

describe('Pleiades v0.5: tokens', () => {
  it('a token in the base URL path lets unmodified clients in; none is 401', async () => {
    const { url, hub } = await testHub({ auth: true });
    const { token } = await hub.auth.create('admin', null);
    const ok = await raw(`${url}/t/${token}/api/v0.5/ping`, 'GET');
    expect(expectJson(ok, 200)).toEqual({ code: 0, status: 'ok', message: 'pong' });

    const denied = expectJson(await raw(`${url}/api/v0.5/ping`, 'GET'), 401);
    expect(keys(denied)).toEqual(['code', 'message', 'status']);
    expect(denied).toMatchObject({ code: 1, status: 'error' });
    expect(expectJson(await raw(`${url}/t/jh_wrong/api/v0.5/ping`, 'GET'), 401).code).toBe(1);
    expect(expectJson(await raw(`${url}/data/1/blob`, 'GET'), 401).code).toBe(1);
    // The header works as well.
    expect((await raw(`${url}/ping`, 'GET', { headers: { authorization: `Bearer ${token}` } })).status).toBe(
      200,
    );
  });

  it('roles: clients submit and read, workers register, contract and update', async () => {
    const { url, hub } = await testHub({ auth: true });
    const client = `${url}/t/${(await hub.auth.create('client', 'requester')).token}/api/v0.5`;
    const worker = `${url}/t/${(await hub.auth.create('worker', 'w')).token}`;

    const codex = await upload(client, 'script');
    const lambda = expectJson(await call(`${client}/lambda`, 'POST', { codex, runtime: 'default' }), 200).id;
    const input = await upload(client, 'in');
    const job = expectJson(await call(`${client}/job`, 'POST', { lambda, input, tags: [] }), 200).id;

    // A client may not act as a worker.
    expect(expectJson(await call(`${client}/worker`, 'POST', { runtime: ['default'] }), 403).code).toBe(1);
    expect(expectJson(await call(`${client}/job/${job}`, 'POST', { state: 'finished' }), 403).code).toBe(1);

    const w = expectJson(await call(`${worker}/worker`, 'POST', { runtime: ['default'] }), 200).id;
    expect((await contract(worker, w)).job).toBe(job);
    expect((await raw(`${worker}/data/${input}/blob`, 'GET')).text).toBe('in');
    const out = await upload(worker, 'out');
    expect(
      expectJson(await call(`${worker}/job/${job}`, 'POST', { state: 'finished', output: out }), 200).code,
    ).toBe(0);
    expect(expectJson(await raw(`${client}/job/${job}`, 'GET'), 200).output).toEqual({ id: out });

    // Another client does not see this client's job.
    const stranger = `${url}/t/${(await hub.auth.create('client', 'other')).token}`;
    expect((await raw(`${stranger}/job/${job}`, 'GET')).text).toBe(NOT_FOUND_BODY);
  });

  it('the full loop from setup() runs with an admin token at the root', async () => {
    const { url, hub } = await testHub({ auth: true });
    const base = `${url}/t/${(await hub.auth.create('admin', null)).token}`;
    const s = await setup(base);
    expect((await contract(base, s.worker)).job).toBe(s.job);
  });
});
