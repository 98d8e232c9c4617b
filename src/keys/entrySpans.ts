import { SignificantLines } from './lineReader.js';

/*
 * Where each entry of a keys file's `keys:` list is in the text, found by one scan of
 * its lines, so the editor (editor.ts) and the reader of wrong files (entryReader.ts)
 * can hand the `yaml` package one entry instead of the whole file (a 100,000-key file
 * took it ~15 s and ~1 GB per parse). Only for the layout `keygate key` writes and
 * people write by hand: `keys:` at the top, a block list of entries that start on their
 * `- ` line. Anything a line scan could place wrongly makes it give up, and the caller
 * parses the whole file as before.
 */

/** What an entry is parsed after, alone: a document of its own, in which the entry's `- ` line is the second. */
export const ENTRY_HEADER = 'keys:\n';

/**
 * One entry: from the start of its `- ` line to the end of its last line that is not
 * blank or a comment (the comment lines around an entry are not part of it, as in
 * editor.ts's itemSpan), at the list's indentation.
 */
export interface EntrySpan {
  readonly start: number;
  readonly end: number;
  readonly indent: number;
  /** The line number of its `- ` line (1-based). */
  readonly line: number;
}

/** `keys:` alone on its line (a comment may follow). */
const KEYS_LINE = /^keys:[ ]*(?:#.*)?$/;
/**
 * A block scalar's header (`|`, `>`, with indicators) at the end of a line: its lines
 * may look like comments or blank lines that a line scan skips. Also matches inside
 * quotes and comments; the scan then only gives up where it need not.
 */
const BLOCK_SCALAR = /[ :-][|>][1-9+-]{0,2}[ ]*(?:#.*)?$/m;
/** Directives and document markers: more than one document, or tags defined for it. */
const DOCUMENT_MARK = /^(?:---|\.\.\.|%)/m;
const DASH = 45;
const SPACE = 32;
const HASH = 35;

/**
 * The entries of `text`'s `keys:` list in order; undefined when the layout is not one a
 * line scan reads exactly (no entries, a flow list, tabs, CR line ends, block scalars,
 * several documents, another top-level field, an entry whose `- ` line has nothing after
 * the dash). A line at the list's indentation ends the entry before it: in a file the
 * YAML parser reads without errors, no scalar or flow collection of an entry continues
 * on such a line (the parser rejects that as bad indentation).
 */
export function entrySpans(text: string): EntrySpan[] | undefined {
  if (text.includes('\r') || text.includes('\t') || BLOCK_SCALAR.test(text) || DOCUMENT_MARK.test(text)) return undefined;
  const line = new SignificantLines(text);
  if (!line.next() || line.indent !== 0 || !KEYS_LINE.test(text.slice(line.start, line.end))) return undefined;
  if (!line.next()) return undefined;
  const indent = line.indent;
  const spans: EntrySpan[] = [];
  let start = -1;
  let end = -1;
  let first = 0;
  do {
    if (line.indent < indent) return undefined;
    if (line.indent === indent) {
      if (!startsEntry(text, line.content, line.end)) return undefined;
      if (start !== -1) spans.push({ start, end, indent, line: first });
      start = line.start;
      first = line.no;
    }
    end = line.end < text.length ? line.end + 1 : line.end;
  } while (line.next());
  spans.push({ start, end, indent, line: first });
  return spans;
}

/** `- ` and then something on the same line that is not a comment. */
function startsEntry(text: string, at: number, end: number): boolean {
  if (text.charCodeAt(at) !== DASH || text.charCodeAt(at + 1) !== SPACE) return false;
  let i = at + 2;
  while (i < end && text.charCodeAt(i) === SPACE) i++;
  return i < end && text.charCodeAt(i) !== HASH;
}

/** The entry whose span holds offset `at`; undefined when `at` is before the first or between entries. */
export function spanAt(spans: readonly EntrySpan[], at: number): EntrySpan | undefined {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const span = spans[mid];
    if (at < span.start) hi = mid - 1;
    else if (at >= span.end) lo = mid + 1;
    else return span;
  }
  return undefined;
}
