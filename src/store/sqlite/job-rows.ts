/**
 * Job rows of the SQLite store as arrays. better-sqlite3 builds a row object property by property
 * in native code, which cost more than the statements themselves on the hot path (measured: an
 * insert with `RETURNING *` 9.5 µs, without 2.1 µs), so rows are read with `.raw(true)` and
 * mapped here by position.
 */
import type { Database } from 'better-sqlite3';
import type { JobRow } from '../rows.js';

/** The columns of `jobs` in table order: the positions `rowFromArray` reads. */
const COLUMNS = [
  'id', 'function_id', 'runtime', 'input_blob_id', 'input_inline', 'tags', 'priority', 'team', 'owner',
  'state', 'attempts', 'max_attempts', 'timeout_ms', 'run_at', 'lease_token', 'lease_worker_id',
  'lease_expires_at', 'progress', 'output_blob_id', 'output_inline', 'exit_status', 'error', 'result',
  'errors', 'idempotency_key', 'next', 'parent_id', 'created_at', 'started_at', 'finished_at',
  'group_name',
] as const; // prettier-ignore

/* eslint-disable @typescript-eslint/no-explicit-any -- a row array of the columns above */
export function rowFromArray(a: any[]): JobRow {
  return {
    id: a[0], function_id: a[1], runtime: a[2], input_blob_id: a[3], input_inline: a[4], tags: a[5],
    priority: a[6], team: a[7], owner: a[8], state: a[9], attempts: a[10], max_attempts: a[11],
    timeout_ms: a[12], run_at: a[13], lease_token: a[14], lease_worker_id: a[15],
    lease_expires_at: a[16], progress: a[17], output_blob_id: a[18], output_inline: a[19],
    exit_status: a[20], error: a[21], result: a[22], errors: a[23], idempotency_key: a[24],
    next: a[25], parent_id: a[26], created_at: a[27], started_at: a[28], finished_at: a[29],
    group_name: a[30],
  }; // prettier-ignore
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Refuses to start on a `jobs` table whose columns are not COLUMNS, in that order. */
export function checkJobColumns(db: Database): void {
  const columns = db
    .prepare('SELECT * FROM jobs LIMIT 0')
    .columns()
    .map((c) => c.name);
  if (columns.join() !== COLUMNS.join())
    throw new Error(`the jobs table has columns ${columns.join()}: update COLUMNS and rowFromArray`);
}
