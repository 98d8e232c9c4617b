import { Redis } from 'ioredis';
import type { RedisSettings } from '../config/mainFile.js';
import { checkedUse, type UsageMap } from './keyUse.js';
import type { UsageStore } from './store.js';

/**
 * Newest wins, atomically, per key: one hash field per key id holding
 * "usedMinute,deniedMinute,client". KEYS[1]: the hash; ARGV: id, used, denied, client, …
 */
const MERGE_SCRIPT = `
for i = 1, #ARGV, 4 do
  local id, u, d, c = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), ARGV[i + 3]
  local old = redis.call('HGET', KEYS[1], id)
  if old then
    local ou, od, oc = string.match(old, '^(%d+),(%d+),(.*)$')
    ou, od = tonumber(ou) or 0, tonumber(od) or 0
    if math.max(ou, od) > math.max(u, d) then c = oc end
    if ou > u then u = ou end
    if od > d then d = od end
  end
  redis.call('HSET', KEYS[1], id, u .. ',' .. d .. ',' .. c)
end
return 1
`;

/** Keys per script call: bounds one call's size and how long it holds Redis. */
const BATCH = 500;

/**
 * Key usage in one Redis hash per fleet (`<prefix>key-usage`), so every replica's uses
 * meet and `keygate key list` answers for all of them. Its own connection, with longer
 * timeouts than the rate limiter's: nothing waits for it on the request path.
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
    let args: string[] = [];
    for (const [id, u] of changes) {
      args.push(id, String(u.used), String(u.denied), u.client.replaceAll(',', ''));
      if (args.length >= BATCH * 4) {
        await this.#redis.eval(MERGE_SCRIPT, 1, this.#hash, ...args);
        args = [];
      }
    }
    if (args.length) await this.#redis.eval(MERGE_SCRIPT, 1, this.#hash, ...args);
    return undefined;
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
    const m = /^(\d+),(\d+),(.*)$/.exec(value);
    const entry = m ? checkedUse(id, Number(m[1]), Number(m[2]), m[3]) : undefined;
    if (entry) out.set(entry[0], entry[1]);
  }
  return out;
}
