import type { ParsedHash } from '../auth/hash.js';
import type { CidrSet } from '../policy/cidr.js';
import type { RuleMatcher, RuleNamer } from '../policy/matcher.js';
import type { KeyScope, KeyShadowScope, UserPolicy } from '../policy/model.js';
import type { RuleOrigin } from '../policy/rules.js';
import type { KeyRecord } from './record.js';
import { F, FIELD_COUNT, FLAG, NONE, presentTime, R, ROW_TIMES, ROW_WORDS, T, type KeyStoreData } from './storeData.js';

/** What a StoredKey reads of its store: the arrays, and the store's decoders of shared parts. */
export interface StoreReads {
  readonly data: KeyStoreData;
  /** String `index` (NONE: undefined). */
  text(index: number): string | undefined;
  /** String `index` as one object shared by every key that has it (users, files). */
  shared(index: number): string;
  /** The name of user number `user`. */
  userName(user: number): string;
  /** User number `user` among `users` (the policy's). */
  userIn(users: ReadonlyMap<string, UserPolicy>, user: number): UserPolicy | undefined;
  /** Rule set `set` as the list `list` that `namer` names. */
  matcher(set: number, namer: RuleNamer, list: string): RuleMatcher;
  cidrs(index: number): CidrSet;
  hash(slot: number): ParsedHash;
  previous(slot: number): KeyRecord['previous'];
}

const ALLOW = 'allow';
const DENY = 'deny';
const SHADOW_ALLOW = 'shadow allow';
const SHADOW_DENY = 'shadow deny';

/**
 * A key of the store as a KeyRecord. What a decision reads (state, dates, user, rules) is
 * read when the record is made; the rest (name, texts, hash, shadow scope, position) when
 * first asked for. At a million keys nearly every lookup makes a record, and decoding the
 * name and the dates as texts, the hash view and the shadow scope cost more than the
 * decision (bench:policy).
 */
export class StoredKey implements KeyRecord, RuleNamer {
  readonly id: string;
  readonly scope: KeyScope;
  readonly allow: RuleMatcher;
  readonly deny: RuleMatcher;
  readonly sourceIPs: CidrSet | null;
  readonly disabled: boolean;
  readonly legacy: boolean;
  readonly expires: number | undefined;
  readonly notBefore: number | undefined;
  readonly #store: StoreReads;
  readonly #slot: number;
  readonly #row: number;
  readonly #user: number;
  #name: string | undefined;
  #hash: ParsedHash | undefined;
  /** null until first read: a key without a shadow scope has undefined. */
  #shadow: KeyShadowScope | undefined | null = null;

  /** `slot`: the key's place in file order (its fields); `row`: its row. */
  constructor(store: StoreReads, slot: number, row: number, id: string) {
    const d = store.data;
    const words = d.rowWords;
    const w = row * ROW_WORDS;
    const flags = words[w + R.flags];
    const t = row * ROW_TIMES;
    this.#store = store;
    this.#slot = slot;
    this.#row = row;
    this.id = id;
    this.#user = words[w + R.user];
    this.scope = flags & FLAG.inherit ? 'inherit' : 'restricted';
    this.allow = store.matcher(words[w + R.allowSet], this, ALLOW);
    this.deny = store.matcher(words[w + R.denySet], this, DENY);
    const cidr = words[w + R.sourceIPs];
    this.sourceIPs = cidr === NONE ? null : store.cidrs(cidr);
    this.disabled = (flags & FLAG.disabled) !== 0;
    this.legacy = (flags & FLAG.legacy) !== 0;
    this.expires = presentTime(d.rowTimes[t + T.expires]);
    this.notBefore = presentTime(d.rowTimes[t + T.notBefore]);
  }

  get user(): string {
    return this.#store.userName(this.#user);
  }

  userIn(users: ReadonlyMap<string, UserPolicy>): UserPolicy | undefined {
    return this.#store.userIn(users, this.#user);
  }

  get name(): string {
    return (this.#name ??= this.#text(F.name) ?? '');
  }

  get hash(): ParsedHash {
    return (this.#hash ??= this.#store.hash(this.#slot));
  }

  get previous(): KeyRecord['previous'] {
    return this.#store.previous(this.#slot);
  }

  get shadow(): KeyShadowScope | undefined {
    if (this.#shadow === null) this.#shadow = this.#shadowScope();
    return this.#shadow;
  }

  #shadowScope(): KeyShadowScope | undefined {
    const allowSet = this.#field(F.shadowAllowSet);
    const denySet = this.#field(F.shadowDenySet);
    if (allowSet === NONE && denySet === NONE) return undefined;
    const allow = allowSet === NONE ? undefined : this.#store.matcher(allowSet, this, SHADOW_ALLOW);
    const deny = denySet === NONE ? undefined : this.#store.matcher(denySet, this, SHADOW_DENY);
    return { ...(allow ? { allow } : {}), ...(deny ? { deny } : {}) };
  }

  /** Where rule `index` of list `list` is written: the key's rule positions are its allow, deny, shadow allow, then shadow deny rules. */
  ruleOrigin(list: string, index: number): RuleOrigin {
    let at = this.#field(F.rulePositions) + index;
    if (list !== ALLOW) at += this.allow.size;
    if (list === SHADOW_ALLOW || list === SHADOW_DENY) at += this.deny.size;
    if (list === SHADOW_DENY) at += this.shadow?.allow?.size ?? 0;
    const positions = this.#store.data.rulePositions;
    return { owner: `key ${this.id} ${list}`, index, file: this.file, line: positions[at * 2], col: positions[at * 2 + 1] };
  }

  get issued(): number | undefined {
    return presentTime(this.#store.data.rowTimes[this.#row * ROW_TIMES + T.issued]);
  }

  get comment(): string | undefined {
    return this.#text(F.comment);
  }

  get created(): string | undefined {
    return this.#text(F.created);
  }

  get rotated(): string | undefined {
    return this.#text(F.rotated);
  }

  get file(): string {
    return this.#store.shared(this.#field(F.file));
  }

  get line(): number {
    return this.#field(F.line);
  }

  get col(): number {
    return this.#field(F.col);
  }

  #field(field: number): number {
    return this.#store.data.fields[this.#slot * FIELD_COUNT + field];
  }

  #text(field: number): string | undefined {
    return this.#store.text(this.#field(field));
  }
}
