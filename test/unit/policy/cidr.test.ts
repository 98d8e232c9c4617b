import { describe, expect, it } from 'vitest';
import { compileCidrs, normalizeAddress, parseCidr } from '../../../src/policy/cidr.js';

describe('parseCidr', () => {
  it.each([
    { text: '10.0.0.0/8', expected: { address: '10.0.0.0', prefix: 8, family: 'ipv4' } },
    { text: '10.1.2.3', expected: { address: '10.1.2.3', prefix: 32, family: 'ipv4' } },
    { text: '0.0.0.0/0', expected: { address: '0.0.0.0', prefix: 0, family: 'ipv4' } },
    { text: '2001:db8::/32', expected: { address: '2001:db8::', prefix: 32, family: 'ipv6' } },
    { text: '::1', expected: { address: '::1', prefix: 128, family: 'ipv6' } },
  ])('parses $text', ({ text, expected }) => {
    expect(parseCidr(text)).toEqual(expected);
  });

  it.each([
    { desc: 'a host name', text: 'example.com/8' },
    { desc: 'an IPv4 prefix over 32', text: '10.0.0.0/33' },
    { desc: 'an IPv6 prefix over 128', text: '::/129' },
    { desc: 'a negative prefix', text: '10.0.0.0/-1' },
    { desc: 'an empty prefix', text: '10.0.0.0/' },
    { desc: 'a non-numeric prefix', text: '10.0.0.0/eight' },
    { desc: 'an out-of-range octet', text: '10.0.0.256/8' },
    { desc: 'an empty string', text: '' },
  ])('rejects $desc', ({ text }) => {
    expect('error' in parseCidr(text)).toBe(true);
  });
});

describe('CidrSet.contains', () => {
  const set = compileCidrs(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1/128']);

  it.each([
    { desc: 'an IPv4 address in an IPv4 range', ip: '10.1.2.3', inside: true },
    { desc: 'the first address of a range', ip: '10.0.0.0', inside: true },
    { desc: 'the last address of a range', ip: '10.255.255.255', inside: true },
    { desc: 'the address after a range', ip: '11.0.0.0', inside: false },
    { desc: 'a single listed address', ip: '192.168.1.7', inside: true },
    { desc: 'its neighbour', ip: '192.168.1.8', inside: false },
    { desc: 'an IPv4-mapped IPv6 address in an IPv4 range', ip: '::ffff:10.1.2.3', inside: true },
    { desc: 'an upper-case IPv4-mapped address', ip: '::FFFF:10.1.2.3', inside: true },
    { desc: 'an IPv4-mapped address outside the IPv4 ranges', ip: '::ffff:11.1.2.3', inside: false },
    { desc: 'an IPv6 address in an IPv6 range', ip: '2001:db8:1::5', inside: true },
    { desc: 'an IPv6 address outside', ip: '2001:db9::5', inside: false },
    { desc: 'IPv6 loopback', ip: '::1', inside: true },
    { desc: 'not an address', ip: 'localhost', inside: false },
    { desc: 'an empty address', ip: '', inside: false },
  ])('$desc: $inside', ({ ip, inside }) => {
    expect(set.contains(ip)).toBe(inside);
  });

  it('keeps the ranges as written for messages', () => {
    expect(set.text).toEqual(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1/128']);
  });

  it('refuses to compile a bad range (config validation reports it first)', () => {
    expect(() => compileCidrs(['10.0.0.0/40'])).toThrow();
  });
});

describe('normalizeAddress', () => {
  it('unwraps IPv4-mapped IPv6 and leaves everything else', () => {
    expect(normalizeAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(normalizeAddress('10.1.2.3')).toBe('10.1.2.3');
    expect(normalizeAddress('2001:db8::1')).toBe('2001:db8::1');
  });
});
