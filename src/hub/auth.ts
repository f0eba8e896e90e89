/**
 * Tokens and roles. A token is shown once when created (`jh_<random>`) and stored only as its
 * sha256. Roles: admin (everything), client (submit and read its own jobs, blobs, functions),
 * worker (register, lease, report, blobs). With auth off every request acts as admin.
 */
import { createHash, randomBytes } from 'node:crypto';
import { HubError } from '../core/errors.js';
import type { TokenRecord } from '../store/store.js';
import type { HubContext } from './context.js';

export type Role = TokenRecord['role'];

export interface Principal {
  role: Role;
  /** Token id; owner of the jobs a client creates. Null when auth is off. */
  tokenId: string | null;
}

const ANONYMOUS_ADMIN: Principal = { role: 'admin', tokenId: null };
const CACHE_MS = 30_000;

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export class AuthService {
  private readonly cache = new Map<string, { principal: Principal | null; at: number }>();

  constructor(private readonly ctx: HubContext) {}

  get enabled(): boolean {
    return this.ctx.config.auth;
  }

  async create(role: Role, name: string | null): Promise<{ token: string; record: TokenRecord }> {
    const token = `jh_${randomBytes(24).toString('base64url')}`;
    const record = await this.ctx.store.tokenInsert({
      role,
      name,
      hash: hashToken(token),
      now: this.ctx.clock(),
    });
    return { token, record };
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
      hit = { principal: record ? { role: record.role, tokenId: record.id } : null, at: now };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, hit);
    }
    if (!hit.principal) throw new HubError('unauthorized', 'unknown token');
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
