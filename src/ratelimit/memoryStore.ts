import { fits, nextTat, remainingAt, waitAt, type BucketSpec, type BucketStore, type TakeResult } from './gcra.js';

/** Enough for every key, user and recently failing address of a large deployment. */
const DEFAULT_MAX_BUCKETS = 100_000;
/** Sweep full buckets (TAT in the past: the same as no entry) every this many takes. */
const SWEEP_EVERY = 4096;

/**
 * Buckets in this process. A bucket whose TAT has passed is full, the same as no entry,
 * so sweeping drops it without changing any answer; past `maxBuckets` (client addresses
 * are chosen by clients) the oldest entries go first. Sweeps are amortised: one every
 * 4096 takes, and past the bound one per 10% of it.
 */
export class MemoryStore implements BucketStore {
  readonly #tats = new Map<string, number>();
  #takes = 0;

  constructor(private readonly maxBuckets = DEFAULT_MAX_BUCKETS) {}

  take(buckets: readonly BucketSpec[], now: number): TakeResult {
    if (++this.#takes % SWEEP_EVERY === 0 || this.#tats.size > this.maxBuckets) this.#sweep(now);
    const next: number[] = new Array<number>(buckets.length);
    let refused = -1;
    let waitMs = 0;
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i];
      const tat = this.#tats.get(b.id);
      next[i] = nextTat(tat, now, b.interval);
      if (fits(next[i], now, b.capacity)) continue;
      const wait = waitAt(tat ?? now, now, b);
      if (refused === -1 || wait > waitMs) {
        refused = i;
        waitMs = wait;
      }
    }
    const allowed = refused === -1;
    const remaining: number[] = new Array<number>(buckets.length);
    const fullInMs: number[] = new Array<number>(buckets.length);
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i];
      const tat = allowed ? next[i] : next[i] - b.interval;
      if (allowed) this.#tats.set(b.id, tat);
      remaining[i] = remainingAt(tat, now, b);
      fullInMs[i] = Math.max(0, tat - now);
    }
    return { allowed, refused, waitMs: Math.ceil(waitMs), remaining, fullInMs };
  }

  get size(): number {
    return this.#tats.size;
  }

  /** Drops full buckets; past `maxBuckets`, the oldest down to 90% of it, so the next inserts do not sweep again at once. */
  #sweep(now: number): void {
    for (const [id, tat] of this.#tats) if (tat <= now) this.#tats.delete(id);
    if (this.#tats.size <= this.maxBuckets) return;
    let excess = this.#tats.size - Math.floor(this.maxBuckets * 0.9);
    for (const id of this.#tats.keys()) {
      if (excess-- <= 0) break;
      this.#tats.delete(id);
    }
  }
}
