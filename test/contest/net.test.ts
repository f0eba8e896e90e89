/** Addresses: canonical forms, CIDR blocks, trusted X-Forwarded-For, server address checks. */
import { describe, expect, it } from 'vitest';
import {
  BlockList,
  benchTarget,
  canonicalBlock,
  canonicalIp,
  clientAddress,
  serverAddress,
} from '../../src/contest/net.js';

describe('addresses', () => {
  it('canonicalises IPv4, IPv4-mapped IPv6 and IPv6', () => {
    expect(canonicalIp('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(canonicalIp('::FFFF:7f00:2')).toBe('127.0.0.2');
    expect(canonicalIp('2001:DB8:0:0::1')).toBe('2001:db8::1');
    expect(canonicalIp('[::1]')).toBe('::1');
    expect(canonicalIp('fe80::1%eth0')).toBe('fe80::1');
    expect(canonicalIp('127.0.0.1')).toBe('127.0.0.1');
    expect(canonicalIp('localhost')).toBeNull();
    expect(canonicalIp('1.2.3')).toBeNull();
  });

  it('parses blocks and matches addresses (both families, never across them)', () => {
    expect(canonicalBlock('10.1.2.3/16', 'ip')).toBe('10.1.0.0/16');
    expect(canonicalBlock('10.1.2.3/32', 'ip')).toBe('10.1.2.3');
    expect(canonicalBlock('2001:db8::7/64', 'ip')).toBe('2001:db8::/64');
    expect(() => canonicalBlock('10.0.0.0/33', 'ip')).toThrow(/CIDR/);
    expect(() => canonicalBlock('nope', 'ip')).toThrow(/CIDR/);
    const list = new BlockList(['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
    expect(list.has('10.255.1.1')).toBe(true);
    expect(list.has('::ffff:10.0.0.1')).toBe(true);
    expect(list.has('11.0.0.1')).toBe(false);
    expect(list.has('2001:db8:ffff::1')).toBe(true);
    expect(list.has('2001:db9::1')).toBe(false);
    expect(list.has('192.0.2.7')).toBe(true);
    expect(list.has('192.0.2.8')).toBe(false);
    expect(new BlockList(['0.0.0.0/0']).has('::1')).toBe(false);
    expect(() => new BlockList(['bad'])).toThrow();
  });

  it('believes X-Forwarded-For only from trusted peers, taking the right-most untrusted hop', () => {
    const trusted = new BlockList(['127.0.0.1', '10.0.0.0/8']);
    expect(clientAddress('::ffff:192.0.2.1', '198.51.100.1', trusted)).toBe('192.0.2.1');
    expect(clientAddress('127.0.0.1', undefined, trusted)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', '198.51.100.1', trusted)).toBe('198.51.100.1');
    expect(clientAddress('127.0.0.1', '6.6.6.6, 198.51.100.1, 10.1.1.1', trusted)).toBe('198.51.100.1');
    expect(clientAddress('127.0.0.1', ['6.6.6.6', '198.51.100.2'], trusted)).toBe('198.51.100.2');
    expect(clientAddress('127.0.0.1', 'garbage', trusted)).toBeNull();
    expect(clientAddress('127.0.0.1', '10.0.0.5', trusted)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', '198.51.100.1', new BlockList([]))).toBe('127.0.0.1');
    expect(clientAddress(undefined, undefined, trusted)).toBeNull();
  });

  it('accepts server addresses that name one host', () => {
    expect(serverAddress(' 192.0.2.1 ', 'global_ip')).toBe('192.0.2.1');
    expect(serverAddress('2001:db8::10', 'global_ip')).toBe('2001:db8::10');
    for (const bad of [
      '0.0.0.0',
      '::',
      '255.255.255.255',
      '239.1.1.1',
      'ff02::1',
      '0.1.2.3',
      '192.0.2.0/24',
      'example.com',
      5,
    ]) {
      expect(() => serverAddress(bad, 'global_ip'), String(bad)).toThrow(/global_ip/);
    }
  });

  it('refuses bench targets that reach the benchmarker itself or internal services, in every spelling', () => {
    const refuse = (raw: string, kind: 'global' | 'private' = 'global', allowed: string[] = []) =>
      expect(() => benchTarget(raw, `${kind}_ip`, kind, allowed), raw).toThrow(
        new RegExp(`^${kind}_ip (must be an IP address|must not be)`),
      );
    for (const kind of ['global', 'private'] as const) {
      for (const raw of [
        '127.0.0.1',
        '127.1.2.3',
        '::1',
        '[::1]',
        '0:0:0:0:0:0:0:1',
        '::ffff:127.0.0.1',
        '::ffff:7f00:1',
        '::127.0.0.1',
        '64:ff9b::127.0.0.1',
        '64:ff9b::a9fe:a9fe',
        '169.254.169.254',
        '::ffff:169.254.169.254',
        'fe80::1',
        'fe80::1%eth0',
        'febf::1',
        'fec0::1',
        '240.0.0.1',
        '255.255.255.255',
        '0.0.0.0',
        '0.1.2.3',
        '::',
        '224.0.0.1',
        'ff02::1',
        // Other spellings of 127.0.0.1 that some resolvers accept: refused as not an address.
        '2130706433',
        '0x7f.1',
        '0x7f000001',
        '017700000001',
        '0177.0.0.1',
        '127.1',
        '127.000.000.001',
        // Host names are refused: their answer can change between this check and the benchmark.
        'localhost',
        'localtest.me',
        '127.0.0.1.nip.io',
      ]) {
        refuse(raw, kind);
      }
    }
    // A server's global address must be public; its private address may be private.
    for (const raw of ['10.0.0.1', '172.16.5.4', '192.168.1.1', '100.64.0.1', 'fd00::1', 'fc00::1']) {
      refuse(raw, 'global');
      expect(benchTarget(raw, 'private_ip', 'private', [])).toBe(raw);
    }
    expect(benchTarget('203.0.113.7', 'global_ip', 'global', [])).toBe('203.0.113.7');
    expect(benchTarget('2001:DB8::7', 'global_ip', 'global', [])).toBe('2001:db8::7');
    expect(benchTarget('64:ff9b::203.0.113.7', 'global_ip', 'global', [])).toBe('64:ff9b::cb00:7107');
    expect(() => benchTarget('169.254.169.254', 'global_ip', 'global', [])).toThrow(
      /link-local.*allowed_target_cidrs/,
    );
  });

  it('lets the contest open blocks with allowed_target_cidrs, and only those', () => {
    const lan = ['10.0.0.0/8', '127.0.0.0/24', 'fe80::/64'];
    expect(benchTarget('10.1.2.3', 'global_ip', 'global', lan)).toBe('10.1.2.3');
    expect(benchTarget('::ffff:10.1.2.3', 'global_ip', 'global', lan)).toBe('10.1.2.3');
    expect(benchTarget('127.0.0.9', 'global_ip', 'global', lan)).toBe('127.0.0.9');
    expect(benchTarget('fe80::9', 'private_ip', 'private', lan)).toBe('fe80::9');
    expect(() => benchTarget('127.0.1.1', 'global_ip', 'global', lan)).toThrow(/loopback/);
    expect(() => benchTarget('192.168.0.1', 'global_ip', 'global', lan)).toThrow(/private/);
    expect(() => benchTarget('169.254.169.254', 'global_ip', 'global', lan)).toThrow(/link-local/);
    // Never a block that serverAddress refuses for everyone.
    expect(() => benchTarget('0.0.0.0', 'global_ip', 'global', ['0.0.0.0/0'])).toThrow(/unspecified/);
  });
});
