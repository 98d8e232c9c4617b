import type { Snapshot } from '../config/snapshot.js';
import { keyState } from '../policy/model.js';
import { MINUTE_MS, type KeyUse } from './keyUse.js';

const DAY_MS = 86_400_000;

/**
 * No allowed use since `since` (epoch ms). A key never used counts from its creation (a key
 * made yesterday is not yet unused for 30 days); one without a readable `created` always counts.
 */
export function unusedSince(lastUsed: number | undefined, created: string | undefined, since: number): boolean {
  const from = lastUsed ?? (created === undefined ? NaN : Date.parse(created));
  return Number.isNaN(from) || from < since;
}

/** The last allowed use of a key in epoch ms, if any. */
export function lastUsedMs(use: KeyUse | undefined): number | undefined {
  return use && use.used > 0 ? use.used * MINUTE_MS : undefined;
}

/**
 * `keygate_keys_unused{days}`: keys that work (active or rotation due) without an allowed
 * use for each span. One pass over the keys, at scrape time.
 */
export function countUnusedKeys<D extends number>(
  s: Snapshot,
  usage: ReadonlyMap<string, KeyUse>,
  now: number,
  spans: readonly D[],
): Record<D, number> {
  const counts = Object.fromEntries(spans.map((d) => [d, 0])) as Record<D, number>;
  for (const key of s.keys.dates()) {
    const state = keyState(s, key, now);
    if (state !== 'active' && state !== 'rotation_due') continue;
    const last = lastUsedMs(usage.get(key.id));
    for (const days of spans) if (unusedSince(last, key.created, now - days * DAY_MS)) counts[days] += 1;
  }
  return counts;
}
