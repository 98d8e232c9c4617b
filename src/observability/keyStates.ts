import type { Snapshot } from '../config/snapshot.js';
import { keyState, type KeyPolicy, type KeyState } from '../policy/model.js';

export type KeyStateCounts = Record<KeyState, number>;

export const KEY_STATES: readonly KeyState[] = ['active', 'disabled', 'expired', 'not_yet_valid', 'orphaned'];

export function emptyKeyStateCounts(): KeyStateCounts {
  return { active: 0, disabled: 0, expired: 0, not_yet_valid: 0, orphaned: 0 };
}

/** How many keys of the snapshot are in each state at `now` (epoch ms); every state is present. */
export function countKeyStates(snapshot: Pick<Snapshot, 'users'> & { readonly keys: Iterable<KeyPolicy> }, now: number): KeyStateCounts {
  const counts = emptyKeyStateCounts();
  for (const key of snapshot.keys) counts[keyState(snapshot, key, now)] += 1;
  return counts;
}
