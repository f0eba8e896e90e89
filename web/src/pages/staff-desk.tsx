/**
 * Staff: the clarification queue (answer to the team, or to everyone with the question
 * rewritten first) and the announcements (post, pin, edit, withdraw, restore).
 */
import { useState } from 'preact/hooks';
import { post, put } from '../api.js';
import type { Announcement, Clarification } from '../desk.js';
import { useResource } from '../live.js';
import { S } from '../portal.js';
import { ActionError, Badge, Empty, Field, Load, Section, Time, useAction } from '../ui.js';
import { StaffTabs } from './staff.js';

function AnswerForm({ c, onDone }: { c: Clarification; onDone: () => void }) {
  const [answer, setAnswer] = useState(c.answer ?? '');
  const [question, setQuestion] = useState(c.question);
  const [everyone, setEveryone] = useState(c.disclosed);
  const a = useAction();
  return (
    <form
      aria-label={`Answer clarification ${c.id}`}
      onSubmit={async (e) => {
        e.preventDefault();
        const body = {
          answer,
          disclosed: everyone,
          ...(everyone && question !== c.question ? { question } : {}),
        };
        if (await a.run(() => post(`${S}/clarifications/${c.id}/answer`, body))) onDone();
      }}
    >
      <div class="field">
        <label for={`answer-${c.id}`}>Answer</label>
        <textarea
          id={`answer-${c.id}`}
          required
          rows={3}
          value={answer}
          onInput={(e) => setAnswer(e.currentTarget.value)}
        />
      </div>
      <label class="check">
        <input type="checkbox" checked={everyone} onChange={(e) => setEveryone(e.currentTarget.checked)} />
        Answer to every team
      </label>
      {everyone && (
        <div class="field">
          <label for={`rewrite-${c.id}`}>Question as every team will read it</label>
          <textarea
            id={`rewrite-${c.id}`}
            rows={2}
            value={question}
            onInput={(e) => setQuestion(e.currentTarget.value)}
          />
          <small class="muted">Rewrite it to remove what only the asking team should see.</small>
        </div>
      )}
      <ActionError error={a.error} />
      <button type="submit" class="primary small" disabled={a.busy}>
        {c.answer === null ? 'Send answer' : 'Change answer'}
      </button>
    </form>
  );
}

export function StaffClarifications() {
  const [all, setAll] = useState(false);
  const list = useResource<{ clarifications: Clarification[] }>(
    `${S}/clarifications${all ? '' : '?open=1'}`,
    3000,
  );
  return (
    <>
      <h1 tabIndex={-1}>Staff</h1>
      <StaffTabs />
      <Section
        title={all ? 'All clarifications' : 'Open clarifications'}
        id="clarifications"
        actions={
          <label class="check">
            <input type="checkbox" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} />
            Show answered ones too
          </label>
        }
      >
        <Load r={list} what="Loading clarifications">
          {(d) =>
            d.clarifications.length === 0 ? (
              <Empty>{all ? 'No clarifications yet.' : 'No open clarifications.'}</Empty>
            ) : (
              <div class="stack">
                {d.clarifications.map((c) => (
                  <article key={c.id} class="clarification" data-clarification={c.id}>
                    <p class="row">
                      <strong>#{c.id}</strong> {c.team?.name ?? '(deleted team)'}
                      {c.answer === null ? (
                        <Badge state="running" label="open" />
                      ) : (
                        <Badge state="done" label={c.disclosed ? 'public' : 'private'} />
                      )}
                      <small class="muted">
                        asked <Time at={c.created_at} />
                      </small>
                    </p>
                    <p class="pre question">{c.question}</p>
                    {c.original_question && (
                      <p class="muted pre">
                        Originally: <span>{c.original_question}</span>
                      </p>
                    )}
                    <AnswerForm c={c} onDone={list.reload} />
                  </article>
                ))}
              </div>
            )
          }
        </Load>
      </Section>
    </>
  );
}

function AnnouncementRow({ a, onDone }: { a: Announcement; onDone: () => void }) {
  const [editing, setEditing] = useState(false);
  const [f, setF] = useState({ title: a.title, body: a.body });
  const act = useAction();
  const change = (body: Record<string, unknown>) =>
    act.run(() => put(`${S}/announcements/${a.id}`, body)).then((ok) => ok && (setEditing(false), onDone()));
  return (
    <article class={`announcement${a.pinned ? ' pinned' : ''}`} data-announcement={a.id}>
      {editing ? (
        <form
          aria-label={`Edit announcement ${a.id}`}
          onSubmit={(e) => {
            e.preventDefault();
            void change(f);
          }}
        >
          <Field
            label="Title"
            id={`title-${a.id}`}
            required
            value={f.title}
            onInput={(e) => setF({ ...f, title: e.currentTarget.value })}
          />
          <div class="field">
            <label for={`body-${a.id}`}>Text</label>
            <textarea
              id={`body-${a.id}`}
              required
              rows={3}
              value={f.body}
              onInput={(e) => setF({ ...f, body: e.currentTarget.value })}
            />
          </div>
          <div class="actions">
            <button type="submit" class="small primary" disabled={act.busy}>
              Save
            </button>
            <button type="button" class="small" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          <h3>
            {a.pinned && <Badge state="running" label="pinned" />}{' '}
            {a.withdrawn_at && <Badge state="canceled" label="withdrawn" />} {a.title}
          </h3>
          <p class="pre">{a.body}</p>
          <small class="muted">
            posted <Time at={a.created_at} />, changed <Time at={a.updated_at} />
          </small>
          <div class="actions">
            <button
              type="button"
              class="small"
              onClick={() => setEditing(true)}
              aria-label={`Edit ${a.title}`}
            >
              Edit
            </button>
            <button
              type="button"
              class="small"
              onClick={() => void change({ pinned: !a.pinned })}
              aria-label={`${a.pinned ? 'Unpin' : 'Pin'} ${a.title}`}
            >
              {a.pinned ? 'Unpin' : 'Pin'}
            </button>
            <button
              type="button"
              class={`small${a.withdrawn_at ? '' : ' danger'}`}
              onClick={() => void change({ withdrawn: !a.withdrawn_at })}
              aria-label={`${a.withdrawn_at ? 'Restore' : 'Withdraw'} ${a.title}`}
            >
              {a.withdrawn_at ? 'Restore' : 'Withdraw'}
            </button>
          </div>
        </>
      )}
      <ActionError error={act.error} />
    </article>
  );
}

export function StaffAnnouncements() {
  const list = useResource<{ announcements: Announcement[] }>(`${S}/announcements`, 10_000);
  const [f, setF] = useState({ title: '', body: '', pinned: false });
  const a = useAction();
  return (
    <>
      <h1 tabIndex={-1}>Staff</h1>
      <StaffTabs />
      <Section title="New announcement" id="new-announcement">
        <form
          aria-label="New announcement"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await a.run(() => post(`${S}/announcements`, f))) {
              setF({ title: '', body: '', pinned: false });
              list.reload();
            }
          }}
        >
          <Field
            label="Title"
            id="ann-title"
            required
            value={f.title}
            onInput={(e) => setF({ ...f, title: e.currentTarget.value })}
          />
          <div class="field">
            <label for="ann-body">Text</label>
            <textarea
              id="ann-body"
              required
              rows={3}
              value={f.body}
              onInput={(e) => setF({ ...f, body: e.currentTarget.value })}
            />
          </div>
          <label class="check">
            <input
              type="checkbox"
              checked={f.pinned}
              onChange={(e) => setF({ ...f, pinned: e.currentTarget.checked })}
            />
            Pin on top
          </label>
          <ActionError error={a.error} />
          <button type="submit" class="primary" disabled={a.busy}>
            Post to every team and the audience
          </button>
        </form>
      </Section>
      <Section title="Announcements" id="announcements">
        <Load r={list} what="Loading announcements">
          {(d) =>
            d.announcements.length === 0 ? (
              <Empty>Nothing announced yet.</Empty>
            ) : (
              <div class="stack">
                {d.announcements.map((x) => (
                  <AnnouncementRow key={`${x.id}-${x.updated_at}`} a={x} onDone={list.reload} />
                ))}
              </div>
            )
          }
        </Load>
      </Section>
    </>
  );
}
