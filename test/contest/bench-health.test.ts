/**
 * Benchmarker health and service on both stores: last dequeue, running job, job and abort
 * counts, offline after the configured silence, and out of service (its dequeue answers exactly
 * like an empty queue, byte for byte apart from the Date header) and back.
 */
import { describe, expect, it } from 'vitest';
import { dequeue, enqueue, loadContest, report, staff, teams, type RawReply } from './helpers.js';
import { clockedHub, contest, H, STORES, T } from './organisers-helpers.js';

/** Status, headers without Date, body: what a benchmarker can tell apart. */
const wire = (r: RawReply) => {
  const { date: _date, ...headers } = r.headers;
  return { status: r.status, headers, text: r.text };
};

describe.each(STORES)('benchmarker health (%s)', (kind) => {
  it('shows last dequeue, running job, counts, and offline after the configured silence', async () => {
    const { url, hub, clock } = await clockedHub(kind, T + H);
    await loadContest(url, {
      contest,
      teams: teams(2),
      benchmarkers: [
        { name: 'bench-a', ip: '127.0.0.2', teams: [] },
        { name: 'bench-b', ip: '127.0.0.3', teams: [] },
      ],
    });
    expect((await staff(url, 'PUT', '/settings', { offline_after_s: 30 })).body.offline_after_s).toBe(30);
    const health = async () => {
      const r = await staff(url, 'GET', '/health');
      expect(r.status).toBe(200);
      return new Map(
        (r.body.benchmarkers as { name: string }[]).map((b) => [b.name, b as Record<string, unknown>]),
      );
    };
    expect((await health()).get('bench-a')).toMatchObject({
      status: 'never_seen',
      offline: true,
      last_dequeue_at: null,
      jobs: 0,
    });

    expect((await dequeue(url, '127.0.0.2')).status).toBe(204);
    const first = await enqueue(url, 'team0');
    expect((await dequeue(url, '127.0.0.2')).json.id).toBe(first);
    let h = await health();
    expect(h.get('bench-a')).toMatchObject({
      status: 'online',
      offline: false,
      last_dequeue_at: new Date(T + H).toISOString(),
      seconds_since_dequeue: 0,
      running_job: { id: first, team: { name: 'team0' } },
      jobs: 1,
      aborted: 0,
    });
    expect(h.get('bench-b')!.status).toBe('never_seen');
    expect(
      (await report(url, '127.0.0.2', first, { status: 'aborted', score: 0, reason: 'crashed' })).status,
    ).toBe(200);
    const second = await enqueue(url, 'team1');
    expect((await dequeue(url, '127.0.0.2')).json.id).toBe(second);
    expect(
      (await report(url, '127.0.0.2', second, { status: 'done', score: 10, is_passed: true })).status,
    ).toBe(200);
    h = await health();
    expect(h.get('bench-a')).toMatchObject({ running_job: null, jobs: 2, aborted: 1 });

    clock.now += 31_000;
    await hub.portal.watch();
    expect((await health()).get('bench-a')).toMatchObject({
      status: 'offline',
      offline: true,
      seconds_since_dequeue: 31,
    });
    expect((await dequeue(url, '127.0.0.2')).status).toBe(204);
    expect((await health()).get('bench-a')).toMatchObject({ status: 'online', seconds_since_dequeue: 0 });
  });

  it('answers "no job" to an out-of-service benchmarker exactly as for an empty queue, and resumes', async () => {
    const { url } = await clockedHub(kind, T + H);
    await loadContest(url, {
      contest,
      teams: teams(1),
      benchmarkers: [{ name: 'bench-a', ip: '127.0.0.2', teams: [] }],
    });
    const empty = await dequeue(url, '127.0.0.2');
    expect(empty.status).toBe(204);
    const id = (await staff(url, 'GET', '/benchmarkers')).body.benchmarkers[0].id as number;
    const out = await staff(url, 'POST', `/benchmarkers/${id}/out-of-service`);
    expect(out.body).toEqual({ id, name: 'bench-a', out_of_service: true });
    const job = await enqueue(url, 'team0');
    const refused = await dequeue(url, '127.0.0.2');
    expect(wire(refused)).toEqual(wire(empty));
    expect((await staff(url, 'GET', '/health')).body.benchmarkers[0]).toMatchObject({
      status: 'out_of_service',
      out_of_service: true,
    });
    // The waiting job stays for when it is back.
    expect((await staff(url, 'GET', `/jobs/${job}`)).body.status).toBe('waiting');
    await staff(url, 'POST', `/benchmarkers/${id}/in-service`);
    const got = await dequeue(url, '127.0.0.2');
    expect(got.status).toBe(200);
    expect(got.json.id).toBe(job);
    expect((await staff(url, 'POST', '/benchmarkers/999/out-of-service')).status).toBe(404);
    expect((await staff(url, 'POST', '/benchmarkers/x/in-service')).status).toBe(404);
  });

  it('refuses bad settings with the setting named', async () => {
    const { url } = await clockedHub(kind, T + H);
    for (const body of [
      { offline_after_s: 0 },
      { offline_after_s: 1.5 },
      { offline_after_s: '30' },
      { contestant_stdout_after_end: 'no' },
      { webhooks: 'http://x/' },
      { webhooks: ['ftp://x/'] },
      { webhooks: ['not a url'] },
      { webhooks: Array.from({ length: 11 }, (_, i) => `http://127.0.0.1/${i}`) },
      { colour: 'blue' },
    ]) {
      const r = await staff(url, 'PUT', '/settings', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toContain(Object.keys(body)[0]);
    }
    expect((await staff(url, 'GET', '/settings')).body).toEqual({
      offline_after_s: 60,
      contestant_stdout_after_end: true,
      webhooks: [],
    });
  });
});
