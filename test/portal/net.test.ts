/** Addresses: canonical forms, CIDR blocks, trusted X-Forwarded-For, server address checks. */
import { describe, expect, it } from 'vitest';
import {
  BlockList,
  canonicalBlock,
  canonicalIp,
  clientAddress,
  serverAddress,
} from '../../src/portal/net.js';

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
});
