/** Row shapes of the webhook tables and their mapping to records, shared by both dialects. */
import type { DeliveryRecord, WebhookRecord } from './store.js';

export interface WebhookRow {
  id: number;
  url: string;
  events: string;
  secret: string;
  owner: string | null;
  created_at: number;
}

export const webhookFromRow = (r: WebhookRow): WebhookRecord => ({
  id: String(r.id),
  url: r.url,
  events: JSON.parse(r.events) as string[],
  secret: r.secret,
  owner: r.owner,
  createdAt: Number(r.created_at),
});

export interface DeliveryRow {
  id: number;
  webhook_id: number;
  event: string;
  job_id: number;
  state: DeliveryRecord['state'];
  attempts: number;
  next_attempt_at: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

export const deliveryFromRow = (r: DeliveryRow): DeliveryRecord => ({
  id: String(r.id),
  webhookId: String(r.webhook_id),
  event: r.event,
  jobId: String(r.job_id),
  state: r.state,
  attempts: r.attempts,
  nextAttemptAt: Number(r.next_attempt_at),
  lastStatus: r.last_status,
  lastError: r.last_error,
  createdAt: Number(r.created_at),
  finishedAt: r.finished_at === null ? null : Number(r.finished_at),
});
