import type { Snapshot } from '../config/snapshot.js';
import { createdMs } from '../keys/storeData.js';
import { noKeyStates, type KeyState } from '../policy/model.js';
import { MINUTE_MS, type KeyUse } from './keyUse.js';

const DAY_MS = 86_400_000;

/**
 * No allowed use since `since` (epoch ms). A key never used counts from its creation (a key
 * made yesterday is not yet unused for 30 days); one without a readable `created` always counts.
 */
export function unusedSince(lastUsed: number | undefined, created: string | undefined, since: number): boolean {
  return unusedFrom(lastUsed ?? createdMs(created), since);
}

/** `from`: the last use, else the creation (NaN: unknown, which always counts). */
function unusedFrom(from: number, since: number): boolean {
  return Number.isNaN(from) || from < since;
}

/** The last allowed use of a key in epoch ms, if any. */
export function lastUsedMs(use: KeyUse | undefined): number | undefined {
  return use && use.used > 0 ? use.used * MINUTE_MS : undefined;
}

/** Keys counted between two turns of the event loop: a few ms of the serving thread. */
const SLICE = 32_768;

/** What the key gauges report at one scrape: keys by state, and working keys unused for each span of days. */
export interface KeyCensus<D extends number> {
  readonly states: Record<KeyState, number>;
  readonly unused: Record<D, number>;
}

/**
 * `keygate_keys{state}` and `keygate_keys_unused{days}` (keys that work, active or rotation
 * due, without an allowed use for each span) in one pass over the key store's arrays: no
 * record or id string per key, the usage looked up by slot, SLICE keys at a time with a
 * turn of the event loop between slices. Counted through records and Date.parse, one
 * scrape took ~100 ms of the serving thread at 100,000 keys, in one piece.
 */
export async function takeCensus<D extends number>(
  s: Snapshot,
  usage: ReadonlyMap<string, KeyUse>,
  now: number,
  spans: readonly D[],
): Promise<KeyCensus<D>> {
  const states = noKeyStates();
  const unused = Object.fromEntries(spans.map((d) => [d, 0])) as Record<D, number>;
  const store = s.keys;
  const lastUsedBySlot = new Map<number, number>();
  for (const [id, use] of usage) {
    const slot = store.slotOf(id);
    const last = lastUsedMs(use);
    if (slot !== -1 && last !== undefined) lastUsedBySlot.set(slot, last);
  }
  const since = spans.map((days) => now - days * DAY_MS);
  const visit = (slot: number, state: KeyState, created: number): void => {
    states[state] += 1;
    if (state !== 'active' && state !== 'rotation_due') return;
    const from = lastUsedBySlot.get(slot) ?? created;
    for (let i = 0; i < spans.length; i++) if (unusedFrom(from, since[i])) unused[spans[i]] += 1;
  };
  for (let first = 0; first < store.size; first += SLICE) {
    if (first > 0) await new Promise((resolve) => setImmediate(resolve));
    store.eachKeyState(s, now, visit, first, Math.min(store.size, first + SLICE));
  }
  return { states, unused };
}
