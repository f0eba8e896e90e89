/**
 * Contestant sessions: a team logs in with its name and password (or joins with an invite
 * token), and gets an opaque session token (stored as sha256) for its cookie. Lookups are cached
 * briefly, so hundreds of teams polling cost no database read per request. Failed logins are
 * limited per team name and per address.
 */
import { HubError } from '../core/errors.js';
import type { Portal } from './portal.js';
import { newToken, sha256, verifyPassword } from './secrets.js';
import type { SessionRecord } from './store/store.js';
import { displayName } from './validate.js';

export const SESSION_TTL_MS = 24 * 3600_000;
const CACHE_MS = 10_000;
const FAILURES_PER_MINUTE = 10;

export interface Session extends SessionRecord {
  token: string;
}

export class Sessions {
  private readonly cache = new Map<string, { at: number; session: SessionRecord | null }>();
  private readonly failures = new Map<string, { since: number; count: number }>();

  constructor(private readonly portal: Portal) {}

  private throttle(keys: string[]): void {
    const now = performance.now();
    for (const key of keys) {
      const f = this.failures.get(key);
      if (f && now - f.since < 60_000 && f.count >= FAILURES_PER_MINUTE) {
        throw new HubError('too_many_requests', 'too many failed logins; wait a minute');
      }
    }
  }

  private failed(keys: string[]): HubError {
    const now = performance.now();
    if (this.failures.size > 10_000) this.failures.clear();
    for (const key of keys) {
      const f = this.failures.get(key);
      if (!f || now - f.since >= 60_000) this.failures.set(key, { since: now, count: 1 });
      else f.count++;
    }
    return new HubError('unauthorized', 'wrong team name or password');
  }

  private async open(teamId: string, memberId: string | null): Promise<Session> {
    const token = newToken('sess');
    const now = this.portal.now();
    const record = await this.portal.store.sessionInsert({
      tokenHash: sha256(token),
      teamId,
      memberId,
      expiresAt: now + SESSION_TTL_MS,
      now,
    });
    return { ...record, token };
  }

  async login(p: { team?: unknown; password?: unknown }, address: string | null): Promise<Session> {
    if (typeof p.team !== 'string' || typeof p.password !== 'string') {
      throw new HubError('validation_failed', 'team and password are required');
    }
    // The name as it is looked up: ' team0' must count against team0.
    const name = p.team.trim();
    const keys = [`team:${name}`, `ip:${address ?? '?'}`];
    this.throttle(keys);
    const team = await this.portal.store.teamFindByName({ name });
    if (!team || !(await verifyPassword(p.password, team.passwordHash))) throw this.failed(keys);
    return this.open(team.id, team.ownerId);
  }

  /** Joins a team as a (new or returning) member with its invite token. */
  async join(p: { invite_token?: unknown; name?: unknown }, address: string | null): Promise<Session> {
    const keys = [`ip:${address ?? '?'}`];
    this.throttle(keys);
    if (typeof p.invite_token !== 'string')
      throw new HubError('validation_failed', 'invite_token is required');
    const name = displayName(p.name, 'name');
    const team = await this.portal.store.teamFindByInvite({ inviteToken: p.invite_token });
    if (!team) throw this.failed(keys);
    const member = await this.portal.admin.addMember(team.id, name);
    return this.open(team.id, member.id);
  }

  /** The live session of a cookie token, or null. */
  async resolve(token: string | null): Promise<SessionRecord | null> {
    if (!token) return null;
    const hash = sha256(token);
    const now = performance.now();
    const hit = this.cache.get(hash);
    let session = hit && now - hit.at < CACHE_MS ? hit.session : undefined;
    if (session === undefined) {
      session = await this.portal.store.sessionGet({ tokenHash: hash, now: this.portal.now() });
      if (this.cache.size > 20_000) this.cache.clear();
      this.cache.set(hash, { at: now, session });
    }
    return session && session.expiresAt > this.portal.now() ? session : null;
  }

  async logout(token: string | null): Promise<void> {
    if (!token) return;
    const hash = sha256(token);
    this.cache.delete(hash);
    await this.portal.store.sessionDelete({ tokenHash: hash });
  }

  /** Forget cached sessions (a team's password changed, or it was deleted). */
  forget(): void {
    this.cache.clear();
  }
}
