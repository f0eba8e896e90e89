/**
 * The organisers' staff API under /api/portal/staff/ (same staff check as staff.ts): settings,
 * the clarification queue and answers, announcements, benchmarker health and service, and the
 * results (verification runs, review, decisions, publication, export). Translation only: every
 * rule lives in src/contest (desk.ts, health.ts, results.ts, settings.ts).
 */
import type { ServerResponse } from 'node:http';
import { HubError } from '../../core/errors.js';
import { announcementJson, clarificationJson } from '../../contest/desk.js';
import { iso } from '../../contest/contest.js';
import { rankingCsv, type FinalRow } from '../../contest/results.js';
import { settingsJson } from '../../contest/settings.js';
import type { Handler, RequestContext, Router } from '../router.js';
import { jsonBody, requireStaff, sendJson } from './common.js';

const P = '/api/portal/staff';

function flagQuery(c: RequestContext, name: string): boolean {
  const v = c.query.get(name);
  if (v === null || v === '0' || v === 'false') return false;
  if (v === '' || v === '1' || v === 'true') return true;
  throw new HubError('validation_failed', `${name} must be true or false`);
}

/** `?format=json|csv` (json by default). */
export function formatQuery(c: RequestContext): 'json' | 'csv' {
  const f = c.query.get('format') ?? 'json';
  if (f !== 'json' && f !== 'csv') throw new HubError('validation_failed', 'format must be json or csv');
  return f;
}

export function sendRanking(
  res: ServerResponse,
  format: 'json' | 'csv',
  json: string,
  rows: FinalRow[],
): void {
  if (format === 'json') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
    return;
  }
  const csv = rankingCsv(rows);
  res.writeHead(200, {
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': 'attachment; filename="ranking.csv"',
    'content-length': Buffer.byteLength(csv),
  });
  res.end(csv);
}

export function organiserRoutes(r: Router): void {
  const on = (method: string, path: string, handler: Handler) =>
    r.on(method, P + path, async (c) => {
      await requireStaff(c);
      await handler(c);
    });
  const org = (c: RequestContext) => c.hub.portal.organisers;
  const teamName = (c: RequestContext) => (id: string | null) => c.hub.portal.teamName(id);

  on('GET', '/settings', async (c) => sendJson(c.res, 200, settingsJson(await org(c).settings.get())));
  on('PUT', '/settings', async (c) =>
    sendJson(c.res, 200, settingsJson(await org(c).settings.set(await jsonBody(c)))),
  );
  on('GET', '/notifications', async (c) =>
    sendJson(c.res, 200, {
      pending: org(c).notifier.pending(),
      delivered: org(c).notifier.stats.delivered,
      failed_attempts: org(c).notifier.stats.failedAttempts,
      dropped: org(c).notifier.stats.dropped,
    }),
  );

  on('GET', '/clarifications', async (c) => {
    await c.hub.portal.ready();
    const list = await org(c).desk.staffList({ open: flagQuery(c, 'open') });
    sendJson(c.res, 200, {
      clarifications: list.map((x) =>
        clarificationJson(x, { teamName: teamName(c), viewer: { staff: true } }),
      ),
    });
  });
  on('GET', '/clarifications/:id', async (c) => {
    await c.hub.portal.ready();
    const x = await org(c).desk.clarification(c.params.id!);
    sendJson(c.res, 200, clarificationJson(x, { teamName: teamName(c), viewer: { staff: true } }));
  });
  on('POST', '/clarifications/:id/answer', async (c) => {
    const x = await org(c).desk.answer(c.params.id!, await jsonBody(c));
    sendJson(c.res, 200, clarificationJson(x, { teamName: teamName(c), viewer: { staff: true } }));
  });

  on('GET', '/announcements', async (c) =>
    sendJson(c.res, 200, {
      announcements: (await org(c).desk.allAnnouncements()).map((a) => announcementJson(a, { staff: true })),
    }),
  );
  on('POST', '/announcements', async (c) =>
    sendJson(c.res, 201, announcementJson(await org(c).desk.announce(await jsonBody(c)), { staff: true })),
  );
  on('PUT', '/announcements/:id', async (c) =>
    sendJson(
      c.res,
      200,
      announcementJson(await org(c).desk.editAnnouncement(c.params.id!, await jsonBody(c)), { staff: true }),
    ),
  );
  on('DELETE', '/announcements/:id', async (c) =>
    sendJson(
      c.res,
      200,
      announcementJson(await org(c).desk.editAnnouncement(c.params.id!, { withdrawn: true }), {
        staff: true,
      }),
    ),
  );

  on('GET', '/health', async (c) => {
    await c.hub.portal.ready();
    const settings = await org(c).settings.get();
    sendJson(c.res, 200, {
      offline_after_s: settings.offlineAfterS,
      benchmarkers: await org(c).health.list(),
    });
  });
  const service = (inService: boolean) => async (c: RequestContext) => {
    c.req.resume();
    const b = await org(c).health.setService(c.params.id!, inService);
    sendJson(c.res, 200, { id: Number(b.id), name: b.name, out_of_service: !inService });
  };
  on('POST', '/benchmarkers/:id/out-of-service', service(false));
  on('POST', '/benchmarkers/:id/in-service', service(true));

  on('POST', '/results/verify', async (c) => {
    c.req.resume();
    sendJson(c.res, 200, { results: await org(c).results.verify() });
  });
  on('GET', '/results', async (c) => {
    const results = org(c).results;
    const [teams, published] = await Promise.all([results.review(), results.published()]);
    sendJson(c.res, 200, { published_at: iso(published?.publishedAt ?? null), teams });
  });
  on('PUT', '/results/teams/:id', async (c) => {
    const r = await org(c).results.decide(c.params.id!, await jsonBody(c));
    sendJson(c.res, 200, { team_id: Number(r.teamId), disqualified: r.disqualified, note: r.note });
  });
  on('POST', '/results/publish', async (c) => {
    c.req.resume();
    const p = await org(c).results.publish();
    sendJson(c.res, 200, JSON.parse(p.body));
  });
  on('DELETE', '/results/publication', async (c) => {
    await org(c).results.withdraw();
    sendJson(c.res, 200, {});
  });
  on('GET', '/results/export', async (c) => {
    const format = formatQuery(c);
    const rows = await org(c).results.ranking();
    sendRanking(c.res, format, JSON.stringify({ teams: rows }), rows);
  });
}
