/**
 * The end of the contest: staff run a verification benchmark for every team, review the outcomes
 * beside each team's final standing, decide who is disqualified, and publish the final ranking.
 * Until then the public board stays frozen; once published, everyone sees the ranking (and the
 * board unfrozen). The published ranking is a snapshot in the store, served as written.
 *
 * The rule: a team's final score is its standing at the end (the board's rule); a team is
 * disqualified by a staff decision, or, without one, when its latest verification ran and did not
 * pass. Publication is refused while a verification is still waiting or running.
 */
import { HubError } from '../core/errors.js';
import type { JobRecord } from '../store/store.js';
import { iso, phase } from './contest.js';
import type { Portal } from './portal.js';
import type { PublicationRecord, ReviewRecord } from './store/organisers.js';
import { outcome } from './views.js';

interface BoardTeam {
  rank: number | null;
  team: { id: number; name: string };
  latest_score: number;
  latest_passed: boolean | null;
  best_score: number;
}

export interface ReviewRow {
  team: { id: number; name: string };
  contest_rank: number | null;
  score: number;
  best_score: number;
  verification: { job_id: number; status: string; score: number; is_passed: boolean; reason: string } | null;
  decision: { disqualified: boolean; note: string } | null;
  disqualified: boolean;
}

export interface FinalRow {
  rank: number | null;
  team: { id: number; name: string };
  score: number;
  best_score: number;
  verification_score: number | null;
  verification_passed: boolean | null;
  disqualified: boolean;
  note: string;
}

const CSV_COLUMNS = [
  'rank',
  'team_id',
  'team_name',
  'score',
  'best_score',
  'verification_score',
  'verification_passed',
  'disqualified',
  'note',
];

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  // Quote what needs it; a leading = + - @ would be a formula in a spreadsheet.
  const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function rankingCsv(rows: FinalRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push(
      [
        r.rank,
        r.team.id,
        r.team.name,
        r.score,
        r.best_score,
        r.verification_score,
        r.verification_passed,
        r.disqualified,
        r.note,
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return lines.join('\r\n') + '\r\n';
}

export class Results {
  private publication: PublicationRecord | null = null;
  private loaded = false;

  constructor(private readonly portal: Portal) {}

  private get store() {
    return this.portal.store.organisers();
  }

  private async ended(): Promise<void> {
    const c = await this.portal.contest();
    if (phase(c, this.portal.now()) !== 'ended')
      throw new HubError('conflict', `the contest has not ended (${phase(c, this.portal.now())})`);
  }

  /** Enqueues one verification run per team (now), remembered as verification runs. */
  async verify() {
    await this.ended();
    const results = await this.portal.enqueueAll();
    const now = this.portal.now();
    for (const r of results) {
      if (r.job_id !== null)
        await this.store.verificationInsert({ jobId: String(r.job_id), teamId: String(r.team.id), now });
    }
    return results;
  }

  async decide(teamId: string, body: Record<string, unknown>): Promise<ReviewRecord> {
    const team = await this.portal.admin.team(teamId);
    if (typeof body.disqualified !== 'boolean')
      throw new HubError('validation_failed', 'disqualified must be true or false');
    const note = body.note === undefined || body.note === null ? '' : body.note;
    if (typeof note !== 'string' || note.length > 1000)
      throw new HubError('validation_failed', 'note must be a string of at most 1000 characters');
    return this.store.reviewSet({
      teamId: team.id,
      disqualified: body.disqualified,
      note,
      now: this.portal.now(),
    });
  }

  /** Every team: its standing at the end, its latest verification and the decision about it. */
  async review(): Promise<ReviewRow[]> {
    const board = JSON.parse((await this.portal.leaderboard({ kind: 'staff' })).body) as {
      teams: BoardTeam[];
    };
    const [runs, reviews] = await Promise.all([this.store.verificationList(), this.store.reviewList()]);
    const latest = new Map<string, string>();
    for (const v of runs) latest.set(v.teamId, v.jobId);
    const decisions = new Map(reviews.map((r) => [r.teamId, r]));
    const jobs = new Map<string, JobRecord | null>();
    await Promise.all(
      [...latest.values()].map(async (id) => jobs.set(id, await this.portal.hub.ctx.store.jobGet({ id }))),
    );
    return board.teams.map((t) => {
      const id = String(t.team.id);
      const jobId = latest.get(id);
      const job = jobId === undefined ? null : (jobs.get(jobId) ?? null);
      const o = job && outcome(job);
      const decision = decisions.get(id);
      const verification =
        job && o
          ? {
              job_id: Number(job.id),
              status: o.status,
              score: o.score,
              is_passed: o.is_passed,
              reason: o.reason,
            }
          : null;
      const failed =
        verification !== null &&
        (verification.status === 'aborted' ||
          verification.status === 'canceled' ||
          (verification.status === 'done' && !verification.is_passed));
      return {
        team: t.team,
        contest_rank: t.rank,
        score: t.latest_score,
        best_score: t.best_score,
        verification,
        decision: decision ? { disqualified: decision.disqualified, note: decision.note } : null,
        disqualified: decision ? decision.disqualified : failed,
      };
    });
  }

  /** The final ranking as it would be published now. */
  async ranking(): Promise<FinalRow[]> {
    const rows = await this.review();
    let rank = 0;
    return rows
      .map((r) => {
        const ranked = r.contest_rank !== null && !r.disqualified;
        return {
          rank: ranked ? ++rank : null,
          team: r.team,
          score: r.score,
          best_score: r.best_score,
          verification_score: r.verification?.score ?? null,
          verification_passed: r.verification ? r.verification.is_passed : null,
          disqualified: r.disqualified,
          note: r.decision?.note ?? (r.disqualified ? 'verification failed' : ''),
        };
      })
      .sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity));
  }

  async publish(): Promise<PublicationRecord> {
    await this.ended();
    const pending = (await this.review()).filter(
      (r) => r.verification && (r.verification.status === 'waiting' || r.verification.status === 'running'),
    );
    if (pending.length)
      throw new HubError(
        'conflict',
        `verification still running for ${pending.map((r) => r.team.name).join(', ')}; publish when it is done`,
      );
    const now = this.portal.now();
    const c = await this.portal.contest();
    const body = JSON.stringify({
      published_at: iso(now),
      contest: { starts_at: iso(c.startsAt), ends_at: iso(c.endsAt) },
      teams: await this.ranking(),
    });
    this.publication = await this.store.publicationSet({ body, now });
    this.portal.published(true);
    return this.publication;
  }

  async withdraw(): Promise<void> {
    await this.store.publicationDelete();
    this.publication = null;
    this.portal.published(false);
  }

  /** The published ranking, or null (re-read by `refresh`). */
  async published(): Promise<PublicationRecord | null> {
    if (!this.loaded) await this.refresh();
    return this.publication;
  }

  /** Re-reads the publication (another hub may have published). */
  async refresh(): Promise<void> {
    this.publication = await this.store.publicationGet();
    this.loaded = true;
    this.portal.published(this.publication !== null);
  }
}
