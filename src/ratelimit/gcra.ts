/**
 * The token bucket as GCRA (generic cell rate algorithm): a bucket is one number, its
 * "theoretical arrival time" (TAT). Each request moves it `interval` ms ahead; a
 * request fits while the TAT stays within `capacity` (= burst × interval) of now.
 * One number per bucket is what makes the Redis update a single small script.
 * redisStore.ts holds the same arithmetic in Lua: change both together.
 */

/** One bucket a request takes a token from: its id and its shape in milliseconds. */
export interface BucketSpec {
  readonly id: string;
  /** Milliseconds per token (1000 / rate per second). */
  readonly interval: number;
  /** burst × interval. */
  readonly capacity: number;
}

/** What taking one token from each of a request's buckets did. */
export interface TakeResult {
  /** Every bucket had a token and each gave one; otherwise none did. */
  readonly allowed: boolean;
  /** Index of the bucket that refused with the longest wait; -1 when allowed. */
  readonly refused: number;
  /** Milliseconds until the refusing bucket has a token again; 0 when allowed. */
  readonly waitMs: number;
  /** Per bucket: tokens left after this request. */
  readonly remaining: readonly number[];
  /** Per bucket: milliseconds until it is full again. */
  readonly fullInMs: readonly number[];
}

export interface BucketStore {
  /** All-or-nothing: a request refused by one bucket takes nothing from the others. */
  take(buckets: readonly BucketSpec[], now: number): TakeResult | Promise<TakeResult>;
}

/** The TAT after one more request on a bucket last at `tat` (undefined: full). */
export function nextTat(tat: number | undefined, now: number, interval: number): number {
  return (tat === undefined || tat < now ? now : tat) + interval;
}

export function fits(next: number, now: number, capacity: number): boolean {
  return next - now <= capacity;
}

/** Tokens left in a bucket whose TAT is `tat`. */
export function remainingAt(tat: number, now: number, spec: BucketSpec): number {
  return Math.max(0, Math.floor((spec.capacity - Math.max(0, tat - now)) / spec.interval + 1e-9));
}

/** Milliseconds until one more request fits in a bucket whose TAT is `tat` (0: it fits now). */
export function waitAt(tat: number, now: number, spec: BucketSpec): number {
  return Math.max(0, tat + spec.interval - spec.capacity - now);
}
