/**
 * Pleiades v0.5 key-value store, translated to the KV service (src/kv): namespaces, and string
 * values with an optional expiry, append, and "give me the old value" on set. A namespace the
 * caller may not use is "Object Not Found", as if it did not exist.
 */
import { HubError } from '../../core/errors.js';
import type { Router } from '../router.js';
import { boolField, ok, pathId, readObject, secondsValue, stringField } from './reply.js';

const CONSISTENCY = ['none', 'eventual'];
const MAX_KEY = 1024;

function key(raw: string | undefined): string {
  if (!raw || raw.length > MAX_KEY)
    throw new HubError('validation_failed', `a key is 1-${MAX_KEY} characters`);
  return raw;
}

export function kvRoutes(r: Router): void {
  r.on('POST', '/kv', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'client', 'worker');
    const body = await readObject(c, true);
    const consistency = (stringField(body, 'consistency') ?? 'none').toLowerCase();
    if (!CONSISTENCY.includes(consistency)) {
      throw new HubError(
        'validation_failed',
        `consistency must be "none" or "eventual", got ${JSON.stringify(body.consistency)}`,
      );
    }
    const { id } = await c.hub.kv.namespaceCreate({ consistency, owner: p.tokenId });
    ok(c.res, { id });
  });

  r.on('GET', '/kv/:ns/field/:key', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'client', 'worker');
    const ns = await c.hub.kv.namespace(pathId(c.params.ns, 'kv namespace'), p);
    const k = key(c.params.key);
    const value = await c.hub.kv.get(ns, k);
    if (value === null) throw new HubError('not_found', `key ${k} not found`);
    ok(c.res, { value });
  });

  r.on('POST', '/kv/:ns/field/:key', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'client', 'worker');
    const ns = await c.hub.kv.namespace(pathId(c.params.ns, 'kv namespace'), p);
    const k = key(c.params.key);
    const body = await readObject(c, false);
    const value = stringField(body, 'value', { required: true })!;
    const expire = secondsValue(body.expire, 'expire') ?? 0;
    const get = boolField(body, 'get');
    const append = boolField(body, 'append');
    const old = await c.hub.kv.set({ namespace: ns, key: k, value, append, expireSeconds: expire });
    // `get` answers with the value before this write ("" when there was none: clients need a string).
    ok(c.res, { value: get ? (old ?? '') : append && old !== null ? old + value : value });
  });
}
