/**
 * Clarifications and announcements over real HTTP, on both stores: a team asks, staff see the open
 * queue, answer privately or to everyone (rewriting the question), teams see their own and the
 * public ones with an unread count that the portal event stream pushes live; staff post, pin,
 * edit and withdraw announcements, which reach open audience pages live.
 */
import { describe, expect, it } from 'vitest';
import { api } from '../helpers/hub.js';
import { openEvents } from '../helpers/worker.js';
import { loadContest, login, staff, teams } from './helpers.js';
import { clockedHub, contest, H, STORES, T } from './organisers-helpers.js';

describe.each(STORES)('the help desk (%s)', (kind) => {
  it('answers a clarification privately, then one to everyone with the question rewritten', async () => {
    const { url, clock } = await clockedHub(kind, T + H);
    await loadContest(url, { contest, teams: teams(2) });
    const a = await login(url, 'team0', 'pw-0');
    const b = await login(url, 'team1', 'pw-1');

    const asked = await api(
      url,
      'POST',
      '/api/portal/clarifications',
      { question: '  Is caching allowed?  ' },
      a,
    );
    expect(asked.status).toBe(201);
    expect(asked.body).toMatchObject({
      question: 'Is caching allowed?',
      own: true,
      answer: null,
      disclosed: false,
    });
    const queue = await staff(url, 'GET', '/clarifications?open=1');
    expect(queue.body.clarifications).toEqual([
      expect.objectContaining({
        id: asked.body.id,
        team: { id: expect.any(Number), name: 'team0' },
        answer: null,
      }),
    ]);
    expect((await api(url, 'GET', '/api/portal/clarifications', undefined, b)).body).toEqual({
      unread: 0,
      clarifications: [],
    });

    clock.now += 1000;
    const answered = await staff(url, 'POST', `/clarifications/${asked.body.id}/answer`, { answer: 'Yes.' });
    expect(answered.status).toBe(200);
    expect(answered.body).toMatchObject({ answer: 'Yes.', disclosed: false, original_question: null });
    const mine = await api(url, 'GET', '/api/portal/clarifications', undefined, a);
    expect(mine.body.unread).toBe(1);
    expect(mine.body.clarifications[0]).toMatchObject({ answer: 'Yes.', own: true });
    expect((await api(url, 'GET', '/api/portal/clarifications', undefined, b)).body.clarifications).toEqual(
      [],
    );
    expect((await api(url, 'POST', '/api/portal/clarifications/read', undefined, a)).body).toEqual({
      unread: 0,
    });
    expect((await api(url, 'GET', '/api/portal/clarifications', undefined, a)).body.unread).toBe(0);

    const second = await api(
      url,
      'POST',
      '/api/portal/clarifications',
      { question: 'can we use team1 s db on port 5432' },
      b,
    );
    clock.now += 1000;
    const published = await staff(url, 'POST', `/clarifications/${second.body.id}/answer`, {
      answer: 'No: every team uses its own servers.',
      disclosed: true,
      question: "May we use another team's database?",
    });
    expect(published.body).toMatchObject({
      question: "May we use another team's database?",
      original_question: 'can we use team1 s db on port 5432',
      disclosed: true,
    });
    const other = await api(url, 'GET', '/api/portal/clarifications', undefined, a);
    expect(other.body.unread).toBe(1);
    expect(other.body.clarifications[0]).toEqual(
      expect.objectContaining({ question: "May we use another team's database?", own: false }),
    );
    expect(other.body.clarifications[0]).not.toHaveProperty('original_question');
    expect(
      (await api(url, 'GET', '/api/portal/clarifications', undefined, b)).body.clarifications[0],
    ).toMatchObject({
      own: true,
      original_question: 'can we use team1 s db on port 5432',
    });
    expect((await staff(url, 'GET', '/clarifications?open=true')).body.clarifications).toEqual([]);
    expect((await staff(url, 'GET', '/clarifications')).body.clarifications).toHaveLength(2);
  });

  it('refuses bad clarification input with the error envelope', async () => {
    const { url } = await clockedHub(kind, T + H);
    await loadContest(url, { contest, teams: teams(1) });
    const a = await login(url, 'team0', 'pw-0');
    for (const body of [
      {},
      { question: '' },
      { question: '   ' },
      { question: 7 },
      { question: 'x'.repeat(4001) },
    ]) {
      const r = await api(url, 'POST', '/api/portal/clarifications', body, a);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
    }
    expect((await api(url, 'POST', '/api/portal/clarifications', '[1]', a)).status).toBe(400);
    expect((await api(url, 'POST', '/api/portal/clarifications', { question: 'q' })).status).toBe(401);
    expect((await api(url, 'GET', '/api/portal/clarifications')).status).toBe(401);
    const q = await api(url, 'POST', '/api/portal/clarifications', { question: 'q' }, a);
    expect(
      (await staff(url, 'POST', `/clarifications/${q.body.id}/answer`, { answer: 'a', disclosed: 'yes' }))
        .status,
    ).toBe(400);
    expect((await staff(url, 'POST', `/clarifications/${q.body.id}/answer`, {})).status).toBe(400);
    expect((await staff(url, 'POST', '/clarifications/999/answer', { answer: 'a' })).status).toBe(404);
    expect((await staff(url, 'POST', '/clarifications/abc/answer', { answer: 'a' })).status).toBe(404);
    expect((await staff(url, 'GET', '/clarifications?open=maybe')).status).toBe(400);
  });

  it('answers HEAD on the event stream with its headers at once (no body, so no stream)', async () => {
    const { url } = await clockedHub(kind, T + H);
    await loadContest(url, { contest, teams: teams(1) });
    const a = await login(url, 'team0', 'pw-0');
    for (const headers of [{}, a]) {
      const r = await fetch(`${url}/api/portal/events`, { method: 'HEAD', headers });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/event-stream');
    }
  });

  it('pushes the unread count and announcements to open pages', async () => {
    const { url, clock } = await clockedHub(kind, T + H);
    await loadContest(url, { contest, teams: teams(2) });
    const a = await login(url, 'team0', 'pw-0');
    const team = await openEvents(`${url}/api/portal/events`, a);
    const audience = await openEvents(`${url}/api/portal/events`);
    expect(team.status).toBe(200);
    expect(team.headers.get('content-type')).toBe('text/event-stream');
    const seen = async (stream: typeof team, event: string) => {
      for (;;) {
        const e = await stream.next();
        if (!e) throw new Error('stream ended');
        if (e.event === event) return e.data;
      }
    };
    expect(await seen(team, 'announcements')).toEqual({ announcements: [] });
    expect(await seen(team, 'clarifications')).toEqual({ unread: 0 });
    expect(await seen(audience, 'announcements')).toEqual({ announcements: [] });

    const q = await api(url, 'POST', '/api/portal/clarifications', { question: 'When is lunch?' }, a);
    clock.now += 1000;
    await staff(url, 'POST', `/clarifications/${q.body.id}/answer`, { answer: 'At noon.', disclosed: true });
    expect(await seen(team, 'clarifications')).toEqual({ unread: 1 });

    const posted = await staff(url, 'POST', '/announcements', { title: 'Lunch', body: 'At noon, floor 3.' });
    expect(posted.status).toBe(201);
    const got = await seen(audience, 'announcements');
    expect(got.announcements).toEqual([
      expect.objectContaining({ title: 'Lunch', body: 'At noon, floor 3.', pinned: false }),
    ]);
    expect(got.announcements[0]).not.toHaveProperty('withdrawn_at');
    expect((await seen(team, 'announcements')).announcements).toHaveLength(1);
    await api(url, 'POST', '/api/portal/clarifications/read', undefined, a);
    expect(await seen(team, 'clarifications')).toEqual({ unread: 0 });
    team.close();
    audience.close();
  });

  it('posts, pins, edits and withdraws announcements', async () => {
    const { url, clock } = await clockedHub(kind, T + H);
    const one = (await staff(url, 'POST', '/announcements', { title: 'Welcome', body: 'Good luck.' })).body;
    clock.now += 1000;
    const two = (await staff(url, 'POST', '/announcements', { title: 'Lunch', body: 'Noon.', pinned: false }))
      .body;
    const list = async () =>
      (await api(url, 'GET', '/api/portal/announcements')).body.announcements.map(
        (x: { title: string }) => x.title,
      );
    expect(await list()).toEqual(['Lunch', 'Welcome']);
    const pinned = await staff(url, 'PUT', `/announcements/${one.id}`, { pinned: true, body: 'Good luck!' });
    expect(pinned.body).toMatchObject({ title: 'Welcome', body: 'Good luck!', pinned: true });
    expect(await list()).toEqual(['Welcome', 'Lunch']);
    const withdrawn = await staff(url, 'DELETE', `/announcements/${two.id}`);
    expect(withdrawn.body.withdrawn_at).toBe(new Date(clock.now).toISOString());
    expect(await list()).toEqual(['Welcome']);
    expect(
      (await staff(url, 'GET', '/announcements')).body.announcements.map((x: { id: number }) => x.id),
    ).toEqual([one.id, two.id]);
    expect(
      (await staff(url, 'PUT', `/announcements/${two.id}`, { withdrawn: false })).body.withdrawn_at,
    ).toBeNull();
    expect(await list()).toEqual(['Welcome', 'Lunch']);
    for (const body of [{}, { title: 'x' }, { title: '', body: 'b' }, { title: 't', body: 'b', pinned: 1 }]) {
      expect((await staff(url, 'POST', '/announcements', body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await staff(url, 'PUT', '/announcements/999', { title: 'x' })).status).toBe(404);
    expect((await staff(url, 'PUT', `/announcements/${one.id}`, { title: '' })).status).toBe(400);
  });
});
