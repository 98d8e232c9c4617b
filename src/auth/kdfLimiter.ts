/**
 * Caps concurrent KDF runs, the work waiting for them, and each client's share of both.
 * A full queue, or a client already holding its share, is refused at once: queueing
 * without bound would let bad keys pile up CPU and memory, and one client flooding
 * junk legacy secrets must not keep every other client's correct key waiting.
 */
export class KdfLimiter {
  #running = 0;
  readonly #waiting: Array<() => void> = [];
  /** Jobs (running or waiting) per client; a client without jobs has no entry. */
  readonly #perClient = new Map<string, number>();

  constructor(
    readonly concurrency: number,
    readonly maxQueued: number,
    readonly maxPerClient: number = Number.MAX_SAFE_INTEGER,
  ) {
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new RangeError('kdfConcurrency must be >= 1');
    if (!Number.isSafeInteger(maxQueued) || maxQueued < 0) throw new RangeError('maxQueuedKdf must be >= 0');
    if (!Number.isSafeInteger(maxPerClient) || maxPerClient < 1) throw new RangeError('maxKdfPerClient must be >= 1');
  }

  /**
   * Resolves once a slot is held (call release(client) after); undefined when the queue
   * is full or `client` already holds `maxPerClient` jobs.
   */
  tryAcquire(client = ''): Promise<void> | undefined {
    const held = this.#perClient.get(client) ?? 0;
    if (held >= this.maxPerClient) return undefined;
    if (this.#running < this.concurrency) {
      this.#running++;
      this.#perClient.set(client, held + 1);
      return Promise.resolve();
    }
    if (this.#waiting.length >= this.maxQueued) return undefined;
    this.#perClient.set(client, held + 1);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(client = ''): void {
    const held = this.#perClient.get(client) ?? 0;
    if (held <= 1) this.#perClient.delete(client);
    else this.#perClient.set(client, held - 1);
    const next = this.#waiting.shift();
    // The slot passes straight to the next waiter, so #running stays put.
    if (next) next();
    else this.#running--;
  }

  get queued(): number {
    return this.#waiting.length;
  }
}
