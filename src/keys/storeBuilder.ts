import { methodsText } from '../policy/methods.js';
import type { CompiledRule } from '../policy/rules.js';
import type { KeyRecord } from './record.js';
import {
  createdMs,
  DIGEST_BYTES,
  F,
  FIELD_COUNT,
  FLAG,
  ID_BYTES,
  idHashAt,
  MAX_KEYS,
  NONE,
  R,
  ROW_BYTES,
  ROW_TIMES,
  ROW_WORDS,
  rowViews,
  SLOT_SHIFT,
  T,
  type KeyStoreData,
} from './storeData.js';

/** Lays validated keys out as a KeyStoreData (see StoreLayout). */
export function buildStoreData(keys: readonly KeyRecord[]): KeyStoreData {
  const layout = new StoreLayout();
  for (const key of keys) layout.add(key);
  return layout.finish().data;
}

/**
 * A key as the quick reader has it (quickReader.ts): already validated, only the fields
 * that reader takes (no shadow scope, source IPs, KDF or previous hash, rate limits,
 * client certificate); reused from key to key.
 */
export interface PlainKey {
  id: string;
  user: string;
  name: string;
  comment: string | undefined;
  created: string | undefined;
  /** As written (`key rotate`). */
  rotated: string | undefined;
  file: string;
  line: number;
  col: number;
  allowSet: number;
  denySet: number;
  /** Line, column of each allow rule, then of each deny rule. */
  readonly rulePositions: number[];
  /** Epoch ms; NaN when absent. */
  expires: number;
  notBefore: number;
  /** When the secret was issued (from `rotated`, else `created`); NaN when unknown. */
  issued: number;
  disabled: boolean;
  legacy: boolean;
  inherit: boolean;
  /** The sha256 digest. */
  readonly digest: Buffer;
}

/** A key whose id an earlier key already has: both slots, in file order. */
export type DuplicateId = readonly [slot: number, first: number];

/**
 * Lays validated keys out one at a time, as they are read: fixed-size fields in typed
 * arrays that grow, digests in one slab, text in one UTF-8 slab, each user, file, rule
 * list and source-IP list once. The reader keeps no record of a key once it is here,
 * so what a load holds grows by about 150 bytes a key, not by the key's objects. Runs
 * where the keys are read (the load worker), so the main thread only receives the result.
 */
export class StoreLayout {
  #count = 0;
  #capacity = 0;
  #rows = rowViews(new ArrayBuffer(0));
  #fields = new Uint32Array(0);
  #digests = new Uint8Array(0);
  #positions = new GrowingUint32();
  readonly #text = new TextSlab();
  /** Users and files: few, shared by many keys. Names, comments and dates are mostly one key's own and are not looked up. */
  readonly #shared = new Map<string, number>();
  /** User numbers by name, and each user's string index by number. */
  readonly #userNumbers = new Map<string, number>();
  readonly #users = new GrowingUint32();
  readonly #ruleSets = new Interner<readonly CompiledRule[]>();
  readonly #cidrSets = new Interner<readonly string[]>();
  #slowHashes: [number, string][] = [];
  #graceHashes: [number, string, number][] = [];
  #legacySlots: number[] = [];

  constructor() {
    this.#ruleSets.add('', []);
  }

  get count(): number {
    return this.#count;
  }

  add(key: KeyRecord): void {
    const slot = this.#newSlot(key.id);
    const f = slot * FIELD_COUNT;
    const fields = this.#fields;
    const ruleSets = this.#ruleSets;
    const { rowWords: words, rowTimes: times } = this.#rows;
    const w = slot * ROW_WORDS;
    const t = slot * ROW_TIMES;
    words[w + R.user] = this.#userNumber(key.user);
    fields[f + F.name] = this.#text.add(key.name);
    fields[f + F.comment] = this.#text.add(key.comment);
    fields[f + F.created] = this.#text.add(key.created);
    fields[f + F.rotated] = this.#text.add(key.rotated);
    fields[f + F.file] = this.#sharedText(key.file);
    fields[f + F.line] = key.line;
    fields[f + F.col] = key.col;
    words[w + R.allowSet] = addRules(ruleSets, key.allow.rules);
    words[w + R.denySet] = addRules(ruleSets, key.deny.rules);
    words[w + R.sourceIPs] = key.sourceIPs ? this.#cidrSets.add(key.sourceIPs.text.join(','), key.sourceIPs.text) : NONE;
    fields[f + F.rulePositions] = this.#positions.length / 2;
    const shadowAllow = key.shadow?.allow?.rules;
    const shadowDeny = key.shadow?.deny?.rules;
    fields[f + F.shadowAllowSet] = shadowAllow ? addRules(ruleSets, shadowAllow) : NONE;
    fields[f + F.shadowDenySet] = shadowDeny ? addRules(ruleSets, shadowDeny) : NONE;
    for (const list of [key.allow.rules, key.deny.rules, shadowAllow ?? [], shadowDeny ?? []])
      for (const rule of list) this.#positions.push2(rule.origin.line ?? 0, rule.origin.col ?? 0);
    times[t + T.expires] = key.expires ?? NaN;
    times[t + T.notBefore] = key.notBefore ?? NaN;
    times[t + T.issued] = key.issued ?? NaN;
    times[t + T.created] = createdMs(key.created);
    let flags = (key.disabled ? FLAG.disabled : 0) | (key.legacy ? FLAG.legacy : 0) | (key.scope === 'inherit' ? FLAG.inherit : 0);
    if (key.legacy) this.#legacySlots.push(slot);
    if (key.previous) this.#graceHashes.push([slot, key.previous.hash.text, key.previous.expires]);
    if (key.hash.algorithm === 'sha256') this.#digests.set(key.hash.digest, slot * DIGEST_BYTES);
    else {
      flags |= FLAG.slowHash;
      this.#slowHashes.push([slot, key.hash.text]);
    }
    words[w + R.flags] = flags;
  }

  /** A key of the quick reader, laid out as `add` lays out the same key's record. */
  addPlain(key: PlainKey): void {
    const slot = this.#newSlot(key.id);
    const f = slot * FIELD_COUNT;
    const fields = this.#fields;
    const { rowWords: words, rowTimes: times } = this.#rows;
    const w = slot * ROW_WORDS;
    const t = slot * ROW_TIMES;
    words[w + R.user] = this.#userNumber(key.user);
    fields[f + F.name] = this.#text.add(key.name);
    fields[f + F.comment] = this.#text.add(key.comment);
    fields[f + F.created] = this.#text.add(key.created);
    fields[f + F.rotated] = this.#text.add(key.rotated);
    fields[f + F.file] = this.#sharedText(key.file);
    fields[f + F.line] = key.line;
    fields[f + F.col] = key.col;
    words[w + R.allowSet] = key.allowSet;
    words[w + R.denySet] = key.denySet;
    words[w + R.sourceIPs] = NONE;
    fields[f + F.rulePositions] = this.#positions.length / 2;
    fields[f + F.shadowAllowSet] = NONE;
    fields[f + F.shadowDenySet] = NONE;
    for (const n of key.rulePositions) this.#positions.push(n);
    times[t + T.expires] = key.expires;
    times[t + T.notBefore] = key.notBefore;
    times[t + T.issued] = key.issued;
    times[t + T.created] = createdMs(key.created);
    this.#digests.set(key.digest, slot * DIGEST_BYTES);
    words[w + R.flags] = (key.disabled ? FLAG.disabled : 0) | (key.legacy ? FLAG.legacy : 0) | (key.inherit ? FLAG.inherit : 0);
    if (key.legacy) this.#legacySlots.push(slot);
  }

  /**
   * Room for `keys` more keys. A load that knows about how many keys a file holds says so
   * first: growing by doubling, then cutting to size, allocated ~2.6× the arrays' final
   * size, and on a virtual machine each fresh page costs a page fault of ~8 µs (100,000
   * keys: 5,500 faults more, ~45 ms of a ~620 ms cold load).
   */
  reserve(keys: number): void {
    const wanted = this.#count + keys;
    if (wanted > this.#capacity) this.#grow(Math.min(wanted, MAX_KEYS));
  }

  /** The index of a list of rules (equal lists share one). */
  addRuleSet(rules: readonly CompiledRule[]): number {
    return addRules(this.#ruleSets, rules);
  }

  /**
   * Forgets the keys added after the first `count` (a fast read that gave up half-way
   * through a file). Their text and rule sets stay in the slabs, unreferenced.
   */
  truncate(count: number): void {
    if (count >= this.#count) return;
    this.#positions.length = this.#fields[count * FIELD_COUNT + F.rulePositions] * 2;
    this.#digests.fill(0, count * DIGEST_BYTES, this.#count * DIGEST_BYTES);
    this.#slowHashes = this.#slowHashes.filter(([slot]) => slot < count);
    this.#graceHashes = this.#graceHashes.filter(([slot]) => slot < count);
    this.#legacySlots = this.#legacySlots.filter((slot) => slot < count);
    this.#count = count;
  }

  /** The store's data, each array cut to size, and the keys whose id an earlier key has (a lookup finds the earlier one). */
  finish(): { data: KeyStoreData; duplicates: DuplicateId[] } {
    const count = this.#count;
    const { rows, buckets, rowOf, duplicates } = bucketOrder(this.#rows, count);
    const text = this.#text.finish();
    return {
      data: {
        count,
        ...rows,
        buckets,
        rowOf,
        fields: cutTo(this.#fields, count * FIELD_COUNT),
        digests: cutTo(this.#digests, count * DIGEST_BYTES),
        rulePositions: this.#positions.finish(),
        strings: text.bytes,
        stringEnds: text.ends,
        users: this.#users.finish(),
        ruleSets: this.#ruleSets.values.map((rules) => rules.map(withoutOrigin)),
        cidrSets: this.#cidrSets.values,
        slowHashes: this.#slowHashes,
        graceHashes: this.#graceHashes,
        legacySlots: this.#legacySlots,
      },
      duplicates,
    };
  }

  #newSlot(id: string): number {
    if (this.#count === MAX_KEYS) throw new Error(`a key store holds at most ${MAX_KEYS.toLocaleString('en-US')} keys`);
    if (this.#count === this.#capacity) this.#grow(Math.max(1024, this.#capacity * 2));
    const slot = this.#count++;
    const rows = this.#rows.rows;
    for (let i = 0; i < ID_BYTES; i++) rows[slot * ROW_BYTES + i] = id.charCodeAt(i);
    return slot;
  }

  #sharedText(s: string): number {
    let i = this.#shared.get(s);
    if (i === undefined) this.#shared.set(s, (i = this.#text.add(s)));
    return i;
  }

  #userNumber(user: string): number {
    let n = this.#userNumbers.get(user);
    if (n === undefined) {
      n = this.#users.length;
      this.#userNumbers.set(user, n);
      this.#users.push(this.#sharedText(user));
    }
    return n;
  }

  #grow(capacity: number): void {
    const grown = <T extends Uint8Array | Uint32Array>(old: T, make: (n: number) => T, per: number): T => {
      const next = make(capacity * per);
      next.set(old);
      return next;
    };
    this.#rows = rowViews(grown(this.#rows.rows, (n) => new Uint8Array(n), ROW_BYTES).buffer);
    this.#fields = grown(this.#fields, (n) => new Uint32Array(n), FIELD_COUNT);
    this.#digests = grown(this.#digests, (n) => new Uint8Array(n), DIGEST_BYTES);
    this.#capacity = capacity;
  }
}

/** `array` with `length` elements: itself when it has that many (the arrays were reserved right), else a copy. */
function cutTo<T extends Uint8Array | Uint32Array>(array: T, length: number): T {
  return array.length === length ? array : (array.slice(0, length) as T);
}

/** A Uint32Array that grows as numbers are pushed. */
class GrowingUint32 {
  #a = new Uint32Array(1024);
  length = 0;

  push(a: number): void {
    if (this.length === this.#a.length) {
      const next = new Uint32Array(this.#a.length * 2);
      next.set(this.#a);
      this.#a = next;
    }
    this.#a[this.length++] = a;
  }

  push2(a: number, b: number): void {
    this.push(a);
    this.push(b);
  }

  finish(): Uint32Array {
    return this.#a.slice(0, this.length);
  }
}

/** Strings as UTF-8, one after another: string i ends at `ends[i]`. */
class TextSlab {
  #bytes = Buffer.allocUnsafe(64 * 1024);
  #used = 0;
  readonly #ends = new GrowingUint32();

  /** The string's index; NONE for undefined. */
  add(s: string | undefined): number {
    if (s === undefined) return NONE;
    const most = s.length * 3;
    if (this.#used + most > this.#bytes.length) {
      const next = Buffer.allocUnsafe(Math.max(this.#bytes.length * 2, this.#used + most));
      this.#bytes.copy(next, 0, 0, this.#used);
      this.#bytes = next;
    }
    this.#used += this.#bytes.write(s, this.#used, 'utf8');
    this.#ends.push(this.#used);
    return this.#ends.length - 1;
  }

  finish(): { bytes: Uint8Array; ends: Uint32Array } {
    return { bytes: new Uint8Array(this.#bytes.subarray(0, this.#used)), ends: this.#ends.finish() };
  }
}

/** Equal values, one index: `key` is the value's canonical text. */
class Interner<T> {
  readonly values: T[] = [];
  readonly #index = new Map<string, number>();

  add(key: string, value: T): number {
    let i = this.#index.get(key);
    if (i === undefined) {
      i = this.values.push(value) - 1;
      this.#index.set(key, i);
    }
    return i;
  }
}

/** Rule lists are equal when every rule matches the same requests: same order, service, methods, path, regions. */
function addRules(sets: Interner<readonly CompiledRule[]>, rules: readonly CompiledRule[]): number {
  const canonical = rules
    .map((r) => `${r.service} ${methodsText(r.methods)} ${r.path.text} ${r.regions ? [...r.regions].join(',') : '*'}`)
    .join('\n');
  return sets.add(canonical, rules);
}

/** The origin is the key's own (rebuilt from its id and rule positions); the shared rule keeps only its position in the list. */
function withoutOrigin(rule: CompiledRule): CompiledRule {
  return { ...rule, origin: { owner: '', index: rule.origin.index } };
}

/** The shift that takes an id's hash to its bucket: about two keys a bucket. */
function bucketShift(count: number): number {
  let bits = 1;
  while (2 ** bits < count / 2) bits++;
  return 32 - bits;
}

/**
 * The rows laid out by their id's hash bucket (KeyStoreData.buckets), each bucket's in
 * file order, with each key's slot in its row; a key whose id an earlier key has is
 * reported with that key's slot (a lookup finds the earlier one first).
 */
function bucketOrder(
  from: Pick<KeyStoreData, 'rows' | 'rowWords'>,
  count: number,
): { rows: ReturnType<typeof rowViews>; buckets: Uint32Array; rowOf: Uint32Array; duplicates: DuplicateId[] } {
  const shift = bucketShift(count);
  const bucketCount = 2 ** (32 - shift);
  const buckets = new Uint32Array(bucketCount + 1);
  const bucketOf = new Uint32Array(count);
  for (let slot = 0; slot < count; slot++) {
    const b = idHashAt(from.rows, slot * ROW_BYTES) >>> shift;
    bucketOf[slot] = b;
    buckets[b + 1]++;
  }
  for (let b = 0; b < bucketCount; b++) buckets[b + 1] += buckets[b];
  const next = buckets.slice(0, bucketCount);
  const rows = rowViews(new ArrayBuffer(count * ROW_BYTES));
  const words = rows.rowWords;
  const rowOf = new Uint32Array(count);
  const duplicates: DuplicateId[] = [];
  for (let slot = 0; slot < count; slot++) {
    const b = bucketOf[slot];
    const row = next[b]++;
    for (let earlier = buckets[b]; earlier < row; earlier++) {
      if (!sameId(rows.rows, earlier, from.rows, slot)) continue;
      duplicates.push([slot, words[earlier * ROW_WORDS + R.flags] >>> SLOT_SHIFT]);
      break;
    }
    for (let i = 0; i < ROW_WORDS; i++) words[row * ROW_WORDS + i] = from.rowWords[slot * ROW_WORDS + i];
    words[row * ROW_WORDS + R.flags] |= slot << SLOT_SHIFT;
    rowOf[slot] = row;
  }
  return { rows, buckets, rowOf, duplicates };
}

function sameId(rowsA: Uint8Array, a: number, rowsB: Uint8Array, b: number): boolean {
  for (let i = 0; i < ID_BYTES; i++) if (rowsA[a * ROW_BYTES + i] !== rowsB[b * ROW_BYTES + i]) return false;
  return true;
}
