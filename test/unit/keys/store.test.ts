import { describe, expect, it } from 'vitest';
import { hashFast, parseHash, type ParsedHash } from '../../../src/auth/hash.js';
import { KeyStore } from '../../../src/keys/store.js';
import type { KeyRecord } from '../../../src/keys/record.js';
import { RuleMatcher } from '../../../src/policy/matcher.js';

function key(i: number): KeyRecord {
  const id = `K${String(i).padStart(11, '0')}`;
  return {
    id,
    user: i % 2 ? 'joe' : 'ann',
    name: `key-${i}`,
    scope: 'inherit',
    allow: new RuleMatcher([]),
    deny: new RuleMatcher([]),
    sourceIPs: null,
    disabled: false,
    legacy: false,
    hash: parseHash(hashFast(`secret-${i}`)) as ParsedHash,
    file: '/keys.yaml',
    line: i + 1,
    col: 3,
  };
}

describe('KeyStore lookups', () => {
  const keys = Array.from({ length: 1500 }, (_, i) => key(i));
  const store = KeyStore.fromKeys(keys);

  it("keeps a key's record from its second lookup on, with the fields it was built from", () => {
    const first = store.byId.get(keys[7].id)!;
    const second = store.byId.get(keys[7].id)!;
    expect(second).toEqual(first);
    expect(store.byId.get(keys[7].id)).toBe(second);
    expect(first).toMatchObject({ id: keys[7].id, user: 'joe', name: 'key-7', line: 8 });
    expect(store.byId.get('K99999999999')).toBeUndefined();
  });

  it('never answers a key with the record of another key on the same line', () => {
    // Slots 7 and 1031 share a line of the 1,024 kept records.
    for (const i of [7, 7, 1031, 1031, 7, 1031, 7, 7, 1031]) expect(store.byId.get(keys[i].id)!.id).toBe(keys[i].id);
  });

  it('answers every key right after more lookups than it keeps at hand', () => {
    for (let round = 0; round < 2; round++)
      for (const k of keys) {
        const found = store.byId.get(k.id)!;
        expect(found.id).toBe(k.id);
        expect(found.name).toBe(k.name);
        expect(found.hash.text).toBe(k.hash.text);
      }
  });
});
