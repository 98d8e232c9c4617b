import { Document, isAlias, isMap, isNode, isScalar, isSeq, Pair, parseDocument, Scalar, visit, YAMLMap, YAMLSeq, type Node } from 'yaml';
import type { RuleSpec } from '../policy/rules.js';
import { ENTRY_HEADER, entrySpans, spanAt, type EntrySpan } from './entrySpans.js';
import { KeysFileError } from './errors.js';
import { KEY_FIELDS } from './reader.js';

/*
 * Edits keys-file text the way an operator would by hand: the `yaml` Document API finds
 * the entry and renders new YAML, and the result is spliced into the original text,
 * so every byte outside the touched entry survives (re-stringifying the whole
 * document would re-align comments and re-indent entries nobody asked to change).
 * Where the layout allows (entrySpans.ts), the Document API parses only the entry
 * being edited (see EntryAlone). Pure: the write itself is keysWrite.ts.
 */

/** A new entry. Written in KEY_FIELDS order; rules as flow maps like the example file. */
export interface KeyEntry {
  id: string;
  user: string;
  name: string;
  hash: string;
  scope: 'restricted' | 'inherit';
  allow?: readonly RuleSpec[];
  deny?: readonly RuleSpec[];
  sourceIPs?: readonly string[];
  /** A candidate scope tried on live traffic (`keygate key promote` makes it the scope). */
  shadow?: ShadowEntry;
  /** The name of a policy `rateLimits` entry: the key's own bucket, capped to its user's. */
  rateLimit?: string;
  expires?: string;
  notBefore?: string;
  disabled?: boolean;
  comment?: string;
  created?: string;
  legacy?: boolean;
}

/** null removes the field. */
export type KeyFieldValue = string | boolean | null;

/** A key's `shadow:`: each list given replaces the key's own when the candidate decides. */
export interface ShadowEntry {
  allow?: readonly RuleSpec[];
  deny?: readonly RuleSpec[];
}

/** What `updateKey` may set: a scalar, a rule list (allow/deny), a string list (sourceIPs), or null to remove the field. */
export type KeyFieldChange = KeyFieldValue | readonly RuleSpec[] | readonly string[];

interface KeysText {
  text: string;
  doc: Document.Parsed;
  seq: YAMLSeq | null; // null: `keys:` missing or empty
  eol: string;
}

interface Span {
  start: number;
  end: number;
  indent: number;
}

export function keyIds(text: string): string[] {
  return (parseKeysText(text).seq?.items ?? []).map(idOf).filter((id): id is string => id !== undefined);
}

export function appendKeys(text: string, entries: readonly KeyEntry[]): string {
  const nodes = entries.map(entryNode);
  const lastSpan = entrySpans(text)?.at(-1);
  const last = lastSpan && entryAlone(text, lastSpan);
  if (last) return insertAfter(text, lastSpan, renderItems(nodes, lastSpan.indent, last.k.eol), last.k.eol);
  const k = parseKeysText(text);
  const lastItem = k.seq && !k.seq.flow ? k.seq.items.at(-1) : undefined;
  const span = lastItem ? itemSpan(k, lastItem) : undefined;
  if (!span) return restructure(k, (seq) => seq.items.push(...nodes));
  return insertAfter(text, span, renderItems(nodes, span.indent, k.eol), k.eol);
}

function insertAfter(text: string, span: Span, items: string, eol: string): string {
  const newline = text[span.end - 1] === '\n' ? '' : eol;
  return splice(text, span.end, span.end, newline + items);
}

export function removeKey(text: string, id: string): string {
  const found = findEntry(text, id);
  if (found === ABSENT) throw unknownId(id);
  // The last entry leaves `keys: []` (below), which takes the whole document.
  if (found && found.entries > 1) return splice(text, found.span.start, found.span.end, '');
  const k = parseKeysText(text);
  const index = indexOf(k, id);
  const span = itemSpan(k, k.seq!.items[index]);
  if (!span) return restructure(k, (seq) => seq.items.splice(index, 1));
  const removed = splice(text, span.start, span.end, '');
  // `keys:` with nothing after it is null, which the loader rejects; the last removal leaves `keys: []`.
  const colon = k.seq!.items.length === 1 ? colonAfterKeys(k) : undefined;
  return colon === undefined ? removed : splice(removed, colon + 1, colon + 1, ' []');
}

/**
 * Sets (or, with null, removes) fields of one entry: scalars already there are replaced in
 * place, anything else re-renders that entry alone.
 */
export function updateKey(text: string, id: string, fields: Readonly<Record<string, KeyFieldChange>>): string {
  return editEntry(text, id, (k, item) => withFields(k, item, fields));
}

/** The text of `k` with `fields` of `item` set: in place when they are scalars already there, else the entry rendered again. */
function withFields(k: KeysText, item: YAMLMap, fields: Readonly<Record<string, KeyFieldChange>>): string {
  const inPlace = scalarPatches(k.text, item, fields);
  if (inPlace) return inPlace.sort((a, b) => b.start - a.start).reduce((t, p) => splice(t, p.start, p.end, p.text), k.text);
  for (const [name, value] of Object.entries(fields)) setField(item, name, value === null ? null : valueNode(name, value));
  return rerendered(k, item);
}

/** Gives a key a shadow scope (replacing one it had); the entry is rendered again, the rest of the file kept. */
export function setShadow(text: string, id: string, shadow: ShadowEntry): string {
  return editEntry(text, id, (k, item) => {
    setField(item, 'shadow', shadowNode(shadow));
    return rerendered(k, item);
  });
}

/**
 * `keygate key promote`: each list of the key's `shadow:` replaces the key's own (moved
 * as written, comments included) and `shadow:` goes; one edit, so one atomic write.
 */
export function promoteShadow(text: string, id: string): string {
  return editEntry(text, id, (k, item) => {
    const shadow: unknown = item.get('shadow', true);
    if (!isMap(shadow)) throw new KeysFileError('KEYGATE_KEYS_NO_SHADOW', `key ${id} has no shadow scope to promote`);
    for (const name of ['allow', 'deny']) {
      const node: unknown = shadow.get(name, true);
      if (node !== undefined) setField(item, name, node as Node);
    }
    item.delete('shadow');
    return rerendered(k, item);
  });
}

/**
 * `edit` (the text of `k` with `item` changed) applied to the entry with this id: on the
 * entry alone when entrySpans can find it, else on the whole file.
 */
function editEntry(text: string, id: string, edit: (k: KeysText, item: YAMLMap) => string): string {
  const found = findEntry(text, id);
  if (found === ABSENT) throw unknownId(id);
  const edited = found && editedAlone(text, found, edit);
  if (edited !== undefined) return edited;
  const k = parseKeysText(text);
  return edit(k, k.seq!.items[indexOf(k, id)] as YAMLMap);
}

/** `text` with the entry `alone` edited; undefined when the edit reached beyond the entry. */
function editedAlone(text: string, alone: EntryAlone, edit: (k: KeysText, item: YAMLMap) => string): string | undefined {
  const entry = editedEntry(alone, edit);
  return entry === undefined ? undefined : splice(text, alone.span.start, alone.span.end, entry);
}

/** The entry's new text; undefined when the edit reached beyond the entry (it never should: itemSpan was checked). */
function editedEntry(alone: EntryAlone, edit: (k: KeysText, item: YAMLMap) => string): string | undefined {
  const edited = edit(alone.k, alone.k.seq!.items[0] as YAMLMap);
  return edited.startsWith(ENTRY_HEADER) ? edited.slice(ENTRY_HEADER.length) : undefined;
}

/**
 * An entry parsed alone, as a document of ENTRY_HEADER and the entry's lines: the Document
 * API on a 100,000-key file took ~15 s and ~1 GB a parse, and an edit parsed it two or
 * three times. Made only when the entry alone reads as itself: one entry, whose span in
 * its document is all of its lines (a `- ` line the splice can handle), at the same
 * indentation.
 */
interface EntryAlone {
  readonly k: KeysText;
  readonly span: EntrySpan;
}

function entryAlone(text: string, span: EntrySpan): EntryAlone | undefined {
  let k: KeysText;
  try {
    k = parseKeysText(ENTRY_HEADER + text.slice(span.start, span.end));
  } catch (e) {
    if (e instanceof KeysFileError) return undefined;
    throw e;
  }
  const item = k.seq?.items.length === 1 ? k.seq.items[0] : undefined;
  const own = item === undefined ? undefined : itemSpan(k, item);
  const whole = own?.start === ENTRY_HEADER.length && own.end === k.text.length && own.indent === span.indent;
  return whole && isMap(item) ? { k, span } : undefined;
}

/**
 * The first entry with this id, alone, and how many entries the file has; ABSENT when
 * no entry has it; undefined when the layout is not entrySpans's or an entry that holds
 * the id's text does not parse alone (the whole file is then parsed). Without a backslash
 * in the file no scalar has an escape, so the entry with the id has it in its text.
 */
function findEntry(text: string, id: string): (EntryAlone & { readonly entries: number }) | typeof ABSENT | undefined {
  if (text.includes('\\')) return undefined;
  const spans = entrySpans(text);
  if (!spans) return undefined;
  for (const alone of entriesHolding(text, spans, id)) {
    if (alone === undefined) return undefined;
    if (idOf(alone.k.seq!.items[0]) === id) return { ...alone, entries: spans.length };
  }
  return ABSENT;
}

/** findEntry's answer when every entry that holds the id's text has another id. */
const ABSENT = Symbol('absent');

/** The entries whose text holds `needle`, in file order, each parsed alone (undefined: one that does not parse alone). */
function* entriesHolding(text: string, spans: readonly EntrySpan[], needle: string): Generator<EntryAlone | undefined> {
  let last: EntrySpan | undefined;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
    const span = spanAt(spans, at);
    if (span === undefined || span === last) continue;
    last = span;
    yield entryAlone(text, span);
  }
}

/** The entry rendered again in place; the bytes around it stay. */
function rerendered(k: KeysText, item: YAMLMap): string {
  refuseAlias(item);
  const span = itemSpan(k, item);
  if (!span) return restructure(k, () => undefined);
  return splice(k.text, span.start, span.end, renderItems([detached(item)], span.indent, k.eol));
}

/**
 * The entry is rendered on its own, where an alias (`*name`) to an anchor in another
 * entry has nothing to name: say so, instead of the YAML library's "Unresolved alias"
 * from deep inside it. (A change in place, of a scalar already there, still works.)
 */
function refuseAlias(item: YAMLMap): void {
  const anchors = new Set<string>();
  let outside: string | undefined;
  // In document order: an anchor the entry sets itself is seen before an alias to it.
  visit(item, (_key, node) => {
    if (isAlias(node) && !anchors.has(node.source)) {
      outside = node.source;
      return visit.BREAK;
    }
    if (isNode(node) && node.anchor) anchors.add(node.anchor);
    return undefined;
  });
  if (outside === undefined) return;
  throw new KeysFileError(
    'KEYGATE_KEYS_ALIAS',
    `key ${idOf(item) ?? '(without an id)'} uses the YAML alias *${outside} to an anchor elsewhere in the file, which keygate cannot write back: replace the alias with what it stands for, then run the command again`,
  );
}

/**
 * Removes `previousHash`/`previousHashExpires` from every entry whose grace ended by
 * `now` (`key rotate --grace`): done by every key edit, and by `key prune`. Returns the
 * text unchanged when no grace has ended.
 */
export function dropEndedGrace(text: string, now: number): string {
  // Without a backslash no field name has an escape: an entry that does not mention the field does not have it.
  const plain = !text.includes('\\');
  if (plain && !text.includes(GRACE_FIELD)) return text;
  const mentioning = plain ? entriesMentioning(text, GRACE_FIELD) : undefined;
  if (mentioning) {
    // Each ended entry edited alone, and the text put together once (a splice each would copy the whole file each time).
    const ended = mentioning.filter((alone) => graceEnded(alone.k.seq!.items[0], now));
    const entries = ended.map((alone) => editedEntry(alone, (k, item) => withFields(k, item, NO_GRACE)));
    if (!entries.includes(undefined)) {
      const parts: string[] = [];
      let at = 0;
      ended.forEach((alone, i) => {
        parts.push(text.slice(at, alone.span.start), entries[i]!);
        at = alone.span.end;
      });
      return parts.join('') + text.slice(at);
    }
  }
  const ended = (parseKeysText(text).seq?.items ?? []).flatMap((item) => (graceEnded(item, now) ? [idOf(item)!] : []));
  return ended.reduce((t, id) => updateKey(t, id, NO_GRACE), text);
}

const GRACE_FIELD = 'previousHashExpires';
const NO_GRACE = { previousHash: null, previousHashExpires: null };

/** An entry with an id whose `previousHashExpires` is at or before `now`. */
function graceEnded(item: unknown, now: number): boolean {
  const until: unknown = isMap(item) ? item.get(GRACE_FIELD) : undefined;
  return idOf(item) !== undefined && typeof until === 'string' && Date.parse(until) <= now;
}

/** The entries that mention `needle`, each parsed alone; undefined when the layout is not entrySpans's or one does not parse alone. */
function entriesMentioning(text: string, needle: string): EntryAlone[] | undefined {
  const spans = entrySpans(text);
  if (!spans) return undefined;
  const entries: EntryAlone[] = [];
  for (const alone of entriesHolding(text, spans, needle)) {
    if (alone === undefined) return undefined;
    entries.push(alone);
  }
  return entries;
}

function parseKeysText(text: string): KeysText {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw new KeysFileError('KEYGATE_KEYS_UNPARSABLE', `not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  const root = doc.contents;
  if (root !== null && !(isScalar(root) && root.value === null) && !isMap(root)) {
    throw new KeysFileError('KEYGATE_KEYS_UNPARSABLE', 'a keys file must be a mapping with a "keys" list');
  }
  const list: unknown = isMap(root) ? root.get('keys', true) : undefined;
  if (list != null && !isSeq(list) && !(isScalar(list) && list.value === null)) {
    throw new KeysFileError('KEYGATE_KEYS_UNPARSABLE', '"keys" must be a list');
  }
  return { text, doc, seq: isSeq(list) ? list : null, eol: text.includes('\r\n') ? '\r\n' : '\n' };
}

function colonAfterKeys(k: KeysText): number | undefined {
  const pair = (k.doc.contents as YAMLMap).items.find((p) => keyName(p) === 'keys');
  const keyEnd = (pair?.key as Node | undefined)?.range?.[1];
  const colon = keyEnd === undefined ? -1 : k.text.indexOf(':', keyEnd);
  return colon === -1 ? undefined : colon;
}

function idOf(item: unknown): string | undefined {
  const id: unknown = isMap(item) ? item.get('id') : undefined;
  return typeof id === 'string' ? id : undefined;
}

function indexOf(k: KeysText, id: string): number {
  const index = k.seq ? k.seq.items.findIndex((item) => idOf(item) === id) : -1;
  if (index === -1) throw unknownId(id);
  return index;
}

function unknownId(id: string): KeysFileError {
  return new KeysFileError('KEYGATE_KEYS_UNKNOWN_ID', `no key with id "${id}" in this keys file`);
}

/**
 * The lines of one block-sequence entry: from the start of its `- ` line to the end of
 * the line its value ends on. Comment lines before and after it are not included, so
 * they survive an edit. Undefined when the layout is unusual (the caller re-renders).
 */
function itemSpan(k: KeysText, item: unknown): Span | undefined {
  const range = (item as Node).range;
  if (!range || k.seq?.flow) return undefined;
  let dash = range[0] - 1;
  while (dash >= 0 && (k.text[dash] === ' ' || k.text[dash] === '\t')) dash--;
  if (k.text[dash] !== '-') return undefined;
  const start = k.text.lastIndexOf('\n', dash - 1) + 1;
  if (k.text.slice(start, dash).trim() !== '') return undefined;
  return { start, end: endOfLine(k.text, range[1]), indent: dash - start };
}

function endOfLine(text: string, offset: number): number {
  if (offset > 0 && text[offset - 1] === '\n') return offset;
  const nl = text.indexOf('\n', offset);
  return nl === -1 ? text.length : nl + 1;
}

function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end);
}

/** For layouts the splice cannot handle (no entries yet, flow lists): the Document API renders it all. */
function restructure(k: KeysText, change: (seq: YAMLSeq) => void): string {
  let seq = k.seq;
  if (!seq) {
    seq = new YAMLSeq();
    const doc: Document = k.doc;
    if (!isMap(doc.contents)) doc.contents = new YAMLMap();
    (doc.contents as YAMLMap).set('keys', seq);
  }
  seq.flow = false;
  change(seq);
  return withEol(k.doc.toString({ lineWidth: 0 }), k.eol);
}

function renderItems(nodes: readonly Node[], indent: number, eol: string): string {
  const seq = new YAMLSeq();
  seq.items.push(...nodes);
  const doc = new Document(seq);
  const pad = ' '.repeat(indent);
  return withEol(
    doc
      .toString({ lineWidth: 0 })
      .split('\n')
      .map((line) => (line ? pad + line : line))
      .join('\n'),
    eol,
  );
}

function withEol(text: string, eol: string): string {
  return eol === '\n' ? text : text.replace(/\r?\n/g, eol);
}

/** The entry without the comments and blank lines around it, which stay where they are in the text. */
function detached(item: YAMLMap): YAMLMap {
  const copy = item.clone() as YAMLMap;
  copy.commentBefore = undefined;
  copy.comment = undefined;
  copy.spaceBefore = false;
  return copy;
}

interface Patch {
  start: number;
  end: number;
  text: string;
}

const INLINE_TYPES = new Set<string | undefined>([Scalar.PLAIN, Scalar.QUOTE_DOUBLE, Scalar.QUOTE_SINGLE]);

function scalarPatches(source: string, item: YAMLMap, fields: Readonly<Record<string, KeyFieldChange>>): Patch[] | undefined {
  const patches: Patch[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (value === null || typeof value === 'object') return undefined;
    const node: unknown = item.get(name, true);
    if (!isScalar(node) || !node.range || !INLINE_TYPES.has(node.type)) return undefined;
    patches.push(keepCommentColumn(source, node.range[0], node.range[1], renderScalar(value, node.type)));
  }
  return patches;
}

/** `disabled: false   # note` → `disabled: true    # note`: the comment stays in its column. */
function keepCommentColumn(source: string, start: number, end: number, text: string): Patch {
  let spaces = 0;
  while (source[end + spaces] === ' ') spaces++;
  if (spaces === 0 || source[end + spaces] !== '#') return { start, end, text };
  const pad = Math.max(1, spaces + (end - start) - text.length);
  return { start, end: end + spaces, text: text + ' '.repeat(pad) };
}

function renderScalar(value: KeyFieldValue, type: Scalar.Type | undefined): string {
  if (typeof value === 'boolean') return String(value);
  const scalar = new Scalar(value);
  scalar.type = type;
  return new Document(scalar).toString({ lineWidth: 0 }).replace(/\n$/, '');
}

/** A new field goes where KEY_FIELDS puts it, so revoked entries still read in the usual order. */
function setField(item: YAMLMap, name: string, value: Node | null): void {
  const existing = item.items.find((p) => keyName(p) === name);
  if (value === null) {
    if (existing) item.items.splice(item.items.indexOf(existing), 1);
    return;
  }
  if (existing) {
    // Keep how a scalar was written (quoted or plain) when the entry is rendered again.
    if (isScalar(value) && isScalar(existing.value) && value.type === undefined) value.type = existing.value.type;
    existing.value = value;
    return;
  }
  const order = KEY_FIELDS.indexOf(name);
  const before = item.items.findIndex((p) => KEY_FIELDS.indexOf(keyName(p)) > order);
  item.items.splice(before === -1 ? item.items.length : before, 0, new Pair(new Scalar(name), value));
}

function keyName(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

function entryNode(entry: KeyEntry): YAMLMap {
  const map = new YAMLMap();
  for (const field of KEY_FIELDS) {
    const value = entry[field as keyof KeyEntry];
    if (value === undefined) continue;
    map.items.push(new Pair(new Scalar(field), valueNode(field, value)));
  }
  return map;
}

function valueNode(field: string, value: NonNullable<KeyEntry[keyof KeyEntry]> | KeyFieldValue | readonly string[]): Node {
  if (field === 'allow' || field === 'deny') return flowSeq((value as readonly RuleSpec[]).map(ruleNode), false);
  if (field === 'shadow') return shadowNode(value as ShadowEntry);
  if (field === 'sourceIPs') return flowSeq((value as readonly string[]).map(quotedIfNeeded), true);
  const scalar = new Scalar(value);
  if (field === 'hash') scalar.type = Scalar.QUOTE_DOUBLE;
  return scalar;
}

function shadowNode(shadow: ShadowEntry): YAMLMap {
  const map = new YAMLMap();
  for (const name of ['allow', 'deny'] as const) {
    const rules = shadow[name];
    if (rules) map.items.push(new Pair(new Scalar(name), flowSeq(rules.map(ruleNode), false)));
  }
  return map;
}

function ruleNode(rule: RuleSpec): YAMLMap {
  const map = new YAMLMap();
  map.flow = true;
  const add = (name: string, value: Node): void => void map.items.push(new Pair(new Scalar(name), value));
  if (rule.region !== undefined) add('region', stringsNode(rule.region));
  add('service', new Scalar(rule.service));
  if (rule.method !== undefined) add('method', stringsNode(rule.method));
  const path = new Scalar(rule.path);
  path.type = Scalar.QUOTE_DOUBLE;
  add('path', path);
  return map;
}

function stringsNode(value: string | readonly string[]): Node {
  return typeof value === 'string'
    ? new Scalar(value)
    : flowSeq(
        value.map((v) => new Scalar(v)),
        true,
      );
}

function flowSeq(items: readonly Node[], flow: boolean): YAMLSeq {
  const seq = new YAMLSeq();
  seq.flow = flow;
  seq.items.push(...items);
  return seq;
}

/** `::1/128` reads fine unquoted, but a quoted IPv6 range is what people expect to see. */
function quotedIfNeeded(text: string): Scalar {
  const scalar = new Scalar(text);
  if (text.includes(':')) scalar.type = Scalar.QUOTE_DOUBLE;
  return scalar;
}
