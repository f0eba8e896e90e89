/**
 * The contest's help desk: clarifications (a team asks; staff answer it to the team alone or to
 * everyone, optionally rewriting the question first) and announcements (staff post, pin, edit,
 * withdraw). Changes are announced on a small in-process feed that the portal's event stream
 * forwards to open pages; pages on other hubs notice within the stream's resync (see
 * http/portal/desk.ts). Notifications for new clarifications go out through the Notifier.
 */
import { HubError, notFound } from '../core/errors.js';
import { iso } from './contest.js';
import type { Notifier } from './notify.js';
import type { AnnouncementRecord, ClarificationRecord, OrganiserStore } from './store/organisers.js';

const MAX_QUESTION = 4_000;
const MAX_ANSWER = 10_000;
const MAX_TITLE = 200;
const MAX_BODY = 10_000;
/** Other hubs may post: the public announcement list is re-read at least this often. */
const ANNOUNCEMENTS_TTL_MS = 2_000;

/** What changed: every page re-reads the announcements, or one team's (null: every team's) clarifications. */
export type DeskChange = { type: 'announcements' } | { type: 'clarifications'; teamId: string | null };

function text(raw: unknown, field: string, max: number, o: { optional?: boolean } = {}): string | undefined {
  if (raw === undefined && o.optional) return undefined;
  if (typeof raw !== 'string' || raw.trim() === '')
    throw new HubError('validation_failed', `${field} must be a non-empty string`);
  const t = raw.trim();
  if (t.length > max) throw new HubError('validation_failed', `${field} must be at most ${max} characters`);
  return t;
}

function flag(raw: unknown, field: string): boolean | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'boolean') throw new HubError('validation_failed', `${field} must be true or false`);
  return raw;
}

/** A clarification as staff see it, or as a team sees it (`team` = the viewing team). */
export function clarificationJson(
  c: ClarificationRecord,
  o: { teamName: (id: string | null) => string; viewer: { staff: true } | { teamId: string } },
) {
  const own = 'teamId' in o.viewer && c.teamId === o.viewer.teamId;
  const staff = 'staff' in o.viewer;
  return {
    id: Number(c.id),
    ...(staff
      ? { team: c.teamId === null ? null : { id: Number(c.teamId), name: o.teamName(c.teamId) } }
      : { own }),
    question: c.question,
    ...(staff || own ? { original_question: c.originalQuestion } : {}),
    answer: c.answer,
    disclosed: c.disclosed,
    created_at: iso(c.createdAt),
    answered_at: iso(c.answeredAt),
  };
}

export function announcementJson(a: AnnouncementRecord, o: { staff: boolean }) {
  return {
    id: Number(a.id),
    title: a.title,
    body: a.body,
    pinned: a.pinned,
    created_at: iso(a.createdAt),
    updated_at: iso(a.updatedAt),
    ...(o.staff ? { withdrawn_at: iso(a.withdrawnAt) } : {}),
  };
}

export class Desk {
  private readonly listeners = new Set<(c: DeskChange) => void>();
  private published: { at: number; list: Promise<AnnouncementRecord[]> } | null = null;

  constructor(
    private readonly o: {
      store: () => OrganiserStore;
      clock: () => number;
      notifier: Notifier;
      teamName: (id: string | null) => string;
    },
  ) {}

  private get store() {
    return this.o.store();
  }

  subscribe(fn: (c: DeskChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(c: DeskChange): void {
    if (c.type === 'announcements') this.published = null;
    for (const fn of this.listeners) fn(c);
  }

  // ---- clarifications ---------------------------------------------------------------------

  async ask(teamId: string, body: Record<string, unknown>): Promise<ClarificationRecord> {
    const question = text(body.question, 'question', MAX_QUESTION)!;
    const c = await this.store.clarificationInsert({ teamId, question, now: this.o.clock() });
    this.changed({ type: 'clarifications', teamId });
    this.o.notifier.send(
      'clarification',
      `New clarification #${c.id} from ${this.o.teamName(teamId) || `team ${teamId}`}: ${question}`,
    );
    return c;
  }

  /** `{answer, disclosed?, question?}`: answers privately unless `disclosed`; `question` rewrites. */
  async answer(id: string, body: Record<string, unknown>): Promise<ClarificationRecord> {
    const answer = text(body.answer, 'answer', MAX_ANSWER)!;
    const disclosed = flag(body.disclosed, 'disclosed') ?? false;
    const question = text(body.question, 'question', MAX_QUESTION, { optional: true });
    const c = await this.store.clarificationAnswer({ id, answer, disclosed, question, now: this.o.clock() });
    if (!c) throw notFound('clarification', id);
    // A clarification that was public and is now private must disappear from every team's list.
    this.changed({ type: 'clarifications', teamId: null });
    return c;
  }

  async clarification(id: string): Promise<ClarificationRecord> {
    const c = await this.store.clarificationGet({ id });
    if (!c) throw notFound('clarification', id);
    return c;
  }

  /** Staff: every clarification (only the unanswered with `open`), newest first. */
  staffList(o: { open: boolean }): Promise<ClarificationRecord[]> {
    return this.store.clarificationList({ open: o.open });
  }

  /** A team's clarifications (its own and the public ones) and how many answers it has not read. */
  async forTeam(teamId: string): Promise<{ clarifications: ClarificationRecord[]; unread: number }> {
    const [clarifications, readAt] = await Promise.all([
      this.store.clarificationList({ teamId }),
      this.store.clarificationReadGet({ teamId }),
    ]);
    const unread = clarifications.filter(
      (c) => c.answeredAt !== null && c.answeredAt > (readAt ?? -1),
    ).length;
    return { clarifications, unread };
  }

  async markRead(teamId: string): Promise<void> {
    await this.store.clarificationReadSet({ teamId, at: this.o.clock() });
    this.changed({ type: 'clarifications', teamId });
  }

  // ---- announcements ----------------------------------------------------------------------

  async announce(body: Record<string, unknown>): Promise<AnnouncementRecord> {
    const a = await this.store.announcementInsert({
      title: text(body.title, 'title', MAX_TITLE)!,
      body: text(body.body, 'body', MAX_BODY)!,
      pinned: flag(body.pinned, 'pinned') ?? false,
      now: this.o.clock(),
    });
    this.changed({ type: 'announcements' });
    return a;
  }

  /** `{title?, body?, pinned?, withdrawn?}`. */
  async editAnnouncement(id: string, body: Record<string, unknown>): Promise<AnnouncementRecord> {
    const a = await this.store.announcementUpdate({
      id,
      title: text(body.title, 'title', MAX_TITLE, { optional: true }),
      body: text(body.body, 'body', MAX_BODY, { optional: true }),
      pinned: flag(body.pinned, 'pinned'),
      withdrawn: flag(body.withdrawn, 'withdrawn'),
      now: this.o.clock(),
    });
    if (!a) throw notFound('announcement', id);
    this.changed({ type: 'announcements' });
    return a;
  }

  /** The announcements everyone sees (pinned first, then newest), briefly cached. */
  announcements(): Promise<AnnouncementRecord[]> {
    const now = performance.now();
    if (this.published && now - this.published.at < ANNOUNCEMENTS_TTL_MS) return this.published.list;
    const list = this.store.announcementList({ withdrawn: false });
    this.published = { at: now, list };
    list.catch(() => (this.published = null));
    return list;
  }

  /** Staff: every announcement, withdrawn ones included. */
  allAnnouncements(): Promise<AnnouncementRecord[]> {
    return this.store.announcementList({ withdrawn: true });
  }
}
