-- 001: the initial schema (PostgreSQL). Times are bigint milliseconds since the epoch (UTC).
CREATE TABLE blobs (
  id BIGSERIAL PRIMARY KEY,
  sha256 TEXT NOT NULL UNIQUE,
  size BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  touched_at BIGINT NOT NULL
);
CREATE INDEX blobs_touched ON blobs (touched_at);

CREATE TABLE functions (
  id BIGSERIAL PRIMARY KEY,
  name TEXT,
  runtime TEXT NOT NULL,
  code_blob_id BIGINT,
  tags JSONB NOT NULL DEFAULT '[]',
  timeout_ms BIGINT NOT NULL,
  max_attempts INTEGER NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX functions_code_blob ON functions (code_blob_id) WHERE code_blob_id IS NOT NULL;

CREATE TABLE jobs (
  id BIGSERIAL PRIMARY KEY,
  function_id BIGINT,
  runtime TEXT NOT NULL,
  input_blob_id BIGINT,
  input_inline BYTEA,
  tags JSONB NOT NULL DEFAULT '[]',
  -- Whether any tag is a rule (+x, -x): jobs without rules skip the eligibility test.
  has_rules BOOLEAN GENERATED ALWAYS AS (jsonb_path_exists(tags, '$[*] ? (@ starts with "+" || @ starts with "-")')) STORED,
  priority INTEGER NOT NULL DEFAULT 0,
  team TEXT,
  owner TEXT,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  timeout_ms BIGINT NOT NULL,
  run_at BIGINT NOT NULL,
  lease_token TEXT,
  lease_worker_id BIGINT,
  lease_expires_at BIGINT,
  progress JSONB,
  output_blob_id BIGINT,
  output_inline BYTEA,
  exit_status INTEGER,
  error TEXT,
  result JSONB,
  errors JSONB NOT NULL DEFAULT '[]',
  idempotency_key TEXT,
  next JSONB,
  parent_id BIGINT,
  created_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT
);
CREATE INDEX jobs_queue ON jobs (runtime, priority DESC, id) WHERE state = 'queued';
CREATE INDEX jobs_lease_expiry ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
-- Contest rule, enforced atomically: a team has at most one waiting or running job.
CREATE UNIQUE INDEX jobs_team_active ON jobs (team) WHERE team IS NOT NULL AND state IN ('queued', 'running');
-- Idempotency keys belong to a requester: the same key from two clients names two jobs.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (coalesce(owner, ''), idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_input_blob ON jobs (input_blob_id) WHERE input_blob_id IS NOT NULL;
CREATE INDEX jobs_output_blob ON jobs (output_blob_id) WHERE output_blob_id IS NOT NULL;

CREATE TABLE workers (
  id BIGSERIAL PRIMARY KEY,
  name TEXT,
  runtimes JSONB NOT NULL,
  tags JSONB NOT NULL DEFAULT '[]',
  capacity INTEGER NOT NULL,
  protocol TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL
);
CREATE INDEX workers_last_seen ON workers (last_seen_at);

CREATE TABLE kv_namespaces (
  id BIGSERIAL PRIMARY KEY,
  consistency TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE kv_entries (
  namespace BIGINT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  expires_at BIGINT,
  PRIMARY KEY (namespace, key)
);

CREATE TABLE tokens (
  id BIGSERIAL PRIMARY KEY,
  role TEXT NOT NULL,
  name TEXT,
  hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);
