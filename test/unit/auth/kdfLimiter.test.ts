import { describe, expect, it } from 'vitest';
import { KdfLimiter } from '../../../src/auth/kdfLimiter.js';

describe('KdfLimiter', () => {
  it('grants up to `concurrency` slots, queues up to `maxQueued`, refuses the rest', () => {
    const limiter = new KdfLimiter(2, 1);
    expect(limiter.tryAcquire()).toBeInstanceOf(Promise);
    expect(limiter.tryAcquire()).toBeInstanceOf(Promise);
    expect(limiter.tryAcquire()).toBeInstanceOf(Promise);
    expect(limiter.queued).toBe(1);
    expect(limiter.tryAcquire()).toBeUndefined();
  });

  it('hands a released slot to the oldest waiter first', async () => {
    const limiter = new KdfLimiter(1, 2);
    const order: string[] = [];
    await limiter.tryAcquire();
    const a = limiter.tryAcquire()?.then(() => order.push('a'));
    const b = limiter.tryAcquire()?.then(() => order.push('b'));
    limiter.release();
    await a;
    expect(order).toEqual(['a']);
    limiter.release();
    await b;
    expect(order).toEqual(['a', 'b']);
    limiter.release();
    // Back to idle: a new caller gets a slot at once.
    expect(limiter.queued).toBe(0);
    await limiter.tryAcquire();
    expect(limiter.tryAcquire()).toBeInstanceOf(Promise);
    expect(limiter.queued).toBe(1);
  });

  it('caps the jobs one client holds, running or queued, and frees them on release', async () => {
    const limiter = new KdfLimiter(1, 10, 2);
    await limiter.tryAcquire('a');
    expect(limiter.tryAcquire('a')).toBeInstanceOf(Promise);
    expect(limiter.tryAcquire('a')).toBeUndefined();
    expect(limiter.tryAcquire('b')).toBeInstanceOf(Promise);
    limiter.release('a');
    expect(limiter.tryAcquire('a')).toBeInstanceOf(Promise);
  });
});
