/**
 * The leaderboard, precomputed. Every finished benchmark's score is kept in memory per team (the
 * store's `portal_scores` is the durable copy); a board is computed once per change and view, and
 * served as ready bytes with an ETag until the next change. Hundreds of teams refreshing every few
 * seconds thus cost a map lookup each.
 *
 * Rules: a team ranks by its latest `done` result if that passed (ties: who reached it earlier);
 * a team whose latest result failed, or with none, is listed unranked. The best passing score is
 * shown beside. Results count from the start until the end (exclusive). During the freeze the
 * audience sees every team as of the freeze instant; a logged-in team sees itself live.
 */
import { randomBytes } from 'node:crypto';
import { frozenCutoff, isFrozen, iso, liveCutoff, phase, startCutoff } from './contest.js';
import type { ContestRecord, ScoreRecord } from './store/store.js';

export interface BoardEntry {
  rank: number | null;
  /** The entry's JSON without `rank` (computed once per change of the team's results). */
  json?: string;
  teamId: string;
  name: string;
  latestScore: number;
  latestPassed: boolean | null;
  latestAt: number | null;
  bestScore: number;
  bestAt: number | null;
  runs: number;
}

export interface Rendered {
  etag: string;
  body: string;
}

/** Who looks at the board: staff see everything live; others see the freeze, own team live. */
export type Viewer = { kind: 'staff' } | { kind: 'audience' } | { kind: 'team'; teamId: string };

const EMPTY_CONTEST: ContestRecord = {
  startsAt: null,
  freezesAt: null,
  endsAt: null,
  allowedTargetCidrs: [],
  updatedAt: null,
};

export class Scoreboard {
  private teams: { id: string; name: string }[] = [];
  private readonly history = new Map<string, ScoreRecord[]>();
  private readonly jobs = new Set<string>();
  private contest: ContestRecord = EMPTY_CONTEST;
  /** The final ranking is published: nobody sees a frozen board any more. */
  private published = false;
  /** Bumped on every change that can alter a board. */
  version = 0;
  /** Distinguishes this process's ETags from another's (or a previous run's). */
  private readonly epoch = randomBytes(4).toString('hex');
  private readonly rendered = new Map<string, Rendered & { version: number }>();
  private readonly ranked = new Map<string, { version: number; entries: BoardEntry[] }>();
  /** Per window (`from:to`), per team: its standing and the result count it was computed at. */
  private readonly memo = new Map<string, Map<string, { runs: number; entry: BoardEntry }>>();

  setTeams(teams: { id: string; name: string }[]): void {
    const same =
      teams.length === this.teams.length &&
      teams.every((t, i) => t.id === this.teams[i]!.id && t.name === this.teams[i]!.name);
    if (same) return;
    this.teams = teams.map((t) => ({ id: t.id, name: t.name }));
    const ids = new Set(teams.map((t) => t.id));
    for (const id of this.history.keys()) if (!ids.has(id)) this.history.delete(id);
    this.memo.clear();
    this.changed();
  }

  setContest(c: ContestRecord): void {
    if (
      c.startsAt === this.contest.startsAt &&
      c.freezesAt === this.contest.freezesAt &&
      c.endsAt === this.contest.endsAt
    ) {
      return;
    }
    this.contest = c;
    this.memo.clear();
    this.changed();
  }

  setPublished(yes: boolean): void {
    if (yes === this.published) return;
    this.published = yes;
    this.changed();
  }

  /** Adds scores not seen before; returns how many were new. */
  add(scores: readonly ScoreRecord[]): number {
    let added = 0;
    for (const s of scores) {
      if (this.jobs.has(s.jobId)) continue;
      this.jobs.add(s.jobId);
      const list = this.history.get(s.teamId) ?? [];
      list.push(s);
      // Usually appended in order already; keep (finishedAt, seq) order when not.
      for (let i = list.length - 1; i > 0 && order(list[i - 1]!, list[i]!) > 0; i--) {
        [list[i - 1], list[i]] = [list[i]!, list[i - 1]!];
      }
      this.history.set(s.teamId, list);
      added++;
    }
    if (added) this.changed();
    return added;
  }

  has(jobId: string): boolean {
    return this.jobs.has(jobId);
  }

  /** A team's results, oldest first (all of them, counted or not). */
  teamHistory(teamId: string): readonly ScoreRecord[] {
    return this.history.get(teamId) ?? [];
  }

  private changed(): void {
    this.version++;
    this.rendered.clear();
    this.ranked.clear();
  }

  /** A team's standing from the results finished in [from, to). */
  entry(teamId: string, name: string, from: number, to: number): BoardEntry {
    const e: BoardEntry = {
      rank: null,
      teamId,
      name,
      latestScore: 0,
      latestPassed: null,
      latestAt: null,
      bestScore: 0,
      bestAt: null,
      runs: 0,
    };
    for (const r of this.history.get(teamId) ?? []) {
      if (r.finishedAt < from || r.finishedAt >= to) continue;
      e.runs++;
      e.latestPassed = r.passed;
      e.latestAt = r.finishedAt;
      e.latestScore = r.passed ? r.score : 0;
      if (r.passed && (e.bestAt === null || r.score > e.bestScore)) {
        e.bestScore = r.score;
        e.bestAt = r.finishedAt;
      }
    }
    return e;
  }

  /** The team's live standing (for dashboards). */
  liveEntry(teamId: string): BoardEntry {
    const name = this.teams.find((t) => t.id === teamId)?.name ?? '';
    return this.entry(teamId, name, startCutoff(this.contest), liveCutoff(this.contest));
  }

  /**
   * A team's standing for a window, memoised until the team gets a new result (or the schedule
   * or its name changes): a board after one new result costs one team's recount, not everyone's.
   */
  private memoEntry(t: { id: string; name: string }, from: number, to: number): BoardEntry {
    const window = `${from}:${to}`;
    let memo = this.memo.get(window);
    if (!memo) this.memo.set(window, (memo = new Map()));
    const runs = this.history.get(t.id)?.length ?? 0;
    const hit = memo.get(t.id);
    if (hit && hit.runs === runs && hit.entry.name === t.name) return { ...hit.entry };
    const entry = this.entry(t.id, t.name, from, to);
    entry.json = JSON.stringify({
      team: { id: Number(entry.teamId), name: entry.name },
      latest_score: entry.latestScore,
      latest_passed: entry.latestPassed,
      latest_at: iso(entry.latestAt),
      best_score: entry.bestScore,
      best_at: iso(entry.bestAt),
      runs: entry.runs,
    });
    memo.set(t.id, { runs, entry: { ...entry } });
    return entry;
  }

  private entries(cutoff: number): BoardEntry[] {
    const key = String(cutoff);
    const hit = this.ranked.get(key);
    if (hit && hit.version === this.version) return hit.entries;
    const from = startCutoff(this.contest);
    const entries = rank(this.teams.map((t) => this.memoEntry(t, from, cutoff)));
    this.ranked.set(key, { version: this.version, entries });
    return entries;
  }

  /** The board as `viewer` sees it at `now`, rendered once per change. */
  render(viewer: Viewer, now: number): Rendered {
    const frozen = viewer.kind !== 'staff' && !this.published && isFrozen(this.contest, now);
    const p = phase(this.contest, now);
    const key = `${viewer.kind === 'team' ? `team:${viewer.teamId}` : viewer.kind}:${frozen ? 'f' : 'l'}:${p}`;
    const hit = this.rendered.get(key);
    if (hit && hit.version === this.version) return hit;
    let entries = this.entries(frozen ? frozenCutoff(this.contest) : liveCutoff(this.contest));
    let own: string | null = null;
    if (viewer.kind === 'team' && this.teams.some((t) => t.id === viewer.teamId)) {
      own = viewer.teamId;
      if (frozen) {
        const live = this.memoEntry(
          this.teams.find((t) => t.id === own)!,
          startCutoff(this.contest),
          liveCutoff(this.contest),
        );
        entries = rank(entries.map((e) => (e.teamId === own ? live : { ...e })));
      }
    }
    const head = JSON.stringify({
      contest: {
        starts_at: iso(this.contest.startsAt),
        freezes_at: iso(this.contest.freezesAt),
        ends_at: iso(this.contest.endsAt),
        phase: p,
      },
      frozen,
      ...(this.published ? { published: true } : {}),
    });
    // Entries are assembled from their precomputed JSON: {"rank":…, <entry>[, "own":true]}.
    const rows = entries.map(
      (e) => `{"rank":${e.rank ?? 'null'},${e.json!.slice(1, -1)}${own === e.teamId ? ',"own":true' : ''}}`,
    );
    const body = `${head.slice(0, -1)},"teams":[${rows.join(',')}]}`;
    const rendered = { version: this.version, etag: `"lb-${this.epoch}-${this.version}-${key}"`, body };
    this.rendered.set(key, rendered);
    return rendered;
  }
}

function order(a: ScoreRecord, b: ScoreRecord): number {
  return a.finishedAt - b.finishedAt || a.seq - b.seq;
}

/** Ranked teams first (score desc, then earlier), then the unranked by id; ranks 1..n. */
function rank(entries: BoardEntry[]): BoardEntry[] {
  const ranked = entries.filter((e) => e.latestPassed === true);
  const rest = entries.filter((e) => e.latestPassed !== true);
  ranked.sort(
    (a, b) =>
      b.latestScore - a.latestScore || a.latestAt! - b.latestAt! || Number(a.teamId) - Number(b.teamId),
  );
  rest.sort((a, b) => Number(a.teamId) - Number(b.teamId));
  ranked.forEach((e, i) => (e.rank = i + 1));
  rest.forEach((e) => (e.rank = null));
  return [...ranked, ...rest];
}
