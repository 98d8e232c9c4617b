import type { CidrSet } from '../policy/cidr.js';
import { normalizeAddress } from '../policy/cidr.js';

/**
 * The client address used for `sourceIPs`: the TCP peer, unless the peer is a trusted
 * proxy, in which case X-Forwarded-For is walked from the right, skipping trusted hops
 * (the leftmost entries are whatever the client claimed and count for nothing).
 */
export function clientAddress(peer: string | undefined, xff: string | string[] | undefined, trusted: CidrSet): string {
  const socketIp = normalizeAddress(peer ?? '');
  if (!trusted.text.length || !trusted.contains(socketIp) || xff === undefined) return socketIp;
  const hops = (Array.isArray(xff) ? xff.join(',') : xff)
    .split(',')
    .map((h) => normalizeAddress(h.trim()))
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!trusted.contains(hops[i])) return hops[i];
  }
  return hops[0] ?? socketIp;
}
