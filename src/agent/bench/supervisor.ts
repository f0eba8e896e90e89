/**
 * The benchmarker supervisor (`jobhub bench-worker`): polls the seed's
 * `POST /internal/job/dequeue/`, runs the benchmark program for each job (bench-run.ts), streams
 * running scores to `/internal/job/:id/progress/` when the portal has it, and reports the result
 * to `/internal/job/:id/report/`, retrying while the portal is unreachable. It speaks only the
 * seed API, so it works against any portal that does, not just ours.
 *
 * Polling sleeps only after an empty answer or an error. On stop (SIGTERM) it takes no new job,
 * lets the running benchmark finish, reports it and returns; `abort` (a second signal) kills the
 * benchmark and reports it aborted first.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { runBenchmark, type Running, type SeedJob, type SeedResult } from './bench-run.js';

export interface SupervisorOptions {
  /** Portal base URL (may carry a `/t/<token>` prefix). */
  portal: string;
  /** Sent as `Authorization: Bearer` when set. */
  token: string | null;
  intervalMs: number;
  timeoutMs: number;
  command: string[];
  /** Local address to send from (the portal identifies benchmarkers by it). */
  sourceIp: string | null;
  address: 'global' | 'private';
  logBytes: number;
  reportRetries: number;
  reportRetryDelayMs: number;
  requestTimeoutMs: number;
  killGraceMs: number;
  progressIntervalMs: number;
  log: (line: string) => void;
}

export const SUPERVISOR_DEFAULTS = {
  intervalMs: 3_000,
  timeoutMs: 180_000,
  address: 'global' as const,
  logBytes: 48 * 1024,
  reportRetries: 10,
  reportRetryDelayMs: 2_000,
  requestTimeoutMs: 10_000,
  killGraceMs: 5_000,
  progressIntervalMs: 3_000,
};

interface Reply {
  status: number;
  text: string;
}

export class Supervisor {
  private stopping = false;
  private wake: (() => void) | null = null;
  private current: Running | null = null;
  private readonly base: URL;
  private readonly agent: HttpAgent;
  /** Jobs run and reported, for logs and tests. */
  readonly stats = { runs: 0, reported: 0, reportFailures: 0 };

  constructor(private readonly o: SupervisorOptions) {
    this.base = new URL(o.portal.endsWith('/') ? o.portal : o.portal + '/');
    const agentOptions = {
      keepAlive: true,
      maxSockets: 4,
      ...(o.sourceIp ? { localAddress: o.sourceIp } : {}),
    };
    this.agent = this.base.protocol === 'https:' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  }

  /** POSTs to the portal; rejects on network errors and timeouts. */
  private post(path: string, body?: unknown): Promise<Reply> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          agent: this.agent,
          timeout: this.o.requestTimeoutMs,
          headers: {
            ...(payload !== undefined
              ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
              : { 'content-length': '0' }),
            ...(this.o.token ? { authorization: `Bearer ${this.o.token}` } : {}),
          },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.o.requestTimeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  /** Takes one job, or null (nothing to do, or the portal could not be asked). */
  private async dequeue(): Promise<SeedJob | null> {
    let r: Reply;
    try {
      r = await this.post('internal/job/dequeue/');
    } catch (err) {
      this.o.log(`dequeue failed: ${(err as Error).message}`);
      return null;
    }
    if (r.status === 204) return null;
    if (r.status !== 200) {
      this.o.log(`dequeue answered ${r.status}: ${r.text.slice(0, 200)}`);
      return null;
    }
    try {
      const job = JSON.parse(r.text) as SeedJob;
      if (typeof job.id !== 'number' || !job.team || !Array.isArray(job.team.servers))
        throw new Error('not a job');
      return job;
    } catch {
      this.o.log(`dequeue answered 200 without a job: ${r.text.slice(0, 200)}`);
      return null;
    }
  }

  /** Sends the result; retries while the portal is unreachable or failing (5xx, 408, 429). */
  private async report(result: SeedResult): Promise<boolean> {
    for (let attempt = 1; attempt <= this.o.reportRetries; attempt++) {
      try {
        const r = await this.post(`internal/job/${result.id}/report/`, result);
        if (r.status === 200) return true;
        if (r.status < 500 && r.status !== 408 && r.status !== 429) {
          this.o.log(
            `the portal refused the report of job ${result.id}: ${r.status} ${r.text.slice(0, 200)}`,
          );
          return false;
        }
        this.o.log(
          `report of job ${result.id} answered ${r.status} (attempt ${attempt}/${this.o.reportRetries})`,
        );
      } catch (err) {
        this.o.log(
          `report of job ${result.id} failed: ${(err as Error).message} (attempt ${attempt}/${this.o.reportRetries})`,
        );
      }
      if (attempt < this.o.reportRetries) await new Promise((r) => setTimeout(r, this.o.reportRetryDelayMs));
    }
    return false;
  }

  /** Runs one job; running scores go to the progress endpoint (turned off if the portal lacks it). */
  private async execute(job: SeedJob): Promise<SeedResult> {
    let progressOn = true;
    let last: { score: number; message: string | null } | null = null;
    let sentAt = 0;
    let sending = false;
    const send = (p: { score: number; message: string | null }) => {
      last = p;
      const now = Date.now();
      if (!progressOn || sending || now - sentAt < this.o.progressIntervalMs) return;
      sending = true;
      sentAt = now;
      const body = last;
      this.post(`internal/job/${job.id}/progress/`, body)
        .then((r) => {
          if (r.status !== 200) progressOn = false;
        })
        .catch(() => undefined)
        .finally(() => (sending = false));
    };
    this.current = runBenchmark(job, {
      command: this.o.command,
      timeoutMs: this.o.timeoutMs,
      address: this.o.address,
      logBytes: this.o.logBytes,
      killGraceMs: this.o.killGraceMs,
      onProgress: send,
    });
    try {
      return await this.current.result;
    } finally {
      this.current = null;
    }
  }

  /** Polls and runs jobs until `stop()`; resolves after the last report. */
  async run(): Promise<void> {
    this.o.log(`polling ${this.base.origin} every ${this.o.intervalMs / 1000} s`);
    while (!this.stopping) {
      const job = await this.dequeue();
      if (!job) {
        await this.sleep(this.o.intervalMs);
        continue;
      }
      this.stats.runs++;
      this.o.log(`job ${job.id} for team ${job.team.name} (${job.team.id}): running`);
      const result = await this.execute(job);
      this.o.log(
        `job ${job.id}: ${result.status}, score ${result.score}, passed ${result.is_passed}${result.reason ? `: ${result.reason.split('\n')[0]}` : ''}`,
      );
      if (await this.report(result)) this.stats.reported++;
      else this.stats.reportFailures++;
    }
    this.agent.destroy();
    this.o.log('stopped');
  }

  /** Takes no new job; the running one finishes and is reported. */
  stop(): void {
    if (!this.stopping) this.o.log(this.current ? 'stopping after the running benchmark' : 'stopping');
    this.stopping = true;
    this.wake?.();
  }

  /** Stops now: the running benchmark is killed and reported aborted. */
  abort(): void {
    this.stop();
    this.current?.kill('The benchmarker was stopped during the run');
  }
}
