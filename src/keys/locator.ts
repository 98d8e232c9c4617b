/**
 * Where each key and each of its allow/deny rules starts in a keys file, found by one
 * scan of the lines instead of a YAML parser: for files laid out as `keygate key`
 * writes them (`- id: …` first, rules one `- ` entry per rule under `allow:`/`deny:`).
 * Anything else (flow-style keys, inline rule lists) is not located, and the caller
 * then reads the file with the positioned parser instead.
 */

export interface Pos {
  readonly line: number;
  readonly col: number;
}

/** `null`: an entry whose position this scan cannot tell; 'inline': a non-empty flow list. */
export type LocatedList = (Pos | null)[] | 'inline';

export interface LocatedKey extends Pos {
  readonly id: string;
  readonly lists: Map<string, LocatedList>;
}

const KEY_START = /^(\s*)-(\s+)id:\s*(["']?)([0-9A-Za-z]{12})\3\s*(?:#.*)?$/;
const RULE_LIST = /^(\s*)(allow|deny):[ \t]*(.*)$/;
/** `shadow:` opening a block map: the allow/deny lists under it are named `shadow.allow` and `shadow.deny`. */
const SHADOW_BLOCK = /^(\s*)shadow:[ \t]*(?:#.*)?$/;
const DASH = /^(\s*)-(\s+|$)/;
const BLANK = /^\s*(?:#.*)?$/;
const EMPTY_FLOW = /^\[\s*\]\s*(?:#.*)?$/;

interface OpenList {
  readonly entries: (Pos | null)[];
  readonly indent: number;
  dashIndent?: number;
}

export function locateKeys(text: string): LocatedKey[] {
  const out: LocatedKey[] = [];
  let open: OpenList | undefined;
  let shadowIndent: number | undefined;
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (BLANK.test(line)) continue;
    if (open && continuesList(open, line, n + 1)) continue;
    open = undefined;
    const key = KEY_START.exec(line);
    if (key) {
      out.push({ id: key[4], line: n + 1, col: key[1].length + key[2].length + 2, lists: new Map() });
      shadowIndent = undefined;
      continue;
    }
    const indent = line.length - line.trimStart().length;
    if (shadowIndent !== undefined && indent <= shadowIndent) shadowIndent = undefined;
    const shadow = SHADOW_BLOCK.exec(line);
    if (shadow) {
      shadowIndent = shadow[1].length;
      continue;
    }
    const list = RULE_LIST.exec(line);
    const current = out[out.length - 1];
    if (!list || !current) continue;
    const name = shadowIndent === undefined ? list[2] : `shadow.${list[2]}`;
    const rest = list[3].trim();
    if (rest === '' || rest.startsWith('#')) {
      open = { entries: [], indent: list[1].length };
      current.lists.set(name, open.entries);
    } else {
      current.lists.set(name, EMPTY_FLOW.test(rest) ? [] : 'inline');
    }
  }
  return out;
}

/** Whether `line` belongs to the open block list (recording it when it starts an entry). */
function continuesList(open: OpenList, line: string, lineNo: number): boolean {
  const indent = line.length - line.trimStart().length;
  const dash = DASH.exec(line);
  if (open.dashIndent === undefined) {
    if (!dash || indent < open.indent) return false;
    open.dashIndent = indent;
  }
  if (indent > open.dashIndent) return true;
  if (indent < open.dashIndent || !dash) return false;
  // `-` alone on its line: the entry starts further down, somewhere this scan does not follow.
  open.entries.push(dash[2] === '' ? null : { line: lineNo, col: indent + dash[2].length + 2 });
  return true;
}
