import { Redis } from 'ioredis';
import type { RedisSettings } from '../config/mainFile.js';
import { checkedUse, mergeUse, type KeyUse, type UsageMap } from './keyUse.js';
import type { UsageStore } from './store.js';

/** Keys per transaction: bounds one write's size. */
const BATCH = 500;
/** Another proxy wrote the hash between our read and our write: read again, this many times at most. */
const ATTEMPTS = 5;

/**
 * Key usage in one Redis hash per fleet (`<prefix>key-usage`), one field per key id
 * holding "usedMinute,deniedMinute,client", so every replica's uses meet and `keygate
 * key list` answers for all of them. Newest wins, atomically: WATCH the hash, read the
 * fields about to change, HSET only what is newer in MULTI/EXEC, and read again if
 * another proxy wrote meanwhile. Its own connection (WATCH is per connection), with
 * longer timeouts than the rate limiter's: nothing waits for it on the request path.
 */
export class RedisUsageStore implements UsageStore {
  readonly where = 'redis';
  readonly #redis: Redis;
  readonly #hash: string;
  #connecting: Promise<void> | undefined;

  constructor(
    settings: RedisSettings,
    readonly flushMs = 1_000,
  ) {
    this.#hash = usageHash(settings);
    this.#redis = new Redis(settings.url, {
      commandTimeout: Math.max(settings.timeout, 2_000),
      connectTimeout: 2_000,
      // Down means fail at once (the keeper keeps the changes for the next flush), never a queue.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 4), 2_000),
      lazyConnect: true,
    });
    this.#redis.on('error', () => undefined); // failures surface on the calls
  }

  async read(): Promise<UsageMap> {
    await this.#connected();
    const all = await this.#redis.hgetall(this.#hash);
    return decodeHash(all);
  }

  async merge(changes: UsageMap): Promise<undefined> {
    await this.#connected();
    const entries = [...changes];
    for (let i = 0; i < entries.length; i += BATCH) await this.#mergeBatch(entries.slice(i, i + BATCH));
    return undefined;
  }

  async #mergeBatch(batch: readonly (readonly [string, KeyUse])[]): Promise<void> {
    const ids = batch.map(([id]) => id);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      await this.#redis.watch(this.#hash);
      const stored = await this.#redis.hmget(this.#hash, ...ids);
      const newer: Record<string, string> = {};
      batch.forEach(([id, use], i) => {
        const old = decodeField(id, stored[i]);
        const merged = old ? mergeUse(old, use) : use;
        if (!old || merged.used !== old.used || merged.denied !== old.denied || merged.client !== old.client)
          newer[id] = encodeField(merged);
      });
      if (Object.keys(newer).length === 0) {
        await this.#redis.unwatch();
        return;
      }
      if ((await this.#redis.multi().hset(this.#hash, newer).exec()) !== null) return;
    }
    throw new Error('the key-usage hash kept changing under this write');
  }

  async close(): Promise<void> {
    this.#redis.disconnect(false);
  }

  /** The first call connects (bounded by connectTimeout); later ones find it connected, or reconnecting and fail. */
  async #connected(): Promise<void> {
    if (this.#redis.status === 'wait') this.#connecting = this.#redis.connect();
    if (this.#connecting === undefined) return;
    try {
      await this.#connecting;
    } finally {
      this.#connecting = undefined;
    }
  }
}

export function usageHash(settings: RedisSettings): string {
  return `${settings.prefix}key-usage`;
}

export function decodeHash(all: Record<string, string>): UsageMap {
  const out: UsageMap = new Map();
  for (const [id, value] of Object.entries(all)) {
    const use = decodeField(id, value);
    if (use) out.set(id, use);
  }
  return out;
}

function decodeField(id: string, value: string | null | undefined): KeyUse | undefined {
  const m = value ? /^(\d+),(\d+),(.*)$/.exec(value) : null;
  return m ? checkedUse(id, Number(m[1]), Number(m[2]), m[3])?.[1] : undefined;
}

/** Addresses never hold a comma; one that did would only lose its comma. */
function encodeField(use: KeyUse): string {
  return `${use.used},${use.denied},${use.client.replaceAll(',', '')}`;
}
