/**
 * Benchmark jobs follow the team rules only on the portal's dequeue path, so no other worker may
 * register for their runtime (it would be handed bound teams' jobs).
 */
import { describe, expect, it } from 'vitest';
import { api, testHub } from '../helpers/hub.js';

describe('the contest benchmark runtime is reserved', () => {
  it('refuses native and Pleiades workers that offer it', async () => {
    const hub = await testHub();
    for (const runtimes of [['isucon-bench'], ['default', 'isucon-bench+x']]) {
      const r = await api(hub.url, 'POST', '/api/v1/workers', { runtimes });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
      expect(r.body.error.message).toContain('reserved');
    }
    const p = await api(hub.url, 'POST', '/api/v0.5/worker', { runtime: ['isucon-bench'] });
    expect(p.status).toBe(400);
    expect((await api(hub.url, 'GET', '/api/v1/workers')).body.workers).toEqual([]);
  });
});
