-- 005: cron schedules and webhooks.
-- A schedule creates a job at each tick of its cron expression. `next_run_at` is the tick not yet
-- run: a hub runs it by moving next_run_at on (a conditional UPDATE) in the same commit as the
-- job insert, so each tick makes one job however many hubs share the database.
CREATE TABLE schedules (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  cron TEXT NOT NULL,
  timezone TEXT NOT NULL,
  -- The job to create, as the job service takes it (JSON; inline input as base64).
  job TEXT NOT NULL,
  overlap TEXT NOT NULL,
  owner TEXT,
  paused INTEGER NOT NULL DEFAULT 0,
  next_run_at INTEGER NOT NULL,
  last_run_at INTEGER,
  last_job_id INTEGER,
  created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX schedules_name ON schedules (coalesce(owner, ''), name);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE paused = 0;

-- Webhooks: where to tell about job outcomes. Deliveries are an outbox: one row per webhook, job
-- and event (unique, so every hub may add the rows it sees and none is added twice), sent and
-- retried by whichever hub claims it.
CREATE TABLE webhooks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  secret TEXT NOT NULL,
  owner TEXT,
  created_at INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  webhook_id INTEGER NOT NULL,
  event TEXT NOT NULL,
  job_id INTEGER NOT NULL,
  -- pending (to send, at next_attempt_at), delivered, or failed (gave up).
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_status INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (webhook_id, job_id, event);
