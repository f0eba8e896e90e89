/**
 * Tokens and roles. A token is shown once when created (`jh_<random>`) and stored only as its
 * sha256. Roles: admin (everything), client (submit and read its own jobs, blobs, KV), worker
 * (register, lease, and act on what it holds). With auth off every request acts as admin.
 *
 * Lookups are cached for CACHE_MS only, so a token revoked on any hub sharing the store is
 * refused everywhere within that time; "last used" is kept in memory and written in batches
 * (`flushUsed`), never once per request.
 */
import { createHash, randomBytes } from 'node:crypto';
import { HubError } from '../core/errors.js';
import type { TokenRecord } from '../store/store.js';
import type { HubContext } from '../jobs/context.js';

export type Role = TokenRecord['role'];

export interface Principal {
  role: Role;
  /** Token id; owner of the jobs a client creates. Null when auth is off. */
  tokenId: string | null;
}

const ANONYMOUS_ADMIN: Principal = { role: 'admin', tokenId: null };
/** How long a lookup is trusted: the bound on how late a revocation reaches every hub. */
export const CACHE_MS = 500;

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export class AuthService {
  private readonly cache = new Map<
    string,
    { principal: Principal | null; expiresAt: number | null; at: number }
  >();
  /** Token id → last request time, not yet written to the store. */
  private readonly used = new Map<string, number>();

  constructor(private readonly ctx: HubContext) {}

  get enabled(): boolean {
    return this.ctx.config.auth;
  }

  async create(
    role: Role,
    name: string | null,
    expiresAt: number | null = null,
  ): Promise<{ token: string; record: TokenRecord }> {
    const token = `jh_${randomBytes(24).toString('base64url')}`;
    const record = await this.ctx.store.tokenInsert({
      role,
      name,
      hash: hashToken(token),
      now: this.ctx.clock(),
      expiresAt,
    });
    return { token, record };
  }

  list(): Promise<TokenRecord[]> {
    return this.ctx.store.tokenList();
  }

  /** Deletes the token; this hub forgets it at once, the others within CACHE_MS. */
  async revoke(id: string): Promise<boolean> {
    const gone = await this.ctx.store.tokenDelete({ id });
    for (const [hash, hit] of this.cache) if (hit.principal?.tokenId === id) this.cache.delete(hash);
    this.used.delete(id);
    return gone;
  }

  /** Writes the "last used" times gathered since the last flush (one batch). */
  async flushUsed(): Promise<void> {
    if (this.used.size === 0) return;
    const uses = [...this.used].map(([id, at]) => ({ id, at }));
    this.used.clear();
    await this.ctx.store.tokenTouch({ uses });
  }

  /** Who is calling. Throws `unauthorized` when auth is on and the token is missing or unknown. */
  async authenticate(token: string | null): Promise<Principal> {
    if (!this.enabled) return ANONYMOUS_ADMIN;
    if (!token) throw new HubError('unauthorized', 'a token is required (Authorization: Bearer <token>)');
    const hash = hashToken(token);
    const now = this.ctx.clock();
    let hit = this.cache.get(hash);
    if (!hit || now - hit.at > CACHE_MS) {
      const record = await this.ctx.store.tokenFindByHash({ hash });
      hit = {
        principal: record ? { role: record.role, tokenId: record.id } : null,
        expiresAt: record?.expiresAt ?? null,
        at: now,
      };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, hit);
    }
    if (!hit.principal) throw new HubError('unauthorized', 'unknown token');
    if (hit.expiresAt !== null && now >= hit.expiresAt)
      throw new HubError('unauthorized', 'the token has expired');
    this.used.set(hit.principal.tokenId!, now);
    return hit.principal;
  }

  /** Throws `forbidden` unless the principal has one of `roles` (admin always passes). */
  require(p: Principal, ...roles: Role[]): void {
    if (p.role === 'admin' || roles.includes(p.role)) return;
    const needed = roles.length ? `an admin or ${roles.join(' or ')} token` : 'an admin token';
    throw new HubError('forbidden', `this needs ${needed}; yours is a ${p.role} token`);
  }

  /** The owner filter for job reads: clients see only their own jobs. */
  ownerScope(p: Principal): string | undefined {
    return p.role === 'client' ? (p.tokenId ?? undefined) : undefined;
  }
}
