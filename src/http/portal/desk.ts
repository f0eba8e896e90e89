/**
 * The desk as contestants and the audience see it: a team's clarifications (its own and the
 * public ones) and asking one; the announcements; the published final ranking; and
 * `GET /api/portal/events`, a server-sent event stream every portal page keeps open:
 *
 *   event: announcements   data: {"announcements": [...]}     (everyone)
 *   event: clarifications  data: {"unread": n}                 (a logged-in team)
 *
 * Both are sent at once, then whenever this hub changes them, and at the latest every
 * RESYNC_MS when another hub did (the stream re-reads and sends what differs).
 */
import { announcementJson, clarificationJson } from '../../contest/desk.js';
import type { FinalRow } from '../../contest/results.js';
import { HubError } from '../../core/errors.js';
import type { RequestContext, Router } from '../router.js';
import { jsonBody, optionalSession, sendJson, session } from './common.js';
import { formatQuery, sendRanking } from './organisers.js';

const RESYNC_MS = 5_000;
const KEEPALIVE_MS = 15_000;

async function announcements(c: RequestContext) {
  return (await c.hub.portal.organisers.desk.announcements()).map((a) =>
    announcementJson(a, { staff: false }),
  );
}

export function deskRoutes(r: Router): void {
  r.on('GET', '/api/portal/clarifications', async (c) => {
    const s = await session(c);
    await c.hub.portal.ready();
    const { clarifications, unread } = await c.hub.portal.organisers.desk.forTeam(s.teamId);
    const teamName = (id: string | null) => c.hub.portal.teamName(id);
    sendJson(c.res, 200, {
      unread,
      clarifications: clarifications.map((x) =>
        clarificationJson(x, { teamName, viewer: { teamId: s.teamId } }),
      ),
    });
  });
  r.on('POST', '/api/portal/clarifications', async (c) => {
    const s = await session(c);
    await c.hub.portal.ready();
    const x = await c.hub.portal.organisers.desk.ask(s.teamId, await jsonBody(c));
    const teamName = (id: string | null) => c.hub.portal.teamName(id);
    sendJson(c.res, 201, clarificationJson(x, { teamName, viewer: { teamId: s.teamId } }));
  });
  r.on('POST', '/api/portal/clarifications/read', async (c) => {
    const s = await session(c);
    c.req.resume();
    await c.hub.portal.organisers.desk.markRead(s.teamId);
    sendJson(c.res, 200, { unread: 0 });
  });

  r.on('GET', '/api/portal/announcements', async (c) =>
    sendJson(c.res, 200, { announcements: await announcements(c) }),
  );

  r.on('GET', '/api/portal/results', async (c) => {
    const format = formatQuery(c);
    const p = await c.hub.portal.organisers.results.published();
    if (!p) throw new HubError('not_found', 'the final results are not published yet');
    sendRanking(c.res, format, p.body, (JSON.parse(p.body) as { teams: FinalRow[] }).teams);
  });

  r.on('GET', '/api/portal/events', async (c) => {
    const s = await optionalSession(c);
    const portal = c.hub.portal;
    const desk = portal.organisers.desk;
    const last = new Map<string, string>();
    const send = (event: string, data: unknown) => {
      const json = JSON.stringify(data);
      if (last.get(event) === json) return;
      last.set(event, json);
      c.res.write(`event: ${event}\ndata: ${json}\n\n`);
    };
    // One refresh at a time; a change during one runs another after it.
    let running: Promise<void> | null = null;
    let again = false;
    const refresh = (): void => {
      if (running) {
        again = true;
        return;
      }
      running = (async () => {
        send('announcements', { announcements: await announcements(c) });
        if (s) send('clarifications', { unread: (await desk.forTeam(s.teamId)).unread });
      })()
        .catch((err: unknown) => c.hub.ctx.log.warn({ err }, 'portal event stream refresh failed'))
        .finally(() => {
          running = null;
          if (again) {
            again = false;
            refresh();
          }
        });
    };
    const unsubscribe = desk.subscribe((change) => {
      if (change.type === 'announcements' || (s && (change.teamId === null || change.teamId === s.teamId)))
        refresh();
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
    refresh();
    const resync = setInterval(refresh, RESYNC_MS);
    const ping = setInterval(() => c.res.write(': keep-alive\n\n'), KEEPALIVE_MS);
    const stop = () => c.res.end();
    c.hub.ctx.shutdown.addEventListener('abort', stop, { once: true });
    await new Promise<void>((resolve) => c.res.on('close', resolve));
    c.hub.ctx.shutdown.removeEventListener('abort', stop);
    clearInterval(resync);
    clearInterval(ping);
    unsubscribe();
  });
}
