/**
 * The contest desk on every contestant and audience page: the announcements and a team's unread
 * clarification answers, kept live by one `GET /api/portal/events` stream per tab (polling when
 * the stream cannot be opened), shared through a context so the header's badge and the pages
 * read the same state.
 */
import { createContext, type ComponentChildren } from 'preact';
import { useContext, useState } from 'preact/hooks';
import { ApiError, get } from './api.js';
import { useStream, type StreamMode } from './live.js';
import { P } from './portal.js';
import { Time } from './ui.js';

export interface Announcement {
  id: number;
  title: string;
  body: string;
  pinned: boolean;
  created_at: string;
  updated_at: string;
  withdrawn_at?: string | null;
}

export interface Clarification {
  id: number;
  team?: { id: number; name: string } | null;
  own?: boolean;
  question: string;
  original_question?: string | null;
  answer: string | null;
  disclosed: boolean;
  created_at: string;
  answered_at: string | null;
}

export interface DeskState {
  announcements: Announcement[];
  /** Answers the logged-in team has not read (0 for the audience). */
  unread: number;
  mode: StreamMode;
  /** Set after reading the clarifications (the stream confirms it too). */
  setUnread: (n: number) => void;
  /** Opens the stream again (after logging in or out: the team changed). */
  reconnect: () => void;
}

const DeskContext = createContext<DeskState>({
  announcements: [],
  unread: 0,
  mode: 'closed',
  setUnread: () => undefined,
  reconnect: () => undefined,
});

export const useDesk = () => useContext(DeskContext);

/** Opens the stream for the whole app (staff and console pages do not need it). */
export function DeskProvider({ enabled, children }: { enabled: boolean; children: ComponentChildren }) {
  const [announcements, setAnnouncements] = useState<Announcement[]>([]);
  const [unread, setUnread] = useState(0);
  const [epoch, setEpoch] = useState(0);
  const mode = useStream(
    enabled ? `${P}/events?session=${epoch}` : null,
    {
      announcements: (d) => setAnnouncements((d as { announcements: Announcement[] }).announcements),
      clarifications: (d) => setUnread((d as { unread: number }).unread),
    },
    async () => {
      setAnnouncements((await get<{ announcements: Announcement[] }>(`${P}/announcements`)).announcements);
      try {
        setUnread((await get<{ unread: number }>(`${P}/clarifications`)).unread);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 401)) throw err;
      }
      return false;
    },
    5000,
  );
  return (
    <DeskContext.Provider
      value={{
        announcements,
        unread,
        mode,
        setUnread,
        reconnect: () => {
          setUnread(0);
          setEpoch((n) => n + 1);
        },
      }}
    >
      {children}
    </DeskContext.Provider>
  );
}

/** The current announcements, pinned first (nothing when there are none). */
export function Announcements() {
  const { announcements } = useDesk();
  if (announcements.length === 0) return null;
  return (
    <section class="announcements" aria-label="Announcements">
      {announcements.map((a) => (
        <article key={a.id} class={`announcement${a.pinned ? ' pinned' : ''}`} data-announcement={a.id}>
          <h2>
            {a.pinned && <span class="badge run">pinned</span>} {a.title}
          </h2>
          <p class="pre">{a.body}</p>
          <small class="muted">
            <Time at={a.updated_at} />
          </small>
        </article>
      ))}
    </section>
  );
}

/** "2 new answers", for the header's team link. */
export function UnreadBadge() {
  const { unread } = useDesk();
  if (unread === 0) return null;
  return (
    <span
      class="count"
      data-testid="unread"
      aria-label={`${unread} unread ${unread === 1 ? 'answer' : 'answers'}`}
    >
      {unread}
    </span>
  );
}
