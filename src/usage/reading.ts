import type { Snapshot } from '../config/snapshot.js';
import { FileUsageStore } from './fileStore.js';
import type { KeyUse, UsageMap } from './keyUse.js';
import type { UsageStore } from './store.js';

export interface UsageReading {
  readonly usage: ReadonlyMap<string, KeyUse>;
  /** Where it was read: the state file, or `redis`. */
  readonly source: string;
  /** Why nothing could be read (the commands still answer, without usage). */
  readonly problem?: string;
}

/** The usage the running proxies saved, for commands: the Redis hash with the Redis backend, else the state file. */
export async function readKeyUsage(snapshot: Snapshot): Promise<UsageReading> {
  const store = await usageStoreFor(snapshot);
  try {
    return { usage: await store.read(), source: store.where };
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    return { usage: new Map() as UsageMap, source: store.where, problem: error.code ?? error.message };
  } finally {
    await store.close();
  }
}

/** The Redis hash with the Redis rate-limit backend (the fleet shares it), else the state directory's file. */
export async function usageStoreFor(s: Snapshot): Promise<UsageStore> {
  const redis = s.rateLimits.backend === 'redis' ? s.rateLimits.redis : undefined;
  if (!redis) return new FileUsageStore(s.state.dir);
  const { RedisUsageStore } = await import('./redisStore.js');
  return new RedisUsageStore(redis);
}
