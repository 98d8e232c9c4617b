import { hashFast } from '../../src/auth/hash.js';
import { formatKey, generateKeyId, generateSecret } from '../../src/auth/keyFormat.js';

/** A freshly generated key: the string a client presents and the hash a keys file holds. */
export interface TestKey {
  readonly id: string;
  readonly key: string;
  readonly hash: string;
}

export function newKey(): TestKey {
  const id = generateKeyId();
  const secret = generateSecret();
  return { id, key: formatKey(id, secret), hash: hashFast(secret) };
}

/** Same id, a different (but well-formed, checksum-valid) secret: the `bad_secret` case. */
export function withWrongSecret(key: { readonly id: string }): string {
  return formatKey(key.id, generateSecret());
}

/**
 * One keys.yaml list entry for `key`; `fields` are YAML lines under it,
 * e.g. `['scope: inherit', 'disabled: true']`.
 */
export function keyEntry(key: TestKey, user: string, name: string, fields: readonly string[] = []): string {
  return [`  - id: ${key.id}`, `    user: ${user}`, `    name: ${name}`, `    hash: "${key.hash}"`, ...fields.map((f) => `    ${f}`)].join(
    '\n',
  );
}
