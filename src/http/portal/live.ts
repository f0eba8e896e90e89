/**
 * What the web UI needs beyond the request/answer portal API: a team's own benchmark as
 * server-sent events (state changes and running scores as they arrive), and the score history of
 * the leading teams for the audience chart, frozen as the leaderboard is.
 */
import { createHash } from 'node:crypto';
import { frozenCutoff, isFrozen, iso, liveCutoff, startCutoff } from '../../contest/contest.js';
import type { Portal } from '../../contest/portal.js';
import { portalJob } from '../../contest/views.js';
import type { Router } from '../router.js';
import { optionalSession, sendCached, session } from './common.js';

const FINAL = new Set(['succeeded', 'failed', 'canceled']);
/** Points per team in the history answer (the latest ones). */
const MAX_POINTS = 200;

export function liveRoutes(r: Router): void {
  /**
   * `GET /api/portal/jobs/:id/events`: `job` events (the job as `GET /api/portal/jobs/:id` shows
   * it; with stdout once finished) and `progress` events `{score, message}`; ends after the final
   * state. Own team's jobs only (404 otherwise).
   */
  r.on('GET', '/api/portal/jobs/:id/events', async (c) => {
    const s = await session(c);
    const portal = c.hub.portal;
    const first = await portal.job(c.params.id!, s.teamId);
    const name = portal.teamName(s.teamId);
    const stdout = await portal.organisers.contestantSeesStdout();
    const send = (event: string, data: unknown) =>
      c.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const view = (job: typeof first) =>
      portalJob(job, { staff: false, full: FINAL.has(job.state), stdout, teamName: name });
    const pending: (() => void)[] = [];
    let ready = false;
    const unsubscribe = c.hub.ctx.events.subscribe(first.id, (e) => {
      const write = () => {
        if (e.type === 'state') {
          send('job', view(e.job));
          if (FINAL.has(e.job.state)) c.res.end();
        } else if (e.type === 'progress') {
          const p = (e.progress ?? {}) as { score?: unknown; message?: unknown };
          send('progress', {
            score: typeof p.score === 'number' ? p.score : null,
            message: typeof p.message === 'string' ? p.message : null,
          });
        }
      };
      if (ready) write();
      else pending.push(write);
    });
    // Read again after subscribing: a change in between is either in the read or in `pending`.
    const job = await portal.job(first.id, s.teamId).catch((err: unknown) => {
      unsubscribe();
      throw err;
    });
    c.res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    if (c.req.method === 'HEAD') {
      // No body, so no stream: answer the headers now (Node sends them only with the end).
      unsubscribe();
      c.res.end();
      return;
    }
    send('job', view(job));
    if (FINAL.has(job.state)) {
      unsubscribe();
      c.res.end();
      return;
    }
    ready = true;
    for (const write of pending) write();
    const ping = setInterval(() => c.res.write(': keep-alive\n\n'), 15_000);
    const stop = () => c.res.end();
    c.hub.ctx.shutdown.addEventListener('abort', stop, { once: true });
    await new Promise<void>((resolve) => c.res.on('close', resolve));
    c.hub.ctx.shutdown.removeEventListener('abort', stop);
    clearInterval(ping);
    unsubscribe();
  });

  /**
   * `GET /api/portal/leaderboard/history?top=N` (public; personalised with a session): the
   * results of the first N teams of the leaderboard (default 10, at most 50) over time, as the
   * caller may see them: during the freeze other teams stop at the freeze, the own team is live.
   */
  r.on('GET', '/api/portal/leaderboard/history', async (c) => {
    const raw = c.query.get('top');
    const n = raw === null ? 10 : Number(raw);
    const top = Number.isInteger(n) && n >= 1 && n <= 50 ? n : 10;
    const s = await optionalSession(c);
    const portal = c.hub.portal;
    const board = await portal.leaderboard(s ? { kind: 'team', teamId: s.teamId } : { kind: 'audience' });
    // The board's ETag names the viewer, the freeze and every result: the history follows it.
    const key = `${board.etag}:${top}`;
    let memo = histories.get(portal);
    if (!memo || memo.size > 1000) histories.set(portal, (memo = new Map()));
    let answer = memo.get(key);
    if (!answer) {
      const body = JSON.stringify(await history(portal, board.body, s?.teamId ?? null, top));
      answer = { etag: `"h-${createHash('sha1').update(body).digest('base64url')}"`, body };
      memo.set(key, answer);
    }
    sendCached(c, answer, s ? 'private' : 'public');
  });
}

const histories = new WeakMap<object, Map<string, { etag: string; body: string }>>();

async function history(portal: Portal, boardBody: string, ownTeam: string | null, top: number) {
  const board = JSON.parse(boardBody) as {
    frozen: boolean;
    teams: { rank: number | null; team: { id: number; name: string } }[];
  };
  const contest = await portal.contest();
  const frozen = isFrozen(contest, portal.now());
  const from = startCutoff(contest);
  const teams = board.teams.filter((t) => t.rank !== null || String(t.team.id) === ownTeam).slice(0, top);
  return {
    frozen: board.frozen,
    teams: teams.map((t) => {
      const own = String(t.team.id) === ownTeam;
      const to = frozen && !own ? frozenCutoff(contest) : liveCutoff(contest);
      const points = portal.board
        .teamHistory(String(t.team.id))
        .filter((p) => p.finishedAt >= from && p.finishedAt < to)
        .slice(-MAX_POINTS);
      return {
        team: t.team,
        rank: t.rank,
        ...(own ? { own: true } : {}),
        points: points.map((p) => ({ at: iso(p.finishedAt), score: p.score, is_passed: p.passed })),
      };
    }),
  };
}
