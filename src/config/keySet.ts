import { KeyStore } from '../keys/store.js';
import { StoreLayout, type DuplicateId, type PlainKey } from '../keys/storeBuilder.js';
import type { KeySink } from '../keys/quickReader.js';
import type { CompiledRule } from '../policy/rules.js';
import type { ClientCertBinding, KeyRecord } from './snapshot.js';

/** A key that names rate limits: the loader resolves them against the policy. */
export type RateLimitedKey = Pick<KeyRecord, 'id' | 'user' | 'file' | 'line' | 'col'> & { readonly rateLimit: readonly string[] };

/**
 * The keys of one load, laid out in the key store as each is read (StoreLayout), so no
 * list of every key's record is ever held; beside them, the little the loader resolves
 * after reading (rate limit names, client certificate bindings), for the keys that have any.
 */
export class KeySet implements KeySink {
  readonly #layout = new StoreLayout();
  #rateLimited: [number, RateLimitedKey][] = [];
  #clientCerts: [number, string, ClientCertBinding][] = [];

  get count(): number {
    return this.#layout.count;
  }

  add(key: KeyRecord): void {
    const slot = this.#layout.count;
    this.#layout.add(key);
    if (key.rateLimit?.length) {
      const { id, user, file, line, col, rateLimit } = key;
      this.#rateLimited.push([slot, { id, user, file, line, col, rateLimit }]);
    }
    if (key.clientCert) this.#clientCerts.push([slot, key.id, Object.freeze({ ...key.clientCert })]);
  }

  /** A key of the quick reader: it takes no rate limits or client certificates (such keys come as records). */
  addPlain(key: PlainKey): void {
    this.#layout.addPlain(key);
  }

  addRuleSet(rules: readonly CompiledRule[]): number {
    return this.#layout.addRuleSet(rules);
  }

  reserve(keys: number): void {
    this.#layout.reserve(keys);
  }

  /** Forgets the keys added after the first `count` (a fast read that gave up half-way through a file). */
  truncate(count: number): void {
    this.#layout.truncate(count);
    this.#rateLimited = this.#rateLimited.filter(([slot]) => slot < count);
    this.#clientCerts = this.#clientCerts.filter(([slot]) => slot < count);
  }

  finish(): KeysRead {
    const { data, duplicates } = this.#layout.finish();
    return {
      store: new KeyStore(data),
      duplicates,
      rateLimited: this.#rateLimited.map(([, key]) => key),
      clientCertBindings: new Map(this.#clientCerts.map(([, id, binding]) => [id, binding])),
    };
  }
}

export interface KeysRead {
  readonly store: KeyStore;
  /** Keys whose id an earlier key has, in file order: they are not in the store's id table. */
  readonly duplicates: readonly DuplicateId[];
  readonly rateLimited: readonly RateLimitedKey[];
  readonly clientCertBindings: Map<string, ClientCertBinding>;
}
