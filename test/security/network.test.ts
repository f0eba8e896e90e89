/**
 * Who is calling, as the network says: X-Forwarded-For counts only from a configured trusted
 * proxy (benchmarker identity, staff-from-loopback, the login limiter's per-address key), and
 * guessing passwords or invite tokens is rate-limited per team and per address, whatever the
 * guesser puts in its headers or around the team name. Source addresses are real: the client
 * binds its socket to 127.0.0.x.
 */
import { describe, expect, it } from 'vitest';
import { raw } from '../../chaos/surface.js';
import { api, testHub } from '../helpers/hub.js';
import { openContest } from '../contest/helpers.js';

async function contest(url: string) {
  const r = await api(url, 'POST', '/api/portal/staff/load', {
    contest: openContest(),
    teams: [
      {
        name: 'team0',
        password: 'correct-horse',
        servers: [
          { hostname: 's1', global_ip: '198.51.100.1', private_ip: '10.0.0.1', is_bench_target: true },
        ],
      },
      { name: 'team1', password: 'battery-staple' },
      { name: 'inv', invite: true },
    ],
    benchmarkers: [{ name: 'bench', ip: '127.0.0.2', teams: [] }],
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect((await api(url, 'POST', '/api/portal/staff/jobs', { team: 'team0' })).status).toBe(201);
}

const dequeue = (url: string, from: string, xff?: string) =>
  raw(url, {
    method: 'POST',
    path: '/internal/job/dequeue/',
    from,
    headers: xff ? { 'x-forwarded-for': xff } : {},
  });

const login = (
  url: string,
  from: string,
  team: string,
  password: string,
  headers: Record<string, string> = {},
) =>
  raw(url, {
    method: 'POST',
    path: '/api/portal/login',
    from,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ team, password }),
  });

describe('X-Forwarded-For', () => {
  it('is ignored from an untrusted peer: a benchmarker cannot be impersonated', async () => {
    const { url } = await testHub();
    await contest(url);
    for (const xff of [
      '127.0.0.2',
      '127.0.0.2, 127.0.0.2',
      '::ffff:127.0.0.2',
      'unknown, 127.0.0.2',
      '127.0.0.2\t',
    ]) {
      const r = await dequeue(url, '127.0.0.3', xff);
      expect(r.status, xff).toBe(400);
      expect(r.json).toEqual({ error: 'Unknown IP Address' });
    }
    // The real benchmarker still gets its job.
    expect((await dequeue(url, '127.0.0.2')).status).toBe(200);
  });

  it('is honoured from a trusted proxy, but only for the hop the proxy vouches for', async () => {
    const { url } = await testHub({ trustedProxies: ['127.0.0.10'] });
    await contest(url);
    // A client behind the proxy claims to be the benchmarker in its own XFF entry: the proxy
    // appends the real client address, which is what counts.
    expect((await dequeue(url, '127.0.0.10', '127.0.0.2, 127.0.0.3')).status).toBe(400);
    // An untrusted peer sending the same header is not believed at all.
    expect((await dequeue(url, '127.0.0.11', '127.0.0.2')).status).toBe(400);
    expect((await dequeue(url, '127.0.0.10', 'not-an-ip')).status).toBe(400);
    expect((await dequeue(url, '127.0.0.10', '127.0.0.2')).status).toBe(200);
  });

  it('does not make a remote caller staff on a hub without auth', async () => {
    const { url } = await testHub({ trustedProxies: ['127.0.0.10'] });
    // Through the trusted proxy, the caller is the forwarded (remote) address: not loopback.
    const remote = await raw(url, {
      method: 'GET',
      path: '/api/portal/staff/teams',
      from: '127.0.0.10',
      headers: { 'x-forwarded-for': '203.0.113.7' },
    });
    expect(remote.status).toBe(403);
    // A remote caller cannot claim loopback either (the proxy appends the real address).
    const claimed = await raw(url, {
      method: 'GET',
      path: '/api/portal/staff/teams',
      from: '127.0.0.10',
      headers: { 'x-forwarded-for': '127.0.0.1, 203.0.113.7' },
    });
    expect(claimed.status).toBe(403);
  });
});

describe('guessing', () => {
  it('a password guesser is stopped after ten failures, with the right password too', async () => {
    const { url } = await testHub();
    await contest(url);
    for (let i = 0; i < 10; i++)
      expect((await login(url, '127.0.0.5', 'team0', `guess-${i}`)).status).toBe(401);
    const blocked = await login(url, '127.0.0.5', 'team0', 'correct-horse');
    expect(blocked.status).toBe(429);
    expect((blocked.json as { error: { code: string } }).error.code).toBe('too_many_requests');
    // The team's own members elsewhere are blocked as well (per-team limit) ...
    expect((await login(url, '127.0.0.6', 'team0', 'correct-horse')).status).toBe(429);
    // ... while other teams are not held hostage by the guesser's address.
    expect((await login(url, '127.0.0.7', 'team1', 'battery-staple')).status).toBe(200);
  });

  it('one address guessing across many teams is stopped, whatever X-Forwarded-For it sends', async () => {
    const { url } = await testHub();
    await contest(url);
    for (let i = 0; i < 10; i++) {
      const r = await login(url, '127.0.0.8', `team-${i}`, 'x', { 'x-forwarded-for': `198.51.100.${i + 1}` });
      expect(r.status).toBe(401);
    }
    const r = await login(url, '127.0.0.8', 'team1', 'battery-staple', {
      'x-forwarded-for': '198.51.100.99',
    });
    expect(r.status).toBe(429);
  });

  it('many addresses cannot share out guesses at one team by dressing up its name', async () => {
    const { url } = await testHub();
    await contest(url);
    const variants = [
      'team0',
      ' team0',
      'team0 ',
      '\tteam0',
      'team0\n',
      '  team0  ',
      ' \tteam0',
      'team0\t\t',
    ];
    let refused = 0;
    for (let i = 0; i < 24; i++) {
      const r = await login(url, `127.0.1.${i + 1}`, variants[i % variants.length]!, `guess-${i}`);
      if (r.status === 429) refused++;
      else expect(r.status).toBe(401);
    }
    // 24 guesses from 24 addresses at one team: the per-team limit (10 a minute) must hold.
    expect(refused).toBeGreaterThanOrEqual(14);
    expect((await login(url, '127.0.2.1', 'team0', 'correct-horse')).status).toBe(429);
  });

  it('guessing invite tokens is limited per address', async () => {
    const { url } = await testHub();
    await contest(url);
    const join = (token: string) =>
      raw(url, {
        method: 'POST',
        path: '/api/portal/join',
        from: '127.0.0.9',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `203.0.113.${token.length}` },
        body: JSON.stringify({ invite_token: token, name: 'mallory' }),
      });
    for (let i = 0; i < 10; i++) expect((await join(`inv_guess${'x'.repeat(i)}`)).status).toBe(401);
    expect((await join('inv_guess_more')).status).toBe(429);
  });
});
