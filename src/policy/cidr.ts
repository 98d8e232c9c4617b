import { BlockList, isIP } from 'node:net';

/** A set of CIDR ranges, IPv4 and IPv6; IPv4-mapped IPv6 clients match IPv4 ranges. */
export interface CidrSet {
  readonly text: readonly string[];
  contains(address: string): boolean;
}

export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | { error: string } {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return { error: `"${text}" is not an IP address or CIDR range` };
  const max = version === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    return { error: `"${text}" has a bad prefix length (0-${max})` };
  }
  return { address, prefix: Number(prefixText), family: version === 4 ? 'ipv4' : 'ipv6' };
}

export function compileCidrs(texts: readonly string[]): CidrSet {
  const list = new BlockList();
  for (const text of texts) {
    const parsed = parseCidr(text);
    if ('error' in parsed) throw new Error(parsed.error);
    list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return {
    text: Object.freeze([...texts]),
    contains(address: string): boolean {
      const ip = normalizeAddress(address);
      const version = isIP(ip);
      if (version === 0) return false;
      return list.check(ip, version === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** `::ffff:10.1.2.3` is how a dual-stack socket reports an IPv4 client; rules name it as 10.1.2.3. */
export function normalizeAddress(address: string): string {
  const m = MAPPED_V4.exec(address);
  return m ? m[1] : address;
}
