/**
 * Who may reach what, as SQL conditions for the PostgreSQL store (the SQLite store has the same
 * conditions with named parameters): blob reads and lease holding, see the Store interface.
 */

/** blobReadable's condition: $1 blob id, $2 token id, $3 now (see the Store interface). */
export const BLOB_READABLE = `(
  EXISTS (SELECT 1 FROM blob_grants WHERE blob_id = $1 AND owner = $2)
  OR EXISTS (SELECT 1 FROM jobs WHERE owner = $2 AND input_blob_id = $1)
  OR EXISTS (SELECT 1 FROM jobs WHERE owner = $2 AND output_blob_id = $1)
  OR EXISTS (SELECT 1 FROM jobs j JOIN workers w ON w.id = j.lease_worker_id
      LEFT JOIN functions f ON f.id = j.function_id
    WHERE j.state = 'running' AND j.lease_expires_at > $3 AND w.owner = $2
      AND (j.input_blob_id = $1 OR f.code_blob_id = $1
        OR EXISTS (SELECT 1 FROM blob_grants g WHERE g.blob_id = $1 AND g.owner = j.owner))))`;

/** leaseHeldFor's condition: $1 the worker's token id, $2 the job owner, $3 now. */
export const LEASE_HELD_FOR = `EXISTS (SELECT 1 FROM jobs j JOIN workers w ON w.id = j.lease_worker_id
  WHERE j.state = 'running' AND j.lease_expires_at > $3 AND w.owner = $1 AND j.owner = $2)`;
