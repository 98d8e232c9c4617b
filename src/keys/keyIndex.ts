import type { KeyIndex, VerifiableKey } from '../auth/verifier.js';

/** An index in Maps: for a few keys (tests, benchmarks); a snapshot's keys are a KeyStore. */
export interface MapKeyIndex<K extends VerifiableKey> extends KeyIndex<K> {
  readonly byId: ReadonlyMap<string, K>;
  readonly legacyByDigest: ReadonlyMap<string, K>;
}

/** Why a key cannot join an index: its id is taken, or (legacy keys) its secret is another key's. */
export type IndexConflict<K> = { readonly kind: 'duplicate_id' | 'same_legacy_secret'; readonly first: K };

/**
 * The one place the lookup index of keys is built (the loader, the reload codec and
 * tests all come here): by id, legacy sha256 keys by digest, slow legacy keys listed.
 */
export class KeyIndexBuilder<K extends VerifiableKey> {
  readonly #byId = new Map<string, K>();
  readonly #legacyByDigest = new Map<string, K>();
  readonly #legacySlow: K[] = [];

  /** Adds a key; a conflicting one is left out and the key it conflicts with returned. */
  add(key: K): IndexConflict<K> | undefined {
    const first = this.#byId.get(key.id);
    if (first) return { kind: 'duplicate_id', first };
    if (key.legacy && key.hash.algorithm === 'sha256') {
      const digest = key.hash.digest.toString('base64url');
      const twin = this.#legacyByDigest.get(digest);
      if (twin) return { kind: 'same_legacy_secret', first: twin };
      this.#legacyByDigest.set(digest, key);
    } else if (key.legacy) {
      this.#legacySlow.push(key);
    }
    this.#byId.set(key.id, key);
    return undefined;
  }

  build(): MapKeyIndex<K> {
    return { byId: this.#byId, legacyByDigest: this.#legacyByDigest, legacySlow: Object.freeze(this.#legacySlow) };
  }
}

const CONFLICT_CODES = { duplicate_id: 'KEYGATE_DUPLICATE_KEY_ID', same_legacy_secret: 'KEYGATE_SAME_LEGACY_SECRET' } as const;

/** For keys already validated: a conflict here is a bug, so it throws. */
export function buildKeyIndex<K extends VerifiableKey>(keys: Iterable<K>): MapKeyIndex<K> {
  const builder = new KeyIndexBuilder<K>();
  for (const key of keys) {
    const conflict = builder.add(key);
    if (conflict) throw Object.assign(new Error(conflictText(key, conflict)), { code: CONFLICT_CODES[conflict.kind] });
  }
  return builder.build();
}

export function conflictText<K extends VerifiableKey>(key: K, conflict: IndexConflict<K>): string {
  return conflict.kind === 'duplicate_id'
    ? `duplicate key id ${key.id}`
    : `legacy keys ${conflict.first.id} and ${key.id} have the same secret`;
}
