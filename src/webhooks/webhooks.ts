/**
 * Webhooks: HTTP POSTs that tell a receiver about job outcomes (`job.succeeded`, `job.failed`,
 * `job.canceled`), signed, delivered at least once and retried with backoff for up to 24 h.
 *
 * The outbox is a table: one row per webhook, job and event (unique). When a job reaches a final
 * state on this hub, its rows are added at once (once the hub knows a webhook exists: it re-reads
 * that every KNOWN_MS); a sweep every SWEEP_MS adds any a crash or that delay lost
 * (jobs finished in the last SWEEP_WINDOW_MS). A sender loop on every hub claims due rows (on
 * PostgreSQL with SKIP LOCKED, so hubs share the work), posts them and records the outcome;
 * a claim moves the row's next attempt CLAIM_MS on, so a hub that dies mid-send leaves it to be
 * sent again. Requests never wait for any of this.
 *
 * Done deliveries (delivered, or given up) are deleted by the hub's retention (`prune`), like
 * finished jobs, so the outbox does not grow without bound.
 *
 * Receivers are checked when they are connected to (the resolved address, not just the name):
 * loopback, link-local and private addresses are refused unless `webhookAllow` has them.
 */
import { createHmac } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import { HubError, notFound } from '../core/errors.js';
import { BlockList, canonicalIp, targetRefusal } from '../contest/net.js';
import type { HubContext } from '../jobs/context.js';
import type { DeliveryRecord, JobRecord, WebhookRecord } from '../store/store.js';
export type { DeliveryRecord, WebhookRecord };

export const WEBHOOK_EVENTS = ['job.succeeded', 'job.failed', 'job.canceled'] as const;
/** Deliveries are retried until this long after they were queued, then given up. */
export const DELIVERY_DEADLINE_MS = 24 * 3600_000;
const MAX_BACKOFF_MS = 3600_000;
const CLAIM_MS = 60_000;
const SEND_TIMEOUT_MS = 10_000;
const POLL_MS = 1_000;
/** How often a hub re-reads whether any webhook exists (made on another hub, or deleted). */
const KNOWN_MS = 2_000;
const SWEEP_MS = 10_000;
const SWEEP_WINDOW_MS = 10 * 60_000;
const CLAIM_BATCH = 20;
/**
 * Done deliveries are kept at least this long, whatever the retention: the sweep re-adds the
 * deliveries of jobs finished in its window that it does not find, so one pruned inside that
 * window would be sent again. Twice the window leaves room for hub clocks that disagree.
 */
const KEEP_AT_LEAST_MS = 2 * SWEEP_WINDOW_MS;
const PRUNE_BATCH = 500;
/** Most deliveries one prune deletes; the next retention round takes the rest. */
const PRUNE_MAX = 10_000;
/** Most webhooks one owner may have. */
const MAX_WEBHOOKS = 100;

export interface WebhookRequest {
  url: string;
  events: string[];
  secret: string;
}

/** Why the hub will not post to `ip` (unless allowed); null when it may. */
function addressRefusal(ip: string, allow: BlockList): string | null {
  const canonical = canonicalIp(ip);
  if (canonical === null) return 'not an IP address';
  if (allow.has(canonical)) return null;
  // 0.0.0.0 and :: reach this host as well.
  if (canonical === '0.0.0.0' || canonical === '::') return 'an unspecified address';
  return targetRefusal(canonical, 'global');
}

/** The signature header value for a body sent at `timestamp` (seconds): `v1=<hex HMAC-SHA256>`. */
export function signature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class WebhookService {
  private readonly allow: BlockList;
  private readonly agent: Agent;
  private timer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sending: Promise<void> | null = null;
  private again = false;
  private closed = false;
  /** Whether any webhook exists (re-read every SWEEP_MS): without one, job outcomes cost nothing. */
  private known = false;
  private pendingJobs = new Set<string>();
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly ctx: HubContext) {
    this.allow = new BlockList(ctx.config.webhookAllow);
    // Every connection's address is checked as it is made: a name that resolves to a refused
    // address (now, or after a DNS change) is not connected to.
    const guarded: LookupFunction = (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
        if (err) return callback(err, '', 0);
        const refused = addresses.map((a) => addressRefusal(a.address, this.allow)).find((r) => r !== null);
        if (refused) {
          const e = Object.assign(new Error(`${hostname} resolves to ${refused}; not allowed for webhooks`), {
            code: 'EWEBHOOKREFUSED',
          });
          return callback(e, '', 0);
        }
        if (options.all)
          return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        callback(null, addresses[0]!.address, addresses[0]!.family);
      });
    };
    this.agent = new Agent({ connect: { lookup: guarded, timeout: SEND_TIMEOUT_MS }, connections: 16 });
  }

  async create(req: WebhookRequest, owner: string | null): Promise<WebhookRecord> {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      throw new HubError(
        'validation_failed',
        `url must be an absolute http(s) URL, got ${JSON.stringify(req.url)}`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new HubError('validation_failed', `url must be http or https, got ${url.protocol}`);
    if (url.username || url.password)
      throw new HubError('validation_failed', 'url must not carry credentials; sign with the secret instead');
    this.checkHost(url);
    const events = [...new Set(req.events)];
    for (const e of events) {
      if (!(WEBHOOK_EVENTS as readonly string[]).includes(e))
        throw new HubError(
          'validation_failed',
          `unknown event ${e}; events are ${WEBHOOK_EVENTS.join(', ')}`,
        );
    }
    if (
      (await this.ctx.store.webhookList({ owner: owner ?? undefined, limit: MAX_WEBHOOKS })).length >=
      MAX_WEBHOOKS
    )
      throw new HubError('conflict', `at most ${MAX_WEBHOOKS} webhooks per owner; delete one first`);
    const hook = await this.ctx.store.webhookInsert({
      url: url.toString(),
      events,
      secret: req.secret,
      owner,
      createdAt: this.ctx.clock(),
    });
    this.known = true;
    return hook;
  }

  /** An IP-literal host is checked here (a name is checked when connected to). */
  private checkHost(url: URL): void {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (canonicalIp(host) === null) return;
    const why = addressRefusal(host, this.allow);
    if (why) {
      throw new HubError(
        'validation_failed',
        `url must not point at ${why}; the hub's operator can allow it with --webhook-allow (JOBHUB_WEBHOOK_ALLOW)`,
      );
    }
  }

  async get(id: string, owner?: string): Promise<WebhookRecord> {
    const hook = /^\d{1,18}$/.test(id) ? await this.ctx.store.webhookGet({ id }) : null;
    if (!hook || (owner !== undefined && hook.owner !== owner)) throw notFound('webhook', id);
    return hook;
  }

  list(owner?: string): Promise<WebhookRecord[]> {
    return this.ctx.store.webhookList({ owner, limit: 1000 });
  }

  async delete(id: string, owner?: string): Promise<void> {
    await this.get(id, owner);
    await this.ctx.store.webhookDelete({ id });
  }

  async deliveries(id: string, owner: string | undefined, p: { beforeId?: string; limit: number }) {
    await this.get(id, owner);
    return this.ctx.store.deliveryList({ webhookId: id, ...p });
  }

  /**
   * Deletes done deliveries that finished more than `retentionMs` ago (at least KEEP_AT_LEAST_MS),
   * in small batches, each its own commit; returns how many.
   */
  async prune(retentionMs: number): Promise<number> {
    const before = this.ctx.clock() - Math.max(retentionMs, KEEP_AT_LEAST_MS);
    let total = 0;
    for (;;) {
      const n = await this.ctx.store.deliveryDeleteFinished({ before, limit: PRUNE_BATCH });
      total += n;
      if (n < PRUNE_BATCH || total >= PRUNE_MAX) return total;
    }
  }

  start(): void {
    this.unsubscribe = this.ctx.events.subscribeAll((e) => {
      if (!this.known || e.type !== 'state') return;
      const s = e.job.state;
      if (s !== 'succeeded' && s !== 'failed' && s !== 'canceled') return;
      this.pendingJobs.add(e.job.id);
      if (this.pendingJobs.size === 1) setImmediate(() => void this.enqueuePending());
    });
    const poll = () => {
      this.timer = setTimeout(() => {
        // Nothing to claim while no webhook exists: no store write on the plain path.
        void (this.known ? this.sendDue() : Promise.resolve()).finally(() => !this.closed && poll());
      }, POLL_MS);
      this.timer.unref();
    };
    poll();
    let rounds = 0;
    const sweep = () => {
      this.sweepTimer = setTimeout(() => {
        const full = ++rounds % Math.round(SWEEP_MS / KNOWN_MS) === 0;
        void this.sweep(full).finally(() => !this.closed && sweep());
      }, KNOWN_MS);
      this.sweepTimer.unref();
    };
    void this.sweep(true);
    sweep();
  }

  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    void this.agent.close().catch(() => undefined);
  }

  /** Adds the deliveries of jobs that just finished here, then sends. */
  private async enqueuePending(): Promise<void> {
    const jobIds = [...this.pendingJobs];
    this.pendingJobs.clear();
    try {
      const added = await this.ctx.store.deliveryEnqueue({ since: 0, jobIds, now: this.ctx.clock() });
      if (added > 0) void this.sendDue();
    } catch (err) {
      // The sweep adds them later.
      if (!this.closed) this.ctx.log.warn({ err }, 'queuing webhook deliveries failed');
    }
  }

  /** Learns whether any webhook exists; `full`: also adds deliveries a crash may have lost. */
  private async sweep(full: boolean): Promise<void> {
    try {
      this.known = (await this.ctx.store.webhookList({ limit: 1 })).length > 0;
      if (!this.known || !full) return;
      const now = this.ctx.clock();
      await this.ctx.store.deliveryEnqueue({ since: now - SWEEP_WINDOW_MS, now });
    } catch (err) {
      if (!this.closed) this.ctx.log.warn({ err }, 'webhook sweep failed');
    }
  }

  /** Sends every due delivery (one run at a time; a call during a run runs again after it). */
  sendDue(): Promise<void> {
    if (this.sending) {
      this.again = true;
      return this.sending;
    }
    this.sending = (async () => {
      do {
        this.again = false;
        for (;;) {
          if (this.closed) return;
          const batch = await this.ctx.store.deliveryClaim({
            now: this.ctx.clock(),
            limit: CLAIM_BATCH,
            claimMs: CLAIM_MS,
          });
          await Promise.all(batch.map((d) => this.deliver(d)));
          if (batch.length < CLAIM_BATCH) break;
        }
      } while (this.again);
    })()
      .catch((err: unknown) => {
        if (!this.closed) this.ctx.log.warn({ err }, 'sending webhooks failed');
      })
      .finally(() => (this.sending = null));
    return this.sending;
  }

  private async deliver(d: DeliveryRecord & { url: string; secret: string }): Promise<void> {
    const { ctx } = this;
    const job = await ctx.store.jobGet({ id: d.jobId });
    const body = JSON.stringify({
      id: d.id,
      event: d.event,
      createdAt: new Date(d.createdAt).toISOString(),
      job: job ? jobPayload(job) : { id: d.jobId },
    });
    let status: number | null = null;
    let error: string | null = null;
    try {
      this.checkHost(new URL(d.url));
      const timestamp = Math.floor(ctx.clock() / 1000);
      const res = await request(d.url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'jobhub-webhooks',
          'jobhub-event': d.event,
          'jobhub-delivery': d.id,
          'jobhub-timestamp': String(timestamp),
          'jobhub-signature': signature(d.secret, timestamp, body),
        },
        body,
        headersTimeout: SEND_TIMEOUT_MS,
        bodyTimeout: SEND_TIMEOUT_MS,
      });
      status = res.statusCode;
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      if (status < 200 || status >= 300) error = `the receiver answered ${status}`;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const now = ctx.clock();
    if (error === null) {
      await ctx.store.deliveryRecord({
        id: d.id,
        state: 'delivered',
        status,
        error,
        nextAttemptAt: now,
        now,
      });
      return;
    }
    const backoff = Math.min(
      ctx.config.webhookRetryBaseMs * 2 ** Math.min(d.attempts - 1, 30),
      MAX_BACKOFF_MS,
    );
    const next = now + backoff;
    const giveUp = next > d.createdAt + DELIVERY_DEADLINE_MS;
    await ctx.store.deliveryRecord({
      id: d.id,
      state: giveUp ? 'failed' : 'pending',
      status,
      error: error.slice(0, 1000),
      nextAttemptAt: giveUp ? now : next,
      now,
    });
  }
}

/** What a delivery says about its job (a stable, documented subset of the job's JSON). */
function jobPayload(job: JobRecord) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: job.id,
    state: job.state,
    function: job.functionId,
    runtime: job.runtime,
    tags: job.tags,
    attempts: job.attempts,
    exitStatus: job.exitStatus,
    error: job.error,
    createdAt: iso(job.createdAt),
    finishedAt: iso(job.finishedAt),
  };
}
