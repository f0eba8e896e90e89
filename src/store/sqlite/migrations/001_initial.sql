-- 001: the initial schema. Times are integer milliseconds since the epoch (UTC).
CREATE TABLE blobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sha256 TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  -- Last time the blob was uploaded again or referenced; retention counts from here.
  touched_at INTEGER NOT NULL
);
CREATE INDEX blobs_touched ON blobs (touched_at);

CREATE TABLE functions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT,
  runtime TEXT NOT NULL,
  code_blob_id INTEGER,
  tags TEXT NOT NULL DEFAULT '[]',
  timeout_ms INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX functions_code_blob ON functions (code_blob_id) WHERE code_blob_id IS NOT NULL;

CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  function_id INTEGER,
  runtime TEXT NOT NULL,
  input_blob_id INTEGER,
  input_inline BLOB,
  tags TEXT NOT NULL DEFAULT '[]',
  priority INTEGER NOT NULL DEFAULT 0,
  team TEXT,
  owner TEXT,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  timeout_ms INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  lease_token TEXT,
  lease_worker_id INTEGER,
  lease_expires_at INTEGER,
  progress TEXT,
  output_blob_id INTEGER,
  output_inline BLOB,
  exit_status INTEGER,
  error TEXT,
  result TEXT,
  errors TEXT NOT NULL DEFAULT '[]',
  idempotency_key TEXT,
  next TEXT,
  parent_id INTEGER,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
-- The queue: one ordered run per runtime, only queued rows.
CREATE INDEX jobs_queue ON jobs (runtime, priority DESC, id) WHERE state = 'queued';
CREATE INDEX jobs_lease_expiry ON jobs (lease_expires_at) WHERE state = 'running';
-- No (state, id) index: every transition would move the row in it. Queued and running jobs are
-- found through the two partial indexes above; listing final jobs walks the primary key.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
-- Contest rule, enforced atomically: a team has at most one waiting or running job.
CREATE UNIQUE INDEX jobs_team_active ON jobs (team) WHERE team IS NOT NULL AND state IN ('queued', 'running');
-- Idempotency keys belong to a requester: the same key from two clients names two jobs.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (coalesce(owner, ''), idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_input_blob ON jobs (input_blob_id) WHERE input_blob_id IS NOT NULL;
CREATE INDEX jobs_output_blob ON jobs (output_blob_id) WHERE output_blob_id IS NOT NULL;

CREATE TABLE workers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT,
  runtimes TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  capacity INTEGER NOT NULL,
  protocol TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
);
CREATE INDEX workers_last_seen ON workers (last_seen_at);

CREATE TABLE kv_namespaces (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  consistency TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE kv_entries (
  namespace INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  expires_at INTEGER,
  PRIMARY KEY (namespace, key)
);

CREATE TABLE tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  role TEXT NOT NULL,
  name TEXT,
  hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
