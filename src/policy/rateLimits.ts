/**
 * Named rate limits (policy.yaml `rateLimits`) and which of them a request meets.
 * A limit is a token bucket: `burst` requests at once, refilled at `rate` per second.
 * Pure data and arithmetic; the buckets themselves live in src/ratelimit/.
 */

export interface RateLimit {
  readonly name: string;
  /** Requests per second (a `20/m` limit is 1/3). */
  readonly perSecond: number;
  readonly burst: number;
  /** Only requests to this service count against it; undefined = every service. */
  readonly service?: string;
  /** As written, e.g. `20/s`, for explain, logs and the README's worked example. */
  readonly rateText: string;
}

/** Whose bucket a limit fills: every key of a user shares the user's; each key also has its own. */
export type LimitScope = 'key' | 'user' | 'address';

/** One bucket a request must fit in: the limit and whose it is. */
export interface AppliedLimit {
  readonly scope: LimitScope;
  /** Key id, user name or client address. */
  readonly owner: string;
  readonly limit: RateLimit;
}

const RATE = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|sec|second|m|min|minute|h|hour)\s*$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, sec: 1, second: 1, m: 60, min: 60, minute: 60, h: 3600, hour: 3600 };

/** `100/s`, `20/m`, `1000/h` → requests per second and the count written (the default burst). */
export function parseRate(text: string): { perSecond: number; count: number } | { error: string } {
  const m = RATE.exec(text);
  const count = m ? Number(m[1]) : NaN;
  if (!m || !(count > 0) || !Number.isFinite(count)) return { error: `"${text}" is not a rate (e.g. 100/s, 20/m, 1000/h)` };
  return { perSecond: count / UNIT_SECONDS[m[2]], count };
}

/** `20/s, burst 40` (and the service it is scoped to). */
export function limitText(limit: RateLimit): string {
  return `${limit.rateText}, burst ${limit.burst}${limit.service ? `, service ${limit.service}` : ''}`;
}

/** The limits of a list that count for a request to `service`. */
export function limitsFor(limits: readonly RateLimit[], service: string): RateLimit[] {
  return limits.filter((l) => l.service === undefined || l.service === service);
}

/**
 * A key's own limit may not be looser than a user limit that covers the same requests
 * (a key never does more than its user): it is capped to the tighter rate and burst.
 * Returns the capped limit, or undefined when it was already within every user limit.
 */
export function capToUser(keyLimit: RateLimit, userLimits: readonly RateLimit[]): { limit: RateLimit; by: RateLimit } | undefined {
  let capped = keyLimit;
  let by: RateLimit | undefined;
  for (const u of userLimits) {
    if (u.service !== undefined && u.service !== keyLimit.service) continue; // covers other requests
    if (capped.perSecond <= u.perSecond && capped.burst <= u.burst) continue;
    by = u;
    const rateFromUser = u.perSecond < capped.perSecond;
    capped = {
      ...capped,
      perSecond: Math.min(capped.perSecond, u.perSecond),
      burst: Math.min(capped.burst, u.burst),
      rateText: rateFromUser ? u.rateText : capped.rateText,
    };
  }
  return by ? { limit: Object.freeze(capped), by } : undefined;
}

/**
 * The draft's quota and window for a bucket: `burst` requests, refilled in full in
 * `burst / rate` seconds (rounded up so a client waiting that long is never early).
 */
export function quotaWindow(limit: RateLimit): { quota: number; windowSeconds: number } {
  return { quota: limit.burst, windowSeconds: Math.max(1, Math.ceil(limit.burst / limit.perSecond)) };
}

/** A limit as `explain` and `permissions` show it (text and JSON). */
export interface LimitView {
  readonly scope: LimitScope;
  readonly owner: string;
  readonly name: string;
  readonly rate: string;
  readonly burst: number;
  readonly service: string;
  readonly text: string;
}

export function limitView(a: AppliedLimit): LimitView {
  return {
    scope: a.scope,
    owner: a.owner,
    name: a.limit.name,
    rate: a.limit.rateText,
    burst: a.limit.burst,
    service: a.limit.service ?? '*',
    text: `${a.scope} ${a.owner}: "${a.limit.name}" ${limitText(a.limit)}`,
  };
}
