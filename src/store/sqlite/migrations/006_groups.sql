-- 006: job groups. A job may name a group; a group may limit how many of its jobs run at once
-- (concurrency), how many start per second (per_second), or be paused. Leases serve the groups
-- with queued work round-robin (least recently served first: served_at), so one group's backlog
-- does not delay another's jobs.
ALTER TABLE jobs ADD COLUMN group_name TEXT;
CREATE TABLE job_groups (
  name TEXT PRIMARY KEY,
  concurrency INTEGER,
  per_second REAL,
  paused INTEGER NOT NULL DEFAULT 0,
  -- When a lease last took a job of this group (ms * 1000 + order within that lease).
  served_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
-- The queue splits in two: ungrouped jobs keep the plain path (one ordered run per runtime,
-- unchanged in cost), grouped jobs get one ordered run per group.
DROP INDEX jobs_queue;
CREATE INDEX jobs_queue ON jobs (runtime, priority DESC, id) WHERE state = 'queued' AND group_name IS NULL;
CREATE INDEX jobs_group_queue ON jobs (group_name, runtime, priority DESC, id)
  WHERE state = 'queued' AND group_name IS NOT NULL;
-- A group's running jobs (its concurrency) and recent starts (its rate), counted at lease time.
CREATE INDEX jobs_group_running ON jobs (group_name) WHERE state = 'running' AND group_name IS NOT NULL;
CREATE INDEX jobs_group_started ON jobs (group_name, started_at) WHERE group_name IS NOT NULL;
