/** Checks for what people type into the portal: names, hostnames, passwords, servers. */
import { HubError } from '../core/errors.js';
import { benchTarget, serverAddress } from './net.js';
import type { ServerFields } from './store/store.js';

const bad = (msg: string) => new HubError('validation_failed', msg);

/** A display name: 1–`max` characters after trimming, no control characters. */
export function displayName(raw: unknown, field: string, max = 64): string {
  if (typeof raw !== 'string') throw bad(`${field} must be a string`);
  const s = raw.trim();
  // eslint-disable-next-line no-control-regex
  if (s.length === 0 || s.length > max || /[\u0000-\u001f\u007f]/.test(s)) {
    throw bad(`${field} must be 1-${max} printable characters, got ${JSON.stringify(raw)}`);
  }
  return s;
}

export function hostname(raw: unknown, field = 'hostname'): string {
  if (typeof raw !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(raw)) {
    throw bad(
      `${field} must be 1-253 letters, digits, dots, dashes or underscores, got ${JSON.stringify(raw)}`,
    );
  }
  return raw;
}

export function password(raw: unknown, field = 'password'): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 1024)
    throw bad(`${field} must be 1-1024 characters`);
  return raw;
}

/** A benchmarker's own token, when staff choose it: 16-256 printable characters. */
export function secretToken(raw: unknown, field = 'token'): string {
  if (typeof raw !== 'string' || !/^[\x21-\x7e]{16,256}$/.test(raw)) {
    throw bad(`${field} must be 16-256 printable characters without spaces`);
  }
  return raw;
}

export interface ServerInput {
  hostname?: unknown;
  global_ip?: unknown;
  private_ip?: unknown;
  is_bench_target?: unknown;
}

/**
 * Whose input a server address is: staff may enter any host address; a contestant's is checked
 * as a bench target (net.ts `benchTarget`) against the contest's allowed blocks.
 */
export type AddressCheck = { by: 'staff' } | { by: 'contestant'; allowed: readonly string[] };

const address = (raw: unknown, field: string, kind: 'global' | 'private', who: AddressCheck) =>
  who.by === 'staff' ? serverAddress(raw, field) : benchTarget(raw, field, kind, who.allowed);

/** A full server description (creation, loading). */
export function serverFields(s: ServerInput, who: AddressCheck = { by: 'staff' }): ServerFields {
  if (s.is_bench_target !== undefined && typeof s.is_bench_target !== 'boolean')
    throw bad('is_bench_target must be a boolean');
  return {
    hostname: hostname(s.hostname),
    globalIp: address(s.global_ip, 'global_ip', 'global', who),
    privateIp: address(s.private_ip, 'private_ip', 'private', who),
    isBenchTarget: s.is_bench_target === true,
  };
}

/** The fields of a server change that are present. */
export function serverChanges(s: ServerInput, who: AddressCheck = { by: 'staff' }): Partial<ServerFields> {
  const out: Partial<ServerFields> = {};
  if (s.hostname !== undefined) out.hostname = hostname(s.hostname);
  if (s.global_ip !== undefined) out.globalIp = address(s.global_ip, 'global_ip', 'global', who);
  if (s.private_ip !== undefined) out.privateIp = address(s.private_ip, 'private_ip', 'private', who);
  if (s.is_bench_target !== undefined) {
    if (typeof s.is_bench_target !== 'boolean') throw bad('is_bench_target must be a boolean');
    out.isBenchTarget = s.is_bench_target;
  }
  return out;
}

/** An id from a URL or body: a positive integer (as a number or a decimal string). */
export function idParam(raw: unknown, what: string): string {
  const s = typeof raw === 'number' ? String(raw) : raw;
  if (typeof s !== 'string' || !/^[1-9]\d{0,14}$/.test(s))
    throw new HubError('not_found', `${what} ${String(raw)} not found`);
  return s;
}
