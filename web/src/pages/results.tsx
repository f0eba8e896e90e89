/**
 * The results: for staff, run the verification benchmarks after the end, review each team's
 * final standing beside its verification, decide, publish (or withdraw) and export; for
 * everyone, the published final ranking.
 */
import { useState } from 'preact/hooks';
import { ApiError, authPath, del, post, put } from '../api.js';
import { useResource } from '../live.js';
import { P, S } from '../portal.js';
import { ActionError, Badge, Empty, fmt, Load, Section, TableWrap, Time, useAction } from '../ui.js';
import { StaffTabs } from './staff.js';

interface ReviewRow {
  team: { id: number; name: string };
  contest_rank: number | null;
  score: number;
  verification: { job_id: number; status: string; score: number; is_passed: boolean; reason: string } | null;
  decision: { disqualified: boolean; note: string } | null;
  disqualified: boolean;
}

interface FinalRow {
  rank: number | null;
  team: { id: number; name: string };
  score: number;
  best_score: number;
  verification_score: number | null;
  verification_passed: boolean | null;
  disqualified: boolean;
  note: string;
}

function Decide({ r, onDone }: { r: ReviewRow; onDone: () => void }) {
  const [note, setNote] = useState(r.decision?.note ?? '');
  const a = useAction();
  const decide = (disqualified: boolean) =>
    void a.run(() => put(`${S}/results/teams/${r.team.id}`, { disqualified, note })).then(onDone);
  return (
    <div class="actions">
      <label class="sr-only" for={`note-${r.team.id}`}>
        Note for {r.team.name}
      </label>
      <input
        id={`note-${r.team.id}`}
        placeholder="note"
        value={note}
        onInput={(e) => setNote(e.currentTarget.value)}
      />
      {r.disqualified ? (
        <button
          type="button"
          class="small"
          disabled={a.busy}
          onClick={() => decide(false)}
          aria-label={`Accept ${r.team.name}`}
        >
          Accept
        </button>
      ) : (
        <button
          type="button"
          class="small danger"
          disabled={a.busy}
          onClick={() => decide(true)}
          aria-label={`Disqualify ${r.team.name}`}
        >
          Disqualify
        </button>
      )}
      <ActionError error={a.error} />
    </div>
  );
}

export function StaffResults() {
  const review = useResource<{ published_at: string | null; teams: ReviewRow[] }>(`${S}/results`, 3000);
  const a = useAction();
  const [summary, setSummary] = useState<string | null>(null);
  const act = async (what: string, fn: () => Promise<unknown>) => {
    setSummary(null);
    if (await a.run(fn)) {
      setSummary(what);
      review.reload();
    }
  };
  return (
    <>
      <h1 tabIndex={-1}>Staff</h1>
      <StaffTabs />
      <Section
        title="Results"
        id="results"
        actions={
          <>
            <button
              type="button"
              disabled={a.busy}
              onClick={() =>
                void act('Verification runs enqueued for every team.', () => post(`${S}/results/verify`))
              }
            >
              Run verification for every team
            </button>
            {review.data?.published_at ? (
              <button
                type="button"
                class="danger"
                disabled={a.busy}
                onClick={() => void act('Publication withdrawn.', () => del(`${S}/results/publication`))}
              >
                Withdraw publication
              </button>
            ) : (
              <button
                type="button"
                class="primary"
                disabled={a.busy}
                onClick={() => void act('Final ranking published.', () => post(`${S}/results/publish`))}
              >
                Publish final ranking
              </button>
            )}
          </>
        }
      >
        <ActionError error={a.error} />
        {summary && <p role="status">{summary}</p>}
        <Load r={review} what="Loading the review">
          {(d) => (
            <>
              <p class="row">
                {d.published_at ? (
                  <>
                    <Badge state="done" label="published" /> <Time at={d.published_at} />
                  </>
                ) : (
                  <Badge state="waiting" label="not published: the public board stays frozen" />
                )}
                <a href={authPath(`${S}/results/export?format=csv`)} download="ranking.csv">
                  Export CSV
                </a>
                <a href={authPath(`${S}/results/export?format=json`)} download="ranking.json">
                  Export JSON
                </a>
              </p>
              {d.teams.length === 0 ? (
                <Empty>No teams.</Empty>
              ) : (
                <TableWrap label="Review">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Rank</th>
                        <th scope="col">Team</th>
                        <th scope="col">Final score</th>
                        <th scope="col">Verification</th>
                        <th scope="col">Decision</th>
                        <th scope="col">
                          <span class="sr-only">Actions</span>
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {d.teams.map((r) => (
                        <tr key={r.team.id} data-review={r.team.name}>
                          <td>{r.contest_rank ?? '—'}</td>
                          <th scope="row">{r.team.name}</th>
                          <td>{fmt(r.score)}</td>
                          <td>
                            {r.verification ? (
                              <>
                                <Badge
                                  state={
                                    r.verification.status === 'done'
                                      ? r.verification.is_passed
                                        ? 'passed'
                                        : 'fail'
                                      : r.verification.status
                                  }
                                  label={
                                    r.verification.status === 'done'
                                      ? r.verification.is_passed
                                        ? 'passed'
                                        : 'failed'
                                      : r.verification.status
                                  }
                                />{' '}
                                {fmt(r.verification.score)}{' '}
                                {r.verification.reason && (
                                  <small class="muted">{r.verification.reason}</small>
                                )}
                              </>
                            ) : (
                              <span class="muted">not run</span>
                            )}
                          </td>
                          <td>
                            {r.disqualified ? (
                              <Badge state="failed" label="disqualified" />
                            ) : (
                              <Badge state="done" label="ranked" />
                            )}{' '}
                            {r.decision?.note && <small class="muted">{r.decision.note}</small>}
                          </td>
                          <td>
                            <Decide r={r} onDone={review.reload} />
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </TableWrap>
              )}
            </>
          )}
        </Load>
      </Section>
    </>
  );
}

export function Results() {
  const r = useResource<{ published_at: string; teams: FinalRow[] }>(`${P}/results`, 30_000);
  if (r.error instanceof ApiError && r.error.status === 404) {
    return (
      <>
        <h1 tabIndex={-1}>Final results</h1>
        <Empty>The final results are not published yet. The leaderboard stays frozen until then.</Empty>
      </>
    );
  }
  return (
    <>
      <h1 tabIndex={-1}>Final results</h1>
      <Load r={r} what="Loading the final results">
        {(d) => (
          <Section
            title={
              <>
                Published <Time at={d.published_at} />
              </>
            }
            id="final"
          >
            <TableWrap label="Final ranking">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Rank</th>
                    <th scope="col">Team</th>
                    <th scope="col">Score</th>
                    <th scope="col">Note</th>
                  </tr>
                </thead>
                <tbody>
                  {d.teams.map((t) => (
                    <tr key={t.team.id} data-final={t.team.name}>
                      <td>{t.rank ?? '—'}</td>
                      <th scope="row">{t.team.name}</th>
                      <td>{fmt(t.score)}</td>
                      <td>
                        {t.disqualified ? <Badge state="failed" label="disqualified" /> : null} {t.note}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          </Section>
        )}
      </Load>
    </>
  );
}
