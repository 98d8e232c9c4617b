import type { Logger } from 'pino';
import type { RateLimiting } from '../config/mainFile.js';
import type { SharedStore } from './limiter.js';

/**
 * The store every replica shares, per `rateLimiting.backend`; undefined for `memory`
 * (per process). The Redis client is loaded only when it is used.
 */
export async function sharedStoreFor(settings: RateLimiting, logger: Logger): Promise<SharedStore | undefined> {
  if (settings.backend !== 'redis' || !settings.redis) return undefined;
  const { RedisStore } = await import('./redisStore.js');
  const onError = settings.redis.onError;
  return new RedisStore(settings.redis, {
    connection: (state, error) => {
      if (state === 'ready') logger.info({ event: 'ratelimit_backend_ready' }, 'rate-limit store (Redis) connected; shared limits apply');
      else
        logger.warn(
          { event: 'ratelimit_backend_lost', error, onError },
          `rate-limit store (Redis) unreachable; ${onError === 'failOpen' ? 'per-process limits apply' : 'limited requests are refused'} until it is back`,
        );
    },
  });
}
