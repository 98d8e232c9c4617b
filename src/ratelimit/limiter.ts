import type { RateLimitSettings } from '../config/snapshot.js';
import type { UserPolicy } from '../policy/model.js';
import { limitsFor, limitText, type AppliedLimit, type LimitScope, type RateLimit } from '../policy/rateLimits.js';
import type { BucketSpec, BucketStore, TakeResult } from './gcra.js';
import { MemoryStore } from './memoryStore.js';

/** What the request path reports, for metrics; the limiter itself knows no registry. */
export interface RateLimitEvents {
  limited(service: string | undefined, scope: LimitScope): void;
  backendError(): void;
  backendLatency(seconds: number): void;
}

export const NO_EVENTS: RateLimitEvents = { limited: () => undefined, backendError: () => undefined, backendLatency: () => undefined };

/** A store shared by every keygate (Redis): it can fail, and then `onError` decides. */
export interface SharedStore extends BucketStore {
  take(buckets: readonly BucketSpec[], now: number): Promise<TakeResult>;
  readonly onError: 'failOpen' | 'failClosed';
  close(): Promise<void>;
}

/** The limits one request met and what its buckets said; `refusedBy` set when it was refused. */
export interface LimitVerdict {
  readonly allowed: boolean;
  readonly applied: readonly AppliedLimit[];
  readonly remaining: readonly number[];
  readonly fullInMs: readonly number[];
  readonly refusedBy: AppliedLimit | undefined;
  /** Seconds a refused client should wait (Retry-After); 0 when allowed. */
  readonly retryAfter: number;
  readonly detail: string;
  /** Whether answers carry RateLimit / RateLimit-Policy (rateLimiting.headers). */
  readonly headers: boolean;
}

/** The buckets a request from `keyId` of `user` to `service` must fit in: the user's, then the key's own. */
export function appliedLimits(settings: RateLimitSettings, user: UserPolicy | undefined, keyId: string, service: string): AppliedLimit[] {
  const out: AppliedLimit[] = [];
  if (user?.rateLimits?.length)
    for (const limit of limitsFor(user.rateLimits, service)) out.push({ scope: 'user', owner: user.name, limit });
  const own = settings.byKey.get(keyId);
  if (own) for (const limit of limitsFor(own, service)) out.push({ scope: 'key', owner: keyId, limit });
  return out;
}

/** What every bucket of one limit shares, computed once per limit (limits are frozen config). */
const shapes = new WeakMap<RateLimit, { readonly tail: string; readonly interval: number; readonly capacity: number }>();

/**
 * A bucket's id names whose it is and the limit's shape: a reload that keeps a limit
 * keeps its bucket (and its state), one that changes it starts a fresh bucket.
 * Only key ids, user names and client addresses: never anything secret.
 */
export function bucketFor(a: AppliedLimit): BucketSpec {
  let shape = shapes.get(a.limit);
  if (!shape) {
    const interval = 1000 / a.limit.perSecond;
    shape = { tail: `:${a.limit.name}:${a.limit.perSecond}:${a.limit.burst}`, interval, capacity: a.limit.burst * interval };
    shapes.set(a.limit, shape);
  }
  return { id: a.scope + ':' + a.owner + shape.tail, interval: shape.interval, capacity: shape.capacity };
}

/** Addresses remembered as blocked after failed authentications; beyond this the oldest go. */
const MAX_BLOCKED = 100_000;

/**
 * Decides whether a request fits its rate limits, in the local buckets or in a shared
 * store (Redis) with the local ones as the fail-open fallback. The failed-authentication
 * limit per client address is answered from memory before any hashing: a store is
 * told of each failure afterwards, and its answer marks the address blocked here.
 */
export class RateLimiter {
  readonly #local = new MemoryStore();
  /** Client address → epoch ms until which it is refused before any hashing. */
  readonly #blocked = new Map<string, number>();

  constructor(
    private readonly shared: SharedStore | undefined,
    private readonly events: RateLimitEvents = NO_EVENTS,
  ) {}

  /** Undefined when no limit applies to this key on this service (the usual case costs one Map lookup). */
  check(
    settings: RateLimitSettings,
    user: UserPolicy | undefined,
    keyId: string,
    service: string,
    now: number,
  ): LimitVerdict | Promise<LimitVerdict> | undefined {
    if (!user?.rateLimits?.length && !settings.byKey.has(keyId)) return undefined;
    const applied = appliedLimits(settings, user, keyId, service);
    if (applied.length === 0) return undefined;
    const buckets = applied.map(bucketFor);
    if (!this.shared) return this.#verdict(settings, applied, this.#local.take(buckets, now), service);
    return this.#takeShared(buckets, now).then((taken) => {
      if (taken) return this.#verdict(settings, applied, taken, service);
      if (this.shared!.onError === 'failOpen') return this.#verdict(settings, applied, this.#local.take(buckets, now), service);
      return backendRefusal(settings, applied);
    });
  }

  /** Milliseconds the address must still wait after too many failed authentications; 0 = go on. */
  addressWait(address: string, now: number): number {
    const until = this.#blocked.get(address);
    if (until === undefined) return 0;
    if (until > now) return until - now;
    this.#blocked.delete(address);
    return 0;
  }

  /** Counts a failed authentication from `address` (never awaited: the 401 does not wait for Redis). */
  authFailed(settings: RateLimitSettings, address: string, now: number): void {
    const limit = settings.failedAuth;
    if (!limit) return;
    const bucket = bucketFor({ scope: 'address', owner: address, limit });
    if (!this.shared) return this.#markBlocked(address, bucket, this.#local.take([bucket], now), now);
    void this.#takeShared([bucket], now).then((taken) => this.#markBlocked(address, bucket, taken ?? this.#local.take([bucket], now), now));
  }

  /** The failed-auth refusal for an address `addressWait` found blocked. */
  addressRefusal(settings: RateLimitSettings, address: string, waitMs: number, service: string | undefined): LimitVerdict {
    this.events.limited(service, 'address');
    const limit = settings.failedAuth!;
    const applied = { scope: 'address' as const, owner: address, limit };
    return {
      allowed: false,
      applied: [],
      remaining: [],
      fullInMs: [],
      refusedBy: applied,
      retryAfter: Math.max(1, Math.ceil(waitMs / 1000)),
      headers: settings.headers,
      detail: `too many failed authentications from ${address} (failedAuth ${limitText(limit)})`,
    };
  }

  close(): Promise<void> {
    return this.shared?.close() ?? Promise.resolve();
  }

  /** The shared store's answer, or undefined when it failed (counted). */
  async #takeShared(buckets: readonly BucketSpec[], now: number): Promise<TakeResult | undefined> {
    const started = performance.now();
    try {
      const taken = await this.shared!.take(buckets, now);
      this.events.backendLatency((performance.now() - started) / 1000);
      return taken;
    } catch {
      this.events.backendError();
      return undefined;
    }
  }

  #markBlocked(address: string, bucket: BucketSpec, taken: TakeResult, now: number): void {
    const wait = taken.allowed ? Math.max(0, taken.fullInMs[0] + bucket.interval - bucket.capacity) : taken.waitMs;
    if (wait <= 0) return;
    if (this.#blocked.size >= MAX_BLOCKED) this.#sweepBlocked(now);
    this.#blocked.delete(address); // re-insert: Map order is then oldest-blocked first
    this.#blocked.set(address, now + wait);
  }

  /** As MemoryStore's sweep: expired entries, then the oldest down to 90% of the bound. */
  #sweepBlocked(now: number): void {
    for (const [address, until] of this.#blocked) if (until <= now) this.#blocked.delete(address);
    if (this.#blocked.size < MAX_BLOCKED) return;
    let excess = this.#blocked.size - Math.floor(MAX_BLOCKED * 0.9);
    for (const address of this.#blocked.keys()) {
      if (excess-- <= 0) break;
      this.#blocked.delete(address);
    }
  }

  #verdict(settings: RateLimitSettings, applied: readonly AppliedLimit[], taken: TakeResult, service: string): LimitVerdict {
    const refusedBy = taken.allowed ? undefined : applied[taken.refused];
    if (refusedBy) this.events.limited(service, refusedBy.scope);
    return {
      allowed: taken.allowed,
      applied,
      remaining: taken.remaining,
      fullInMs: taken.fullInMs,
      refusedBy,
      retryAfter: refusedBy ? Math.max(1, Math.ceil(taken.waitMs / 1000)) : 0,
      detail: refusedBy ? refusalDetail(refusedBy) : '',
      headers: settings.headers,
    };
  }
}

function refusalDetail(a: AppliedLimit): string {
  return `${a.scope} rate limit "${a.limit.name}" (${limitText(a.limit)}) of ${a.scope} ${a.owner} is exhausted`;
}

/** failClosed with the shared store unreachable: refuse, and say why in the log. */
function backendRefusal(settings: RateLimitSettings, applied: readonly AppliedLimit[]): LimitVerdict {
  return {
    allowed: false,
    applied,
    remaining: applied.map(() => 0),
    fullInMs: applied.map(() => 1000),
    refusedBy: undefined,
    retryAfter: 1,
    headers: settings.headers,
    detail: 'the rate-limit store (Redis) is unreachable and rateLimiting.redis.onError is failClosed',
  };
}
