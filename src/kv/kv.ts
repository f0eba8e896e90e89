/**
 * The key-value service behind the Pleiades KV face: namespaces, and string values with an
 * optional expiry, append, and "the old value" on set. A namespace belongs to the token that made
 * it; a worker may use it only while it holds a lease on a job of that owner (the job's code runs
 * on the owner's behalf). Anyone else is told it does not exist.
 */
import { HubError } from '../core/errors.js';
import type { Principal } from '../auth/auth.js';
import type { HubContext } from '../jobs/context.js';

export class KvService {
  constructor(private readonly ctx: Pick<HubContext, 'store' | 'clock'>) {}

  async namespaceCreate(p: { consistency: string; owner: string | null }): Promise<{ id: string }> {
    return this.ctx.store.kvNamespaceInsert({
      consistency: p.consistency,
      now: this.ctx.clock(),
      owner: p.owner,
    });
  }

  /** Checks that the namespace exists and that the caller may use it; `not_found` otherwise. */
  async namespace(id: string, p: Principal): Promise<string> {
    const found = await this.ctx.store.kvNamespaceGet({ id });
    if (!found || !(await this.mayUse(p, found.owner)))
      throw new HubError('not_found', `kv namespace ${id} not found`);
    return id;
  }

  private async mayUse(p: Principal, owner: string | null): Promise<boolean> {
    if (p.role === 'admin') return true;
    if (owner === null || p.tokenId === null) return false;
    if (owner === p.tokenId) return true;
    return (
      p.role === 'worker' &&
      this.ctx.store.leaseHeldFor({ worker: p.tokenId, jobOwner: owner, now: this.ctx.clock() })
    );
  }

  /** The value of a key, or null when it is missing or expired. */
  get(namespace: string, key: string): Promise<string | null> {
    return this.ctx.store.kvGet({ namespace, key, now: this.ctx.clock() });
  }

  /**
   * Writes (or appends to) a key, kept `expireSeconds` (0: for good); resolves to the value before
   * this write, null if none.
   */
  set(p: {
    namespace: string;
    key: string;
    value: string;
    append: boolean;
    expireSeconds: number;
  }): Promise<string | null> {
    const now = this.ctx.clock();
    return this.ctx.store.kvSet({
      namespace: p.namespace,
      key: p.key,
      value: p.value,
      append: p.append,
      expiresAt: p.expireSeconds > 0 ? now + Math.round(p.expireSeconds * 1000) : null,
      now,
    });
  }
}
