import { hashFast } from '../auth/hash.js';
import { formatKey, generateKeyId, generateSecret } from '../auth/keyFormat.js';
import { keyIds } from './editor.js';

/** A new secret: the key string shown once, and the hash the keys file keeps. */
export interface MintedSecret {
  readonly secret: string;
  readonly hash: string;
}

export function mintSecret(): MintedSecret {
  const secret = generateSecret();
  return { secret, hash: hashFast(secret) };
}

/** The string a client presents: `kg_<id>_<secret><checksum>`. */
export function keyString(id: string, minted: MintedSecret): string {
  return formatKey(id, minted.secret);
}

/** Ids in use: the keys file as it is now (it may have changed since the config was loaded) and the loaded config. */
export function takenIds(currentText: string, loaded: Iterable<string>): Set<string> {
  return new Set([...keyIds(currentText), ...loaded]);
}

/**
 * A random id not in `taken`, which it joins (so a batch never repeats one). A clash is
 * astronomically unlikely, but would be a duplicate-id config error.
 */
export function unusedId(taken: Set<string>): string {
  for (;;) {
    const id = generateKeyId();
    if (!taken.has(id)) {
      taken.add(id);
      return id;
    }
  }
}
