/**
 * The audience leaderboard: ranks with latest and best score and the last run, the leading teams'
 * scores over time, and the freeze banner. Polled with ETags (the hub answers 304 when nothing
 * changed); a logged-in team sees its own row live during the freeze.
 */
import { ScoreChart, type Series } from '../chart.js';
import { useResource } from '../live.js';
import {
  P,
  PHASE_TEXT,
  type Board as BoardData,
  type BoardHistory,
  type BoardRow,
  type Contest,
} from '../portal.js';
import { Link } from '../router.js';
import { Badge, Banner, clock, Empty, fmt, Load, Section, TableWrap, Time } from '../ui.js';

export function FreezeBanner({ contest, frozen, own }: { contest: Contest; frozen: boolean; own: boolean }) {
  if (!frozen) return null;
  return (
    <Banner kind="warn">
      <span>
        <strong>The leaderboard is frozen</strong> since {clock(contest.freezes_at)}. Results of other teams
        after the freeze are hidden until they are announced.
        {own ? ' Your own team is shown live.' : ''}
      </span>
    </Banner>
  );
}

export function BoardTable({ rows, caption }: { rows: BoardRow[]; caption: string }) {
  if (rows.length === 0) return <Empty>No teams yet.</Empty>;
  return (
    <TableWrap label={caption}>
      <table>
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col" class="num">
              Rank
            </th>
            <th scope="col">Team</th>
            <th scope="col" class="num">
              Latest
            </th>
            <th scope="col" class="num">
              Best
            </th>
            <th scope="col" class="num opt">
              Runs
            </th>
            <th scope="col">Last run</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.team.id} class={r.own ? 'own' : ''} data-team={r.team.name}>
              <td class="num">{r.rank ?? '—'}</td>
              <th scope="row">
                {r.team.name}
                {r.own && <span class="muted"> (you)</span>}
              </th>
              <td class="num latest">
                {r.latest_passed === null ? (
                  <span class="muted">—</span>
                ) : r.latest_passed ? (
                  fmt(r.latest_score)
                ) : (
                  <Badge state="failed" label="fail" />
                )}
              </td>
              <td class="num best">{r.best_at ? fmt(r.best_score) : <span class="muted">—</span>}</td>
              <td class="num opt">{r.runs}</td>
              <td>
                <Time at={r.latest_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

/** The history answer as chart series (failed runs drawn hollow at 0). */
export function historySeries(h: BoardHistory): Series[] {
  return h.teams.map((t) => ({
    name: t.team.name,
    strong: t.own === true,
    points: t.points.map((p) => ({
      t: Date.parse(p.at),
      v: p.is_passed ? p.score : 0,
      failed: !p.is_passed,
    })),
  }));
}

export function Board() {
  const board = useResource<BoardData>(`${P}/leaderboard`, 3000);
  const history = useResource<BoardHistory>(`${P}/leaderboard/history?top=8`, 5000);
  return (
    <>
      <h1 tabIndex={-1}>Leaderboard</h1>
      <Load r={board} what="Loading the leaderboard">
        {(b) => (
          <>
            <p class="row muted">
              <Badge
                state={b.contest.phase === 'ended' ? 'canceled' : 'running'}
                label={PHASE_TEXT[b.contest.phase]}
              />
              {b.contest.starts_at && <span>Start {clock(b.contest.starts_at)}</span>}
              {b.contest.freezes_at && <span>· Freeze {clock(b.contest.freezes_at)}</span>}
              {b.contest.ends_at && <span>· End {clock(b.contest.ends_at)}</span>}
            </p>
            <FreezeBanner contest={b.contest} frozen={b.frozen} own={b.teams.some((t) => t.own)} />
            {b.published && (
              <Banner kind="ok">
                The final results are published: <Link to="/results">see the final ranking</Link>.
              </Banner>
            )}
            <Section title="Top teams over time" id="chart">
              <Load r={history} what="Loading the score history">
                {(h) => (
                  <ScoreChart series={historySeries(h)} label="Scores of the leading teams over time" />
                )}
              </Load>
            </Section>
            <Section title="Ranking" id="ranking">
              <BoardTable rows={b.teams} caption="Ranking" />
              <p class="muted small">
                Teams rank by their latest passing score (ties: who reached it first); a team whose latest run
                failed is listed unranked.
              </p>
            </Section>
          </>
        )}
      </Load>
    </>
  );
}
