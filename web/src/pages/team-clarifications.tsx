/**
 * A team's clarifications: ask the organisers a question; read the answers to the team's own
 * questions and the ones answered to everyone. Opening the page marks the answers read (the
 * header's badge drops to zero on every open tab of the team).
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, post } from '../api.js';
import { useDesk, type Clarification } from '../desk.js';
import { useResource } from '../live.js';
import { P } from '../portal.js';
import { Link } from '../router.js';
import { ActionError, Badge, Empty, Load, Section, Time, useAction } from '../ui.js';

function Ask({ onDone }: { onDone: () => void }) {
  const [question, setQuestion] = useState('');
  const a = useAction();
  return (
    <form
      aria-label="Ask a question"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await a.run(() => post(`${P}/clarifications`, { question }))) {
          setQuestion('');
          onDone();
        }
      }}
    >
      <div class="field">
        <label for="question">Your question</label>
        <textarea
          id="question"
          required
          maxLength={4000}
          rows={4}
          value={question}
          onInput={(e) => setQuestion(e.currentTarget.value)}
        />
        <small class="muted">
          The organisers answer it to your team, or to every team when it concerns all.
        </small>
      </div>
      <ActionError error={a.error} />
      <button type="submit" class="primary" disabled={a.busy}>
        Ask
      </button>
    </form>
  );
}

export function ClarificationItem({ c }: { c: Clarification }) {
  return (
    <article class="clarification" data-clarification={c.id}>
      <p class="row">
        <strong>#{c.id}</strong>
        {c.own && <Badge state="waiting" label="your team" />}
        {c.answer === null ? (
          <Badge state="running" label="waiting for an answer" />
        ) : (
          <Badge state="done" label={c.disclosed ? 'answered to everyone' : 'answered to your team'} />
        )}
        <small class="muted">
          asked <Time at={c.created_at} />
        </small>
      </p>
      <p class="pre question">{c.question}</p>
      {c.original_question && (
        <details>
          <summary>Your original wording</summary>
          <p class="pre">{c.original_question}</p>
        </details>
      )}
      {c.answer !== null && (
        <blockquote class="pre answer" aria-label={`Answer to #${c.id}`}>
          {c.answer}
        </blockquote>
      )}
    </article>
  );
}

export function TeamClarifications() {
  const desk = useDesk();
  const list = useResource<{ unread: number; clarifications: Clarification[] }>(
    `${P}/clarifications`,
    10_000,
  );
  const unread = list.data?.unread ?? 0;
  useEffect(() => {
    // Reading the page reads the answers.
    if (unread > 0 || desk.unread > 0)
      void post(`${P}/clarifications/read`)
        .then(() => desk.setUnread(0))
        .catch(() => undefined);
  }, [unread, desk.unread]);
  // A new answer arrives on the stream: fetch the list again.
  useEffect(() => {
    if (desk.unread > 0) list.reload();
  }, [desk.unread]);
  if (list.error instanceof ApiError && list.error.status === 401) {
    return (
      <>
        <h1 tabIndex={-1}>Clarifications</h1>
        <p>
          <Link to="/team">Log in</Link> to ask the organisers a question.
        </p>
      </>
    );
  }
  return (
    <>
      <h1 tabIndex={-1}>Clarifications</h1>
      <p class="row muted">
        <Link to="/team">Back to your team</Link>
      </p>
      <Section title="Ask the organisers" id="ask">
        <Ask onDone={list.reload} />
      </Section>
      <Section title="Questions and answers" id="answers">
        <Load r={list} what="Loading clarifications">
          {(d) =>
            d.clarifications.length === 0 ? (
              <Empty>No clarifications yet.</Empty>
            ) : (
              <div class="stack">
                {d.clarifications.map((c) => (
                  <ClarificationItem key={c.id} c={c} />
                ))}
              </div>
            )
          }
        </Load>
      </Section>
    </>
  );
}
