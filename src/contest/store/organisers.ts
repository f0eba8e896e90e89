/**
 * The organisers' half of the portal store: clarifications (and what each team has read),
 * announcements, benchmarker service state and last dequeue, organiser settings, one-time event
 * claims, verification runs, reviews and the published final ranking (migration 007).
 *
 * Both dialects share one implementation (organisers-sql.ts) over a tiny runner each store hands
 * out (`PortalStore.organisers()`): every method is one statement (conditions and upserts inside
 * it), so each is atomic by itself in both databases and the SQL is written once.
 * Ids are decimal strings; times are integer milliseconds (UTC epoch), as in the PortalStore.
 */

export interface ClarificationRecord {
  id: string;
  /** The asking team (null once that team was deleted). */
  teamId: string | null;
  /** The question as shown (staff may have rewritten it for everyone). */
  question: string;
  /** The team's own words, when staff rewrote the question. */
  originalQuestion: string | null;
  answer: string | null;
  /** Answered to every team (else to the asking team only). */
  disclosed: boolean;
  createdAt: number;
  answeredAt: number | null;
  updatedAt: number;
}

export interface AnnouncementRecord {
  id: string;
  title: string;
  body: string;
  pinned: boolean;
  createdAt: number;
  updatedAt: number;
  /** Withdrawn announcements stay in the staff list only. */
  withdrawnAt: number | null;
}

export interface BenchmarkerHealthRecord {
  benchmarkerId: string;
  outOfService: boolean;
  lastDequeueAt: number | null;
}

/** What the core jobs table says about one benchmarker's hub worker. */
export interface BenchmarkerJobStats {
  workerId: string;
  jobs: number;
  /** Jobs that ended `aborted` (the core's `failed`: crashed, timed out, aborted). */
  aborted: number;
  /** The job it runs now, if any. */
  runningJobId: string | null;
}

export interface VerificationRecord {
  jobId: string;
  teamId: string;
  createdAt: number;
}

export interface ReviewRecord {
  teamId: string;
  disqualified: boolean;
  note: string;
  updatedAt: number;
}

export interface PublicationRecord {
  /** The final ranking as published (JSON text, served as is). */
  body: string;
  publishedAt: number;
}

export interface OrganiserStore {
  clarificationInsert(p: { teamId: string; question: string; now: number }): Promise<ClarificationRecord>;
  /**
   * Answers (or re-answers) a clarification. `question` rewrites it; the team's original words
   * are kept once (a second rewrite keeps the first original). Null when it does not exist.
   */
  clarificationAnswer(p: {
    id: string;
    answer: string;
    disclosed: boolean;
    question?: string;
    now: number;
  }): Promise<ClarificationRecord | null>;
  clarificationGet(p: { id: string }): Promise<ClarificationRecord | null>;
  /**
   * Clarifications, newest first: all (staff), or those a team sees (its own and the disclosed
   * ones) when `teamId` is given; only unanswered ones with `open`.
   */
  clarificationList(p: { teamId?: string; open?: boolean }): Promise<ClarificationRecord[]>;
  /** When the team last read its clarifications (null: never). */
  clarificationReadGet(p: { teamId: string }): Promise<number | null>;
  /** Moves the team's read mark forward (never back). */
  clarificationReadSet(p: { teamId: string; at: number }): Promise<void>;

  announcementInsert(p: {
    title: string;
    body: string;
    pinned: boolean;
    now: number;
  }): Promise<AnnouncementRecord>;
  /** Changes the given fields (undefined = keep); `withdrawn` withdraws or restores. */
  announcementUpdate(p: {
    id: string;
    title?: string;
    body?: string;
    pinned?: boolean;
    withdrawn?: boolean;
    now: number;
  }): Promise<AnnouncementRecord | null>;
  /** Announcements, pinned first, then newest first; withdrawn ones only with `withdrawn`. */
  announcementList(p: { withdrawn: boolean }): Promise<AnnouncementRecord[]>;

  /** Every benchmarker's service state and last dequeue, by id. */
  healthList(): Promise<BenchmarkerHealthRecord[]>;
  healthSetService(p: { benchmarkerId: string; outOfService: boolean }): Promise<void>;
  /** Records a dequeue at `at` (keeps the later of the stored and the given time). */
  healthSeen(p: { benchmarkerId: string; at: number }): Promise<void>;
  /** Per hub worker, from the core jobs table: jobs of `runtime` it took, aborted, running. */
  benchmarkerJobStats(p: { runtime: string }): Promise<BenchmarkerJobStats[]>;

  /** The organiser settings as stored ({} when never set). */
  settingsGet(): Promise<Record<string, unknown>>;
  settingsSet(p: { data: Record<string, unknown>; now: number }): Promise<void>;
  /** Claims a one-time event by key: true for the first caller ever, false after. */
  onceClaim(p: { key: string; now: number }): Promise<boolean>;

  verificationInsert(p: { jobId: string; teamId: string; now: number }): Promise<void>;
  /** Every verification run, oldest first. */
  verificationList(): Promise<VerificationRecord[]>;
  reviewSet(p: { teamId: string; disqualified: boolean; note: string; now: number }): Promise<ReviewRecord>;
  reviewList(): Promise<ReviewRecord[]>;
  publicationSet(p: { body: string; now: number }): Promise<PublicationRecord>;
  publicationGet(): Promise<PublicationRecord | null>;
  publicationDelete(): Promise<boolean>;
}

/**
 * What a dialect provides: `?` placeholders (PostgreSQL numbers them), JS booleans (SQLite binds
 * them as 0/1). `write` runs one statement and resolves after its commit with its rows
 * (RETURNING, or none).
 */
export interface SqlRunner {
  read<R>(sql: string, args?: unknown[]): Promise<R[]>;
  write<R>(sql: string, args?: unknown[]): Promise<R[]>;
}
