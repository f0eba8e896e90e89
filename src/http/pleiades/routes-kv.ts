/**
 * Pleiades v0.5 key-value store: namespaces, and string values with an optional expiry, append,
 * and "give me the old value" on set. A namespace belongs to the token that made it; a worker
 * may use it only while it holds a lease on a job of that owner (the job's code runs on the
 * owner's behalf). Anyone else gets "Object Not Found", as if it did not exist.
 */
import { HubError } from '../../core/errors.js';
import type { Principal } from '../../auth/auth.js';
import type { Hub } from '../../app/hub.js';
import type { Router } from '../router.js';
import { boolField, ok, pathId, readObject, secondsValue, stringField } from './reply.js';

const CONSISTENCY = ['none', 'eventual'];
const MAX_KEY = 1024;

async function namespace(hub: Hub, p: Principal, raw: string | undefined): Promise<string> {
  const ns = pathId(raw, 'kv namespace');
  const found = await hub.ctx.store.kvNamespaceGet({ id: ns });
  if (!found || !(await mayUse(hub, p, found.owner)))
    throw new HubError('not_found', `kv namespace ${ns} not found`);
  return ns;
}

async function mayUse(hub: Hub, p: Principal, owner: string | null): Promise<boolean> {
  if (p.role === 'admin') return true;
  if (owner === null || p.tokenId === null) return false;
  if (owner === p.tokenId) return true;
  return (
    p.role === 'worker' &&
    hub.ctx.store.leaseHeldFor({ worker: p.tokenId, jobOwner: owner, now: hub.ctx.clock() })
  );
}

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
    const { id } = await c.hub.ctx.store.kvNamespaceInsert({
      consistency,
      now: c.hub.ctx.clock(),
      owner: p.tokenId,
    });
    ok(c.res, { id });
  });

  r.on('GET', '/kv/:ns/field/:key', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'client', 'worker');
    const ns = await namespace(c.hub, p, c.params.ns);
    const k = key(c.params.key);
    const value = await c.hub.ctx.store.kvGet({ namespace: ns, key: k, now: c.hub.ctx.clock() });
    if (value === null) throw new HubError('not_found', `key ${k} not found`);
    ok(c.res, { value });
  });

  r.on('POST', '/kv/:ns/field/:key', async (c) => {
    const p = await c.principal();
    c.hub.auth.require(p, 'client', 'worker');
    const ns = await namespace(c.hub, p, c.params.ns);
    const k = key(c.params.key);
    const body = await readObject(c, false);
    const value = stringField(body, 'value', { required: true })!;
    const expire = secondsValue(body.expire, 'expire') ?? 0;
    const get = boolField(body, 'get');
    const append = boolField(body, 'append');
    const now = c.hub.ctx.clock();
    const old = await c.hub.ctx.store.kvSet({
      namespace: ns,
      key: k,
      value,
      append,
      expiresAt: expire > 0 ? now + Math.round(expire * 1000) : null,
      now,
    });
    // `get` answers with the value before this write ("" when there was none: clients need a string).
    ok(c.res, { value: get ? (old ?? '') : append && old !== null ? old + value : value });
  });
}
