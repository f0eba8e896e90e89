/**
 * Cross-process wake-up through LISTEN/NOTIFY. A transaction that makes jobs runnable sends one
 * notification (per transaction, not per job) naming the runtimes and counts; every other hub
 * process wakes at most that many of its parked workers for those runtimes. Notifications can be
 * lost (the listener reconnecting), so after a reconnect listeners are told to resynchronise, and
 * the hub also runs a slow safety poll.
 */
import pg from 'pg';
import type { PoolClient } from 'pg';
import type { JobRecord, JobsAvailable } from '../store.js';

export type { JobsAvailable };

/** PostgreSQL refuses payloads of 8000 bytes or more; stay well below. */
const MAX_PAYLOAD = 7000;

/** Sends, inside the caller's transaction, one notification for the queued jobs among `jobs`. */
export async function notifyQueued(
  c: Pick<PoolClient, 'query'>,
  channel: string,
  origin: string,
  jobs: JobRecord[],
): Promise<void> {
  const byRuntime = new Map<string, { count: number; at: number }>();
  for (const j of jobs) {
    if (j.state !== 'queued') continue;
    const e = byRuntime.get(j.runtime);
    if (e) {
      e.count++;
      e.at = Math.min(e.at, j.runAt);
    } else byRuntime.set(j.runtime, { count: 1, at: j.runAt });
  }
  if (byRuntime.size === 0) return;
  let payload = JSON.stringify({ o: origin, r: [...byRuntime].map(([r, e]) => [r, e.count, e.at]) });
  // Too many runtimes for one payload: tell the others to look at everything instead.
  if (payload.length > MAX_PAYLOAD) payload = JSON.stringify({ o: origin, all: true });
  await c.query('SELECT pg_notify($1, $2)', [channel, payload]);
}

/**
 * One dedicated connection that LISTENs, reconnecting with jittered backoff. Each reconnect is
 * reported as `{resync: true}`: what was sent while it was away is lost.
 */
export class NotificationListener {
  private client: pg.Client | null = null;
  private closed = false;
  private readonly listeners = new Set<(e: JobsAvailable) => void>();
  private retryMs = 100;

  constructor(
    private readonly connectionString: string,
    /** One channel per schema: hubs on other schemas of the database are other deployments. */
    private readonly channel: string,
    private readonly origin: string,
  ) {}

  subscribe(fn: (e: JobsAvailable) => void): () => void {
    this.listeners.add(fn);
    if (!this.client) void this.connect(false);
    return () => this.listeners.delete(fn);
  }

  private emit(e: JobsAvailable): void {
    for (const fn of this.listeners) fn(e);
  }

  private async connect(isReconnect: boolean): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.connectionString });
    this.client = client;
    const retry = () => {
      if (this.closed || this.client !== client) return;
      this.client = null;
      client.removeAllListeners();
      client.end().catch(() => undefined);
      const delay = this.retryMs * (0.5 + Math.random());
      this.retryMs = Math.min(this.retryMs * 2, 5000);
      setTimeout(() => void this.connect(true), delay).unref();
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (msg) => {
      if (msg.channel !== this.channel || !msg.payload) return;
      try {
        const p = JSON.parse(msg.payload) as { o: string; r?: [string, number, number][]; all?: boolean };
        if (p.o === this.origin) return;
        if (p.all) return this.emit({ resync: true });
        this.emit({ runtimes: (p.r ?? []).map(([runtime, count, at]) => ({ runtime, count, at })) });
      } catch {
        // Not ours: ignore.
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      this.retryMs = 100;
      if (isReconnect) this.emit({ resync: true });
    } catch {
      retry();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.client = null;
    if (c) {
      c.removeAllListeners();
      await c.end().catch(() => undefined);
    }
  }
}
