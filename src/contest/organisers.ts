/**
 * The organisers' side of the portal, wired together: settings, notifications, the help desk
 * (clarifications, announcements), benchmarker health and the results. The hub calls `watch`
 * about every second (Hub.start): it flushes benchmarker dequeues, notices benchmarkers that went
 * silent, announces the freeze and the end once (claimed in the store, so several hubs on one
 * database send each once) and re-reads the publication. Aborted benchmarks are announced from
 * the job events of the hub that saw them end.
 */
import type { Portal } from './portal.js';
import { Desk } from './desk.js';
import { BenchHealth } from './health.js';
import { Notifier } from './notify.js';
import { Results } from './results.js';
import { Settings } from './settings.js';
import { iso, phase } from './contest.js';
import { BENCH_RUNTIME, outcome } from './views.js';

/** How often the hub calls `watch`. */
export const WATCH_INTERVAL_MS = 1_000;
/** A freeze or end noticed later than this (the hub was down) is not announced any more. */
const LATE_NOTICE_MS = 10 * 60_000;

export class Organisers {
  readonly settings: Settings;
  readonly notifier: Notifier;
  readonly desk: Desk;
  readonly health: BenchHealth;
  readonly results: Results;
  private readonly unsubscribe: () => void;

  constructor(private readonly portal: Portal) {
    const { ctx } = portal.hub;
    const organisers = () => portal.store.organisers();
    this.settings = new Settings(organisers, () => portal.now());
    this.notifier = new Notifier({
      log: ctx.log,
      retryBaseMs: ctx.config.retryBaseMs,
      retryMaxMs: ctx.config.retryMaxMs,
      targets: async () => (await this.settings.get()).webhooks,
    });
    const teamName = (id: string | null) => portal.teamName(id);
    this.desk = new Desk({ store: organisers, clock: () => portal.now(), notifier: this.notifier, teamName });
    this.health = new BenchHealth({
      portal: () => portal.store,
      organisers,
      clock: () => portal.now(),
      notifier: this.notifier,
      offlineAfterMs: async () => (await this.settings.get()).offlineAfterS * 1000,
      job: (id) => ctx.store.jobGet({ id }),
      teamName,
    });
    this.results = new Results(portal);
    this.unsubscribe = ctx.events.subscribeAll((e) => {
      if (e.type !== 'state' || e.job.runtime !== BENCH_RUNTIME || e.job.state !== 'failed') return;
      const team = portal.teamName(e.job.team) || `team ${e.job.team ?? '?'}`;
      this.notifier.send('aborted', `Benchmark #${e.job.id} of ${team} aborted: ${outcome(e.job).reason}`);
    });
  }

  /** The periodic duties (see the header). */
  async watch(): Promise<void> {
    await this.portal.ready();
    await this.health.tick();
    const c = await this.portal.contest();
    const now = this.portal.now();
    const p = phase(c, now);
    if (c.freezesAt !== null && now >= c.freezesAt && (p === 'frozen' || p === 'ended'))
      await this.once(
        `freeze:${c.freezesAt}`,
        c.freezesAt,
        'freeze',
        `The leaderboard is frozen (${iso(c.freezesAt)}).`,
      );
    if (c.endsAt !== null && p === 'ended') {
      await this.once(
        `end:${c.endsAt}`,
        c.endsAt,
        'end',
        `The contest has ended (${iso(c.endsAt)}). The board stays frozen until the results are published.`,
      );
      await this.results.refresh();
    }
  }

  private async once(key: string, at: number, kind: 'freeze' | 'end', text: string): Promise<void> {
    const now = this.portal.now();
    // Nothing to send to: nothing is claimed (a target added later hears of the next event).
    if (now - at > LATE_NOTICE_MS || !(await this.notifier.hasTargets())) return;
    if (await this.portal.store.organisers().onceClaim({ key, now })) this.notifier.send(kind, text);
  }

  /** Whether contestants see their runs' stdout now (always during the contest; a setting after it). */
  async contestantSeesStdout(): Promise<boolean> {
    const c = await this.portal.contest();
    if (phase(c, this.portal.now()) !== 'ended') return true;
    return (await this.settings.get()).contestantStdoutAfterEnd;
  }

  close(): void {
    this.unsubscribe();
    this.notifier.close();
  }
}
