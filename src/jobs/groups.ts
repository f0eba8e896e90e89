/**
 * Job groups for requesters and admins: settings (concurrency, rate, pause), the list with
 * counts, and the wake-ups that limits need. The limits themselves are kept by the stores'
 * lease transactions (store/sqlite/groups.ts, store/postgres/groups.ts); jobs of a group are
 * never handed straight to a parked worker (see Dispatcher.handOff).
 *
 * A worker that found only held-back jobs parks. It is woken when a job of a group stops
 * running on this hub (JobService.finished), when an admin changes a group here, and, for what
 * no event tells this hub (a rate window passing, a job finishing on another hub, a change made
 * on another hub), by a short tick that runs only while workers are parked and a limited group
 * has queued work and room by its last known counts: it wakes as many waiters as there is room.
 * Counts change only when they are read again (every REFRESH_MS), so a group limited by
 * concurrency alone is woken for once per read; only a rate window opens between reads, so
 * rate-limited groups are woken for on every tick.
 */
import { HubError, notFound } from '../core/errors.js';
import { validateGroupName, type GroupSettings, type GroupUsage } from '../core/groups.js';
import type { GroupRecord } from '../store/store.js';
export type { GroupRecord };
import type { HubContext } from './context.js';

/** How often parked workers are woken for limited groups that may have room. */
const TICK_MS = 100;
/** How often the tick reads the groups' counts again. */
const REFRESH_MS = 1000;
/** Most groups a refresh reads (the tick is a safety net; events wake the rest at once). */
const REFRESH_GROUPS = 1000;

export type GroupPatch = Partial<GroupSettings>;

export class GroupService {
  private timer: NodeJS.Timeout | null = null;
  private known: GroupRecord[] = [];
  private refreshedAt = 0;
  private refreshing = false;

  constructor(private readonly ctx: HubContext) {}

  /** Validates and applies an admin's change; parked workers look again at once. */
  async set(name: string, patch: GroupPatch): Promise<GroupRecord> {
    validateGroupName(name);
    const { concurrency, perSecond, paused } = patch;
    if (
      concurrency !== undefined &&
      concurrency !== null &&
      !(Number.isInteger(concurrency) && concurrency >= 1)
    ) {
      throw new HubError(
        'validation_failed',
        'concurrency must be an integer of at least 1, or null for no limit',
      );
    }
    if (perSecond !== undefined && perSecond !== null && !(Number.isFinite(perSecond) && perSecond > 0)) {
      throw new HubError('validation_failed', 'perSecond must be a number above 0, or null for no limit');
    }
    if (paused !== undefined && typeof paused !== 'boolean')
      throw new HubError('validation_failed', 'paused must be true or false');
    const group = await this.ctx.store.groupUpsert({ name, settings: patch, now: this.ctx.clock() });
    this.refreshedAt = 0;
    this.ctx.dispatcher.wakeAll();
    return group;
  }

  list(p: { after?: string; limit: number }): Promise<GroupRecord[]> {
    return this.ctx.store.groupList(p);
  }

  async get(name: string): Promise<GroupRecord & { usage: GroupUsage }> {
    validateGroupName(name);
    const group = await this.ctx.store.groupGet({ name, now: this.ctx.clock() });
    if (!group) throw notFound('group', name);
    return group;
  }

  /** Starts the tick (see the header). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async tick(): Promise<void> {
    const { dispatcher } = this.ctx;
    if (dispatcher.parked === 0 || this.refreshing) return;
    const now = this.ctx.clock();
    let fresh = false;
    if (now - this.refreshedAt >= REFRESH_MS) {
      this.refreshing = true;
      try {
        const before = new Map(this.known.map((g) => [g.name, g]));
        this.known = await this.ctx.store.groupList({ limit: REFRESH_GROUPS });
        this.refreshedAt = now;
        fresh = true;
        // Changed elsewhere (another hub's admin): everyone looks again.
        if (this.known.some((g) => before.has(g.name) && before.get(g.name)!.updatedAt !== g.updatedAt)) {
          dispatcher.wakeAll();
        }
      } catch (err) {
        this.ctx.log.warn({ err }, 'reading job groups failed');
      } finally {
        this.refreshing = false;
      }
    }
    let room = 0;
    for (const g of this.known) {
      if (g.queued === 0 || g.paused || (g.concurrency === null && g.perSecond === null)) continue;
      // The same stale counts would wake the same waiters again: see the header.
      if (g.perSecond === null && !fresh) continue;
      const free = g.concurrency === null ? g.queued : Math.max(0, g.concurrency - g.running);
      room += Math.min(free, g.queued);
    }
    if (room > 0) dispatcher.wakeSome(room);
  }
}
