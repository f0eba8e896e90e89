-- 007: the contest organisers' desk (src/contest/store/organisers.ts): clarifications, their read
-- marks, announcements, benchmarker service state and last dequeue, organiser settings, one-time
-- event claims (notifications sent once across hubs), verification runs, reviews and the published
-- final ranking. Times are integer milliseconds since the epoch (UTC).
CREATE TABLE portal_clarifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  -- The asking team; NULL once that team is deleted (a published answer stays).
  team_id INTEGER,
  question TEXT NOT NULL,
  -- The team's own words when staff rewrote the question for publication.
  original_question TEXT,
  answer TEXT,
  disclosed INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  answered_at INTEGER,
  updated_at INTEGER NOT NULL
);
CREATE INDEX portal_clarifications_team ON portal_clarifications (team_id);
CREATE INDEX portal_clarifications_open ON portal_clarifications (id) WHERE answered_at IS NULL;

CREATE TABLE portal_clarification_reads (
  team_id INTEGER PRIMARY KEY,
  read_at INTEGER NOT NULL
);

CREATE TABLE portal_announcements (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  pinned INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  withdrawn_at INTEGER
);

-- A benchmarker's service state and its last dequeue (flushed about every second by the hub, like
-- the other last_seen_at columns).
ALTER TABLE portal_benchmarkers ADD COLUMN out_of_service INTEGER NOT NULL DEFAULT 0;
ALTER TABLE portal_benchmarkers ADD COLUMN last_seen_at INTEGER;

CREATE TABLE portal_settings (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  data TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE portal_once (
  key TEXT PRIMARY KEY,
  at INTEGER NOT NULL
);

CREATE TABLE portal_verifications (
  job_id INTEGER PRIMARY KEY,
  team_id INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX portal_verifications_team ON portal_verifications (team_id, job_id);

CREATE TABLE portal_reviews (
  team_id INTEGER PRIMARY KEY,
  disqualified INTEGER NOT NULL,
  note TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE portal_publication (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  body TEXT NOT NULL,
  published_at INTEGER NOT NULL
);
