import { describe, it, expect } from 'vitest';
import { formatContentRange, parseRange } from '../../src/http/range.js';

describe('parseRange', () => {
  it('returns null when there is no header', () => {
    expect(parseRange(undefined, 100)).toBeNull();
  });

  it('parses a closed range', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=10-10', 100)).toEqual({ start: 10, end: 10 });
  });

  it('parses an open-ended range', () => {
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=0-', 1)).toEqual({ start: 0, end: 0 });
  });

  it('parses a suffix range', () => {
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
  });

  it('serves the whole body for a suffix longer than the body', () => {
    expect(parseRange('bytes=-500', 100)).toEqual({ start: 0, end: 99 });
  });

  it('clamps the end to the last byte', () => {
    expect(parseRange('bytes=50-1000', 100)).toEqual({ start: 50, end: 99 });
    expect(parseRange('bytes=0-99999999999999999999999', 100)).toEqual({ start: 0, end: 99 });
  });

  it('tolerates case and whitespace', () => {
    expect(parseRange(' Bytes = 1 - 2 ', 100)).toEqual({ start: 1, end: 2 });
  });

  it('is unsatisfiable when start is at or past the end', () => {
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=100-200', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=99999999999999999999999-', 100)).toBe('unsatisfiable');
  });

  it('is unsatisfiable for bytes=-0', () => {
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable');
  });

  it('is unsatisfiable for any range of a zero-length body', () => {
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-0', 0)).toBe('unsatisfiable');
    expect(parseRange('bytes=-5', 0)).toBe('unsatisfiable');
  });

  it('ignores multiple ranges, other units and malformed headers', () => {
    for (const h of [
      'bytes=0-1,5-6',
      'items=0-1',
      'bytes=',
      'bytes=-',
      'bytes=a-b',
      'bytes=5-1',
      'bytes=-1-2',
      'bytes=1.5-2',
      '0-1',
      '',
    ]) {
      expect(parseRange(h, 100), h).toBeNull();
    }
  });
});

describe('formatContentRange', () => {
  it('formats a satisfied range', () => {
    expect(formatContentRange({ start: 0, end: 99 }, 1000)).toBe('bytes 0-99/1000');
  });

  it('formats an unsatisfiable range', () => {
    expect(formatContentRange('unsatisfiable', 1000)).toBe('bytes */1000');
  });
});
