import { quotaWindow, type AppliedLimit, type LimitScope, type RateLimit } from '../policy/rateLimits.js';
import type { LimitVerdict } from '../ratelimit/limiter.js';

/*
 * The RateLimit-Policy and RateLimit fields of the IETF httpapi draft
 * (draft-ietf-httpapi-ratelimit-headers-08 and later): one list item per bucket the
 * request met, named `<scope>.<limit>`, e.g.
 *   RateLimit-Policy: "user.standard";q=200;w=2, "key.scraper";q=40;w=2
 *   RateLimit: "user.standard";r=187;t=1, "key.scraper";r=0;t=2
 * q = burst, w = seconds to refill it from empty, r = requests left, t = seconds until full.
 */

/** The headers of an allowed answer that met a limit; undefined when none applies or headers are off. */
export function allowedLimitHeaders(verdict: LimitVerdict | undefined): Record<string, string> | undefined {
  if (!verdict?.headers || verdict.applied.length === 0) return undefined;
  return { 'ratelimit-policy': policyField(verdict.applied), ratelimit: stateField(verdict) };
}

/** A 429's Retry-After (always) and, unless headers are off, the RateLimit fields. */
export function refusalLimitHeaders(verdict: LimitVerdict): Record<string, string> {
  const out: Record<string, string> = { 'retry-after': String(verdict.retryAfter) };
  if (!verdict.headers) return out;
  if (verdict.applied.length > 0) {
    out['ratelimit-policy'] = policyField(verdict.applied);
    out.ratelimit = stateField(verdict);
  } else if (verdict.refusedBy) {
    // The failed-authentication limit: one bucket, empty until Retry-After.
    out['ratelimit-policy'] = policyField([verdict.refusedBy]);
    out.ratelimit = `${itemOf(verdict.refusedBy).name};r=0;t=${verdict.retryAfter}`;
  }
  return out;
}

/** Per limit and scope, its name item and its policy item: they only change with the config. */
const items = new WeakMap<RateLimit, Partial<Record<LimitScope, { readonly name: string; readonly policy: string }>>>();

function itemOf(a: AppliedLimit): { readonly name: string; readonly policy: string } {
  let byScope = items.get(a.limit);
  if (!byScope) items.set(a.limit, (byScope = {}));
  let item = byScope[a.scope];
  if (!item) {
    // An sf-string: limit names are letters, digits, `.`, `-` and `_`, so nothing needs escaping.
    const name = a.scope === 'address' ? '"failed-auth"' : `"${a.scope}.${a.limit.name}"`;
    const { quota, windowSeconds } = quotaWindow(a.limit);
    item = byScope[a.scope] = { name, policy: `${name};q=${quota};w=${windowSeconds}` };
  }
  return item;
}

function policyField(applied: readonly AppliedLimit[]): string {
  let out = itemOf(applied[0]).policy;
  for (let i = 1; i < applied.length; i++) out += ', ' + itemOf(applied[i]).policy;
  return out;
}

function stateField(v: LimitVerdict): string {
  let out = '';
  for (let i = 0; i < v.applied.length; i++) {
    out += `${i ? ', ' : ''}${itemOf(v.applied[i]).name};r=${v.remaining[i]};t=${Math.ceil(v.fullInMs[i] / 1000)}`;
  }
  return out;
}
