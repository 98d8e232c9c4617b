import { describe, expect, it } from 'vitest';
import { hashFast, parseHash, type ParsedHash } from '../../../src/auth/hash.js';
import { KeyStore } from '../../../src/keys/store.js';
import { StoreLayout } from '../../../src/keys/storeBuilder.js';
import type { KeyRecord } from '../../../src/keys/record.js';
import type { KeyStoreData } from '../../../src/keys/storeData.js';
import { compileCidrs } from '../../../src/policy/cidr.js';
import { userOf, type UserPolicy } from '../../../src/policy/model.js';
import { RuleMatcher } from '../../../src/policy/matcher.js';
import { pathSegments } from '../../../src/policy/pathPattern.js';
import { compileRule, type CompiledRule } from '../../../src/policy/rules.js';

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

  it("finds a key's user in each policy it is asked about, and not in one without it", () => {
    const user = (name: string): UserPolicy => ({ name, roles: [], rules: new RuleMatcher([]), disabled: false });
    const a = new Map([
      ['joe', user('joe')],
      ['ann', user('ann')],
    ]);
    const b = new Map([['joe', user('joe')]]);
    const c = new Map([['ann', user('ann')]]);
    const joe = store.byId.get(keys[1].id)!;
    const ann = store.byId.get(keys[2].id)!;
    // Alternating between three policies: more than the store resolves at once.
    for (const users of [a, b, c, a, c, b, b, a]) {
      expect(joe.userIn!(users)).toBe(users.get('joe'));
      expect(ann.userIn!(users)).toBe(users.get('ann'));
      expect(userOf({ users }, joe)).toBe(users.get('joe'));
    }
  });

  it('never answers a key with the record of another key on the same line', () => {
    // Slots 7 and 1031 share a line of the 1,024 kept records.
    for (const i of [7, 7, 1031, 1031, 7, 1031, 7, 7, 1031]) expect(store.byId.get(keys[i].id)!.id).toBe(keys[i].id);
  });

  it('finds every key by id at its slot, with rows laid out by hash bucket rather than file order', () => {
    expect(keys.map((k) => store.slotOf(k.id))).toEqual(keys.map((_, slot) => slot));
    expect(store.data.rowOf.some((row, slot) => row !== slot)).toBe(true);
    expect([...store.ids()]).toEqual(keys.map((k) => k.id));
    expect(store.slotOf('K9999999999')).toBe(-1); // 11 characters
  });

  it("finds the first of keys with one id, and reports each later one with the first one's slot", () => {
    const layout = new StoreLayout();
    const copies = [...keys.slice(0, 40), { ...keys[5], line: 900 }, key(40), { ...keys[5], line: 901 }, { ...keys[39], line: 902 }];
    for (const k of copies) layout.add(k);
    const { data, duplicates } = layout.finish();
    expect(duplicates).toEqual([
      [40, 5],
      [42, 5],
      [43, 39],
    ]);
    const withCopies = new KeyStore(data);
    expect(withCopies.byId.get(keys[5].id)!.line).toBe(keys[5].line);
    expect(withCopies.slotOf(keys[39].id)).toBe(39);
    expect(withCopies.byId.get(key(40).id)!.line).toBe(41);
  });

  it('lays out the same arrays, each cut to size, whether room was reserved for the keys, for more, or not at all', () => {
    const built = (reserve: number | undefined): KeyStoreData => {
      const layout = new StoreLayout();
      if (reserve !== undefined) layout.reserve(reserve);
      for (const k of keys.slice(0, 1100)) layout.add(k);
      return layout.finish().data;
    };
    const grown = built(undefined);
    for (const reserve of [1100, 1101, 3000, 10]) {
      const data = built(reserve);
      expect(data).toEqual(grown);
      for (const array of [data.fields, data.digests, data.rows]) expect(array.byteLength).toBe(array.buffer.byteLength);
    }
  });

  it('answers lookups in a store of no keys and of one key', () => {
    const none = KeyStore.fromKeys([]);
    expect(none.byId.get(keys[0].id)).toBeUndefined();
    expect(none.slotOf(keys[0].id)).toBe(-1);
    const one = KeyStore.fromKeys([keys[3]]);
    expect(one.byId.get(keys[3].id)!.name).toBe('key-3');
    expect(one.byId.get(keys[4].id)).toBeUndefined();
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

describe('a stored key', () => {
  const rule = (path: string, owner: string, index: number, line: number): CompiledRule =>
    compileRule({ service: 'compute', path }, { owner, index, file: '/keys.yaml', line, col: 7 }) as CompiledRule;
  const full: KeyRecord = {
    ...key(3),
    scope: 'restricted',
    allow: new RuleMatcher([rule('/v2/**', 'key K00000000003 allow', 0, 10), rule('/v3/**', 'key K00000000003 allow', 1, 11)]),
    deny: new RuleMatcher([rule('/v2/admin/**', 'key K00000000003 deny', 0, 13)]),
    shadow: {
      allow: new RuleMatcher([rule('/v2/servers/**', 'key K00000000003 shadow allow', 0, 15)]),
      deny: new RuleMatcher([
        rule('/v2/servers/*/x', 'key K00000000003 shadow deny', 0, 17),
        rule('/v2/servers/*/y', 'key K00000000003 shadow deny', 1, 18),
      ]),
    },
    sourceIPs: compileCidrs(['10.0.0.0/8']),
    disabled: true,
    expires: Date.parse('2030-01-01T00:00:00Z'),
    notBefore: Date.parse('2026-01-01T00:00:00Z'),
    issued: Date.parse('2026-02-01T00:00:00Z'),
    previous: { hash: parseHash(hashFast('old')) as ParsedHash, expires: Date.parse('2026-03-01T00:00:00Z') },
    comment: 'a comment',
    created: '2026-01-01T00:00:00Z',
    rotated: '2026-02-01T00:00:00Z',
  };
  const fields = (k: KeyRecord): unknown => ({
    ...Object.fromEntries(
      (
        [
          'id',
          'user',
          'name',
          'scope',
          'disabled',
          'legacy',
          'expires',
          'notBefore',
          'issued',
          'comment',
          'created',
          'rotated',
          'file',
          'line',
          'col',
        ] as const
      ).map((f) => [f, k[f]]),
    ),
    hash: k.hash.text,
    previous: k.previous && { hash: k.previous.hash.text, expires: k.previous.expires },
    sourceIPs: k.sourceIPs?.text,
    rules: [k.allow, k.deny, k.shadow?.allow, k.shadow?.deny].map((m) => m?.rules.map((r) => ({ text: r.path.text, origin: r.origin }))),
  });

  it('reads every field of the key it was stored from, those read when asked included', () => {
    const store = KeyStore.fromKeys([key(1), full, key(5)]);
    const stored = store.byId.get(full.id)!;
    expect(fields(stored)).toEqual(fields(full));
    expect(stored.shadow).toBe(stored.shadow);
    expect(fields(store.byId.get(key(5).id)!)).toEqual(fields(key(5)));
  });

  it('names the rule that decides with its origin, one object per rule', () => {
    const stored = KeyStore.fromKeys([full]).byId.get(full.id)!;
    const request = { region: 'eu-west-1', service: 'compute', method: 'GET', segments: pathSegments('/v3/servers') };
    const matched = stored.allow.match(request)!;
    expect(matched.origin).toEqual({ owner: 'key K00000000003 allow', index: 1, file: '/keys.yaml', line: 11, col: 7 });
    expect(stored.allow.match(request)).toBe(matched);
    expect(stored.allow.rules[1]).toBe(matched);
  });
});
