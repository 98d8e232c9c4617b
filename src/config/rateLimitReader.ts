import { parseRate, type RateLimit } from '../policy/rateLimits.js';
import { didYouMean } from '../policy/suggest.js';
import type { NodeReader, YamlReader, YNode } from '../reader/yamlReader.js';

const LIMIT_FIELDS = ['rate', 'burst', 'service'];
const LIMIT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** A bucket larger than this is a typo, and keeps header and Lua arithmetic exact. */
const MAX_BURST = 1_000_000_000;

/** policy.yaml `rateLimits`: `{ name: { rate: 100/s, burst?: 200, service?: compute } }`. */
export function readRateLimits(r: YamlReader, node: YNode, services: ReadonlySet<string>): Map<string, RateLimit> {
  const out = new Map<string, RateLimit>();
  for (const { key, value } of r.entries(node, 'rateLimits')) {
    const name = r.scalarText(key);
    if (!LIMIT_NAME.test(name)) {
      r.error(key, `rate limit name "${name}" must be letters, digits, ".", "-" or "_"`);
      continue;
    }
    const limit = readLimit(r, value, `rate limit ${name}`, name, services);
    if (limit) out.set(name, limit);
  }
  return out;
}

/** `{ rate, burst?, service? }`; `services` undefined: `service` is not allowed (e.g. the failed-auth limit). */
export function readLimit<N>(r: NodeReader<N>, node: N, what: string, name: string, services?: ReadonlySet<string>): RateLimit | undefined {
  const f = r.map(node, what, services ? LIMIT_FIELDS : ['rate', 'burst'], ['rate']);
  if (!f) return undefined;
  const rateNode = f.get('rate')!.value;
  const rate = parseRate(r.scalarText(rateNode));
  if ('error' in rate) return r.error(rateNode, `${what}: rate ${rate.error}`);
  let burst = Math.max(1, Math.ceil(rate.count));
  const burstNode = f.get('burst')?.value;
  if (burstNode !== undefined) {
    const text = r.scalarText(burstNode);
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_BURST) return r.error(burstNode, `${what}: burst "${text}" must be a whole number from 1 to ${MAX_BURST}`);
    burst = Number(text);
  }
  const serviceNode = f.get('service')?.value;
  const service = serviceNode === undefined ? undefined : r.string(serviceNode, `${what} service`);
  if (service !== undefined && !services?.has(service)) return r.error(serviceNode, `${what}: unknown service "${service}"${didYouMean(service, services ?? [])}`);
  return Object.freeze({ name, perSecond: rate.perSecond, burst, rateText: r.scalarText(rateNode).replace(/\s+/g, ''), ...(service !== undefined ? { service } : {}) });
}

/** `unknown rate limit "scrapr"; did you mean "scraper"? (defined: scraper, ci)` */
export function unknownLimit(owner: string, name: string, named: ReadonlyMap<string, RateLimit>): string {
  const defined = named.size ? ` (defined: ${[...named.keys()].join(', ')})` : ' (policy.yaml defines no rateLimits)';
  return `${owner}: unknown rate limit "${name}"${didYouMean(name, named.keys())}${defined}`;
}

/** A user's `rateLimit: name` or `[names]`, each looked up in the policy's named limits. */
export function readLimitNames<N>(r: NodeReader<N>, node: N | undefined, owner: string, named: ReadonlyMap<string, RateLimit>): RateLimit[] {
  const names = r.stringNodes(node, `${owner} rateLimit`) ?? [];
  const out: RateLimit[] = [];
  for (const n of names) {
    const limit = named.get(n.value);
    if (limit) out.push(limit);
    else r.error(n.node, unknownLimit(owner, n.value, named));
  }
  return out;
}
