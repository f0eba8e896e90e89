import { describe, it, expect } from 'vitest';
import { HubError } from '../../src/core/errors.js';
import {
  MAX_RUNTIME_FEATURES,
  acceptedRuntimes,
  canonicalRuntime,
  formatRuntime,
  parseRuntime,
  runtimeMatches,
} from '../../src/core/runtime.js';

function validationError(fn: () => unknown): HubError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HubError);
    expect((e as HubError).code).toBe('validation_failed');
    expect((e as HubError).status).toBe(400);
    return e as HubError;
  }
  throw new Error('expected a validation error');
}

describe('parseRuntime', () => {
  it('parses a plain base', () => {
    expect(parseRuntime('default')).toEqual({ base: 'default', features: [] });
    expect(parseRuntime('dlabLua54')).toEqual({ base: 'dlabLua54', features: [] });
  });

  it('parses features, sorted and without duplicates', () => {
    expect(parseRuntime('dlabLua54+pcli')).toEqual({ base: 'dlabLua54', features: ['pcli'] });
    expect(parseRuntime('B+z+a+m')).toEqual({ base: 'B', features: ['a', 'm', 'z'] });
    expect(parseRuntime('B+x+x+a+x')).toEqual({ base: 'B', features: ['a', 'x'] });
  });

  it('accepts letters, digits, _ . - in every part', () => {
    expect(parseRuntime('my_rt-1.2+f_1+g-2.0')).toEqual({ base: 'my_rt-1.2', features: ['f_1', 'g-2.0'] });
    expect(parseRuntime('a'.repeat(64)).base).toHaveLength(64);
  });

  it.each([
    [''],
    ['+'],
    ['+feature'],
    ['base+'],
    ['base++f'],
    ['has space'],
    ['bad/char'],
    ['ünïcode'],
    ['base+f!'],
    ['a'.repeat(65)],
    ['b+' + 'f'.repeat(65)],
    ['x'.repeat(257)],
  ])('refuses %j with validation_failed', (name) => {
    validationError(() => parseRuntime(name));
  });

  it('refuses a non-string', () => {
    validationError(() => parseRuntime(undefined as unknown as string));
    validationError(() => parseRuntime(42 as unknown as string));
  });

  it(`allows up to ${MAX_RUNTIME_FEATURES} features and refuses more`, () => {
    const feats = Array.from({ length: MAX_RUNTIME_FEATURES + 1 }, (_, i) => `f${i}`);
    expect(parseRuntime(['B', ...feats.slice(0, MAX_RUNTIME_FEATURES)].join('+')).features).toHaveLength(
      MAX_RUNTIME_FEATURES,
    );
    const e = validationError(() => parseRuntime(['B', ...feats].join('+')));
    expect(e.message).toContain(String(MAX_RUNTIME_FEATURES));
    // Duplicates do not count against the limit.
    const dup = ['B', ...feats.slice(0, MAX_RUNTIME_FEATURES), 'f0', 'f1'].join('+');
    expect(parseRuntime(dup).features).toHaveLength(MAX_RUNTIME_FEATURES);
  });
});

describe('canonical form', () => {
  it('sorts features and drops duplicates', () => {
    expect(canonicalRuntime('B+z+a')).toBe('B+a+z');
    expect(canonicalRuntime('B+a+z')).toBe('B+a+z');
    expect(canonicalRuntime('B+a+a')).toBe('B+a');
    expect(canonicalRuntime('default')).toBe('default');
  });

  it('is idempotent and round-trips through format', () => {
    for (const name of ['default', 'dlabLua54+pcli', 'B+c+b+a', 'X+y+y']) {
      const c = canonicalRuntime(name);
      expect(canonicalRuntime(c)).toBe(c);
      expect(formatRuntime(parseRuntime(c))).toBe(c);
    }
  });

  it('keeps the case of names (names are case-sensitive)', () => {
    expect(canonicalRuntime('Default+B+a')).toBe('Default+B+a');
  });

  it('refuses invalid names', () => {
    validationError(() => canonicalRuntime('no good'));
  });
});

describe('runtimeMatches', () => {
  it('exact names always match', () => {
    for (const n of ['default', 'dlabLua54', 'dlabLua54+pcli', 'B+f1+f2'])
      expect(runtimeMatches(n, n)).toBe(true);
  });

  it('a worker B+F1+F2 runs B, B+F1, B+F2 and B+F1+F2', () => {
    for (const job of ['B', 'B+F1', 'B+F2', 'B+F1+F2', 'B+F2+F1'])
      expect(runtimeMatches('B+F1+F2', job)).toBe(true);
  });

  it('order of features is irrelevant on both sides', () => {
    expect(runtimeMatches('B+F2+F1', 'B+F1+F2')).toBe(true);
    expect(runtimeMatches('B+F1+F2', 'B+F2+F1')).toBe(true);
    expect(runtimeMatches('B+c+a+b', 'B+b+a')).toBe(true);
  });

  it('a job needing a feature the worker lacks does not match', () => {
    expect(runtimeMatches('B', 'B+F1')).toBe(false);
    expect(runtimeMatches('B+F1', 'B+F2')).toBe(false);
    expect(runtimeMatches('B+F1', 'B+F1+F2')).toBe(false);
  });

  it('a different base never matches', () => {
    expect(runtimeMatches('A', 'B')).toBe(false);
    expect(runtimeMatches('A+F1', 'B+F1')).toBe(false);
    expect(runtimeMatches('A+F1+F2', 'B')).toBe(false);
    // No prefix or case games.
    expect(runtimeMatches('dlab', 'dlabLua54')).toBe(false);
    expect(runtimeMatches('default', 'Default')).toBe(false);
    // A feature is not a base.
    expect(runtimeMatches('B+F1', 'F1')).toBe(false);
  });

  it('refuses invalid names with validation_failed', () => {
    validationError(() => runtimeMatches('B', 'B+'));
    validationError(() => runtimeMatches('bad name', 'B'));
  });
});

describe('acceptedRuntimes', () => {
  it('enumerates every feature subset, canonical and sorted', () => {
    expect(acceptedRuntimes(['B+F2+F1'])).toEqual(['B', 'B+F1', 'B+F1+F2', 'B+F2']);
    expect(acceptedRuntimes(['default'])).toEqual(['default']);
  });

  it('has 2^n names for n features', () => {
    expect(acceptedRuntimes(['B+a+b+c'])).toHaveLength(8);
    const feats = Array.from({ length: MAX_RUNTIME_FEATURES }, (_, i) => `f${i}`);
    expect(acceptedRuntimes([['B', ...feats].join('+')])).toHaveLength(2 ** MAX_RUNTIME_FEATURES);
  });

  it('unites several offered runtimes without duplicates', () => {
    expect(acceptedRuntimes(['B+x', 'B', 'dlabLua54+pcli'])).toEqual([
      'B',
      'B+x',
      'dlabLua54',
      'dlabLua54+pcli',
    ]);
    expect(acceptedRuntimes([])).toEqual([]);
  });

  it('agrees with runtimeMatches: a name is accepted exactly when it matches', () => {
    const offered = 'B+F1+F2+F3';
    const accepted = new Set(acceptedRuntimes([offered]));
    const jobs = ['B', 'B+F1', 'B+F3+F1', 'B+F1+F2+F3', 'B+F4', 'C', 'C+F1', 'B+F1+F4'];
    for (const job of jobs) expect(accepted.has(canonicalRuntime(job))).toBe(runtimeMatches(offered, job));
  });

  it('refuses an invalid offered name', () => {
    validationError(() => acceptedRuntimes(['ok', 'not ok']));
  });
});
