import { readRules, type RuleNames } from '../reader/ruleReader.js';
import type { CompiledRule } from '../policy/rules.js';
import { PlainReader } from './fastReader.js';
import { hasUnusualCharacters, isPlainString, plainBoolean, readFlowValue, readKeyEntryAt, SignificantLines } from './lineReader.js';
import type { Pos } from './locator.js';
import { readKeyEntry } from './reader.js';
import type { KeyRecord } from './record.js';
import type { PlainKey } from './storeBuilder.js';
import { DIGEST_BYTES } from './storeData.js';

/*
 * The quickest path for keys files, for the entries `keygate key` writes: one field a
 * line, plain or simply quoted values, a sha256 hash, instants as `keygate key` writes
 * them (`expires`, `notBefore`, `rotated`), rules as one-line flow mappings.
 * It reads such an entry straight from the text into the store's layout: no parsed
 * node, no key record, the digest decoded into the layout's buffer, each distinct rule
 * list (by its text) validated once by the exact readers and then only looked up. An
 * entry with anything else (another field, a quoted value with an escape, a comment
 * after a value...) goes to the line reader and readKeyEntry, as every entry did before;
 * a file whose structure is not `keys:` and a list of entries, or any entry the exact
 * readers find wrong, makes the caller read the whole file on the usual paths, so every
 * error is reported exactly as before.
 */

/** Where the quick reader puts keys: laid out as read (PlainKey), or as validated records. */
export interface KeySink {
  add(key: KeyRecord): void;
  addPlain(key: PlainKey): void;
  /** The index of a rule list (rules validated by the exact readers). */
  addRuleSet(rules: readonly CompiledRule[]): number;
  /** Room for `keys` more keys: a hint, so the store's arrays are allocated once instead of doubling. */
  reserve(keys: number): void;
}

/** The fields an entry may have on the quick path; any other sends the entry to the line reader. */
const FIELD = {
  id: 1,
  user: 2,
  name: 4,
  hash: 8,
  scope: 16,
  allow: 32,
  deny: 64,
  comment: 128,
  created: 256,
  disabled: 512,
  expires: 1024,
  notBefore: 2048,
  rotated: 4096,
  legacy: 8192,
} as const;
type FieldName = keyof typeof FIELD;
/** The field names by length, so a name is matched in the text without cutting it out. */
const FIELDS_BY_LENGTH: FieldName[][] = [];
for (const name of Object.keys(FIELD) as FieldName[]) (FIELDS_BY_LENGTH[name.length] ??= []).push(name);

/** The field named by text[start, colon), if it is one of FIELD's. */
function fieldAt(text: string, start: number, colon: number): FieldName | undefined {
  const names = FIELDS_BY_LENGTH[colon - start];
  if (names === undefined) return undefined;
  for (const name of names) if (textAt(text, start, name)) return name;
  return undefined;
}

/**
 * Whether `s` is written in `text` at `at`. (A loop over character codes: here, where
 * the text is a whole keys file, String.prototype.startsWith with a position is
 * several times slower.)
 */
function textAt(text: string, at: number, s: string): boolean {
  if (at + s.length > text.length) return false;
  for (let i = 0; i < s.length; i++) if (text.charCodeAt(at + i) !== s.charCodeAt(i)) return false;
  return true;
}
const REQUIRED = FIELD.id | FIELD.user | FIELD.hash;
const KEY_ID = /^[0-9A-Za-z]{12}$/;
const SHA256_PREFIX = 'sha256$';
const SHA256_TEXT_LENGTH = SHA256_PREFIX.length + 43;
const SPACE = 32;
const DASH = 45;
const COLON = 58;
const BRACE = 123;
const QUOTE = 34;
const BACKSLASH = 92;
/** Each base64url character's 6 bits, by character code; -1 for any other character. */
const BASE64URL = ((): Int8Array => {
  const values = new Int8Array(128).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < alphabet.length; i++) values[alphabet.charCodeAt(i)] = i;
  return values;
})();

/** A rule list's rules, validated, and its set in the layout once a key has it. */
interface RuleList {
  readonly rules: readonly CompiledRule[];
  set: number | undefined;
}

/** Signals "this entry is not in the quick shape": the line reader reads it instead. */
const NOT_QUICK = Symbol('not quick');

/**
 * Lays out the keys of a keys file as read; false when the caller must read the file on
 * the usual paths instead (it then drops the keys handed over so far).
 */
export function readKeysQuickly(file: string, text: string, names: RuleNames, sink: KeySink): boolean {
  if (hasUnusualCharacters(text)) return false;
  return new QuickReader(file, text, names, sink).read();
}

class QuickReader {
  /** The current significant line: its start, where its text starts (after the indentation), its end, its number. */
  readonly #line: SignificantLines;
  readonly #plain: PlainReader;
  /** Rule lists by their items' text, once validated. */
  readonly #ruleLists = new Map<string, RuleList>();
  /** The value #scalar found: from #valueStart to #valueEnd, and whether it was double-quoted. */
  #valueStart = 0;
  #valueEnd = 0;
  #quoted = false;
  /** The last user that read as a plain string: keys of one user follow each other. (A newline: none yet.) */
  #user = '\n';
  /** The last allow and deny lists of one item, by their text: most keys share a few scopes. */
  readonly #lastList = new Map<'allow' | 'deny', { text: string; list: RuleList }>();
  /** Rule items' start, end, line and column, four numbers an item: reused from list to list. */
  readonly #items: number[] = [];
  /** The last `created` text and its time (keys written together share it). */
  #created = '\n';
  #createdTime = NaN;
  /** The current entry's `created` and `rotated` times: `rotated`, when there, is when the secret was issued. */
  #entryCreated = NaN;
  #entryRotated = NaN;
  /** Reused for every key: no object per key. */
  readonly #key: PlainKey;

  constructor(
    readonly file: string,
    readonly text: string,
    readonly names: RuleNames,
    readonly sink: KeySink,
  ) {
    this.#line = new SignificantLines(text);
    this.#plain = new PlainReader(file, undefined, new Map());
    this.#key = {
      id: '',
      user: '',
      name: '',
      comment: undefined,
      created: undefined,
      rotated: undefined,
      file,
      line: 0,
      col: 0,
      allowSet: 0,
      denySet: 0,
      rulePositions: [],
      expires: NaN,
      notBefore: NaN,
      issued: NaN,
      disabled: false,
      legacy: false,
      inherit: false,
      digest: Buffer.alloc(DIGEST_BYTES),
    };
  }

  read(): boolean {
    const line = this.#line;
    if (!line.next() || line.content !== line.start) return false;
    const head = this.text.slice(line.start, line.end).trimEnd();
    if (head !== 'keys:' || !line.next()) return false;
    const indent = line.indent;
    this.sink.reserve(countItems(this.text, line.start, indent));
    while (line.no !== 0) {
      if (line.indent !== indent || !this.#startsItem(line.content)) return false;
      const start = line.start;
      const no = line.no;
      const quick = this.#entry(indent);
      if (quick === NOT_QUICK) {
        if (!this.#exactEntry(start, no)) return false;
      } else if (quick === false) return false;
    }
    return true;
  }

  #startsItem(at: number): boolean {
    return this.text.charCodeAt(at) === DASH && this.text.charCodeAt(at + 1) === SPACE;
  }

  /**
   * One entry in the quick shape, handed to the sink; NOT_QUICK (nothing handed over: the
   * caller reads the entry again from its start) when the entry needs the exact readers;
   * false when the file needs them (a rule list they find wrong).
   */
  #entry(indent: number): true | false | typeof NOT_QUICK {
    const text = this.text;
    const line = this.#line;
    const key = this.#key;
    const fieldIndent = indent + 2;
    if (text.charCodeAt(line.content + 2) === SPACE) return NOT_QUICK;
    key.line = line.no;
    key.col = fieldIndent + 1;
    key.name = '';
    key.comment = undefined;
    key.created = undefined;
    key.rotated = undefined;
    key.allowSet = 0;
    key.denySet = 0;
    key.rulePositions.length = 0;
    key.expires = NaN;
    key.notBefore = NaN;
    key.disabled = false;
    key.legacy = false;
    key.inherit = false;
    this.#entryCreated = NaN;
    let seen = 0;
    let denyPositions: number[] | undefined;
    let allow: RuleList | undefined;
    let deny: RuleList | undefined;
    let fieldStart = line.content + 2;
    for (;;) {
      const colon = text.indexOf(':', fieldStart);
      if (colon === -1 || colon >= line.end) return NOT_QUICK;
      const name = fieldAt(text, fieldStart, colon);
      if (name === undefined || (seen & FIELD[name]) !== 0) return NOT_QUICK;
      const bit = FIELD[name];
      seen |= bit;
      let valueStart = colon + 1;
      while (text.charCodeAt(valueStart) === SPACE && valueStart < line.end) valueStart++;
      if (valueStart === line.end) {
        if (name !== 'allow' && name !== 'deny') return NOT_QUICK;
        const positions: number[] = name === 'allow' ? key.rulePositions : (denyPositions = []);
        const list = this.#ruleList(fieldIndent, positions, name);
        if (list === NOT_QUICK || list === false) return list;
        if (name === 'allow') allow = list;
        else deny = list;
      } else {
        if (text.charCodeAt(colon + 1) !== SPACE) return NOT_QUICK;
        if (!this.#scalar(valueStart) || !this.#field(name)) return NOT_QUICK;
        line.next();
      }
      if (line.no === 0 || line.indent !== fieldIndent || this.#startsItem(line.content)) break;
      fieldStart = line.content;
    }
    if (line.no !== 0 && line.indent > fieldIndent) return NOT_QUICK;
    if ((seen & REQUIRED) !== REQUIRED) return NOT_QUICK;
    key.issued = key.rotated === undefined ? this.#entryCreated : this.#entryRotated;
    if (denyPositions) key.rulePositions.push(...denyPositions);
    // Allow, then deny: the order in which the layout numbers a record's rule sets.
    if (allow) key.allowSet = allow.set ??= this.sink.addRuleSet(allow.rules);
    if (deny) key.denySet = deny.set ??= this.sink.addRuleSet(deny.rules);
    this.sink.addPlain(key);
    return true;
  }

  /** A field's value (#scalar's), checked as readKey checks it; false when it needs the exact readers (to say what is wrong). */
  #field(name: FieldName): boolean {
    const key = this.#key;
    switch (name) {
      case 'id': {
        const value = this.#value();
        key.id = value;
        return KEY_ID.test(value) && this.#isString(value);
      }
      case 'user': {
        if (this.#valueIs(this.#user)) {
          key.user = this.#user;
          return true;
        }
        const value = this.#value();
        key.user = value;
        if (!isPlainString(value)) return this.#quoted;
        this.#user = value;
        return true;
      }
      case 'name':
        key.name = this.#value();
        return this.#isString(key.name);
      case 'comment':
        key.comment = this.#value();
        return this.#isString(key.comment);
      case 'created': {
        // Keys written together share it: the last one's checks and time hold.
        if (this.#valueIs(this.#created)) {
          key.created = this.#created;
          this.#entryCreated = this.#createdTime;
          return true;
        }
        const value = this.#value();
        key.created = value;
        this.#entryCreated = Date.parse(value);
        if (!isPlainString(value)) return this.#quoted;
        this.#created = value;
        this.#createdTime = this.#entryCreated;
        return true;
      }
      // Instants only in the form `keygate key` writes them; any other text, valid or not, is the exact readers' to read.
      case 'expires':
        key.expires = canonicalInstant(this.text, this.#valueStart, this.#valueEnd);
        return !Number.isNaN(key.expires);
      case 'notBefore':
        key.notBefore = canonicalInstant(this.text, this.#valueStart, this.#valueEnd);
        return !Number.isNaN(key.notBefore);
      case 'rotated':
        this.#entryRotated = canonicalInstant(this.text, this.#valueStart, this.#valueEnd);
        key.rotated = this.#value();
        return !Number.isNaN(this.#entryRotated);
      // Neither can be anything but a string, quoted or not: their text is checked.
      case 'scope':
        key.inherit = this.#valueIs('inherit');
        return key.inherit || this.#valueIs('restricted');
      case 'hash':
        return decodeSha256(this.text, this.#valueStart, this.#valueEnd, key.digest);
      case 'disabled':
      case 'legacy': {
        const flag = this.#quoted ? undefined : plainBoolean(this.#value());
        key[name] = flag === true;
        return flag !== undefined;
      }
      default:
        return false;
    }
  }

  /** A quoted value, or a plain one that YAML reads as this string (not a number, boolean or null). */
  #isString(value: string): boolean {
    return this.#quoted || isPlainString(value);
  }

  #value(): string {
    return this.text.slice(this.#valueStart, this.#valueEnd);
  }

  #valueIs(s: string): boolean {
    return this.#valueEnd - this.#valueStart === s.length && textAt(this.text, this.#valueStart, s);
  }

  /**
   * The value from `start` to the end of the current line: a double-quoted scalar
   * without escapes (#quoted), or a plain one as written (#isString says whether YAML
   * reads it as a string); false for anything else.
   */
  #scalar(start: number): boolean {
    const text = this.text;
    let end = this.#line.end;
    while (end > start && text.charCodeAt(end - 1) === SPACE) end--;
    this.#quoted = text.charCodeAt(start) === QUOTE;
    if (this.#quoted) {
      if (end - start < 2 || text.charCodeAt(end - 1) !== QUOTE) return false;
      for (let i = start + 1; i < end - 1; i++) {
        const c = text.charCodeAt(i);
        if (c === QUOTE || c === BACKSLASH) return false;
      }
      this.#valueStart = start + 1;
      this.#valueEnd = end - 1;
      return true;
    }
    this.#valueStart = start;
    this.#valueEnd = end;
    return true;
  }

  /**
   * The `- { ... }` items after `allow:` or `deny:` (the current line): their rules, each
   * rule's line and column pushed to `positions`. A list's text is validated by the exact
   * readers the first time it is seen (the rules do not depend on the key).
   */
  #ruleList(fieldIndent: number, positions: number[], field: 'allow' | 'deny'): RuleList | false | typeof NOT_QUICK {
    const text = this.text;
    const line = this.#line;
    line.next();
    const itemIndent = line.indent;
    if (line.no === 0 || itemIndent < fieldIndent || !this.#startsItem(line.content)) return NOT_QUICK;
    const items = this.#items;
    items.length = 0;
    do {
      const brace = line.content + 2;
      if (text.charCodeAt(brace) !== BRACE) return NOT_QUICK;
      let end = line.end;
      while (text.charCodeAt(end - 1) === SPACE) end--;
      const col = brace - line.start + 1;
      items.push(brace, end, line.no, col);
      positions.push(line.no, col);
      line.next();
    } while (line.no !== 0 && line.indent === itemIndent && this.#startsItem(line.content));
    if (line.no !== 0 && line.indent > itemIndent) return NOT_QUICK;
    const last = this.#lastList.get(field);
    if (last && items.length === 4 && items[1] - items[0] === last.text.length && textAt(text, items[0], last.text)) return last.list;
    let listText = '';
    for (let i = 0; i < items.length; i += 4) listText += `${i === 0 ? '' : '\n'}${text.slice(items[i], items[i + 1])}`;
    const list = this.#ruleLists.get(listText) ?? this.#validate(listText, field);
    if (typeof list === 'object' && items.length === 4) this.#lastList.set(field, { text: listText, list });
    return list;
  }

  /** The rules of a list not seen before (#items), read by the exact readers; false when they find them wrong. */
  #validate(listText: string, field: 'allow' | 'deny'): RuleList | false | typeof NOT_QUICK {
    const items = this.#items;
    const nodes: unknown[] = [];
    const positions = new Map<object, Pos>();
    for (let i = 0; i < items.length; i += 4) {
      const node = readFlowValue(this.text.slice(items[i], items[i + 1]), items[i + 2], items[i + 3], positions);
      if (node === undefined) return NOT_QUICK;
      nodes.push(node);
    }
    const r = this.#plain;
    r.positions = positions;
    const rules = readRules(r, nodes, `key ${this.#key.id} ${field}`, this.names);
    if (r.failed) return false;
    const list: RuleList = { rules, set: undefined };
    this.#ruleLists.set(listText, list);
    return list;
  }

  /** The entry at `start` (line `no`) read by the line reader and readKeyEntry; false when it is wrong or not in that reader's shape either. */
  #exactEntry(start: number, no: number): boolean {
    const read = readKeyEntryAt(this.text, start, no);
    if (!read) return false;
    const r = this.#plain;
    r.positions = read.entry.positions;
    const key = readKeyEntry(r, read.entry.node, this.names);
    if (!key || r.failed) return false;
    this.sink.add(key);
    this.#line.moveTo(read.next, read.nextLineNo);
    return true;
  }
}

/**
 * `sha256$` and 43 characters of canonical base64url (text[start, end)), decoded into
 * `into`; false for any other text (the exact readers say why). Decoded here from the
 * character codes: a regular expression, a substring and Buffer.write took ~43 ms of a
 * 100,000-key load (~450 ms once warm), this ~24 ms.
 */
function decodeSha256(text: string, start: number, end: number, into: Buffer): boolean {
  if (end - start !== SHA256_TEXT_LENGTH || !textAt(text, start, SHA256_PREFIX)) return false;
  let at = start + SHA256_PREFIX.length;
  // -1 (not base64url) anywhere leaves `bad` negative.
  let bad = 0;
  let out = 0;
  // 40 characters are 30 bytes, four characters to three.
  for (; out < 30; at += 4) {
    const a = sextet(text, at);
    const b = sextet(text, at + 1);
    const c = sextet(text, at + 2);
    const d = sextet(text, at + 3);
    bad |= a | b | c | d;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    into[out++] = n >>> 16;
    into[out++] = (n >>> 8) & 0xff;
    into[out++] = n & 0xff;
  }
  // The last three carry 18 bits: two bytes, and 2 spare bits that must be zero (one text per digest).
  const a = sextet(text, at);
  const b = sextet(text, at + 1);
  const c = sextet(text, at + 2);
  bad |= a | b | c;
  const n = (a << 12) | (b << 6) | c;
  into[30] = n >>> 10;
  into[31] = (n >>> 2) & 0xff;
  return bad >= 0 && (n & 3) === 0;
}

function sextet(text: string, at: number): number {
  const code = text.charCodeAt(at);
  return code < 128 ? BASE64URL[code] : -1;
}

const INSTANT_LENGTH = 'YYYY-MM-DDTHH:MM:SSZ'.length;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * The epoch ms of text[start, end) when it is an instant as `keygate key` writes it
 * (`2027-01-01T00:00:00Z`, cli/keyArgs.ts isoSeconds) and valid, NaN for any other text.
 * Where this gives a number, readTimestamp (values.ts) gives the same one; the years
 * before 1000 are left to it (Date.UTC reads years 0-99 as 1900-1999).
 */
export function canonicalInstant(text: string, start: number, end: number): number {
  if (end - start !== INSTANT_LENGTH) return NaN;
  const at = (i: number): number => text.charCodeAt(start + i);
  if (at(4) !== DASH || at(7) !== DASH || at(10) !== 84 /* T */ || at(13) !== COLON || at(16) !== COLON || at(19) !== 90 /* Z */)
    return NaN;
  const year = digits(text, start, 4);
  const month = digits(text, start + 5, 2);
  const day = digits(text, start + 8, 2);
  const hour = digits(text, start + 11, 2);
  const minute = digits(text, start + 14, 2);
  const second = digits(text, start + 17, 2);
  // NaN (a character that is not a digit) fails every comparison.
  if (!(year >= 1000 && month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59)) return NaN;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS_IN_MONTH[month - 1] + (leap ? 1 : 0)) return NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/** The decimal number of text[at, at + count), NaN when a character is not a digit. */
function digits(text: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

/**
 * The lines from `from` on that start an item at `indent` ("- " after that many spaces):
 * every entry of a keys file in the quick shape starts one, so this is at least their
 * number, found without reading the entries (~5 ms for 100,000 keys).
 */
function countItems(text: string, from: number, indent: number): number {
  const item = `\n${' '.repeat(indent)}- `;
  let count = text.startsWith(item.slice(1), from) ? 1 : 0;
  for (let at = text.indexOf(item, from); at !== -1; at = text.indexOf(item, at + item.length)) count++;
  return count;
}
