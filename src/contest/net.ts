/**
 * Addresses: IP parsing and canonical forms, CIDR blocks, and who a request really comes from
 * (the direct peer, or the X-Forwarded-For address a trusted proxy vouches for).
 */
import { isIP } from 'node:net';
import { HubError } from '../core/errors.js';

export interface Ip {
  family: 4 | 6;
  value: bigint;
}

export interface Block {
  family: 4 | 6;
  /** Network address (host bits zero). */
  base: bigint;
  prefix: number;
}

/** `::ffff:127.0.0.2` → `127.0.0.2`; IPv6 in its shortest lower-case form; null if not an IP. */
export function canonicalIp(raw: string): string | null {
  let s = raw.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  if (mapped) s = mapped[1]!;
  const family = isIP(s);
  if (family === 4) return s.split('.').map(Number).join('.');
  if (family === 6) {
    const host = new URL(`http://[${s}]/`).hostname.slice(1, -1);
    const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (m) {
      const hi = parseInt(m[1]!, 16);
      const lo = parseInt(m[2]!, 16);
      return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
    return host;
  }
  return null;
}

export function parseIp(raw: string): Ip | null {
  const s = canonicalIp(raw);
  if (s === null) return null;
  if (isIP(s) === 4) {
    return { family: 4, value: s.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n) };
  }
  // Expand `::` and read the eight groups (an embedded IPv4 tail becomes two groups).
  let text = s;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4tail) {
    const v = parseIp(v4tail[1]!)!.value;
    text = text.slice(0, -v4tail[1]!.length) + `${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

const bits = (family: 4 | 6) => (family === 4 ? 32 : 128);

/** An address (`10.0.0.5`) or a block (`10.0.0.0/24`); null when neither. */
export function parseBlock(raw: string): Block | null {
  const slash = raw.indexOf('/');
  const ip = parseIp(slash < 0 ? raw : raw.slice(0, slash));
  if (!ip) return null;
  const max = bits(ip.family);
  let prefix = max;
  if (slash >= 0) {
    const p = raw.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return null;
    prefix = Number(p);
  }
  const mask = ((1n << BigInt(max)) - 1n) ^ ((1n << BigInt(max - prefix)) - 1n);
  return { family: ip.family, base: ip.value & mask, prefix };
}

export function formatBlock(b: Block): string {
  let addr: string;
  if (b.family === 4) {
    addr = [24n, 16n, 8n, 0n].map((s) => String((b.base >> s) & 255n)).join('.');
  } else {
    const groups = Array.from({ length: 8 }, (_, i) =>
      ((b.base >> BigInt(112 - 16 * i)) & 0xffffn).toString(16),
    );
    addr = canonicalIp(groups.join(':'))!;
  }
  return b.prefix === bits(b.family) ? addr : `${addr}/${b.prefix}`;
}

export function blockContains(b: Block, ip: Ip): boolean {
  if (b.family !== ip.family) return false;
  const shift = BigInt(bits(b.family) - b.prefix);
  return ip.value >> shift === b.base >> shift;
}

/** Canonical `ip` or `net/prefix`, or a validation error naming the field. */
export function canonicalBlock(raw: unknown, field: string): string {
  const b = typeof raw === 'string' ? parseBlock(raw.trim()) : null;
  if (!b)
    throw new HubError(
      'validation_failed',
      `${field} must be an IP address or a CIDR block, got ${JSON.stringify(raw)}`,
    );
  return formatBlock(b);
}

/**
 * A server address as contestants enter it: an IPv4 or IPv6 literal that can name one host
 * (not unspecified, multicast or broadcast). Returned in canonical form.
 */
export function serverAddress(raw: unknown, field: string): string {
  const s = typeof raw === 'string' ? canonicalIp(raw) : null;
  const bad = (why: string) =>
    new HubError('validation_failed', `${field} ${why}, got ${JSON.stringify(raw)}`);
  if (s === null || (typeof raw === 'string' && raw.includes('/'))) throw bad('must be an IP address');
  const ip = parseIp(s)!;
  if (ip.value === 0n) throw bad('must not be the unspecified address');
  if (ip.family === 4 && (ip.value >> 28n === 0xen || ip.value === 0xffffffffn)) {
    throw bad('must not be a multicast or broadcast address');
  }
  if (ip.family === 4 && ip.value >> 24n === 0n) throw bad('must not be in 0.0.0.0/8');
  if (ip.family === 6 && ip.value >> 120n === 0xffn) throw bad('must not be a multicast address');
  return s;
}

/**
 * Addresses a contestant may not send the benchmarker to (SSRF): the benchmarker's own host
 * (loopback), cloud metadata and other link-local services, reserved ranges, IPv6 forms that embed
 * an IPv4 address (IPv4-compatible; NAT64 is judged by the address it embeds), and, for a server's
 * global address, private networks (RFC 1918, shared CGNAT space, IPv6 unique-local): a "global"
 * address in the organiser's own network is where internal services live. A server's private
 * address is meant to be private, so those ranges are accepted there. Staff are not checked;
 * a contest may open blocks with `allowedTargetCidrs`.
 */
const REFUSED: { block: string; why: string; globalOnly?: boolean }[] = [
  { block: '127.0.0.0/8', why: 'a loopback address' },
  { block: '169.254.0.0/16', why: 'a link-local address' },
  { block: '240.0.0.0/4', why: 'a reserved address' },
  { block: '10.0.0.0/8', why: 'a private address', globalOnly: true },
  { block: '172.16.0.0/12', why: 'a private address', globalOnly: true },
  { block: '192.168.0.0/16', why: 'a private address', globalOnly: true },
  { block: '100.64.0.0/10', why: 'a shared (carrier-grade NAT) address', globalOnly: true },
  { block: '::1/128', why: 'a loopback address' },
  { block: '::/96', why: 'an IPv4-compatible address' },
  { block: 'fe80::/10', why: 'a link-local address' },
  { block: 'fec0::/10', why: 'a site-local address' },
  { block: 'fc00::/7', why: 'a unique-local (private) address', globalOnly: true },
];
const REFUSED_BLOCKS = REFUSED.map((r) => ({ ...r, parsed: parseBlock(r.block)! }));
const NAT64 = parseBlock('64:ff9b::/96')!;

/** Why a contestant may not use `ip` (canonical) as the `kind` address of a server; null if fine. */
export function targetRefusal(ip: string, kind: 'global' | 'private'): string | null {
  let parsed = parseIp(ip);
  if (!parsed) return 'not an IP address';
  if (blockContains(NAT64, parsed)) parsed = { family: 4, value: parsed.value & 0xffffffffn };
  for (const r of REFUSED_BLOCKS)
    if ((!r.globalOnly || kind === 'global') && blockContains(r.parsed, parsed)) return r.why;
  return null;
}

/**
 * A server address a contestant enters: `serverAddress`, then refused when `targetRefusal`
 * names a reason and none of the contest's `allowed` blocks contains it.
 */
export function benchTarget(
  raw: unknown,
  field: string,
  kind: 'global' | 'private',
  allowed: readonly string[],
): string {
  const ip = serverAddress(raw, field);
  const why = targetRefusal(ip, kind);
  if (why === null || new BlockList(allowed).has(ip)) return ip;
  throw new HubError(
    'validation_failed',
    `${field} must not be ${why} (the benchmarker would be sent there), got ${JSON.stringify(raw)}; ` +
      'contest staff can allow a block with allowed_target_cidrs',
  );
}

/** A list of blocks that answers "does any contain this address". */
export class BlockList {
  private readonly blocks: Block[];
  constructor(entries: readonly string[]) {
    this.blocks = entries.map((e) => {
      const b = parseBlock(e);
      if (!b) throw new Error(`not an IP address or CIDR block: ${e}`);
      return b;
    });
  }
  get size(): number {
    return this.blocks.length;
  }
  has(ip: string): boolean {
    const parsed = parseIp(ip);
    return parsed !== null && this.blocks.some((b) => blockContains(b, parsed));
  }
}

/**
 * The address a request comes from: the direct peer, unless that peer is a trusted proxy; then
 * the right-most X-Forwarded-For entry that is not itself a trusted proxy (entries to its left
 * were written by the client and prove nothing).
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: BlockList,
): string | null {
  const direct = peer ? canonicalIp(peer) : null;
  if (direct === null || trusted.size === 0 || !trusted.has(direct) || forwardedFor === undefined)
    return direct;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = canonicalIp(hops[i]!);
    if (hop === null) return null;
    if (!trusted.has(hop)) return hop;
  }
  return direct;
}
