-- 002: the contest portal (src/portal). Times are bigint milliseconds since the epoch (UTC).
CREATE TABLE portal_contest (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  starts_at BIGINT,
  freezes_at BIGINT,
  ends_at BIGINT,
  updated_at BIGINT
);

CREATE TABLE portal_teams (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  owner_id BIGINT,
  password_hash TEXT,
  invite_token TEXT UNIQUE,
  created_at BIGINT NOT NULL
);

CREATE TABLE portal_members (
  id BIGSERIAL PRIMARY KEY,
  team_id BIGINT NOT NULL,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (team_id, name)
);

CREATE TABLE portal_servers (
  id BIGSERIAL PRIMARY KEY,
  team_id BIGINT NOT NULL,
  hostname TEXT NOT NULL,
  global_ip TEXT NOT NULL UNIQUE,
  private_ip TEXT NOT NULL,
  is_bench_target BOOLEAN NOT NULL DEFAULT false,
  created_at BIGINT NOT NULL,
  UNIQUE (team_id, hostname)
);
-- A team has at most one bench target.
CREATE UNIQUE INDEX portal_servers_target ON portal_servers (team_id) WHERE is_bench_target;

CREATE TABLE portal_benchmarkers (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  address TEXT NOT NULL,
  token_hash TEXT,
  worker_id BIGINT,
  created_at BIGINT NOT NULL
);

CREATE TABLE portal_bindings (
  benchmarker_id BIGINT NOT NULL,
  team_id BIGINT NOT NULL,
  PRIMARY KEY (benchmarker_id, team_id)
);
CREATE INDEX portal_bindings_team ON portal_bindings (team_id);

CREATE TABLE portal_sessions (
  token_hash TEXT PRIMARY KEY,
  team_id BIGINT NOT NULL,
  member_id BIGINT,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX portal_sessions_team ON portal_sessions (team_id);

CREATE TABLE portal_scores (
  seq BIGSERIAL PRIMARY KEY,
  job_id BIGINT NOT NULL UNIQUE,
  team_id BIGINT NOT NULL,
  score BIGINT NOT NULL,
  passed BOOLEAN NOT NULL,
  finished_at BIGINT NOT NULL
);
CREATE INDEX portal_scores_team ON portal_scores (team_id);

-- A team's jobs newest first (contestant job lists), without walking every job.
CREATE INDEX jobs_team ON jobs (team, id) WHERE team IS NOT NULL;
