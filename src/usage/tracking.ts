import type { Logger } from 'pino';
import type { Snapshot } from '../config/snapshot.js';
import { FileUsageStore, stateDirProblem } from './fileStore.js';
import { UsageKeeper } from './keeper.js';
import { UsageRecorder } from './recorder.js';
import { usageStoreFor } from './reading.js';
import type { UsageStore } from './store.js';

/** Key usage for one running proxy: the recorder the request path feeds, and its keeper (none when nothing can be stored). */
export interface UsageTracking {
  readonly recorder: UsageRecorder;
  readonly keeper: UsageKeeper | undefined;
}

/**
 * With the Redis rate-limit backend, usage goes to Redis (the fleet's view); otherwise to
 * the state directory. A directory that cannot be written (a read-only config volume) is
 * a warning, never a failed start: usage is then kept in memory only.
 */
export async function startUsageTracking(snapshot: Snapshot, logger: Logger, now: () => number): Promise<UsageTracking> {
  const recorder = new UsageRecorder(now);
  const store = await writableStore(snapshot, logger);
  if (!store) return { recorder, keeper: undefined };
  const keeper = new UsageKeeper(recorder, store, {
    failed: (where, error) =>
      logger.warn({ event: 'key_usage_write_failed', where, error }, 'key usage could not be saved; it is kept and retried'),
    recovered: (where) => logger.info({ event: 'key_usage_write_recovered', where }, 'key usage is saved again'),
  });
  keeper.start();
  return { recorder, keeper };
}

async function writableStore(s: Snapshot, logger: Logger): Promise<UsageStore | undefined> {
  const store = await usageStoreFor(s);
  if (!(store instanceof FileUsageStore)) return store;
  const problem = await stateDirProblem(store.dir);
  if (problem === undefined) return store;
  const where = s.state.configured ? 'state.dir' : 'the default state directory (state.dir, beside keygate.yaml)';
  logger.warn(
    { event: 'state_dir_unwritable', dir: s.state.dir, error: problem },
    `key usage (last used) is not saved: ${where} ${s.state.dir} cannot be written (${problem}); ` +
      'set state.dir to a writable directory (in Kubernetes, an emptyDir volume)',
  );
  return undefined;
}
