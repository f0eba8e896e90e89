-- 003: who owns what. Workers, KV namespaces and blob uploads remember the token that made them
-- (the token id as text, like jobs.owner), so that every face can check a caller acts only on
-- its own; tokens get an optional expiry and a last-used time.
ALTER TABLE workers ADD COLUMN owner TEXT;
ALTER TABLE kv_namespaces ADD COLUMN owner TEXT;
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
-- Blobs are stored once per content; each token that uploaded the content may read it.
CREATE TABLE blob_grants (
  blob_id INTEGER NOT NULL,
  owner TEXT NOT NULL,
  PRIMARY KEY (blob_id, owner)
);
-- Finds the running jobs leased to a token's workers (blob and KV access of workers).
CREATE INDEX workers_owner ON workers (owner) WHERE owner IS NOT NULL;
