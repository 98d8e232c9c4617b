import { describe, expect, it } from 'vitest';
import type { BucketSpec } from '../../../src/ratelimit/gcra.js';
import { MemoryStore } from '../../../src/ratelimit/memoryStore.js';

const bucket = (id: string, perSecond: number, burst: number): BucketSpec => ({
  id,
  interval: 1000 / perSecond,
  capacity: burst * (1000 / perSecond),
});

describe('MemoryStore (GCRA token buckets)', () => {
  it('allows a burst, then refills at the rate', () => {
    const store = new MemoryStore();
    const b = [bucket('k', 10, 3)]; // one token per 100 ms
    expect([0, 1, 2].map(() => store.take(b, 1000).remaining[0])).toEqual([2, 1, 0]);
    const refused = store.take(b, 1000);
    expect(refused).toMatchObject({ allowed: false, refused: 0, waitMs: 100 });
    expect(store.take(b, 1099).allowed).toBe(false);
    expect(store.take(b, 1100)).toMatchObject({ allowed: true, remaining: [0] });
    expect(store.take(b, 1400).remaining[0]).toBe(2); // 300 ms later: three tokens back, one taken
  });

  it('is all-or-nothing: a bucket that refuses leaves the others untouched', () => {
    const store = new MemoryStore();
    const user = bucket('u', 1, 5);
    const key = bucket('k', 1, 1);
    expect(store.take([user, key], 0).allowed).toBe(true);
    const refused = store.take([user, key], 0);
    expect(refused).toMatchObject({ allowed: false, refused: 1 });
    expect(store.take([user], 0).remaining[0]).toBe(3); // only the allowed request took from the user
  });

  it('forgets full buckets and bounds its size', () => {
    const store = new MemoryStore(10);
    for (let i = 0; i < 50; i++) store.take([bucket(`a${i}`, 1, 5)], 0);
    expect(store.size).toBeLessThanOrEqual(11);
  });
});
