/**
 * The contest portal service (DESIGN.md "Contest benchmarks"): teams enqueue benchmark runs,
 * benchmarkers take and report them, everyone reads the leaderboard. It sits on the hub: a
 * benchmark is a core job, the one-active-job rule is the store's unique index, the claim is the
 * store's lease, the timeout is the reaper's. What it adds is the portal's own tables (teams,
 * servers, benchmarkers, sessions, scores: `PortalStore`) and the precomputed leaderboard, kept
 * current by listening to job events. Created by the Hub (`hub.portal`); knows nothing of HTTP.
 */
import { HubError, notFound } from '../core/errors.js';
import { firstRunAt } from '../core/run-at.js';
import type { JobState } from '../core/states.js';
import type { HubContext } from '../jobs/context.js';
import type { JobService } from '../jobs/jobs.js';
import type { LeaseService, WorkerRegistry } from '../jobs/workers.js';
import type { JobRecord } from '../store/store.js';
import { Admin } from './admin.js';
import { contestJson, iso, isOpen, phase } from './contest.js';
import { Dispatch } from './dispatch.js';
import { BlockList } from './net.js';
import { Organisers } from './organisers.js';
import { Scoreboard, type Rendered, type Viewer } from './scoreboard.js';
import { Sessions } from './sessions.js';
import {
  hasPortalStore,
  type ContestRecord,
  type PortalStore,
  type ServerRecord,
  type TeamRecord,
} from './store/store.js';
import { BENCH_RUNTIME, portalJob } from './views.js';

export { BENCH_RUNTIME };

/** The parts of the hub the portal uses. */
export interface PortalHub {
  ctx: HubContext;
  jobs: JobService;
  workers: WorkerRegistry;
  leases: LeaseService;
}

/** How stale the in-memory views may get before they are re-read (other hubs may write). */
const SCORES_REFRESH_MS = 1_000;
const TEAMS_REFRESH_MS = 5_000;
const PORTAL_STATES: Record<string, JobState> = {
  waiting: 'queued',
  running: 'running',
  done: 'succeeded',
  aborted: 'failed',
  canceled: 'canceled',
};

export class Portal {
  readonly board = new Scoreboard();
  readonly dispatch: Dispatch;
  readonly admin: Admin;
  readonly sessions: Sessions;
  /** Clarifications, announcements, notifications, benchmarker health, results. */
  readonly organisers: Organisers;
  /** Peers whose X-Forwarded-For is believed. */
  readonly trusted: BlockList;
  private storeRef: PortalStore | null = null;
  private init: Promise<void> | null = null;
  private contestRecord: ContestRecord = {
    startsAt: null,
    freezesAt: null,
    endsAt: null,
    allowedTargetCidrs: [],
    updatedAt: null,
  };
  private names = new Map<string, string>();
  private lastSeq = 0;
  private refreshedAt = -Infinity;
  private teamsAt = -Infinity;
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;
  private readonly pending = new Map<string, Promise<void>>();
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(readonly hub: PortalHub) {
    this.trusted = new BlockList(hub.ctx.config.trustedProxies);
    this.dispatch = new Dispatch(
      hub.ctx,
      hub.workers,
      hub.leases,
      () => this.store,
      (jobId) => this.record(jobId),
    );
    this.admin = new Admin(this);
    this.sessions = new Sessions(this);
    this.organisers = new Organisers(this);
    // An out-of-service benchmarker's dequeue answers "no job" (the seed's empty queue).
    this.dispatch.gate = (b) => this.organisers.health.dequeued(b);
    this.unsubscribe = hub.ctx.events.subscribeAll((e) => {
      if (e.type === 'state' && e.job.runtime === BENCH_RUNTIME && e.job.state === 'succeeded')
        void this.record(e.job.id);
    });
  }

  get store(): PortalStore {
    if (this.storeRef) return this.storeRef;
    const s = this.hub.ctx.store;
    if (!hasPortalStore(s)) throw new HubError('unavailable', 'this hub store has no contest portal tables');
    return (this.storeRef = s.portal());
  }

  now(): number {
    return this.hub.ctx.clock();
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.organisers.close();
  }

  /** The hub's periodic call (about every second): see Organisers.watch. */
  async watch(): Promise<void> {
    if (this.closed || !hasPortalStore(this.hub.ctx.store)) return;
    await this.organisers.watch();
  }

  /** The final ranking is published (or withdrawn): the board is no longer frozen for anyone. */
  published(yes: boolean): void {
    this.board.setPublished(yes);
  }

  /** Loads teams, schedule and scores once (then kept current); repairs scores a crash lost. */
  ready(): Promise<void> {
    this.init ??= (async () => {
      await this.loadTeams();
      this.contestChanged(await this.store.contestGet());
      await this.refreshScores();
      this.refreshedAt = performance.now();
      void this.reconcile().catch(
        (err: unknown) => this.closed || this.hub.ctx.log.error({ err }, 'portal score repair failed'),
      );
    })().catch((err: unknown) => {
      this.init = null;
      throw err;
    });
    return this.init;
  }

  /** Re-reads what other hub processes may have changed, at most every second, in the background. */
  private freshen(): void {
    const now = performance.now();
    if (now - this.refreshedAt < SCORES_REFRESH_MS) return;
    this.refreshedAt = now;
    const teams = now - this.teamsAt >= TEAMS_REFRESH_MS ? this.loadTeams() : Promise.resolve();
    void Promise.all([
      teams,
      this.refreshScores(),
      this.store.contestGet().then((c) => this.contestChanged(c)),
    ]).catch((err: unknown) => this.closed || this.hub.ctx.log.warn({ err }, 'portal refresh failed'));
  }

  private async loadTeams(): Promise<void> {
    this.teamsAt = performance.now();
    const teams = await this.store.teamList();
    this.names = new Map(teams.map((t) => [t.id, t.name]));
    this.board.setTeams(teams);
  }

  async teamsChanged(): Promise<void> {
    this.sessions.forget();
    await this.loadTeams();
  }

  contestChanged(c: ContestRecord): void {
    this.contestRecord = c;
    this.board.setContest(c);
  }

  async contest(): Promise<ContestRecord> {
    await this.ready();
    this.freshen();
    return this.contestRecord;
  }

  teamName(id: string | null): string {
    return (id !== null && this.names.get(id)) || '';
  }

  /**
   * Pulls new scores into the board. Calls coalesce: at most one pull waits behind the running
   * one, and it starts after every caller's write committed.
   */
  private refreshScores(): Promise<void> {
    if (this.queued) return this.queued;
    const p = this.chain.then(async () => {
      this.queued = null;
      // PostgreSQL may commit sequence numbers out of order: re-read a small window.
      const rewind = this.hub.ctx.store.dialect === 'postgres' ? 64 : 0;
      for (;;) {
        const scores = await this.store.scoreList({
          afterSeq: Math.max(0, this.lastSeq - rewind),
          limit: 5000,
        });
        this.board.add(scores);
        const last = scores[scores.length - 1];
        if (!last || last.seq <= this.lastSeq) break;
        this.lastSeq = last.seq;
        if (scores.length < 5000) break;
      }
    });
    this.queued = p;
    this.chain = p.catch(() => undefined);
    return p;
  }

  /**
   * Records a finished job's score once, from the job's committed row; resolves when the
   * leaderboard includes it. A call for a job that is not (yet) succeeded changes nothing.
   */
  record(jobId: string): Promise<void> {
    if (this.board.has(jobId)) return Promise.resolve();
    let p = this.pending.get(jobId);
    if (p) return p;
    p = this.store
      .scoreRecordJob({ jobId, runtime: BENCH_RUNTIME })
      .then((rec) => {
        if (rec) this.board.add([rec]);
      })
      .catch((err: unknown) => {
        if (!this.closed) this.hub.ctx.log.error({ err, jobId }, 'recording a benchmark score failed');
      })
      .finally(() => this.pending.delete(jobId));
    this.pending.set(jobId, p);
    return p;
  }

  /** Finished benchmarks without a score row (the hub stopped in between): recorded now. */
  private async reconcile(): Promise<void> {
    let beforeId: string | undefined;
    for (;;) {
      const jobs = await this.hub.jobs.list({
        runtime: BENCH_RUNTIME,
        states: ['succeeded'],
        beforeId,
        limit: 500,
      });
      const missing = jobs.filter((j) => !this.board.has(j.id));
      for (const j of missing) await this.record(j.id);
      if (missing.length === 0 || jobs.length < 500) return;
      beforeId = jobs[jobs.length - 1]!.id;
    }
  }

  // ---- benchmark jobs -------------------------------------------------------------------

  private async teamOf(id: string): Promise<TeamRecord> {
    const team = /^\d{1,15}$/.test(id) ? await this.store.teamGet({ id }) : null;
    if (!team) throw notFound('team', id);
    return team;
  }

  /**
   * Enqueues a benchmark for a team. Contestants only while the contest is open; the team needs
   * a bench target; at most one waiting or running job per team (the store refuses a second one
   * atomically, 409).
   */
  async enqueue(teamId: string, o: { staff: boolean; runAt?: number }): Promise<JobRecord> {
    await this.ready();
    const team = await this.teamOf(teamId);
    if (!o.staff) {
      const c = await this.contest();
      if (!isOpen(c, this.now())) {
        throw new HubError('forbidden', `the contest is not open for benchmarks (${phase(c, this.now())})`);
      }
    }
    const servers = await this.store.serverList({ teamId: team.id });
    if (!servers.some((s) => s.isBenchTarget)) {
      throw new HubError(
        'validation_failed',
        `team ${team.name} has no bench target server; register one first`,
      );
    }
    try {
      const [created] = await this.hub.jobs.create(
        [
          {
            runtime: BENCH_RUNTIME,
            team: team.id,
            maxAttempts: 1,
            timeoutMs: this.hub.ctx.config.benchTimeoutMs,
            runAt: o.staff ? o.runAt : undefined,
          },
        ],
        null,
      );
      return created!.job;
    } catch (err) {
      if (err instanceof HubError && err.code === 'conflict') {
        throw new HubError('conflict', `team ${team.name} already has a waiting or running benchmark`);
      }
      throw err;
    }
  }

  /**
   * Staff: one benchmark per team (post-contest verification); reports each team's outcome. With
   * `runAt` the runs wait until then (each team's one waiting job: it holds the team's slot).
   */
  async enqueueAll(
    o: { runAt?: number } = {},
  ): Promise<{ team: { id: number; name: string }; job_id: number | null; error: string | null }[]> {
    // A bad time is the request's fault, said once, not a failure of every team.
    firstRunAt({ runAt: o.runAt, now: this.now() });
    const teams = await this.store.teamList();
    // In parallel (their writes share commits), answered in team order.
    return Promise.all(
      teams.map(async (t) => {
        const team = { id: Number(t.id), name: t.name };
        try {
          const job = await this.enqueue(t.id, { staff: true, runAt: o.runAt });
          return { team, job_id: Number(job.id), error: null };
        } catch (err) {
          if (!(err instanceof HubError)) throw err;
          return { team, job_id: null, error: err.message };
        }
      }),
    );
  }

  /** A benchmark job (of `teamId` only, when given). */
  async job(id: string, teamId?: string): Promise<JobRecord> {
    await this.ready(); // team names for the views
    const job = /^\d{1,15}$/.test(id) ? await this.hub.ctx.store.jobGet({ id }) : null;
    if (!job || job.runtime !== BENCH_RUNTIME || (teamId !== undefined && job.team !== teamId))
      throw notFound('job', id);
    return job;
  }

  async cancel(id: string): Promise<JobRecord> {
    await this.job(id);
    return this.hub.jobs.cancel(id);
  }

  /** Staff: runs the job's team again. */
  async retry(id: string): Promise<JobRecord> {
    const job = await this.job(id);
    return this.enqueue(job.team ?? '', { staff: true });
  }

  async jobs(f: {
    teamId?: string;
    status?: string;
    beforeId?: string;
    limit: number;
  }): Promise<JobRecord[]> {
    await this.ready();
    let states: JobState[] | undefined;
    if (f.status !== undefined) {
      const s = PORTAL_STATES[f.status];
      if (!s)
        throw new HubError(
          'validation_failed',
          `status must be one of ${Object.keys(PORTAL_STATES).join(', ')}`,
        );
      states = [s];
    }
    return this.hub.jobs.list({
      runtime: BENCH_RUNTIME,
      team: f.teamId,
      states,
      beforeId: f.beforeId,
      limit: f.limit,
    });
  }

  activeJobs(teamId: string): Promise<JobRecord[]> {
    return this.hub.jobs.list({
      runtime: BENCH_RUNTIME,
      team: teamId,
      states: ['queued', 'running'],
      limit: 5,
    });
  }

  /** The team and its servers as the benchmarker receives them (read when the job is taken). */
  async target(teamId: string | null): Promise<{ team: TeamRecord | null; servers: ServerRecord[] }> {
    if (teamId === null || !/^\d{1,15}$/.test(teamId)) return { team: null, servers: [] };
    const [team, servers] = await Promise.all([
      this.store.teamGet({ id: teamId }),
      this.store.serverList({ teamId }),
    ]);
    return { team, servers };
  }

  // ---- views ------------------------------------------------------------------------------

  async leaderboard(viewer: Viewer): Promise<Rendered> {
    await this.ready();
    this.freshen();
    return this.board.render(viewer, this.now());
  }

  /** A team's own view: live standing, score history, the current job. */
  async dashboard(teamId: string) {
    const c = await this.contest();
    const e = this.board.liveEntry(teamId);
    const [active] = await this.activeJobs(teamId);
    const history = this.board.teamHistory(teamId).slice(-200);
    return {
      team: { id: Number(teamId), name: this.teamName(teamId) },
      contest: contestJson(c, this.now()),
      latest_score: e.latestScore,
      latest_passed: e.latestPassed,
      latest_at: iso(e.latestAt),
      best_score: e.bestScore,
      best_at: iso(e.bestAt),
      runs: e.runs,
      history: history.map((s) => ({
        job_id: Number(s.jobId),
        score: s.score,
        is_passed: s.passed,
        finished_at: iso(s.finishedAt),
      })),
      current_job: active
        ? portalJob(active, { staff: false, full: false, teamName: this.teamName(teamId) })
        : null,
    };
  }
}
