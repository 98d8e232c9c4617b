import type { Pos } from './locator.js';

/*
 * A reader for keys files in the shape `keygate key` writes them: `keys:` and a block
 * list of block mappings, one field a line, rules as one-line flow mappings. It reads
 * one key entry at a time, straight from the text, with each mapping's position, so a
 * 1,000,000-key file never exists as one parsed document. It understands a small part
 * of YAML on purpose: anything else (anchors, tags, multi-line scalars, escapes, tabs,
 * CRLF, numbers where text may go...) makes it give up, and the caller reads the file
 * with a full parser instead. What it does accept, it must read exactly as YAML's core
 * schema does: the keys file tests compare it with the positioned parser.
 */

/** A key entry's plain values (as js-yaml would give them) and where each mapping in it starts. */
export interface KeyEntry {
  readonly node: Record<string, unknown>;
  readonly positions: Map<object, Pos>;
}

/** Thrown inside the reader: "this is not the shape I read; use the full parser". */
class NotMyShape extends Error {}

const KEY_NAME = /^[A-Za-z0-9_]+$/;
/** What YAML 1.2's core schema (or js-yaml's) reads as a number: such a plain scalar is left to the full parser. */
const NUMBER =
  /^(?:[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?|\.(?:inf|Inf|INF))|\.(?:nan|NaN|NAN))$/;
const NULL = /^(?:~|null|Null|NULL)$/;
const TRUE = /^(?:true|True|TRUE)$/;
const FALSE = /^(?:false|False|FALSE)$/;
/** Characters a plain scalar may not start with here (YAML indicators; `-`, `?`, `:` only start one when followed by text, left to the full parser). */
const INDICATOR = /^[-?:,[\]{}#&*!|>'"%@`]/;
/** Anything that is not a printable, non-tab character of one line: such files go to the full parser. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNUSUAL = /[\x00-\x09\x0B-\x1F\x7F-\x9F\uFEFF\uFFFE\uFFFF]/;

/**
 * The key entries of a keys file, one at a time; undefined (before any entry is
 * handed out) when the file is not in the shape this reader reads.
 */
function keyEntries(text: string): Iterable<KeyEntry> | undefined {
  if (UNUSUAL.test(text)) return undefined;
  const lines = new Lines(text);
  try {
    const head = lines.current();
    if (!head || head.indent !== 0) return undefined;
    const m = /^keys:(.*)$/.exec(head.text);
    if (!m) return undefined;
    const rest = restOf(m[1]);
    lines.advance();
    if (rest === '[]') return lines.current() ? undefined : [];
    if (rest !== '') return undefined;
    const first = lines.current();
    if (!first) return [];
    if (!first.text.startsWith('- ')) return undefined;
    return entries(lines, first.indent);
  } catch (e) {
    if (e instanceof NotMyShape) return undefined;
    throw e;
  }
}

/** Iterating throws NotMyShape where the file leaves this reader's shape: see readKeyEntries. */
function* entries(lines: Lines, indent: number): Generator<KeyEntry> {
  for (let line = lines.current(); line; line = lines.current()) {
    if (line.indent !== indent || !line.text.startsWith('- ')) throw new NotMyShape();
    const positions = new Map<object, Pos>();
    const node = sequenceItem(lines, line, positions);
    if (typeof node !== 'object' || node === null || Array.isArray(node)) throw new NotMyShape();
    yield { node: node as Record<string, unknown>, positions };
  }
}

/**
 * Each entry, or undefined if the file turns out not to be in this reader's shape
 * (`onEntry` may have been called for the entries before that point: the caller
 * discards what it built from them).
 */
export function readKeyEntries(text: string, onEntry: (entry: KeyEntry) => boolean): boolean {
  const all = keyEntries(text);
  if (!all) return false;
  try {
    for (const entry of all) if (!onEntry(entry)) return false;
    return true;
  } catch (e) {
    if (e instanceof NotMyShape) return false;
    throw e;
  }
}

/**
 * The one key entry whose `- ` line starts at `offset` (the text's line `lineNo`, 1-based),
 * for a reader that hands this one over (quickReader.ts); with where the next
 * significant line starts. Undefined when the entry is not in this reader's shape.
 */
export function readKeyEntryAt(
  text: string,
  offset: number,
  lineNo: number,
): { entry: KeyEntry; next: number; nextLineNo: number } | undefined {
  const lines = new Lines(text, offset, lineNo - 1);
  const line = lines.current();
  if (!line?.text.startsWith('- ')) return undefined;
  try {
    const positions = new Map<object, Pos>();
    const node = sequenceItem(lines, line, positions);
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    const after = lines.current();
    return {
      entry: { node: node as Record<string, unknown>, positions },
      next: after ? lines.currentStart : text.length,
      nextLineNo: after ? after.no : lineNo,
    };
  } catch (e) {
    if (e instanceof NotMyShape) return undefined;
    throw e;
  }
}

/** A one-line flow value (a rule's `{ ... }`) whose first character is at `lineNo`:`col`; undefined when not in this reader's shape. */
export function readFlowValue(text: string, lineNo: number, col: number, positions: Map<object, Pos>): unknown {
  try {
    return inline(text, lineNo, col, positions);
  } catch (e) {
    if (e instanceof NotMyShape) return undefined;
    throw e;
  }
}

/**
 * Whether a plain scalar (block context, no comment, trimmed) reads as exactly this
 * string, as `Flow.plain` would read it: not a null, boolean or number, nothing that
 * makes YAML read it otherwise.
 */
export function isPlainString(s: string): boolean {
  if (s === '' || INDICATOR.test(s) || s.includes(': ') || s.endsWith(':') || s.includes(' #')) return false;
  // Only these first characters can start a number (`-` is an indicator), a null or a boolean.
  const c = s[0];
  if ((c >= '0' && c <= '9') || c === '+' || c === '.') return !NUMBER.test(s);
  if ('~nNtTfF'.includes(c)) return !NULL.test(s) && !TRUE.test(s) && !FALSE.test(s);
  return true;
}

/** A plain scalar's boolean (`true`, `False`...), undefined when it is not one. */
export function plainBoolean(s: string): boolean | undefined {
  return TRUE.test(s) ? true : FALSE.test(s) ? false : undefined;
}

/** Where a text leaves what these readers read at all (control characters, tabs, CR, BOM): the full parser reads it. */
export function hasUnusualCharacters(text: string): boolean {
  return UNUSUAL.test(text);
}

interface Line {
  /** 1-based. */
  readonly no: number;
  readonly indent: number;
  /** The line without its indentation. */
  readonly text: string;
}

/**
 * The significant lines of a text (blank and comment-only lines skipped), one at a time,
 * as offsets into the text: no string is cut out for a line (the quick reader reads
 * values in place; Lines cuts the line's text).
 */
export class SignificantLines {
  /** The current line: where it starts, where its text starts (after the indentation), where it ends; its number (1-based; 0 past the last line). */
  start = 0;
  content = 0;
  end = 0;
  no = 0;
  /** Where the next line starts, and the number of the line before it. */
  #at: number;
  #lineNo: number;

  /** Before the first significant line from `at`, the start of the text's line `lineNo + 1`: call next(). */
  constructor(
    readonly text: string,
    at = 0,
    lineNo = 0,
  ) {
    this.#at = at;
    this.#lineNo = lineNo;
  }

  /** The current line's indentation. */
  get indent(): number {
    return this.content - this.start;
  }

  /** Moves to the next significant line; false (and `no` 0) at the end. */
  next(): boolean {
    const text = this.text;
    while (this.#at < text.length) {
      const start = this.#at;
      let end = text.indexOf('\n', start);
      if (end === -1) end = text.length;
      this.#at = end + 1;
      this.#lineNo++;
      let i = start;
      while (i < end && text.charCodeAt(i) === 32) i++;
      if (i === end || text.charCodeAt(i) === 35 /* # */) continue;
      this.start = start;
      this.content = i;
      this.end = end;
      this.no = this.#lineNo;
      return true;
    }
    this.no = 0;
    return false;
  }

  /** Moves to the first significant line from `at`, the start of the text's line `lineNo` (1-based). */
  moveTo(at: number, lineNo: number): boolean {
    this.#at = at;
    this.#lineNo = lineNo - 1;
    return this.next();
  }
}

/** The significant lines of a text, one at a time, each with its text. */
class Lines {
  readonly #lines: SignificantLines;
  #current: Line | undefined;

  /** From `at`, the start of the text's line `no + 1`. */
  constructor(text: string, at = 0, no = 0) {
    this.#lines = new SignificantLines(text, at, no);
    this.advance();
  }

  /** Where the current line starts in the text. */
  get currentStart(): number {
    return this.#lines.start;
  }

  current(): Line | undefined {
    return this.#current;
  }

  advance(): void {
    const l = this.#lines;
    this.#current = l.next() ? { no: l.no, indent: l.indent, text: l.text.slice(l.content, l.end) } : undefined;
  }
}

/** `- value` or `- name: value` (a block mapping starting on the dash's line). */
function sequenceItem(lines: Lines, line: Line, positions: Map<object, Pos>): unknown {
  let gap = 1;
  while (line.text.charCodeAt(gap) === 32) gap++;
  const rest = line.text.slice(gap);
  const col = line.indent + gap;
  if (rest === '' || rest.startsWith('#') || rest.startsWith('- ') || rest === '-') throw new NotMyShape();
  if (startsMapping(rest)) return blockMapping(lines, { no: line.no, indent: col, text: rest }, positions);
  lines.advance();
  return inline(rest, line.no, col + 1, positions);
}

/** `name:` then a space or the end of the line. */
function startsMapping(text: string): boolean {
  const colon = text.indexOf(':');
  return colon > 0 && (colon === text.length - 1 || text.charCodeAt(colon + 1) === 32) && KEY_NAME.test(text.slice(0, colon));
}

/** A block mapping whose first line is `first` (already read, possibly the rest of a `- ` line). */
function blockMapping(lines: Lines, first: Line, positions: Map<object, Pos>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  positions.set(out, { line: first.no, col: first.indent + 1 });
  let line: Line | undefined = first;
  while (line && line.indent === first.indent) {
    const colon = line.text.indexOf(':');
    const name = colon > 0 ? line.text.slice(0, colon) : '';
    if (!KEY_NAME.test(name) || name === '__proto__' || Object.hasOwn(out, name)) throw new NotMyShape();
    const after = line.text.slice(colon + 1);
    if (after !== '' && after.charCodeAt(0) !== 32) throw new NotMyShape();
    const rest = restOf(after);
    const at = line;
    lines.advance();
    if (rest !== '') {
      out[name] = inline(rest, at.no, at.indent + line.text.indexOf(rest, colon + 1) + 1, positions);
    } else {
      out[name] = nested(lines, at.indent, positions);
    }
    line = lines.current();
  }
  if (line && line.indent > first.indent) throw new NotMyShape();
  return out;
}

/** The value of `name:` with nothing after it: a block list or mapping on the next lines, or null. */
function nested(lines: Lines, parentIndent: number, positions: Map<object, Pos>): unknown {
  const next = lines.current();
  if (!next) return null;
  const isItem = next.text.startsWith('- ');
  if (isItem && next.indent >= parentIndent) return blockSequence(lines, next.indent, positions);
  if (next.indent <= parentIndent) return null;
  if (startsMapping(next.text)) return blockMapping(lines, next, positions);
  throw new NotMyShape();
}

function blockSequence(lines: Lines, indent: number, positions: Map<object, Pos>): unknown[] {
  const out: unknown[] = [];
  for (let line = lines.current(); line && line.indent === indent && line.text.startsWith('- '); line = lines.current()) {
    out.push(sequenceItem(lines, line, positions));
  }
  const after = lines.current();
  if (after && after.indent > indent) throw new NotMyShape();
  return out;
}

/** A value's text without a trailing comment, trimmed (quote-aware: `"a #b"` keeps its `#`). */
function restOf(after: string): string {
  const text = after.trim();
  if (text.startsWith('#')) return '';
  if (text.startsWith('"') || text.startsWith("'") || text.startsWith('[') || text.startsWith('{')) return text; // the value's parser finds its end
  const hash = text.indexOf(' #');
  return hash === -1 ? text : text.slice(0, hash).trimEnd();
}

/** A value on one line: a flow list or mapping, a quoted or a plain scalar; the rest of the line must be empty or a comment. */
function inline(text: string, lineNo: number, col: number, positions: Map<object, Pos>): unknown {
  const flow = new Flow(text, lineNo, col, positions);
  const value = flow.value(false);
  flow.end();
  return value;
}

/** One line's flow value, read left to right. */
class Flow {
  #i = 0;

  constructor(
    private readonly text: string,
    private readonly lineNo: number,
    /** 1-based column of text[0]. */
    private readonly col: number,
    private readonly positions: Map<object, Pos>,
  ) {}

  value(inFlow: boolean): unknown {
    const c = this.text[this.#i];
    if (c === '[') return this.sequence();
    if (c === '{') return this.mapping();
    if (c === '"') return this.doubleQuoted();
    if (c === "'") return this.singleQuoted();
    return this.plain(inFlow);
  }

  /** Only spaces and a comment may follow the value. */
  end(): void {
    const rest = this.text.slice(this.#i);
    if (rest.trim() !== '' && !/^\s+#/.test(rest)) throw new NotMyShape();
  }

  private sequence(): unknown[] {
    const out: unknown[] = [];
    this.#i++;
    this.spaces();
    if (this.text[this.#i] === ']') {
      this.#i++;
      return out;
    }
    for (;;) {
      out.push(this.value(true));
      this.spaces();
      const c = this.text[this.#i++];
      if (c === ']') return out;
      if (c !== ',') throw new NotMyShape();
      this.spaces();
      if (this.text[this.#i] === ']') throw new NotMyShape(); // a trailing comma: left to the full parser
    }
  }

  private mapping(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.positions.set(out, { line: this.lineNo, col: this.col + this.#i });
    this.#i++;
    this.spaces();
    if (this.text[this.#i] === '}') {
      this.#i++;
      return out;
    }
    for (;;) {
      const m = /^([A-Za-z0-9_]+): +/.exec(this.text.slice(this.#i));
      if (!m || m[1] === '__proto__' || Object.hasOwn(out, m[1])) throw new NotMyShape();
      this.#i += m[0].length;
      out[m[1]] = this.value(true);
      this.spaces();
      const c = this.text[this.#i++];
      if (c === '}') return out;
      if (c !== ',') throw new NotMyShape();
      this.spaces();
    }
  }

  private doubleQuoted(): string {
    const close = this.text.indexOf('"', this.#i + 1);
    if (close === -1) throw new NotMyShape();
    const s = this.text.slice(this.#i + 1, close);
    if (s.includes('\\')) throw new NotMyShape();
    this.#i = close + 1;
    return s;
  }

  private singleQuoted(): string {
    let out = '';
    let at = this.#i + 1;
    for (;;) {
      const q = this.text.indexOf("'", at);
      if (q === -1) throw new NotMyShape();
      out += this.text.slice(at, q);
      if (this.text[q + 1] !== "'") {
        this.#i = q + 1;
        return out;
      }
      out += "'";
      at = q + 2;
    }
  }

  /** A plain scalar: up to a comment, or (in a flow collection) a `,`, `]` or `}`. */
  private plain(inFlow: boolean): unknown {
    const rest = this.text.slice(this.#i);
    let end = rest.length;
    if (inFlow) {
      const m = /[,\]}]/.exec(rest);
      if (m) end = m.index;
    }
    const comment = rest.indexOf(' #');
    if (comment !== -1 && comment < end) end = comment;
    const s = rest.slice(0, end).trimEnd();
    if (s === '' || INDICATOR.test(s) || s.includes(': ') || s.endsWith(':') || (inFlow && /[[{]/.test(s))) throw new NotMyShape();
    this.#i += s.length;
    if (NULL.test(s)) return null;
    if (TRUE.test(s)) return true;
    if (FALSE.test(s)) return false;
    if (NUMBER.test(s)) throw new NotMyShape();
    return s;
  }

  private spaces(): void {
    while (this.text.charCodeAt(this.#i) === 32) this.#i++;
  }
}
