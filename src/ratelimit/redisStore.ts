import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisSettings } from '../config/mainFile.js';
import type { BucketSpec, TakeResult } from './gcra.js';
import type { SharedStore } from './limiter.js';

/**
 * gcra.ts's take, all-or-nothing over the request's buckets, as one atomic script:
 * one EVALSHA (one round trip) per request, whatever the number of buckets. Time is
 * Redis's own clock, so replicas with skewed clocks share one bucket correctly.
 * KEYS[i]: bucket i; ARGV[2i-1], ARGV[2i]: its interval and capacity in ms.
 * Returns { refused (1-based, 0 = allowed), waitMs, then remaining and fullInMs per bucket }.
 */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tats = {}
local refused, wait = 0, 0
for i = 1, #KEYS do
  local interval, capacity = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or 0)
  if tat < now then tat = now end
  tats[i] = tat
  local w = tat + interval - capacity - now
  if w > 0 and (refused == 0 or w > wait) then refused, wait = i, w end
end
local out = { refused, math.ceil(wait) }
for i = 1, #KEYS do
  local interval, capacity = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local tat = tats[i]
  if refused == 0 then
    tat = tat + interval
    redis.call('SET', KEYS[i], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1)
  end
  local left = math.floor((capacity - (tat - now)) / interval + 1e-9)
  if left < 0 then left = 0 end
  out[#out + 1] = left
  out[#out + 1] = math.ceil(tat - now)
end
return out
`;
const TAKE_SHA = createHash('sha1').update(TAKE_SCRIPT).digest('hex');

export interface RedisStoreEvents {
  /** Connection state changes, for the log (never the URL: it may hold a password). */
  connection(state: 'ready' | 'lost', error?: string): void;
}

/**
 * Buckets in Redis, shared by every keygate pointed at it. One connection with
 * automatic pipelining (requests of one event-loop turn go out in one write); each
 * call bounded by `timeout`; no offline queue, so a Redis that is down fails calls at
 * once instead of piling them up; reconnects in the background, forever.
 */
export class RedisStore implements SharedStore {
  readonly onError: RedisSettings['onError'];
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(settings: RedisSettings, events: RedisStoreEvents) {
    this.onError = settings.onError;
    this.#prefix = settings.prefix;
    this.#redis = new Redis(settings.url, {
      commandTimeout: settings.timeout,
      connectTimeout: Math.max(settings.timeout, 1000),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      enableAutoPipelining: true,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
    });
    let up = false;
    this.#redis.on('ready', () => {
      up = true;
      events.connection('ready');
    });
    this.#redis.on('error', (e: Error) => {
      if (!up) return;
      up = false;
      events.connection('lost', (e as NodeJS.ErrnoException).code ?? e.name);
    });
    this.#redis.on('close', () => {
      if (!up) return;
      up = false;
      events.connection('lost', 'closed');
    });
  }

  async take(buckets: readonly BucketSpec[], _now: number): Promise<TakeResult> {
    const args: (string | number)[] = [];
    for (const b of buckets) args.push(this.#prefix + b.id);
    for (const b of buckets) args.push(b.interval, b.capacity);
    const reply = await this.#eval(buckets.length, args);
    return parseReply(reply, buckets.length);
  }

  async close(): Promise<void> {
    this.#redis.disconnect(false);
  }

  /** EVALSHA; the script text only when Redis does not have it yet (a new or restarted Redis). */
  async #eval(keys: number, args: (string | number)[]): Promise<unknown> {
    try {
      return await this.#redis.evalsha(TAKE_SHA, keys, ...args);
    } catch (e) {
      if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
      return this.#redis.eval(TAKE_SCRIPT, keys, ...args);
    }
  }
}

function parseReply(reply: unknown, n: number): TakeResult {
  if (!Array.isArray(reply) || reply.length !== 2 + 2 * n) throw new Error('unexpected reply from the rate-limit script');
  const values = reply.map(Number);
  const remaining: number[] = [];
  const fullInMs: number[] = [];
  for (let i = 0; i < n; i++) {
    remaining.push(values[2 + 2 * i]);
    fullInMs.push(values[3 + 2 * i]);
  }
  const refused = values[0] - 1;
  return { allowed: refused === -1, refused, waitMs: refused === -1 ? 0 : values[1], remaining, fullInMs };
}
