import type { KeyStore } from './store.js';
import { F, FIELD_COUNT, FLAG, R, ROW_WORDS } from './storeData.js';

/** What a load warns about for one key (config/load.ts words the warnings). */
export interface KeyWarnings {
  readonly slot: number;
  /** The first key of the same user with the same name, when this is not it. */
  readonly twin: number | undefined;
  readonly unknownUser: boolean;
  /** A legacy key whose low-entropy secret is hashed with a KDF. */
  readonly weakLegacy: boolean;
  readonly restrictedWithoutAllow: boolean;
}

/**
 * The keys a load warns about, in file order, read from the store's arrays: no record,
 * no string and no map entry per key (a million keys are checked at every load), only
 * the keys that need a warning get their facts read.
 */
export function* keysWorthAWarning(store: KeyStore, knownUser: (user: string) => boolean): Generator<KeyWarnings> {
  const data = store.data;
  const { rowWords: words, rowOf, ruleSets } = data;
  const twins = sameUserAndName(store);
  /** By user number: users are few per file. */
  const userKnown = new Map<number, boolean>();
  for (let slot = 0; slot < data.count; slot++) {
    const w = rowOf[slot] * ROW_WORDS;
    const user = words[w + R.user];
    let known = userKnown.get(user);
    if (known === undefined) userKnown.set(user, (known = knownUser(store.facts(slot).user)));
    const flag = words[w + R.flags];
    const weakLegacy = (flag & FLAG.legacy) !== 0 && (flag & FLAG.slowHash) !== 0;
    const restrictedWithoutAllow = (flag & FLAG.inherit) === 0 && ruleSets[words[w + R.allowSet]].length === 0;
    const twin = twins.get(slot);
    if (twin !== undefined || !known || weakLegacy || restrictedWithoutAllow)
      yield { slot, twin, unknownUser: !known, weakLegacy, restrictedWithoutAllow };
  }
}

/**
 * Keys with a name that an earlier key of the same user already has: slot → that
 * earlier key's slot. Open addressing over the names' UTF-8 bytes in the store's slab
 * and the user's number (equal users have one).
 */
function sameUserAndName(store: KeyStore): Map<number, number> {
  const { count, fields, rowWords: words, rowOf, strings, stringEnds } = store.data;
  let size = 16;
  while (size < count * 2) size *= 2;
  const table = new Uint32Array(size);
  const mask = size - 1;
  const twins = new Map<number, number>();
  for (let slot = 0; slot < count; slot++) {
    const name = fields[slot * FIELD_COUNT + F.name];
    const start = name === 0 ? 0 : stringEnds[name - 1];
    const end = stringEnds[name];
    if (start === end) continue; // no name: not compared
    const user = words[rowOf[slot] * ROW_WORDS + R.user];
    let h = Math.imul(0x811c9dc5 ^ user, 0x01000193);
    for (let i = start; i < end; i++) h = Math.imul(h ^ strings[i], 0x01000193);
    for (let i = (h >>> 0) & mask; ; i = (i + 1) & mask) {
      if (table[i] === 0) {
        table[i] = slot + 1;
        break;
      }
      const first = table[i] - 1;
      if (sameName(store, first, slot)) {
        twins.set(slot, first);
        break;
      }
    }
  }
  return twins;
}

/** Same user number and the same name bytes; confirmed on the strings (two lone surrogates write the same bytes). */
function sameName(store: KeyStore, a: number, b: number): boolean {
  const { fields, rowWords: words, rowOf, strings, stringEnds } = store.data;
  if (words[rowOf[a] * ROW_WORDS + R.user] !== words[rowOf[b] * ROW_WORDS + R.user]) return false;
  const fa = a * FIELD_COUNT;
  const fb = b * FIELD_COUNT;
  const [na, nb] = [fields[fa + F.name], fields[fb + F.name]];
  const [sa, sb] = [na === 0 ? 0 : stringEnds[na - 1], nb === 0 ? 0 : stringEnds[nb - 1]];
  const length = stringEnds[na] - sa;
  if (stringEnds[nb] - sb !== length) return false;
  for (let i = 0; i < length; i++) if (strings[sa + i] !== strings[sb + i]) return false;
  return store.facts(a).name === store.facts(b).name;
}
