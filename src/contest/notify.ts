/**
 * Outgoing notifications: a Slack-compatible POST (`{"text": …}`) to every configured webhook.
 *
 * The queue is in memory, per target, one delivery in flight per target (so a target sees
 * messages in order), retried with exponential backoff (the hub's retryBaseMs, at most a minute
 * apart) up to MAX_ATTEMPTS. `send` only appends and returns: no request ever waits on a webhook.
 *
 * Why not a persisted outbox: a notification is a copy of something the portal keeps durably (the
 * clarification queue, the job list, the health page, the schedule), so losing the undelivered
 * tail in a crash costs a ping, not data; the events that several hubs could each see (offline,
 * freeze, end) are claimed once in the store before they are sent, so hubs do not repeat them.
 * A durable outbox would add a table, claims between hubs and cleanup for no data that is not
 * already safe.
 */
import type { Logger } from 'pino';
import { backoffDelay } from '../core/lease.js';

export const MAX_ATTEMPTS = 8;
const MAX_QUEUED_PER_TARGET = 500;
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_RETRY_GAP_MS = 60_000;

export type NotificationKind = 'clarification' | 'aborted' | 'offline' | 'freeze' | 'end';

interface Delivery {
  text: string;
  kind: NotificationKind;
  attempt: number;
}

interface Target {
  url: string;
  queue: Delivery[];
  busy: boolean;
  timer: NodeJS.Timeout | null;
}

export class Notifier {
  private readonly targets = new Map<string, Target>();
  private closed = false;
  /** Aborts the deliveries in flight when the hub stops. */
  private readonly stopping = new AbortController();
  /** Counters for the staff page and tests. */
  readonly stats = { delivered: 0, failedAttempts: 0, dropped: 0 };

  constructor(
    private readonly o: {
      log: Logger;
      retryBaseMs: number;
      retryMaxMs: number;
      /** The webhook URLs at the time of sending. */
      targets: () => Promise<string[]>;
    },
  ) {}

  /** Queues `text` for every target; never throws, never waits for a delivery. */
  send(kind: NotificationKind, text: string): void {
    if (this.closed) return;
    void this.o
      .targets()
      .then((urls) => {
        for (const url of urls) this.enqueue(url, { kind, text, attempt: 0 });
      })
      .catch((err: unknown) => this.o.log.warn({ err, kind }, 'notification targets could not be read'));
  }

  /** Whether any target is configured (else events need not even be claimed). */
  async hasTargets(): Promise<boolean> {
    return (await this.o.targets()).length > 0;
  }

  /** Deliveries waiting or in flight. */
  pending(): number {
    let n = 0;
    for (const t of this.targets.values()) n += t.queue.length;
    return n;
  }

  close(): void {
    this.closed = true;
    this.stopping.abort();
    for (const t of this.targets.values()) if (t.timer) clearTimeout(t.timer);
    this.targets.clear();
  }

  private enqueue(url: string, d: Delivery): void {
    let t = this.targets.get(url);
    if (!t) this.targets.set(url, (t = { url, queue: [], busy: false, timer: null }));
    if (t.queue.length >= MAX_QUEUED_PER_TARGET) {
      t.queue.splice(t.busy ? 1 : 0, 1);
      this.stats.dropped++;
      this.o.log.warn({ url }, 'notification queue full: the oldest waiting message was dropped');
    }
    t.queue.push(d);
    this.pump(t);
  }

  private pump(t: Target): void {
    if (t.busy || t.timer || this.closed) return;
    const d = t.queue[0];
    if (!d) return;
    t.busy = true;
    void this.post(t.url, d.text).then((error) => {
      t.busy = false;
      if (this.closed) return;
      if (error === null) {
        this.stats.delivered++;
        t.queue.shift();
        return this.pump(t);
      }
      this.stats.failedAttempts++;
      d.attempt++;
      if (d.attempt >= MAX_ATTEMPTS) {
        t.queue.shift();
        this.stats.dropped++;
        this.o.log.error(
          { url: t.url, kind: d.kind, error },
          `notification given up after ${MAX_ATTEMPTS} attempts`,
        );
        return this.pump(t);
      }
      const delay = backoffDelay(d.attempt, {
        baseMs: this.o.retryBaseMs,
        maxMs: Math.min(this.o.retryMaxMs, MAX_RETRY_GAP_MS),
      });
      this.o.log.warn({ url: t.url, kind: d.kind, error, retryInMs: delay }, 'notification failed; retrying');
      t.timer = setTimeout(() => {
        t.timer = null;
        this.pump(t);
      }, delay);
      t.timer.unref();
    });
  }

  /** One POST; null when the target took it (2xx), else why not. */
  private async post(url: string, text: string): Promise<string | null> {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
        signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
        redirect: 'manual',
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? null : `HTTP ${res.status}`;
    } catch (err) {
      const cause = (err as Error).cause as { code?: string } | undefined;
      return cause?.code ?? (err as Error).message;
    }
  }
}
