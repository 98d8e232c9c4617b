import { parseHash, type ParsedHash } from '../auth/hash.js';
import type { KeyIndex, KeyLookup } from '../auth/verifier.js';
import { compileCidrs, type CidrSet } from '../policy/cidr.js';
import { RuleMatcher, RuleSet } from '../policy/matcher.js';
import { keyStateWith, type KeyState, type Policy, type UserPolicy } from '../policy/model.js';
import type { CompiledRule } from '../policy/rules.js';
import type { KeyRecord } from './record.js';
import { StoredKey, type StoreReads } from './storedKey.js';
import { buildStoreData } from './storeBuilder.js';
import {
  DIGEST_BYTES,
  F,
  FIELD_COUNT,
  FLAG,
  ID_BYTES,
  idHash,
  NONE,
  presentTime,
  R,
  ROW_BYTES,
  ROW_TIMES,
  ROW_WORDS,
  SLOT_SHIFT,
  T,
  type KeyStoreData,
} from './storeData.js';

/** Records a store keeps at hand for lookups, by slot modulo this power of two (about 1 MB at most). */
const RECENT_RECORDS = 1024;

/** What a load's checks read of a key: `hash` only for legacy keys (their secrets are compared across keys). */
export interface KeyFacts extends Pick<KeyRecord, 'id' | 'user' | 'name' | 'scope' | 'legacy' | 'file' | 'line' | 'col'> {
  readonly allowCount: number;
  readonly hash?: ParsedHash;
}

/**
 * Every key of a snapshot, compact: about 160 bytes a key in typed arrays instead of a
 * thousand in objects. A lookup by id reads its hash bucket (a row or three, side by
 * side; see KeyStoreData.buckets) and returns a KeyRecord built for the caller (a few
 * small objects), sharing the compiled rule sets of every key with the same scope.
 * Immutable once built.
 */
export class KeyStore implements KeyIndex<KeyRecord>, Iterable<KeyRecord> {
  readonly byId: KeyLookup<KeyRecord>;
  readonly legacyByDigest: KeyLookup<KeyRecord>;
  readonly legacySlow: readonly KeyRecord[];
  readonly #d: KeyStoreData;
  readonly #strings: Buffer;
  readonly #rows: Buffer;
  /** idHash >>> this: an id's bucket. */
  readonly #shift: number;
  readonly #digests: Buffer;
  readonly #ruleSets: readonly RuleSet[];
  readonly #emptyRules = new RuleMatcher([]);
  readonly #cidrs: readonly CidrSet[];
  readonly #slowHashes: ReadonlyMap<number, ParsedHash>;
  readonly #graceHashes: ReadonlyMap<number, NonNullable<KeyRecord['previous']>>;
  /** What the records this store makes read of it. */
  readonly #reads: StoreReads;
  /** Decoded strings that many keys share (users, files), by string index. */
  readonly #shared = new Map<number, string>();
  /** Users' names by user number, decoded when first asked for. */
  readonly #userNames: (string | undefined)[];
  /** Each user resolved against the last two policies' users (null: not there); two, so a reload's overlap does not thrash. */
  #resolved: UsersResolved | undefined;
  #resolvedBefore: UsersResolved | undefined;
  /**
   * Records of keys looked up again lately, direct-mapped by slot: building one (strings,
   * rule matchers with their origins, the hash object) cost ~1 µs per lookup, and a client
   * sends the same key again and again. A record is kept only on a key's second lookup in
   * a row of its line (#seen): traffic spread over many more keys than the lines (a front
   * proxy's) then builds short-lived records as before, instead of keeping each for a while
   * and paying for it in the old generation (bench:policy at 1,000,000 keys: 5.5 → 7.6 µs a
   * decision with a keep-everything cache). The store never changes, so none goes stale.
   */
  readonly #recentSlot = new Int32Array(RECENT_RECORDS).fill(-1);
  readonly #recent: (KeyRecord | undefined)[] = new Array<KeyRecord | undefined>(RECENT_RECORDS).fill(undefined);
  readonly #seen = new Int32Array(RECENT_RECORDS).fill(-1);

  static fromKeys(keys: readonly KeyRecord[]): KeyStore {
    return new KeyStore(buildStoreData(keys));
  }

  /** `data` as built by buildStoreData, here or in a worker (its rule sets then arrive unfrozen). */
  constructor(data: KeyStoreData) {
    this.#d = data;
    this.#strings = Buffer.from(data.strings.buffer, data.strings.byteOffset, data.strings.byteLength);
    this.#rows = Buffer.from(data.rows.buffer, data.rows.byteOffset, data.rows.byteLength);
    this.#shift = 1 + Math.clz32(data.buckets.length - 1);
    this.#digests = Buffer.from(data.digests.buffer, data.digests.byteOffset, data.digests.byteLength);
    this.#ruleSets = data.ruleSets.map((rules) => new RuleSet(rules.map(freezeRule)));
    this.#cidrs = data.cidrSets.map((texts) => compileCidrs(texts));
    this.#slowHashes = new Map(data.slowHashes.map(([slot, text]) => [slot, parsed(text)]));
    this.#graceHashes = new Map(data.graceHashes.map(([slot, text, expires]) => [slot, Object.freeze({ hash: parsed(text), expires })]));
    this.#userNames = new Array<string | undefined>(data.users.length).fill(undefined);
    this.#reads = {
      data,
      text: (index) => this.#string(index),
      shared: (index) => this.#sharedString(index),
      userName: (user) => this.#userName(user),
      userIn: (users, user) => this.#userIn(users, user),
      matcher: (set, namer, list) => {
        const rules = this.#ruleSets[set];
        return rules.rules.length === 0 ? this.#emptyRules : new RuleMatcher(rules, namer, list);
      },
      cidrs: (index) => this.#cidrs[index],
      hash: (slot) => (this.#flags(slot) & FLAG.slowHash ? this.#slowHashes.get(slot)! : new Sha256Hash(this.#digest(slot))),
      previous: (slot) => this.#graceHashes.get(slot),
    };
    this.byId = {
      get: (id) => {
        const row = this.#rowFor(id);
        return row === -1 ? undefined : this.#lookup(this.#slotAt(row), row, id);
      },
      has: (id) => this.#rowFor(id) !== -1,
    };
    const legacySha = new Map<string, number>();
    const slow: KeyRecord[] = [];
    for (const slot of data.legacySlots) {
      if (this.#flags(slot) & FLAG.slowHash) slow.push(this.#record(slot));
      else legacySha.set(this.#digest(slot).toString('base64url'), slot);
    }
    this.legacyByDigest = {
      get: (digest) => {
        const slot = legacySha.get(digest);
        return slot === undefined ? undefined : this.#lookup(slot, data.rowOf[slot]);
      },
      has: (digest) => legacySha.has(digest),
    };
    this.legacySlow = Object.freeze(slow);
  }

  get size(): number {
    return this.#d.count;
  }

  /** The data to send to another thread (see transferables()). */
  get data(): KeyStoreData {
    return this.#d;
  }

  *ids(): IterableIterator<string> {
    for (let slot = 0; slot < this.#d.count; slot++) yield this.#id(slot);
  }

  /** Every key in file order, each built on the way: for commands and reports, not the request path. */
  *[Symbol.iterator](): IterableIterator<KeyRecord> {
    for (let slot = 0; slot < this.#d.count; slot++) yield this.#record(slot);
  }

  list(): KeyRecord[] {
    return [...this];
  }

  /**
   * The state (keyState) at `now` of the keys in rows `first` to `end` (not included; rows
   * are in bucket order, not file order), each with its slot and creation time (`created`
   * read with Date.parse; NaN when absent or unreadable), read from the rows: no record and
   * no string per key, each user looked up once per policy.
   */
  eachKeyState(
    policy: Pick<Policy, 'users' | 'keyRotation'>,
    now: number,
    visit: (slot: number, state: KeyState, created: number) => void,
    first = 0,
    end = this.#d.count,
  ): void {
    const { rowWords: words, rowTimes: times } = this.#d;
    const key: { disabled: boolean; expires: number | undefined; notBefore: number | undefined; issued: number | undefined } = {
      disabled: false,
      expires: undefined,
      notBefore: undefined,
      issued: undefined,
    };
    for (let row = first; row < end; row++) {
      const w = row * ROW_WORDS;
      const t = row * ROW_TIMES;
      key.disabled = (words[w + R.flags] & FLAG.disabled) !== 0;
      key.expires = presentTime(times[t + T.expires]);
      key.notBefore = presentTime(times[t + T.notBefore]);
      key.issued = presentTime(times[t + T.issued]);
      const state = keyStateWith(policy, key, now, this.#userIn(policy.users, words[w + R.user]));
      visit(words[w + R.flags] >>> SLOT_SHIFT, state, times[t + T.created]);
    }
  }

  /** The slot of the key with this id; -1: none. */
  slotOf(id: string): number {
    const row = this.#rowFor(id);
    return row === -1 ? -1 : this.#slotAt(row);
  }

  /** Whether the key in `slot` is a legacy key hashed with sha256 (its digest is compared with other legacy keys'). */
  isLegacySha256(slot: number): boolean {
    const flags = this.#flags(slot);
    return (flags & FLAG.legacy) !== 0 && (flags & FLAG.slowHash) === 0;
  }

  /** The few fields a load's checks read of the key in `slot`, without building its record (rules, hash objects). */
  facts(slot: number): KeyFacts {
    const f = slot * FIELD_COUNT;
    const fields = this.#d.fields;
    const words = this.#d.rowWords;
    const w = this.#d.rowOf[slot] * ROW_WORDS;
    const flags = words[w + R.flags];
    const legacy = (flags & FLAG.legacy) !== 0;
    return {
      id: this.#id(slot),
      user: this.#userName(words[w + R.user]),
      name: this.#string(fields[f + F.name]) ?? '',
      scope: flags & FLAG.inherit ? 'inherit' : 'restricted',
      allowCount: this.#ruleSets[words[w + R.allowSet]].rules.length,
      legacy,
      ...(legacy ? { hash: flags & FLAG.slowHash ? this.#slowHashes.get(slot)! : new Sha256Hash(this.#digest(slot)) } : {}),
      file: this.#sharedString(fields[f + F.file]),
      line: fields[f + F.line],
      col: fields[f + F.col],
    };
  }

  /** The row of the key with this id; -1: none. The bucket's rows are in file order, so the first key with an id wins. */
  #rowFor(id: string): number {
    if (id.length !== ID_BYTES) return -1;
    const buckets = this.#d.buckets;
    const b = idHash(id) >>> this.#shift;
    const end = buckets[b + 1];
    for (let row = buckets[b]; row < end; row++) if (this.#idIs(row, id)) return row;
    return -1;
  }

  #slotAt(row: number): number {
    return this.#d.rowWords[row * ROW_WORDS + R.flags] >>> SLOT_SHIFT;
  }

  #flags(slot: number): number {
    return this.#d.rowWords[this.#d.rowOf[slot] * ROW_WORDS + R.flags];
  }

  #idIs(row: number, id: string): boolean {
    const rows = this.#d.rows;
    const at = row * ROW_BYTES;
    for (let i = 0; i < ID_BYTES; i++) if (rows[at + i] !== id.charCodeAt(i)) return false;
    return true;
  }

  #id(slot: number): string {
    const at = this.#d.rowOf[slot] * ROW_BYTES;
    return this.#rows.toString('latin1', at, at + ID_BYTES);
  }

  #digest(slot: number): Buffer {
    return this.#digests.subarray(slot * DIGEST_BYTES, (slot + 1) * DIGEST_BYTES);
  }

  #string(index: number): string | undefined {
    if (index === NONE) return undefined;
    const ends = this.#d.stringEnds;
    return this.#strings.toString('utf8', index === 0 ? 0 : ends[index - 1], ends[index]);
  }

  #sharedString(index: number): string {
    let s = this.#shared.get(index);
    if (s === undefined) this.#shared.set(index, (s = this.#string(index) ?? ''));
    return s;
  }

  #userName(user: number): string {
    return (this.#userNames[user] ??= this.#sharedString(this.#d.users[user]));
  }

  #userIn(users: ReadonlyMap<string, UserPolicy>, user: number): UserPolicy | undefined {
    let resolved = this.#resolved;
    if (resolved?.users !== users) {
      if (this.#resolvedBefore?.users === users) [resolved, this.#resolvedBefore] = [this.#resolvedBefore, resolved];
      else [resolved, this.#resolvedBefore] = [new UsersResolved(users, this.#d.users.length, (n) => this.#userName(n)), resolved];
      this.#resolved = resolved;
    }
    return resolved.get(user);
  }

  /** The record of the key in `slot` (row `row`) for a lookup: the one built last time when it is still at hand. */
  #lookup(slot: number, row: number, id?: string): KeyRecord {
    const line = slot & (RECENT_RECORDS - 1);
    if (this.#recentSlot[line] === slot) return this.#recent[line]!;
    const record = this.#record(slot, row, id);
    if (this.#seen[line] === slot) {
      this.#recentSlot[line] = slot;
      this.#recent[line] = record;
    } else this.#seen[line] = slot;
    return record;
  }

  #record(slot: number, row = this.#d.rowOf[slot], knownId?: string): KeyRecord {
    return new StoredKey(this.#reads, slot, row, knownId ?? this.#id(slot));
  }
}

/** Every user of a store looked up once in one policy's users, by user number. */
class UsersResolved {
  readonly #byNumber: (UserPolicy | null | undefined)[];

  /** `nameOf`: a user number's name, read only the first time that user is asked for. */
  constructor(
    readonly users: ReadonlyMap<string, UserPolicy>,
    count: number,
    private readonly nameOf: (user: number) => string,
  ) {
    this.#byNumber = new Array<UserPolicy | null | undefined>(count).fill(undefined);
  }

  get(user: number): UserPolicy | undefined {
    let found = this.#byNumber[user];
    if (found === undefined) this.#byNumber[user] = found = this.users.get(this.nameOf(user)) ?? null;
    return found ?? undefined;
  }
}

/** A sha256 hash whose text is made only when asked for (the request path never does). */
class Sha256Hash {
  readonly algorithm = 'sha256' as const;
  constructor(readonly digest: Buffer) {}

  get text(): string {
    return `sha256$${this.digest.toString('base64url')}`;
  }
}

function parsed(text: string): ParsedHash {
  const hash = parseHash(text);
  if ('error' in hash) throw new Error(`a stored hash does not parse: ${hash.error}`);
  return hash;
}

/** Rules built in a worker arrive as plain, unfrozen copies. */
function freezeRule(rule: CompiledRule): CompiledRule {
  Object.freeze(rule.path.segments);
  Object.freeze(rule.path);
  Object.freeze(rule.origin);
  return Object.freeze(rule);
}
