/**
 * Caps concurrent KDF runs and the work waiting for them. A full queue is refused
 * at once: queueing without bound would let bad keys pile up CPU and memory.
 */
export class KdfLimiter {
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly maxQueued: number,
  ) {
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new RangeError('kdfConcurrency must be >= 1');
    if (!Number.isSafeInteger(maxQueued) || maxQueued < 0) throw new RangeError('maxQueuedKdf must be >= 0');
  }

  /** Resolves once a slot is held (call release() after); undefined when the queue is full. */
  tryAcquire(): Promise<void> | undefined {
    if (this.#running < this.concurrency) {
      this.#running++;
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.maxQueued) return undefined;
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    // The slot passes straight to the next waiter, so #running stays put.
    if (next) next();
    else this.#running--;
  }

  get queued(): number {
    return this.#waiting.length;
  }
}
