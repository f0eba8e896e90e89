/**
 * Outgoing notifications to real local HTTP receivers, on both stores: a new clarification, an
 * aborted benchmark, a benchmarker gone silent, the freeze and the end, each sent once to every
 * configured target with a Slack-compatible body; a target that fails at first gets the message
 * on a retry; a dead target never slows a request down.
 */
import { describe, expect, it } from 'vitest';
import { api } from '../helpers/hub.js';
import { until } from '../helpers/worker.js';
import { dequeue, enqueue, loadContest, login, report, staff, teams } from './helpers.js';
import { clockedHub, contest, H, receiver, STORES, T } from './organisers-helpers.js';

describe.each(STORES)('notifications (%s)', (kind) => {
  it('tells every target of clarifications, aborts, a silent benchmarker, the freeze and the end', async () => {
    const { url, hub, clock } = await clockedHub(kind, T + H);
    const steady = await receiver();
    const flaky = await receiver(2);
    await loadContest(url, {
      contest,
      teams: teams(1),
      benchmarkers: [{ name: 'bench-a', ip: '127.0.0.2', teams: [] }],
    });
    const set = await staff(url, 'PUT', '/settings', {
      webhooks: [steady.url, flaky.url],
      offline_after_s: 60,
    });
    expect(set.body.webhooks).toEqual([steady.url, flaky.url]);
    const a = await login(url, 'team0', 'pw-0');

    await api(url, 'POST', '/api/portal/clarifications', { question: 'Is IPv6 needed?' }, a);
    await until(async () => steady.texts.length >= 1 && flaky.texts.length >= 1);
    expect(steady.texts[0]).toMatch(/^New clarification #\d+ from team0: Is IPv6 needed\?$/);
    expect(flaky.texts).toEqual(steady.texts);
    expect(flaky.requests).toBe(3); // refused twice, then taken

    const job = await enqueue(url, 'team0');
    expect((await dequeue(url, '127.0.0.2')).json.id).toBe(job);
    await report(url, '127.0.0.2', job, {
      status: 'aborted',
      score: 0,
      reason: 'connection refused',
      stderr: 'SECRET-STDERR',
    });
    await until(async () => steady.texts.length >= 2);
    expect(steady.texts[1]).toBe(`Benchmark #${job} of team0 aborted: connection refused`);

    clock.now += 61_000;
    await hub.portal.watch();
    await hub.portal.watch();
    await until(async () => steady.texts.length >= 3);
    expect(steady.texts[2]).toMatch(/^Benchmarker bench-a \(127\.0\.0\.2\) is offline: no dequeue for 61 s/);

    clock.now = T + 6 * H + 1000;
    await hub.portal.watch();
    await hub.portal.watch();
    clock.now = T + 7 * H + 1000;
    await hub.portal.watch();
    await hub.portal.watch();
    await until(async () => steady.texts.length >= 5 && flaky.texts.length >= 5);
    expect(steady.texts.slice(3)).toEqual([
      `The leaderboard is frozen (${new Date(T + 6 * H).toISOString()}).`,
      `The contest has ended (${new Date(T + 7 * H).toISOString()}). The board stays frozen until the results are published.`,
    ]);
    expect(flaky.texts).toEqual(steady.texts);
    // Each event once, whatever the number of watch ticks; stderr never leaves the hub.
    await new Promise((r) => setTimeout(r, 300));
    expect(steady.texts).toHaveLength(5);
    expect(steady.texts.join('\n')).not.toContain('SECRET-STDERR');
    const stats = await staff(url, 'GET', '/notifications');
    expect(stats.body).toMatchObject({ pending: 0, delivered: 10, failed_attempts: 2, dropped: 0 });
  });

  it('never makes a request wait for a target that does not answer', async () => {
    const { url } = await clockedHub(kind, T + H);
    const silent = await receiver('hang');
    await loadContest(url, { contest, teams: teams(1) });
    await staff(url, 'PUT', '/settings', { webhooks: [silent.url] });
    const a = await login(url, 'team0', 'pw-0');
    const r = await api(url, 'POST', '/api/portal/clarifications', { question: 'Anyone there?' }, a);
    expect(r.status).toBe(201);
    // The target holds the delivery open (it would time out after 10 s): the answer did not wait.
    await until(async () => silent.requests >= 1);
    expect((await staff(url, 'GET', '/notifications')).body).toMatchObject({
      pending: 1,
      delivered: 0,
      failed_attempts: 0,
    });
    expect((await api(url, 'GET', '/api/portal/clarifications', undefined, a)).status).toBe(200);
  });
});
