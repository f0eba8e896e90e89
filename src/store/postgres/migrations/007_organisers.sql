-- 007: the contest organisers' desk (src/contest/store/organisers.ts): clarifications, their read
-- marks, announcements, benchmarker service state and last dequeue, organiser settings, one-time
-- event claims (notifications sent once across hubs), verification runs, reviews and the published
-- final ranking. Times are integer milliseconds since the epoch (UTC).
CREATE TABLE portal_clarifications (
  id BIGSERIAL PRIMARY KEY,
  -- The asking team; NULL once that team is deleted (a published answer stays).
  team_id BIGINT,
  question TEXT NOT NULL,
  -- The team's own words when staff rewrote the question for publication.
  original_question TEXT,
  answer TEXT,
  disclosed BOOLEAN NOT NULL DEFAULT false,
  created_at BIGINT NOT NULL,
  answered_at BIGINT,
  updated_at BIGINT NOT NULL
);
CREATE INDEX portal_clarifications_team ON portal_clarifications (team_id);
CREATE INDEX portal_clarifications_open ON portal_clarifications (id) WHERE answered_at IS NULL;

CREATE TABLE portal_clarification_reads (
  team_id BIGINT PRIMARY KEY,
  read_at BIGINT NOT NULL
);

CREATE TABLE portal_announcements (
  id BIGSERIAL PRIMARY KEY,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  pinned BOOLEAN NOT NULL DEFAULT false,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  withdrawn_at BIGINT
);

-- A benchmarker's service state and its last dequeue (flushed about every second by the hub, like
-- the other last_seen_at columns).
ALTER TABLE portal_benchmarkers ADD COLUMN out_of_service BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE portal_benchmarkers ADD COLUMN last_seen_at BIGINT;

CREATE TABLE portal_settings (
  id SMALLINT PRIMARY KEY CHECK (id = 1),
  data TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE portal_once (
  key TEXT PRIMARY KEY,
  at BIGINT NOT NULL
);

CREATE TABLE portal_verifications (
  job_id BIGINT PRIMARY KEY,
  team_id BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX portal_verifications_team ON portal_verifications (team_id, job_id);

CREATE TABLE portal_reviews (
  team_id BIGINT PRIMARY KEY,
  disqualified BOOLEAN NOT NULL,
  note TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE portal_publication (
  id SMALLINT PRIMARY KEY CHECK (id = 1),
  body TEXT NOT NULL,
  published_at BIGINT NOT NULL
);
