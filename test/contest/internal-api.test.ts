/**
 * The seed's internal API over raw HTTP, byte for byte: dequeue by source IP (each benchmarker
 * binds its socket to its own loopback address), 200/204/400, the Job JSON shape, bound-first
 * then unbound, shared benchmarkers, atomic claims under concurrency, X-Forwarded-For trust and
 * benchmarker tokens.
 */
import { describe, expect, it } from 'vitest';
import { testHub } from '../helpers/hub.js';
import { dequeue, enqueue, loadContest, raw, report, staff, teams } from './helpers.js';

const JSON_TYPE = 'application/json';

describe('POST /internal/job/dequeue/', () => {
  it('answers an unknown IP with 400 {"error":"Unknown IP Address"}, exactly', async () => {
    const { url } = await testHub();
    await loadContest(url, {
      teams: teams(1),
      benchmarkers: [{ name: 'bench-a', ip: '127.0.0.2', teams: [] }],
    });
    const r = await dequeue(url, '127.0.0.9');
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe(JSON_TYPE);
    expect(r.text).toBe('{"error":"Unknown IP Address"}');
    // GET is not the method; the path without the trailing slash is the same route.
    expect((await raw(url, 'GET', '/internal/job/dequeue/', { from: '127.0.0.2' })).status).toBe(405);
    expect((await raw(url, 'POST', '/internal/job/dequeue', { from: '127.0.0.2' })).status).toBe(204);
  });

  it('answers 204 with no body when there is no job, then 200 with the seed Job JSON', async () => {
    const { url } = await testHub();
    const ids = await loadContest(url, {
      teams: [
        {
          name: 'team0',
          password: 'pw',
          members: ['alice'],
          servers: [
            {
              hostname: 'server0',
              global_ip: '192.55.229.0',
              private_ip: '121.84.88.0',
              is_bench_target: true,
            },
            {
              hostname: 'server1',
              global_ip: '192.169.90.1',
              private_ip: '169.139.31.1',
              is_bench_target: false,
            },
          ],
        },
      ],
      benchmarkers: [{ name: 'bench-a', ip: '127.0.0.2', teams: [] }],
    });
    const empty = await dequeue(url, '127.0.0.2');
    expect(empty.status).toBe(204);
    expect(empty.text).toBe('');
    const jobId = await enqueue(url, 'team0');
    const r = await dequeue(url, '127.0.0.2');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(JSON_TYPE);
    const teamId = ids.get('team0')!;
    const detail = await staff(url, 'GET', `/teams/${teamId}`);
    const [s0, s1] = detail.body.servers as { id: number }[];
    // Field order and integer types as in the seed.
    expect(r.text).toBe(
      JSON.stringify({
        id: jobId,
        team: {
          id: teamId,
          owner: detail.body.owner,
          name: 'team0',
          servers: [
            {
              id: s0!.id,
              hostname: 'server0',
              global_ip: '192.55.229.0',
              private_ip: '121.84.88.0',
              is_bench_target: true,
            },
            {
              id: s1!.id,
              hostname: 'server1',
              global_ip: '192.169.90.1',
              private_ip: '169.139.31.1',
              is_bench_target: false,
            },
          ],
        },
        status: 'running',
        score: 0,
        reason: '',
        stdout: '',
        stderr: '',
      }),
    );
    expect(typeof r.json.team.owner).toBe('number');
    expect(r.json.team.owner).toBeGreaterThan(0);
    expect((await dequeue(url, '127.0.0.2')).status).toBe(204);
  });

  it('gives a bound benchmarker its own teams first (FIFO), then unbound teams; a shared one never takes bound teams', async () => {
    const { url } = await testHub();
    await loadContest(url, {
      teams: teams(4),
      benchmarkers: [
        { name: 'bound-a', ip: '127.0.0.2', teams: ['team0', 'team1'] },
        { name: 'bound-b', ip: '127.0.0.3', teams: ['team2'] },
        { name: 'shared', ip: '127.0.0.4', teams: [] },
      ],
    });
    const j3 = await enqueue(url, 'team3'); // unbound
    const j2 = await enqueue(url, 'team2'); // bound to b
    const j1 = await enqueue(url, 'team1'); // bound to a
    const j0 = await enqueue(url, 'team0'); // bound to a
    // The shared benchmarker sees only the unbound team.
    const shared1 = await dequeue(url, '127.0.0.4');
    expect(shared1.json.id).toBe(j3);
    expect((await dequeue(url, '127.0.0.4')).status).toBe(204);
    // Bound a: its own, oldest first.
    expect((await dequeue(url, '127.0.0.2')).json.id).toBe(j1);
    expect((await dequeue(url, '127.0.0.2')).json.id).toBe(j0);
    // Never another benchmarker's team.
    expect((await dequeue(url, '127.0.0.2')).status).toBe(204);
    expect((await dequeue(url, '127.0.0.3')).json.id).toBe(j2);
    // With its own teams idle, a bound benchmarker helps with unbound teams.
    await report(url, '127.0.0.4', j3, { id: j3, status: 'done', score: 1, is_passed: true });
    const again = await enqueue(url, 'team3');
    expect((await dequeue(url, '127.0.0.2')).json.id).toBe(again);
  });

  it('reads bindings at dispatch time: re-binding a team moves its waiting job', async () => {
    const { url } = await testHub();
    await loadContest(url, {
      teams: teams(1),
      benchmarkers: [
        { name: 'a', ip: '127.0.0.2', teams: ['team0'] },
        { name: 'b', ip: '127.0.0.3', teams: [] },
      ],
    });
    const job = await enqueue(url, 'team0');
    expect((await dequeue(url, '127.0.0.3')).status).toBe(204);
    const list = await staff(url, 'GET', '/benchmarkers');
    const a = list.body.benchmarkers.find((b: { name: string }) => b.name === 'a');
    expect((await staff(url, 'PUT', `/benchmarkers/${a.id}/teams`, { team_ids: [] })).status).toBe(200);
    expect((await dequeue(url, '127.0.0.3')).json.id).toBe(job);
  });

  it('never hands one job to two of many benchmarkers dequeuing at once', async () => {
    const { url } = await testHub();
    const bench = Array.from({ length: 24 }, (_, i) => ({
      name: `b${i}`,
      ip: `127.0.0.${i + 2}`,
      teams: [],
    }));
    await loadContest(url, { teams: teams(40), benchmarkers: bench });
    const jobs = new Set<number>();
    for (let i = 0; i < 40; i++) jobs.add(await enqueue(url, `team${i}`));
    const got: number[] = [];
    await Promise.all(
      bench.map(async (b) => {
        for (;;) {
          const r = await dequeue(url, b.ip);
          if (r.status === 204) return;
          expect(r.status).toBe(200);
          got.push(r.json.id as number);
        }
      }),
    );
    expect(got).toHaveLength(40);
    expect(new Set(got)).toEqual(jobs);
  });

  it('matches benchmarkers by CIDR block (most specific first)', async () => {
    const { url } = await testHub();
    await loadContest(url, {
      teams: teams(2),
      benchmarkers: [
        { name: 'pool', ip: '127.0.1.0/24', teams: ['team0'] },
        { name: 'one', ip: '127.0.1.7', teams: ['team1'] },
      ],
    });
    const j0 = await enqueue(url, 'team0');
    const j1 = await enqueue(url, 'team1');
    expect((await dequeue(url, '127.0.1.7')).json.id).toBe(j1);
    expect((await dequeue(url, '127.0.1.8')).json.id).toBe(j0);
    expect((await dequeue(url, '127.0.2.1')).status).toBe(400);
  });
});

describe('benchmarker identity', () => {
  it('ignores X-Forwarded-For from an untrusted peer', async () => {
    const { url } = await testHub();
    await loadContest(url, { teams: teams(1), benchmarkers: [{ name: 'a', ip: '127.0.0.2', teams: [] }] });
    const spoofed = await dequeue(url, '127.0.0.9', { 'x-forwarded-for': '127.0.0.2' });
    expect(spoofed.status).toBe(400);
    expect(spoofed.json).toEqual({ error: 'Unknown IP Address' });
  });

  it('honours X-Forwarded-For from a trusted proxy (right-most untrusted hop)', async () => {
    const { url } = await testHub({ trustedProxies: ['127.0.0.50/32', '10.9.0.0/16'] });
    await loadContest(url, { teams: teams(1), benchmarkers: [{ name: 'a', ip: '192.0.2.10', teams: [] }] });
    await enqueue(url, 'team0');
    // The client put a fake hop first; the proxy appended the real address.
    expect((await dequeue(url, '127.0.0.50', { 'x-forwarded-for': '127.0.0.2, 192.0.2.11' })).status).toBe(
      400,
    );
    const r = await dequeue(url, '127.0.0.50', { 'x-forwarded-for': '127.0.0.2, 192.0.2.10, 10.9.1.1' });
    expect(r.status).toBe(200);
    // The proxy itself, without the header, is not a benchmarker.
    expect((await dequeue(url, '127.0.0.50')).status).toBe(400);
  });

  it('requires the token of a benchmarker that has one (Bearer or /t/<token>/ base URL)', async () => {
    const { url } = await testHub();
    const token = 'bench-secret-token-0123456789';
    await loadContest(url, {
      teams: teams(2),
      benchmarkers: [{ name: 'a', ip: '127.0.0.2', token, teams: [] }],
    });
    await enqueue(url, 'team0');
    await enqueue(url, 'team1');
    expect((await dequeue(url, '127.0.0.2')).status).toBe(403);
    expect((await dequeue(url, '127.0.0.2', { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(
      403,
    );
    expect((await dequeue(url, '127.0.0.2', { authorization: `Bearer ${token}` })).status).toBe(200);
    const viaPath = await raw(url, 'POST', `/t/${token}/internal/job/dequeue/`, { from: '127.0.0.2' });
    expect(viaPath.status).toBe(200);
    // The token alone is not enough: the address must match too.
    expect((await dequeue(url, '127.0.0.3', { authorization: `Bearer ${token}` })).status).toBe(400);
  });
});
