import type { ConfigIssue } from '../reader/issues.js';
import type { RuleNames } from '../reader/ruleReader.js';
import { YamlReader } from '../reader/yamlReader.js';
import { ENTRY_HEADER, entrySpans } from './entrySpans.js';
import { PlainReader } from './fastReader.js';
import { readKeyEntryAt } from './lineReader.js';
import { readKeyEntry, readKeysFile } from './reader.js';
import type { KeyRecord } from './record.js';

/*
 * A keys file the fast readers refused (something in it is wrong, or written in a way
 * they do not read), read entry by entry: an entry the line reader reads and finds right
 * is taken as read; any other entry goes alone to the positioned parser (YamlReader),
 * which says what is wrong at the file's line and column, as the whole-file parse says.
 * That parse of a 100,000-key file with one wrong entry took 15–30 s and 1.6 GB, in the
 * load worker of a running keygate, where a memory limit sized for valid files kills
 * the pod.
 */

export interface EntriesRead {
  readonly keys: KeyRecord[];
  readonly errors: ConfigIssue[];
  readonly warnings: ConfigIssue[];
}

/** An alias (`*name`) outside quotes: it may name an anchor in another entry, which an entry read alone does not have. */
const ALIAS = /(?:^|[\s,[{])\*[^\s,\]}]/m;

/**
 * Entries a valid file may send to the positioned parser before this reader leaves the
 * file to the whole-file readers: one at a time it costs ~10 times what js-yaml does.
 */
const MAX_ALONE_WITHOUT_ERROR = 1000;

/**
 * What readKeysEntryByEntry gives when MAX_ALONE_WITHOUT_ERROR entries went to the
 * positioned parser and none was wrong: a valid file in a layout the line reader does
 * not read, so reading it whole by line would fail too; js-yaml reads it quicker.
 */
export const FOR_JS_YAML = Symbol('for js-yaml');

/**
 * The file's keys, errors and warnings; undefined when its lines do not cut into entries
 * (entrySpans) or it has an alias; FOR_JS_YAML (above).
 */
export function readKeysEntryByEntry(file: string, text: string, names: RuleNames): EntriesRead | typeof FOR_JS_YAML | undefined {
  const spans = ALIAS.test(text) ? undefined : entrySpans(text);
  if (!spans) return undefined;
  const read: EntriesRead = { keys: [], errors: [], warnings: [] };
  const plain = new PlainReader(file, undefined, new Map());
  let alone = 0;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i];
    const byLine = readKeyEntryAt(text, span.start, span.line);
    // The line reader must end the entry where the scan does: the next entry's line, or the end.
    if (byLine && byLine.next === (spans[i + 1]?.start ?? text.length)) {
      plain.failed = false;
      plain.positions = byLine.entry.positions;
      const key = readKeyEntry(plain, byLine.entry.node, names);
      if (key && !plain.failed) {
        read.keys.push(key);
        continue;
      }
    }
    if (++alone > MAX_ALONE_WITHOUT_ERROR && read.errors.length === 0) return FOR_JS_YAML;
    const r = new YamlReader(file, ENTRY_HEADER + text.slice(span.start, span.end), span.line - 2);
    if (r.root !== undefined) read.keys.push(...readKeysFile(r, names));
    read.errors.push(...r.issues);
    read.warnings.push(...r.warnings);
  }
  return read;
}
