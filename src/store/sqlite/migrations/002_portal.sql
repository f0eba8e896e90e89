-- 002: the contest portal (src/portal). Times are integer milliseconds since the epoch (UTC).
CREATE TABLE portal_contest (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  starts_at INTEGER,
  freezes_at INTEGER,
  ends_at INTEGER,
  updated_at INTEGER
);

CREATE TABLE portal_teams (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  owner_id INTEGER,
  password_hash TEXT,
  invite_token TEXT UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE portal_members (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  team_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (team_id, name)
);

CREATE TABLE portal_servers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  team_id INTEGER NOT NULL,
  hostname TEXT NOT NULL,
  global_ip TEXT NOT NULL UNIQUE,
  private_ip TEXT NOT NULL,
  is_bench_target INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  UNIQUE (team_id, hostname)
);
-- A team has at most one bench target.
CREATE UNIQUE INDEX portal_servers_target ON portal_servers (team_id) WHERE is_bench_target = 1;

CREATE TABLE portal_benchmarkers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  address TEXT NOT NULL,
  token_hash TEXT,
  worker_id INTEGER,
  created_at INTEGER NOT NULL
);

CREATE TABLE portal_bindings (
  benchmarker_id INTEGER NOT NULL,
  team_id INTEGER NOT NULL,
  PRIMARY KEY (benchmarker_id, team_id)
);
CREATE INDEX portal_bindings_team ON portal_bindings (team_id);

CREATE TABLE portal_sessions (
  token_hash TEXT PRIMARY KEY,
  team_id INTEGER NOT NULL,
  member_id INTEGER,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX portal_sessions_team ON portal_sessions (team_id);

CREATE TABLE portal_scores (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id INTEGER NOT NULL UNIQUE,
  team_id INTEGER NOT NULL,
  score INTEGER NOT NULL,
  passed INTEGER NOT NULL,
  finished_at INTEGER NOT NULL
);
CREATE INDEX portal_scores_team ON portal_scores (team_id);

-- A team's jobs newest first (contestant job lists), without walking every job.
CREATE INDEX jobs_team ON jobs (team, id) WHERE team IS NOT NULL;
