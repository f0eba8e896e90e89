/**
 * The webhook half of the PostgreSQL store: webhooks and their delivery outbox. Several hubs
 * send deliveries: a claim locks due rows with `FOR UPDATE SKIP LOCKED` and moves their next
 * attempt on in the same statement, so each delivery is normally sent by one hub once.
 */
import type { PoolClient } from 'pg';
import { deliveryFromRow, webhookFromRow, type DeliveryRow, type WebhookRow } from '../webhook-rows.js';
import type { DeliveryRecord, WebhookRecord } from '../store.js';

type Q = Pick<PoolClient, 'query'>;

export async function insert(q: Q, p: Omit<WebhookRecord, 'id'>): Promise<WebhookRecord> {
  const { rows } = await q.query<WebhookRow>(
    'INSERT INTO webhooks (url, events, secret, owner, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *',
    [p.url, JSON.stringify(p.events), p.secret, p.owner, p.createdAt],
  );
  return webhookFromRow(rows[0]!);
}

export async function get(q: Q, id: string): Promise<WebhookRecord | null> {
  const { rows } = await q.query<WebhookRow>('SELECT * FROM webhooks WHERE id = $1', [Number(id)]);
  return rows[0] ? webhookFromRow(rows[0]) : null;
}

export async function list(q: Q, p: { owner?: string; limit: number }): Promise<WebhookRecord[]> {
  const { rows } = await q.query<WebhookRow>(
    'SELECT * FROM webhooks WHERE ($1::text IS NULL OR owner = $1) ORDER BY id LIMIT $2',
    [p.owner ?? null, p.limit],
  );
  return rows.map(webhookFromRow);
}

export async function remove(q: Q, id: string): Promise<boolean> {
  await q.query('DELETE FROM webhook_deliveries WHERE webhook_id = $1', [Number(id)]);
  const { rowCount } = await q.query('DELETE FROM webhooks WHERE id = $1', [Number(id)]);
  return rowCount === 1;
}

export async function enqueue(q: Q, p: { since: number; jobIds?: string[]; now: number }): Promise<number> {
  const { rowCount } = await q.query(
    `INSERT INTO webhook_deliveries (webhook_id, event, job_id, state, next_attempt_at, created_at)
     SELECT w.id, 'job.' || j.state, j.id, 'pending', $1, $1
     FROM jobs j JOIN webhooks w ON (w.owner IS NULL OR w.owner = j.owner)
       AND w.events::jsonb ? ('job.' || j.state)
     WHERE j.state IN ('succeeded', 'failed', 'canceled') AND j.finished_at >= greatest($2::bigint, w.created_at)
       AND ($3::bigint[] IS NULL OR j.id = ANY($3::bigint[]))
     ON CONFLICT (webhook_id, job_id, event) DO NOTHING`,
    [p.now, p.since, p.jobIds ? p.jobIds.map(Number) : null],
  );
  return rowCount ?? 0;
}

export async function claim(q: Q, p: { now: number; limit: number; claimMs: number }) {
  const { rows } = await q.query<DeliveryRow & { url: string; secret: string }>(
    `WITH c AS (SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1
       ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
     UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = $3
     FROM c, webhooks w WHERE d.id = c.id AND w.id = d.webhook_id
     RETURNING d.*, w.url, w.secret`,
    [p.now, p.limit, p.now + p.claimMs],
  );
  return rows.map((r) => ({ ...deliveryFromRow(r), url: r.url, secret: r.secret }));
}

export async function record(
  q: Q,
  p: {
    id: string;
    state: DeliveryRecord['state'];
    status: number | null;
    error: string | null;
    nextAttemptAt: number;
    now: number;
  },
): Promise<void> {
  await q.query(
    `UPDATE webhook_deliveries SET state = $1, last_status = $2, last_error = $3, next_attempt_at = $4,
       finished_at = CASE WHEN $1 = 'pending' THEN NULL ELSE $5::bigint END WHERE id = $6`,
    [p.state, p.status, p.error, p.nextAttemptAt, p.now, Number(p.id)],
  );
}

export async function deliveries(
  q: Q,
  p: { webhookId: string; beforeId?: string; limit: number },
): Promise<DeliveryRecord[]> {
  const { rows } = await q.query<DeliveryRow>(
    'SELECT * FROM webhook_deliveries WHERE webhook_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3',
    [Number(p.webhookId), p.beforeId === undefined ? Number.MAX_SAFE_INTEGER : Number(p.beforeId), p.limit],
  );
  return rows.map(deliveryFromRow);
}

/** Deletes up to `limit` done deliveries finished before `before`; how many. */
export async function deleteFinished(q: Q, before: number, limit: number): Promise<number> {
  const { rowCount } = await q.query(
    `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
       WHERE state <> 'pending' AND finished_at < $1 LIMIT $2)`,
    [before, limit],
  );
  return rowCount ?? 0;
}
