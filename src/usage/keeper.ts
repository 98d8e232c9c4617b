import { mergeInto, type KeyUse, type UsageMap } from './keyUse.js';
import type { UsageRecorder } from './recorder.js';
import type { UsageStore } from './store.js';

export interface UsageKeeperEvents {
  /** A write failed (the changes are kept for the next one); said once until one succeeds. */
  failed(where: string, error: string): void;
  recovered(where: string): void;
}

/** The fleet's view is read again at most this often (Redis: for the scrape-time metrics). */
const REFRESH_MS = 60_000;

/**
 * Sends what the recorder saw to the store in the background: every `store.flushMs`,
 * and once more at shutdown. A key is sent only when one of its minutes moved since it
 * was last sent, so each key costs the store at most one write a minute per proxy.
 * Keeps the whole state it last saw (plus what is still pending) for `/metrics`.
 */
export class UsageKeeper {
  #view: UsageMap = new Map();
  /** "used,denied" last sent, per key: the once-a-minute throttle. */
  readonly #sent = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #failing = false;
  #lastRefresh = -Infinity;

  constructor(
    private readonly recorder: UsageRecorder,
    private readonly store: UsageStore,
    private readonly events: UsageKeeperEvents,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Reads the stored state (for the metrics) and starts the periodic flush. */
  start(): void {
    void this.#refresh();
    this.#timer = setInterval(() => void this.flush(), this.store.flushMs);
    this.#timer.unref();
  }

  /** One flush at a time; a call while one runs waits for it and then flushes again. */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
    this.#running = this.#flushOnce().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Every key's usage as far as this process knows: the stored state plus what it has not sent yet. */
  view(): ReadonlyMap<string, KeyUse> {
    const pending = this.recorder.pending;
    if (pending.size === 0) return this.#view;
    return mergeInto(new Map(this.#view), pending);
  }

  /** Stops the timer and sends what is left. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
    await this.store.close();
  }

  async #flushOnce(): Promise<void> {
    const changes = this.#unsent(this.recorder.take());
    if (changes.size > 0) {
      try {
        const state = await this.store.merge(changes);
        for (const [id, u] of changes) this.#sent.set(id, `${u.used},${u.denied}`);
        mergeInto(this.#view, changes);
        if (state) this.#view = state;
        this.#succeeded();
      } catch (e) {
        this.recorder.giveBack(changes);
        this.#failed(e);
        return;
      }
    }
    if (this.clock() - this.#lastRefresh >= REFRESH_MS) await this.#refresh();
  }

  /** Only keys whose minutes moved since they were last sent. */
  #unsent(taken: UsageMap): UsageMap {
    for (const [id, u] of taken) if (this.#sent.get(id) === `${u.used},${u.denied}`) taken.delete(id);
    return taken;
  }

  async #refresh(): Promise<void> {
    this.#lastRefresh = this.clock();
    try {
      const stored = await this.store.read();
      this.#view = mergeInto(stored, this.#view);
    } catch (e) {
      this.#failed(e);
    }
  }

  #failed(e: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.events.failed(this.store.where, (e as NodeJS.ErrnoException).code ?? (e as Error).message ?? String(e));
  }

  #succeeded(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.events.recovered(this.store.where);
  }
}
