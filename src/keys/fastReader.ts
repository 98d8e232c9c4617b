import { CORE_SCHEMA, load } from 'js-yaml';
import { readKeyEntries } from './lineReader.js';
import { readKeyEntry, readKeysFile } from './reader.js';
import { locateKeys, type Pos } from './locator.js';
import { RuleInterner } from '../reader/ruleInterner.js';
import type { RuleNames } from '../reader/ruleReader.js';
import type { KeyRecord } from './record.js';
import type { Field, NodeReader } from '../reader/yamlReader.js';

/*
 * The fast path for keys files. The `yaml` package keeps a position for every node and
 * parses about 2 MB/s: 10 s and gigabytes for 100,000 keys. js-yaml gives plain values
 * ten times faster; the same readers (keysFile.ts) validate them through PlainReader,
 * with positions from a line scan (keysLocator.ts). Any problem at all means "read this
 * file again with the positioned parser", so every error message still names the exact
 * file:line:col, and only valid files (the usual case) take this path.
 */

/**
 * The file's keys read entry by entry from its lines (lineReader.ts), for files in the
 * shape `keygate key` writes: no parsed document of the whole file, no position scan.
 * Each key goes to `onKey` as soon as it is read; false when the file is in another
 * shape or anything in it is wrong (keys already handed over are then to be dropped).
 */
export function eachKeyByLine(file: string, text: string, names: RuleNames, onKey: (key: KeyRecord) => void): boolean {
  const r = new PlainReader(file, undefined, new Map());
  const read = readKeyEntries(text, (entry) => {
    r.positions = entry.positions;
    const key = readKeyEntry(r, entry.node, names);
    if (key && !r.failed) onKey(key);
    return !r.failed;
  });
  return read && !r.failed;
}

/** eachKeyByLine's keys in a list (tests). */
export function readKeysByLine(file: string, text: string, names: RuleNames): KeyRecord[] | undefined {
  const keys: KeyRecord[] = [];
  return eachKeyByLine(file, text, names, (key) => keys.push(key)) ? keys : undefined;
}

/** The file's keys, or undefined when it must be read with YamlReader instead. */
export function readKeysFast(file: string, text: string, names: RuleNames): KeyRecord[] | undefined {
  let root: unknown;
  try {
    // CORE_SCHEMA as the yaml package's default: no timestamps, no merge keys; duplicate keys throw.
    root = load(text, { schema: CORE_SCHEMA, filename: file });
  } catch {
    return undefined;
  }
  const positions = locate(root, text);
  if (!positions) return undefined;
  const r = new PlainReader(file, root, positions);
  const keys = readKeysFile(r, names);
  return r.failed ? undefined : keys;
}

/** Each key's and rule's position, by object; undefined if any of them cannot be located. */
function locate(root: unknown, text: string): Map<object, Pos> | undefined {
  const keys = isRecord(root) && Array.isArray(root.keys) ? (root.keys as unknown[]) : undefined;
  if (!keys) return undefined;
  const located = locateKeys(text);
  if (located.length !== keys.length) return undefined;
  const positions = new Map<object, Pos>();
  const place = (node: unknown, pos: Pos | null | undefined): boolean => {
    if (!isRecord(node) || !pos || positions.has(node)) return false; // shared via an alias: one position cannot serve both
    positions.set(node, pos);
    return true;
  };
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const at = located[i];
    if (!isRecord(key) || String(key.id) !== at.id || !place(key, at)) return undefined;
    for (const name of ['allow', 'deny', 'shadow.allow', 'shadow.deny']) {
      const rules = name.startsWith('shadow.') ? (isRecord(key.shadow) ? key.shadow[name.slice(7)] : undefined) : key[name];
      if (!Array.isArray(rules) || rules.length === 0) continue;
      const entries = at.lists.get(name);
      if (!Array.isArray(entries) || entries.length !== rules.length) return undefined;
      if (!rules.every((rule, j) => place(rule, entries[j]))) return undefined;
    }
  }
  return positions;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The NodeReader of plain values. It never reports: the first problem marks the file
 * `failed`, and the caller reads it again with YamlReader, which says where.
 */
export class PlainReader implements NodeReader<unknown> {
  readonly interner = new RuleInterner();
  failed = false;

  constructor(
    readonly file: string,
    readonly root: unknown,
    /** Where each mapping starts; the line reader sets it per key entry. */
    public positions: Map<object, Pos>,
  ) {}

  error(): undefined {
    this.failed = true;
    return undefined;
  }

  warn(): void {
    this.failed = true;
  }

  position(node: unknown): Pos {
    const pos = isRecord(node) ? this.positions.get(node) : undefined;
    if (pos) return pos;
    this.failed = true;
    return { line: 1, col: 1 };
  }

  map(
    node: unknown,
    _what: string,
    allowed: readonly string[],
    required: readonly string[] = [],
  ): Map<string, Field<unknown, unknown>> | undefined {
    if (!isRecord(node)) return this.error();
    const out = new Map<string, Field<unknown, unknown>>();
    for (const name of Object.keys(node)) {
      if (!allowed.includes(name)) return this.error();
      out.set(name, { key: name, value: node[name] });
    }
    return required.every((name) => out.has(name)) ? out : this.error();
  }

  list(node: unknown): unknown[] {
    if (node === null || node === undefined) return [];
    return Array.isArray(node) ? node : (this.error() ?? []);
  }

  /**
   * A number where a string is expected is not trusted: the two parsers disagree on a
   * few spellings (`0b101`, `+0x1F`), and only the positioned one is the reference.
   */
  string(node: unknown): string | undefined {
    return node === undefined || typeof node === 'string' ? node : this.error();
  }

  boolean(node: unknown): boolean | undefined {
    return typeof node === 'boolean' ? node : this.error();
  }

  strings(node: unknown): string[] | undefined {
    return this.stringNodes(node)?.map((s) => s.value);
  }

  stringNodes(node: unknown): { value: string; node: unknown }[] | undefined {
    if (node === undefined) return undefined;
    const items: unknown[] = Array.isArray(node) ? node : [node];
    const out: { value: string; node: unknown }[] = [];
    for (const item of items) {
      const value = this.string(item);
      if (value === undefined) return this.error();
      out.push({ value, node: item });
    }
    return out;
  }

  scalarText(node: unknown): string {
    if (typeof node === 'string') return node;
    if (node === undefined || (typeof node === 'object' && node !== null)) return '';
    this.failed = true; // a number, boolean or null: let the positioned path say what it makes of it
    return String(node);
  }

  keysOf(node: unknown): { name: string; key: unknown }[] {
    return isRecord(node) ? Object.keys(node).map((name) => ({ name, key: name })) : [];
  }
}
