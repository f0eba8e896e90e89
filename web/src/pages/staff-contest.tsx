/** Staff: the contest schedule (start, freeze, end; in local time) and the unfrozen leaderboard. */
import { useState } from 'preact/hooks';
import { put } from '../api.js';
import { useResource } from '../live.js';
import { P, PHASE_TEXT, S, type Board, type Contest } from '../portal.js';
import { ActionError, Badge, clock, Load, Section, useAction } from '../ui.js';
import { BoardTable } from './board.js';
import { StaffTabs } from './staff.js';

type Schedule = Pick<Contest, 'starts_at' | 'freezes_at' | 'ends_at'>;
const FIELDS: [keyof Schedule, string][] = [
  ['starts_at', 'Starts'],
  ['freezes_at', 'Freezes'],
  ['ends_at', 'Ends'],
];

/** ISO instant → the `datetime-local` value in this browser's time zone. */
function toLocal(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
}

const fromLocal = (v: string): string | null => (v ? new Date(v).toISOString() : null);

function ScheduleForm({ current, onSaved }: { current: Schedule; onSaved: () => void }) {
  const [f, setF] = useState<Record<keyof Schedule, string>>({
    starts_at: toLocal(current.starts_at),
    freezes_at: toLocal(current.freezes_at),
    ends_at: toLocal(current.ends_at),
  });
  const [saved, setSaved] = useState(false);
  const a = useAction();
  const save = async (body: Partial<Record<keyof Schedule, string | null>>) => {
    setSaved(false);
    const r = await a.run(() => put<Schedule>(`${S}/contest`, body));
    if (r) {
      setF({
        starts_at: toLocal(r.starts_at),
        freezes_at: toLocal(r.freezes_at),
        ends_at: toLocal(r.ends_at),
      });
      setSaved(true);
      onSaved();
    }
  };
  return (
    <form
      aria-label="Contest schedule"
      onSubmit={(e) => {
        e.preventDefault();
        void save({
          starts_at: fromLocal(f.starts_at),
          freezes_at: fromLocal(f.freezes_at),
          ends_at: fromLocal(f.ends_at),
        });
      }}
    >
      <div class="form-row">
        {FIELDS.map(([k, label]) => (
          <div class="field" key={k}>
            <label for={`c-${k}`}>{label}</label>
            <input
              id={`c-${k}`}
              type="datetime-local"
              step={1}
              value={f[k]}
              onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })}
            />
          </div>
        ))}
      </div>
      <p class="muted">
        Times are in this browser's time zone ({Intl.DateTimeFormat().resolvedOptions().timeZone}); an empty
        field clears it.
      </p>
      <ActionError error={a.error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={a.busy}>
          Save schedule
        </button>
        <button
          type="button"
          disabled={a.busy}
          onClick={() => void save({ freezes_at: new Date().toISOString() })}
        >
          Freeze now
        </button>
        <button type="button" disabled={a.busy} onClick={() => void save({ freezes_at: null })}>
          Remove the freeze
        </button>
      </div>
      {saved && <p role="status">Saved.</p>}
    </form>
  );
}

export function StaffContest() {
  const contest = useResource<Contest>(`${P}/contest`, 5000);
  const schedule = useResource<Schedule>(`${S}/contest`);
  const board = useResource<Board>(`${S}/leaderboard`, 3000);
  return (
    <>
      <h1 tabIndex={-1}>Staff</h1>
      <StaffTabs />
      <Section title="Schedule" id="schedule">
        {contest.data && (
          <p class="row">
            Now:{' '}
            <Badge
              state={contest.data.phase === 'ended' ? 'canceled' : 'running'}
              label={PHASE_TEXT[contest.data.phase]}
            />
            <span class="muted">hub clock {clock(contest.data.now)}</span>
          </p>
        )}
        <Load r={schedule} what="Loading the schedule">
          {(s) => (
            <ScheduleForm
              current={s}
              onSaved={() => {
                contest.reload();
                board.reload();
              }}
            />
          )}
        </Load>
      </Section>
      <Section title="Leaderboard (unfrozen, staff only)" id="staff-board">
        <Load r={board} what="Loading the leaderboard">
          {(b) => <BoardTable rows={b.teams} caption="Unfrozen leaderboard" />}
        </Load>
      </Section>
    </>
  );
}
