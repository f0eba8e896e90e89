import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Dispatcher, type JobSignal, type WaitOutcome, type WaiterSpec } from '../../src/jobs/dispatcher.js';
import type { JobRecord } from '../../src/store/store.js';

let seq = 0;
function spec(over: { accepted?: string[]; tags?: string[]; limit?: number } = {}): WaiterSpec {
  return {
    workerId: String(++seq),
    accepted: over.accepted ?? ['default'],
    tags: new Set(over.tags ?? []),
    limit: over.limit ?? 1,
    leaseMs: 1_000,
  };
}

const job = (over: Partial<JobSignal> = {}): JobSignal => ({ runtime: 'default', tags: [], ...over });

/** A parked wait whose outcome can be inspected without awaiting it. */
interface Parked {
  outcome: WaitOutcome | undefined;
  promise: Promise<WaitOutcome>;
}

function park(
  d: Dispatcher,
  s: WaiterSpec,
  p: { waitMs?: number; seenGeneration?: number; signal?: AbortSignal } = {},
): Parked {
  const parked: Parked = { outcome: undefined, promise: undefined as unknown as Promise<WaitOutcome> };
  parked.promise = d.wait(s, {
    waitMs: p.waitMs ?? 60_000,
    seenGeneration: p.seenGeneration ?? d.generation,
    ...(p.signal ? { signal: p.signal } : {}),
  });
  void parked.promise.then((o) => (parked.outcome = o));
  return parked;
}

/** Lets resolved promises run their callbacks. */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('Dispatcher', () => {
  let d: Dispatcher;
  beforeEach(() => {
    vi.useFakeTimers();
    d = new Dispatcher();
  });
  afterEach(() => {
    d.wakeAll();
    vi.useRealTimers();
  });

  describe('wait', () => {
    it('parks until the timeout, then answers timeout', async () => {
      const w = park(d, spec(), { waitMs: 1_000 });
      await settle();
      expect(d.parked).toBe(1);
      await vi.advanceTimersByTimeAsync(999);
      expect(w.outcome).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(w.outcome).toBe('timeout');
      expect(d.parked).toBe(0);
    });

    it('answers timeout at once for a wait of zero or less', async () => {
      expect(await d.wait(spec(), { waitMs: 0, seenGeneration: d.generation })).toBe('timeout');
      expect(await d.wait(spec(), { waitMs: -5, seenGeneration: d.generation })).toBe('timeout');
      expect(d.parked).toBe(0);
    });

    it('answers aborted when the signal aborts', async () => {
      const ac = new AbortController();
      const w = park(d, spec(), { signal: ac.signal });
      await settle();
      expect(d.parked).toBe(1);
      ac.abort();
      await settle();
      expect(w.outcome).toBe('aborted');
      expect(d.parked).toBe(0);
      // A later announcement finds nobody.
      d.announce([job()]);
      expect(d.parked).toBe(0);
    });

    it('answers aborted at once for an aborted signal', async () => {
      const ac = new AbortController();
      ac.abort();
      expect(await d.wait(spec(), { waitMs: 1_000, seenGeneration: d.generation, signal: ac.signal })).toBe(
        'aborted',
      );
      expect(d.parked).toBe(0);
    });

    it('answers woken at once when an announcement came after the caller looked', async () => {
      const seen = d.generation;
      d.announce([job()]);
      expect(d.generation).toBe(seen + 1);
      expect(await d.wait(spec(), { waitMs: 1_000, seenGeneration: seen })).toBe('woken');
      expect(d.parked).toBe(0);
    });

    it('counts the generation on every announcement, even with nobody parked or no jobs', () => {
      const g = d.generation;
      d.announce([job()]);
      d.announce([]);
      d.wakeAll();
      expect(d.generation).toBe(g + 3);
    });

    it('counts a waiter of several runtimes once and removes it from all of them', async () => {
      const w = park(d, spec({ accepted: ['a', 'b', 'c'] }));
      await settle();
      expect(d.parked).toBe(1);
      d.announce([job({ runtime: 'b' })]);
      await settle();
      expect(w.outcome).toBe('woken');
      expect(d.parked).toBe(0);
      const other = park(d, spec({ accepted: ['c'] }));
      d.announce([job({ runtime: 'a' }), job({ runtime: 'c' })]);
      await settle();
      expect(other.outcome).toBe('woken');
    });
  });

  describe('announce', () => {
    it('wakes one waiter per job, not all of them', async () => {
      const ws = [park(d, spec()), park(d, spec()), park(d, spec())];
      await settle();
      d.announce([job()]);
      await settle();
      expect(ws.map((w) => w.outcome)).toEqual(['woken', undefined, undefined]);
      expect(d.parked).toBe(2);
      d.announce([job(), job()]);
      await settle();
      expect(ws.map((w) => w.outcome)).toEqual(['woken', 'woken', 'woken']);
      expect(d.parked).toBe(0);
    });

    it('wakes nobody for a job no waiter accepts', async () => {
      const w = park(d, spec({ accepted: ['x'] }));
      d.announce([job({ runtime: 'y' })]);
      await settle();
      expect(w.outcome).toBeUndefined();
      expect(d.parked).toBe(1);
    });

    it('respects accepted runtimes', async () => {
      const x = park(d, spec({ accepted: ['x'] }));
      const y = park(d, spec({ accepted: ['y', 'y+f'] }));
      d.announce([job({ runtime: 'y+f' })]);
      await settle();
      expect(x.outcome).toBeUndefined();
      expect(y.outcome).toBe('woken');
    });

    it('respects +tags', async () => {
      const plain = park(d, spec());
      const gpu = park(d, spec({ tags: ['gpu'] }));
      d.announce([job({ tags: ['+gpu'] })]);
      await settle();
      expect(plain.outcome).toBeUndefined();
      expect(gpu.outcome).toBe('woken');
    });

    it('respects -tags', async () => {
      const gpu = park(d, spec({ tags: ['gpu'] }));
      d.announce([job({ tags: ['-gpu'] })]);
      await settle();
      expect(gpu.outcome).toBeUndefined();
      const plain = park(d, spec());
      d.announce([job({ tags: ['-gpu'] })]);
      await settle();
      expect(gpu.outcome).toBeUndefined();
      expect(plain.outcome).toBe('woken');
    });

    it('prefers the waiter with more preference matches', async () => {
      const none = park(d, spec());
      const one = park(d, spec({ tags: ['fast'] }));
      const two = park(d, spec({ tags: ['fast', 'big'] }));
      d.announce([job({ tags: ['fast', 'big', '+fast'] })]);
      await settle();
      expect([none.outcome, one.outcome, two.outcome]).toEqual([undefined, undefined, 'woken']);
      d.announce([job({ tags: ['fast'] })]);
      await settle();
      expect([none.outcome, one.outcome]).toEqual([undefined, 'woken']);
    });

    it('wakes the longest parked among equals', async () => {
      const first = park(d, spec({ tags: ['fast'] }));
      const second = park(d, spec({ tags: ['fast'] }));
      d.announce([job({ tags: ['fast'] })]);
      await settle();
      expect([first.outcome, second.outcome]).toEqual(['woken', undefined]);
      const third = park(d, spec());
      d.announce([job()]);
      await settle();
      expect([second.outcome, third.outcome]).toEqual(['woken', undefined]);
    });

    it('lets one waiter absorb up to its limit before waking another', async () => {
      const big = park(d, spec({ limit: 3 }));
      const small = park(d, spec({ limit: 1 }));
      d.announce([job(), job(), job()]);
      await settle();
      expect([big.outcome, small.outcome]).toEqual(['woken', undefined]);
      const big2 = park(d, spec({ limit: 3 }));
      d.announce([job(), job(), job(), job()]);
      await settle();
      // small is now the longest parked: it takes one, big2 the rest.
      expect([small.outcome, big2.outcome]).toEqual(['woken', 'woken']);
    });

    it('wakes a second waiter once the first has reached its limit', async () => {
      const a = park(d, spec({ limit: 2 }));
      const b = park(d, spec({ limit: 2 }));
      const c = park(d, spec({ limit: 2 }));
      d.announce([job(), job(), job()]);
      await settle();
      expect([a.outcome, b.outcome, c.outcome]).toEqual(['woken', 'woken', undefined]);
    });

    it('does not top up a waiter with a job its tags refuse', async () => {
      const plain = park(d, spec({ limit: 5 }));
      const gpu = park(d, spec({ tags: ['gpu'] }));
      d.announce([job(), job({ tags: ['+gpu'] })]);
      await settle();
      expect([plain.outcome, gpu.outcome]).toEqual(['woken', 'woken']);
    });
  });

  describe('wakeAll', () => {
    it('wakes every parked waiter', async () => {
      const ws = [park(d, spec()), park(d, spec({ accepted: ['x', 'y'] })), park(d, spec({ tags: ['t'] }))];
      await settle();
      expect(d.parked).toBe(3);
      d.wakeAll();
      await settle();
      expect(ws.map((w) => w.outcome)).toEqual(['woken', 'woken', 'woken']);
      expect(d.parked).toBe(0);
      // Their timers are gone: nothing changes later.
      await vi.advanceTimersByTimeAsync(120_000);
      expect(ws.map((w) => w.outcome)).toEqual(['woken', 'woken', 'woken']);
    });
  });

  describe('handOff', () => {
    const record = (id: string) => ({ id }) as JobRecord;

    it('chooses waiters like announce and takes them off the park', async () => {
      const a = park(d, spec({ limit: 2 }));
      const b = park(d, spec({ tags: ['gpu'] }));
      const c = park(d, spec());
      await settle();
      const picks = d.handOff([job(), job({ tags: ['+gpu'] }), job(), job({ runtime: 'none' })]);
      expect(picks).toHaveLength(4);
      expect(picks[0]).not.toBeNull();
      expect(picks[2]).toBe(picks[0]);
      expect(picks[1]).not.toBeNull();
      expect(picks[1]).not.toBe(picks[0]);
      expect(picks[1]!.spec.tags.has('gpu')).toBe(true);
      expect(picks[3]).toBeNull();
      expect(d.parked).toBe(1);
      // Taken waiters are not answered until delivered, and announce cannot choose them.
      d.announce([job(), job()]);
      await settle();
      expect([a.outcome, b.outcome, c.outcome]).toEqual([undefined, undefined, 'woken']);
      // Their timeouts no longer apply either.
      await vi.advanceTimersByTimeAsync(120_000);
      expect([a.outcome, b.outcome]).toEqual([undefined, undefined]);
      d.deliver(picks[0]!, [record('1'), record('3')]);
      d.release([picks[1]!, null]);
      await settle();
      expect(a.outcome).toEqual({ jobs: [record('1'), record('3')] });
      expect(b.outcome).toBe('woken');
    });

    it('answers woken when delivering no jobs', async () => {
      const a = park(d, spec());
      const [pick] = d.handOff([job()]);
      d.deliver(pick!, []);
      await settle();
      expect(a.outcome).toBe('woken');
    });

    it('answers null for every job when nobody is parked', () => {
      expect(d.handOff([job(), job()])).toEqual([null, null]);
    });
  });

  describe('groups', () => {
    it('never hands off a job of a group: it stays for a lease, and others still go', async () => {
      const w = park(d, spec({ limit: 2 }));
      await settle();
      const picks = d.handOff([job({ group: 'g' }), job()]);
      expect(picks[0]).toBeNull();
      expect(picks[1]).not.toBeNull();
      d.deliver(picks[1]!, []);
      await settle();
      expect(w.outcome).toBe('woken');
    });

    it('wakes as many waiters as asked, the longest parked first', async () => {
      const [a, b, c] = [park(d, spec()), park(d, spec()), park(d, spec())];
      await settle();
      d.wakeSome(2);
      await settle();
      expect([a.outcome, b.outcome, c.outcome]).toEqual(['woken', 'woken', undefined]);
      expect(d.parked).toBe(1);
    });
  });
});
