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

/** Ids in use; unusedId adds the ids it hands out. */
export interface TakenIds {
  has(id: string): boolean;
  add(id: string): void;
}

/**
 * Ids in use: in the keys file as it is now (it may have changed since the config was
 * loaded) and in the loaded config. Without a backslash in the text no scalar has an
 * escape, so an id in use is written there as its own characters: any mention of it
 * counts (parsing a 100,000-key file to list its ids took the Document API ~15 s).
 */
export function takenIds(currentText: string, loaded: { has(id: string): boolean }): TakenIds {
  const minted = new Set<string>();
  let written: Set<string> | undefined;
  const inText = currentText.includes('\\')
    ? (id: string): boolean => (written ??= new Set(keyIds(currentText))).has(id)
    : (id: string): boolean => currentText.includes(id);
  return {
    has: (id) => minted.has(id) || loaded.has(id) || inText(id),
    add: (id) => void minted.add(id),
  };
}

/**
 * A random id not in `taken`, which it joins (so a batch never repeats one). A clash is
 * astronomically unlikely, but would be a duplicate-id config error.
 */
export function unusedId(taken: TakenIds): string {
  for (;;) {
    const id = generateKeyId();
    if (!taken.has(id)) {
      taken.add(id);
      return id;
    }
  }
}
