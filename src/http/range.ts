/**
 * HTTP `Range` request headers (RFC 9110 §14), limited to what blob downloads need: one byte range.
 */

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

// One range-spec: `a-b`, `a-` or `-n`. Whitespace around the pieces is tolerated because some
// clients send it; anything else is a form we do not understand.
const SINGLE_RANGE_RE = /^bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i;

/**
 * Resolves a `Range` header against a body of `size` bytes.
 *
 * Returns `null` when the body should be served whole (no header, another unit, a malformed or
 * multi-range header: RFC 9110 lets a server ignore any Range it does not want to honour, and
 * multipart/byteranges responses are not worth their complexity here), `'unsatisfiable'` for a
 * well-formed range that selects no bytes (answer 416), and otherwise the inclusive range with
 * `end` clamped to the last byte.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const m = SINGLE_RANGE_RE.exec(header.trim());
  if (!m) return null;
  const first = m[1] ?? '';
  const last = m[2] ?? '';
  if (first === '' && last === '') return null;

  if (first === '') {
    // Suffix form `-n`: the last n bytes, or the whole body when it is shorter than n.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }

  const start = Number(first);
  const end = last === '' ? Infinity : Number(last);
  // last < first is syntactically invalid per the RFC, so it is ignored rather than refused.
  if (end < start) return null;
  // Also covers a zero-length body, where no start can be satisfied. Digit strings too long for
  // an exact double still compare correctly here: they are far past any real size.
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/**
 * The `Content-Range` value for a 206 (`bytes 0-99/1000`) or, given `'unsatisfiable'`, for a
 * 416 (`bytes *\/1000`), which tells the client the real size.
 */
export function formatContentRange(range: ByteRange | 'unsatisfiable', size: number): string {
  if (range === 'unsatisfiable') return `bytes */${size}`;
  return `bytes ${range.start}-${range.end}/${size}`;
}
