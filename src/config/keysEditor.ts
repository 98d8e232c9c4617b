import {
  closeSync, fchmodSync, fchownSync, fstatSync, fsyncSync, linkSync, lstatSync, openSync, readFileSync, readlinkSync,
  renameSync, rmSync, unlinkSync, writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Document, isMap, isScalar, isSeq, Pair, parseDocument, Scalar, YAMLMap, YAMLSeq, type Node } from 'yaml';
import type { RuleSpec } from '../policy/rules.js';
import { KEY_FIELDS } from './keysFile.js';

/*
 * Edits keys files the way an operator would by hand: the `yaml` Document API finds
 * the entry and renders new YAML, and the result is spliced into the original text,
 * so every byte outside the touched entry survives (re-stringifying the whole
 * document would re-align comments and re-indent entries nobody asked to change).
 * Then the write: under a lock file, re-read, edit, write a temp file, fsync, rename.
 */

export type KeysFileErrorCode =
  | 'KEYGATE_KEYS_UNPARSABLE'
  | 'KEYGATE_KEYS_UNKNOWN_ID'
  | 'KEYGATE_KEYS_SYMLINK'
  | 'KEYGATE_KEYS_LOCKED'
  | 'KEYGATE_KEYS_IO';

export class KeysFileError extends Error {
  constructor(readonly code: KeysFileErrorCode, message: string) {
    super(message);
  }
}

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
  expires?: string;
  notBefore?: string;
  disabled?: boolean;
  comment?: string;
  created?: string;
  legacy?: boolean;
}

export type KeyFieldValue = string | boolean;

// ── text edits (pure) ────────────────────────────────────────────────────────

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
  const k = parseKeysText(text);
  const nodes = entries.map(entryNode);
  const last = k.seq && !k.seq.flow ? k.seq.items.at(-1) : undefined;
  const span = last ? itemSpan(k, last) : undefined;
  if (!span) return restructure(k, (seq) => seq.items.push(...nodes));
  const newline = text[span.end - 1] === '\n' ? '' : k.eol;
  return splice(text, span.end, span.end, newline + renderItems(nodes, span.indent, k.eol));
}

export function removeKey(text: string, id: string): string {
  const k = parseKeysText(text);
  const index = indexOf(k, id);
  const span = itemSpan(k, k.seq!.items[index]);
  if (!span) return restructure(k, (seq) => seq.items.splice(index, 1));
  const removed = splice(text, span.start, span.end, '');
  // `keys:` with nothing after it is null, which the loader rejects; the last removal leaves `keys: []`.
  const colon = k.seq!.items.length === 1 ? colonAfterKeys(k) : undefined;
  return colon === undefined ? removed : splice(removed, colon + 1, colon + 1, ' []');
}

/** Sets fields of one entry: a scalar already there is replaced in place, anything else re-renders that entry alone. */
export function updateKey(text: string, id: string, fields: Readonly<Record<string, KeyFieldValue>>): string {
  const k = parseKeysText(text);
  const index = indexOf(k, id);
  const item = k.seq!.items[index] as YAMLMap;
  const inPlace = scalarPatches(text, item, fields);
  if (inPlace) return inPlace.sort((a, b) => b.start - a.start).reduce((t, p) => splice(t, p.start, p.end, p.text), text);
  for (const [name, value] of Object.entries(fields)) setField(item, name, value);
  const span = itemSpan(k, item);
  if (!span) return restructure(k, () => undefined);
  return splice(text, span.start, span.end, renderItems([detached(item)], span.indent, k.eol));
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
  if (index === -1) throw new KeysFileError('KEYGATE_KEYS_UNKNOWN_ID', `no key with id "${id}" in this keys file`);
  return index;
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
  return withEol(doc.toString({ lineWidth: 0 }).split('\n').map((line) => (line ? pad + line : line)).join('\n'), eol);
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

function scalarPatches(source: string, item: YAMLMap, fields: Readonly<Record<string, KeyFieldValue>>): Patch[] | undefined {
  const patches: Patch[] = [];
  for (const [name, value] of Object.entries(fields)) {
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
function setField(item: YAMLMap, name: string, value: KeyFieldValue): void {
  const existing = item.items.find((p) => keyName(p) === name);
  if (existing) {
    existing.value = new Scalar(value);
    return;
  }
  const order = KEY_FIELDS.indexOf(name);
  const before = item.items.findIndex((p) => KEY_FIELDS.indexOf(keyName(p)) > order);
  item.items.splice(before === -1 ? item.items.length : before, 0, new Pair(new Scalar(name), new Scalar(value)));
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

function valueNode(field: string, value: NonNullable<KeyEntry[keyof KeyEntry]>): Node {
  if (field === 'allow' || field === 'deny') return flowSeq((value as readonly RuleSpec[]).map(ruleNode), false);
  if (field === 'sourceIPs') return flowSeq((value as readonly string[]).map(quotedIfNeeded), true);
  const scalar = new Scalar(value);
  if (field === 'hash') scalar.type = Scalar.QUOTE_DOUBLE;
  return scalar;
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
  return typeof value === 'string' ? new Scalar(value) : flowSeq(value.map((v) => new Scalar(v)), true);
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

// ── the write: lock, re-read, edit, temp file, fsync, rename ────────────────

export interface EditOptions {
  /** How long to wait for another writer's lock before giving up. */
  lockTimeoutMs?: number;
}

/**
 * Runs `edit` on the current text of `file` while holding `<file>.lock`, and writes
 * its result atomically. `edit` returns undefined for "nothing to change" and throws
 * to abort (nothing is written). Returns whether the file was written.
 */
export async function editKeysFile(file: string, edit: (current: string) => string | undefined, options: EditOptions = {}): Promise<boolean> {
  refuseSymlink(file);
  const release = await acquireLock(file, options.lockTimeoutMs ?? 2_000);
  try {
    // Re-read under the lock: another writer may have finished since the caller looked.
    refuseSymlink(file);
    const current = readText(file);
    const next = edit(current);
    if (next === undefined || next === current) return false;
    writeAtomic(file, next);
    return true;
  } finally {
    release();
  }
}

/** A symlinked keys file is a Kubernetes ConfigMap/Secret volume (or similar): replaced whole, read-only. */
export function refuseSymlink(file: string): void {
  let target: string;
  try {
    if (!lstatSync(file).isSymbolicLink()) return;
    target = readlinkSync(file);
  } catch (e) {
    throw ioError(`cannot read ${file}`, e);
  }
  throw new KeysFileError(
    'KEYGATE_KEYS_SYMLINK',
    `${file} is a symbolic link (-> ${target}), as in a Kubernetes ConfigMap or Secret volume; ` +
      'such files are read-only and replaced as a whole, so keygate will not write through the link. ' +
      'Run the key command on the source copy of the file and update the ConfigMap/Secret from it.',
  );
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw ioError(`cannot read ${file}`, e);
  }
}

function ioError(what: string, e: unknown): KeysFileError {
  return new KeysFileError('KEYGATE_KEYS_IO', `${what}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
}

/** Same directory, so the rename is atomic; same mode (and owner, when root), so a proxy can still read it. */
export function writeAtomic(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      copyOwnership(file, fd);
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw ioError(`cannot write ${file}`, e);
  }
  syncDirectory(dirname(file));
}

function copyOwnership(file: string, fd: number): void {
  const old = lstatSync(file);
  fchmodSync(fd, old.mode & 0o7777);
  if (process.getuid?.() === 0 && fstatSync(fd).uid !== old.uid) fchownSync(fd, old.uid, old.gid);
}

/** Makes the rename itself durable; not every platform lets a directory be fsynced. */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}

// ── the lock file ────────────────────────────────────────────────────────────

interface LockHolder {
  text: string;
  pid: number;
  host: string;
  ageMs: number;
}

/** A lock file still empty after this long belongs to a writer that died between create and write. */
const EMPTY_LOCK_STALE_MS = 10_000;

/** Takes `<file>.lock` (O_EXCL, holding pid and host); breaks it if its holder is dead; returns the release. */
export async function acquireLock(file: string, timeoutMs: number): Promise<() => void> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 80)) {
    if (tryCreateLock(lock)) return () => releaseLock(lock);
    const holder = readHolder(lock);
    const broken = holder !== undefined && isStale(holder) && breakLock(lock, holder);
    if (Date.now() >= deadline) throw lockedError(file, lock, holder);
    if (!broken) await sleep(delay + Math.random() * delay);
  }
}

function tryCreateLock(lock: string): boolean {
  let fd: number;
  try {
    fd = openSync(lock, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError(`cannot create lock file ${lock}`, e);
  }
  try {
    writeSync(fd, `${process.pid}\n${hostname()}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** undefined: the lock vanished meanwhile (retry at once). */
function readHolder(lock: string): LockHolder | undefined {
  try {
    const text = readFileSync(lock, 'utf8');
    const [pid, host] = text.split('\n');
    // A lock written by hand (or by an older tool) may hold only a pid: take it as ours.
    return { text, pid: pid.trim() === '' ? NaN : Number(pid), host: host?.trim() || hostname(), ageMs: Date.now() - lstatSync(lock).mtimeMs };
  } catch {
    return undefined;
  }
}

function isStale(holder: LockHolder): boolean {
  if (!Number.isInteger(holder.pid) || holder.pid <= 0) return holder.ageMs > EMPTY_LOCK_STALE_MS;
  if (holder.host !== hostname()) return false; // cannot tell whether a process elsewhere is alive
  return !processAlive(holder.pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Moves the stale lock aside instead of unlinking it: if another process broke it and
 * took a fresh lock in between, we would otherwise delete that live lock. If the moved
 * file turns out to be someone's fresh lock, it is linked back (link fails if taken).
 */
function breakLock(lock: string, holder: LockHolder): boolean {
  const aside = `${lock}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(lock, aside);
  } catch {
    return false; // someone else moved it first
  }
  const moved = readHolder(aside);
  const wasStale = moved !== undefined && moved.text === holder.text && Math.abs(moved.ageMs - holder.ageMs) < 1_000;
  if (!wasStale) {
    try {
      linkSync(aside, lock);
    } catch {
      // taken again meanwhile; that writer holds it now
    }
  }
  rmSync(aside, { force: true });
  return wasStale;
}

function releaseLock(lock: string): void {
  const holder = readHolder(lock);
  if (holder?.pid === process.pid && holder.host === hostname()) unlinkSync(lock);
}

function lockedError(file: string, lock: string, holder: LockHolder | undefined): KeysFileError {
  const who = holder && holder.pid > 0 ? `process ${holder.pid}${holder.host !== hostname() ? ` on ${holder.host}` : ''}` : 'another process';
  return new KeysFileError(
    'KEYGATE_KEYS_LOCKED',
    `${file} is being edited by ${who} (lock file ${lock}); try again. If no keygate command is running, delete the lock file.`,
  );
}
