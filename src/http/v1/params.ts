/** Query parameters and caller scope shared by the native API's route files. */
import { HubError } from '../../core/errors.js';
import type { Principal } from '../../auth/auth.js';
import type { RequestContext } from '../router.js';

/** An integer query parameter in [min, max]; `fallback` when absent. */
export function intParam(
  c: RequestContext,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = c.query.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new HubError('validation_failed', `query ${name} must be an integer in [${min}, ${max}]`);
  }
  return n;
}

/** An id query parameter (a page boundary); undefined when absent. */
export function idQuery(c: RequestContext, name: string, what: string): string | undefined {
  const raw = c.query.get(name);
  if (raw === null) return undefined;
  if (!/^\d{1,18}$/.test(raw)) throw new HubError('validation_failed', `query ${name} must be ${what} id`);
  return raw;
}

/** A client (or admin) caller, and the owner its reads and changes are limited to. */
export async function clientScope(
  c: RequestContext,
): Promise<{ principal: Principal; owner: string | undefined }> {
  const p = await c.principal();
  c.hub.auth.require(p, 'client');
  return { principal: p, owner: c.hub.auth.ownerScope(p) };
}
