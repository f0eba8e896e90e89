/**
 * The webhook half of the SQLite store: webhooks and their delivery outbox. Writes run inside
 * group-commit transactions; one process owns the file, so a claim needs no row locks.
 */
import type { Database, Statement } from 'better-sqlite3';
import { deliveryFromRow, webhookFromRow, type DeliveryRow, type WebhookRow } from '../webhook-rows.js';
import type { DeliveryRecord, WebhookRecord } from '../store.js';

export class SqliteWebhooks {
  private readonly s: Record<string, Statement>;

  constructor(private readonly db: Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insert: p(`INSERT INTO webhooks (url, events, secret, owner, created_at) VALUES (?, ?, ?, ?, ?)
        RETURNING *`),
      get: p('SELECT * FROM webhooks WHERE id = ?'),
      list: p('SELECT * FROM webhooks WHERE (? IS NULL OR owner = ?) ORDER BY id LIMIT ? + 0'),
      delete: p('DELETE FROM webhooks WHERE id = ?'),
      deleteDeliveries: p('DELETE FROM webhook_deliveries WHERE webhook_id = ?'),
      claim: p(`UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?
        WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ?
          ORDER BY next_attempt_at LIMIT ? + 0)
        RETURNING *, (SELECT url FROM webhooks w WHERE w.id = webhook_id) AS url,
          (SELECT secret FROM webhooks w WHERE w.id = webhook_id) AS secret`),
      record:
        p(`UPDATE webhook_deliveries SET state = ?, last_status = ?, last_error = ?, next_attempt_at = ?,
        finished_at = CASE WHEN ? = 'pending' THEN NULL ELSE ? END WHERE id = ?`),
      deleteFinished: p(`DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
        WHERE state <> 'pending' AND finished_at < ? LIMIT ? + 0)`),
      deliveries: p(
        `SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND id < ? ORDER BY id DESC LIMIT ? + 0`,
      ),
    };
  }

  insert(p: Omit<WebhookRecord, 'id'>): WebhookRecord {
    return webhookFromRow(
      this.s.insert!.get(p.url, JSON.stringify(p.events), p.secret, p.owner, p.createdAt) as WebhookRow,
    );
  }

  get(id: string): WebhookRecord | null {
    const row = this.s.get!.get(Number(id)) as WebhookRow | undefined;
    return row ? webhookFromRow(row) : null;
  }

  list(p: { owner?: string; limit: number }): WebhookRecord[] {
    const owner = p.owner ?? null;
    return (this.s.list!.all(owner, owner, p.limit) as WebhookRow[]).map(webhookFromRow);
  }

  delete(id: string): boolean {
    this.s.deleteDeliveries!.run(Number(id));
    return this.s.delete!.run(Number(id)).changes === 1;
  }

  enqueue(p: { since: number; jobIds?: string[]; now: number }): number {
    const ids = p.jobIds?.map(Number);
    const sql = `INSERT INTO webhook_deliveries (webhook_id, event, job_id, state, next_attempt_at, created_at)
      SELECT w.id, 'job.' || j.state, j.id, 'pending', ?, ?
      FROM jobs j JOIN webhooks w ON (w.owner IS NULL OR w.owner = j.owner)
        AND EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = 'job.' || j.state)
      WHERE j.state IN ('succeeded', 'failed', 'canceled') AND j.finished_at >= max(?, w.created_at)
        ${ids ? `AND j.id IN (${ids.map(() => '?').join(',')})` : ''}
      ON CONFLICT (webhook_id, job_id, event) DO NOTHING`;
    return this.db.prepare(sql).run(p.now, p.now, p.since, ...(ids ?? [])).changes;
  }

  claim(p: { now: number; limit: number; claimMs: number }) {
    const rows = this.s.claim!.all(p.now + p.claimMs, p.now, p.limit) as (DeliveryRow & {
      url: string;
      secret: string;
    })[];
    return rows.map((r) => ({ ...deliveryFromRow(r), url: r.url, secret: r.secret }));
  }

  record(p: {
    id: string;
    state: DeliveryRecord['state'];
    status: number | null;
    error: string | null;
    nextAttemptAt: number;
    now: number;
  }): void {
    this.s.record!.run(p.state, p.status, p.error, p.nextAttemptAt, p.state, p.now, Number(p.id));
  }

  deleteFinished(before: number, limit: number): number {
    return this.s.deleteFinished!.run(before, limit).changes;
  }

  deliveries(p: { webhookId: string; beforeId?: string; limit: number }): DeliveryRecord[] {
    const before = p.beforeId === undefined ? Number.MAX_SAFE_INTEGER : Number(p.beforeId);
    return (this.s.deliveries!.all(Number(p.webhookId), before, p.limit) as DeliveryRow[]).map(
      deliveryFromRow,
    );
  }
}
