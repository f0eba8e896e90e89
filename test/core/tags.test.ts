import { describe, it, expect } from 'vitest';
import { HubError } from '../../src/core/errors.js';
import {
  MAX_TAGS,
  normalizeWorkerTags,
  parseTagRules,
  preferenceScore,
  tagsAllow,
  validateTags,
} from '../../src/core/tags.js';

function validationError(fn: () => unknown): HubError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HubError);
    expect((e as HubError).code).toBe('validation_failed');
    return e as HubError;
  }
  throw new Error('expected a validation error');
}

describe('validateTags', () => {
  it('accepts plain, required and excluded tags and drops duplicates in order', () => {
    expect(validateTags(['gpu', '+linux', '-arm', 'zone:eu/1', 'k=v', 'a_b.c-d', 'gpu'])).toEqual([
      'gpu',
      '+linux',
      '-arm',
      'zone:eu/1',
      'k=v',
      'a_b.c-d',
    ]);
    expect(validateTags([])).toEqual([]);
  });

  it.each([
    [''],
    ['+'],
    ['-'],
    ['has space'],
    ['++x'],
    ['+-x'],
    ['--x'],
    ['x!'],
    ['é'],
    ['a'.repeat(65)],
    ['+' + 'a'.repeat(65)],
  ])('refuses %j', (tag) => {
    validationError(() => validateTags([tag]));
  });

  it('accepts 64-character names (with or without a prefix)', () => {
    expect(validateTags(['a'.repeat(64), '+' + 'b'.repeat(64), '-' + 'c'.repeat(64)])).toHaveLength(3);
  });

  it('refuses non-strings', () => {
    validationError(() => validateTags([3 as unknown as string]));
    validationError(() => validateTags([null as unknown as string]));
  });

  it(`allows at most ${MAX_TAGS} tags`, () => {
    const tags = Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`);
    expect(validateTags(tags.slice(0, MAX_TAGS))).toHaveLength(MAX_TAGS);
    validationError(() => validateTags(tags));
  });

  it('names the field in the error', () => {
    expect(validationError(() => validateTags(['bad tag'], 'job tags')).message).toContain('job tags');
  });
});

describe('parseTagRules', () => {
  it('splits required, excluded and preferred', () => {
    expect(parseTagRules(['+a', '-b', 'c', '+d', 'e', '-f'])).toEqual({
      required: ['a', 'd'],
      excluded: ['b', 'f'],
      preferred: ['c', 'e'],
    });
    expect(parseTagRules([])).toEqual({ required: [], excluded: [], preferred: [] });
  });
});

describe('tagsAllow', () => {
  const w = (...t: string[]) => new Set(t);

  it('+x requires the worker to have x', () => {
    expect(tagsAllow(['+gpu'], w('gpu'))).toBe(true);
    expect(tagsAllow(['+gpu'], w('cpu'))).toBe(false);
    expect(tagsAllow(['+gpu'], w())).toBe(false);
    expect(tagsAllow(['+gpu', '+linux'], w('gpu'))).toBe(false);
    expect(tagsAllow(['+gpu', '+linux'], w('gpu', 'linux', 'x'))).toBe(true);
  });

  it('-x excludes a worker that has x', () => {
    expect(tagsAllow(['-arm'], w('arm'))).toBe(false);
    expect(tagsAllow(['-arm'], w('x86'))).toBe(true);
    expect(tagsAllow(['-arm'], w())).toBe(true);
  });

  it('plain tags are preferences, never conditions', () => {
    expect(tagsAllow(['gpu'], w())).toBe(true);
    expect(tagsAllow(['gpu', 'fast'], w('slow'))).toBe(true);
  });

  it('combines required and excluded', () => {
    expect(tagsAllow(['+gpu', '-arm', 'fast'], w('gpu'))).toBe(true);
    expect(tagsAllow(['+gpu', '-arm', 'fast'], w('gpu', 'arm'))).toBe(false);
    expect(tagsAllow(['+gpu', '-gpu'], w('gpu'))).toBe(false);
    expect(tagsAllow(['+gpu', '-gpu'], w())).toBe(false);
  });

  it('no job tags allow any worker', () => {
    expect(tagsAllow([], w())).toBe(true);
    expect(tagsAllow([], w('anything'))).toBe(true);
  });

  it('a worker tag spelled with a prefix does not satisfy the plain name', () => {
    expect(tagsAllow(['+gpu'], w('+gpu'))).toBe(false);
  });
});

describe('preferenceScore', () => {
  const w = (...t: string[]) => new Set(t);

  it('counts the plain tags the worker has', () => {
    expect(preferenceScore(['a', 'b', 'c'], w('a', 'c', 'z'))).toBe(2);
    expect(preferenceScore(['a', 'b', 'c'], w())).toBe(0);
    expect(preferenceScore([], w('a'))).toBe(0);
  });

  it('ignores required and excluded tags', () => {
    expect(preferenceScore(['+a', '-b', 'c'], w('a', 'b', 'c'))).toBe(1);
    expect(preferenceScore(['+a', '+b'], w('a', 'b'))).toBe(0);
  });
});

describe('normalizeWorkerTags', () => {
  it('keeps plain names and drops a leading +', () => {
    expect(normalizeWorkerTags(['gpu', '+linux'])).toEqual(['gpu', 'linux']);
  });

  it('refuses an excluding tag', () => {
    expect(validationError(() => normalizeWorkerTags(['-arm'])).message).toContain('-arm');
  });

  it('validates like job tags', () => {
    validationError(() => normalizeWorkerTags(['bad tag']));
    validationError(() => normalizeWorkerTags(Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`)));
  });
});
