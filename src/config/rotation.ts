import { rotationDueAt } from '../policy/model.js';
import type { ConfigIssue } from '../reader/issues.js';
import type { Snapshot } from './snapshot.js';

/**
 * `check`'s warnings about keys older than their maxAge (policy `keys`) at `now`, one per
 * key, where the key is written. Disabled keys and keys of unknown users are left out:
 * nothing uses them. Computed at a given time, so not part of the loader's warnings.
 */
export function rotationWarnings(s: Snapshot, now: number): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const key of s.keys) {
    const user = s.users.get(key.user);
    const due = rotationDueAt(user, key);
    if (!user || key.disabled || due === undefined || now < due) continue;
    const consequence = s.keyRotation?.enforce ? 'it is refused (keys.enforce)' : 'it still works';
    out.push({
      file: key.file,
      line: key.line,
      col: key.col,
      keyId: key.id,
      message: `key ${key.id}: rotation due since ${new Date(due).toISOString()} (older than user ${key.user}'s key maxAge); ${consequence}; rotate it with "keygate key rotate ${key.id} --grace 24h"`,
    });
  }
  return out;
}
