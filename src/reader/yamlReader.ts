import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { closest } from '../policy/suggest.js';
import type { ConfigIssue } from './issues.js';
import { RuleInterner } from './ruleInterner.js';

export type YNode = Node | null | undefined;

/**
 * What the file readers (keysFile.ts, ruleReader.ts) need from a parsed file, over any
 * kind of node: YAML AST nodes with positions (YamlReader), or the plain values of the
 * fast keys-file path (PlainReader), so one validator serves both.
 */
export interface NodeReader<N> {
  readonly file: string;
  readonly root: N;
  /** Equal compiled values shared across the file's rules. */
  readonly interner: RuleInterner;
  error(node: N | undefined, message: string): undefined;
  warn(node: N | undefined, message: string): void;
  position(node: N | undefined): { line: number; col: number };
  map(node: N | undefined, what: string, allowed: readonly string[], required?: readonly string[]): Map<string, Field<N, N>> | undefined;
  list(node: N | undefined, what: string): N[];
  string(node: N | undefined, what: string): string | undefined;
  boolean(node: N | undefined, what: string): boolean | undefined;
  strings(node: N | undefined, what: string): string[] | undefined;
  stringNodes(node: N | undefined, what: string): { value: string; node: N }[] | undefined;
  scalarText(node: N | undefined): string;
  /** The field names of a mapping with their key nodes; none for anything else. */
  keysOf(node: N | undefined): { name: string; key: N }[];
}

/**
 * Reads one YAML file's nodes with their positions, collecting every problem instead of
 * stopping at the first, so `keygate check` can report all of them at once.
 */
export class YamlReader implements NodeReader<YNode> {
  readonly issues: ConfigIssue[] = [];
  readonly interner = new RuleInterner();
  readonly warnings: ConfigIssue[] = [];
  readonly root: YNode;
  private readonly lines = new LineCounter();
  private readonly doc: Document.Parsed;

  /** `linesBefore`: lines of the file before `text` (a part of it read alone), added to every line number. */
  constructor(
    readonly file: string,
    text: string,
    private readonly linesBefore = 0,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    for (const e of this.doc.errors) {
      const pos = this.linePos(e.pos[0]);
      this.issues.push({ file, line: pos.line, col: pos.col, message: e.message.split('\n')[0] });
    }
    this.root = this.doc.errors.length ? undefined : this.doc.contents;
  }

  error(node: YNode, message: string): undefined {
    this.issues.push(this.locate(node, message));
    return undefined;
  }

  warn(node: YNode, message: string): void {
    this.warnings.push(this.locate(node, message));
  }

  locate(node: YNode, message: string): ConfigIssue {
    const pos = this.position(node);
    return { file: this.file, line: pos.line, col: pos.col, message };
  }

  position(node: YNode): { line: number; col: number } {
    return this.linePos(node?.range?.[0] ?? 0);
  }

  private linePos(offset: number): { line: number; col: number } {
    const pos = this.lines.linePos(offset);
    return { line: pos.line + this.linesBefore, col: pos.col };
  }

  resolve(node: YNode): YNode {
    return isAlias(node) ? (node.resolve(this.doc) as Node | undefined) : node;
  }

  /** A mapping whose keys must all be in `allowed`; unknown fields are errors. */
  map(node: YNode, what: string, allowed: readonly string[], required: readonly string[] = []): Map<string, Field> | undefined {
    node = this.resolve(node);
    if (!isMap(node)) return this.error(node, `${what} must be a mapping`);
    const out = new Map<string, Field>();
    for (const pair of node.items) {
      const key = pair.key as Node;
      const name = isScalar(key) ? String(key.value) : '';
      if (!allowed.includes(name)) {
        this.error(key, `unknown field "${name}" in ${what}${hint(name, allowed)}`);
        continue;
      }
      out.set(name, { key, value: pair.value as YNode });
    }
    for (const name of required) if (!out.has(name)) this.error(node, `${what} is missing "${name}"`);
    return out;
  }

  /** A mapping from names to values (roles, users): keys are names, not fields. */
  entries(node: YNode, what: string): Field[] {
    node = this.resolve(node);
    if (node === null || node === undefined) return [];
    if (!isMap(node)) return this.error(node, `${what} must be a mapping`) ?? [];
    return node.items.map((pair) => ({ key: pair.key as Node, value: pair.value as YNode }));
  }

  list(node: YNode, what: string): YNode[] {
    node = this.resolve(node);
    if (node === null || node === undefined) return [];
    if (!isSeq(node)) return this.error(node, `${what} must be a list`) ?? [];
    return node.items as YNode[];
  }

  /** An absent field (`undefined`) is not reported here: `map(..., required)` reports it once, at its mapping. */
  string(node: YNode, what: string): string | undefined {
    if (node === undefined) return undefined;
    node = this.resolve(node);
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    if (isScalar(node) && typeof node.value === 'number') return String(node.value);
    return this.error(node, `${what} must be a string`);
  }

  boolean(node: YNode, what: string): boolean | undefined {
    node = this.resolve(node);
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    return this.error(node, `${what} must be true or false`);
  }

  /** A string or a list of strings. */
  strings(node: YNode, what: string): string[] | undefined {
    return this.stringNodes(node, what)?.map((s) => s.value);
  }

  /** Like `strings`, keeping each entry's node so a bad entry can be reported where it is. */
  stringNodes(node: YNode, what: string): { value: string; node: YNode }[] | undefined {
    if (node === undefined) return undefined;
    node = this.resolve(node);
    const items = isSeq(node) ? (node.items as YNode[]) : [node];
    const label = isSeq(node) ? `each entry of ${what}` : `${what} (a string or a list of strings)`;
    const out = items.map((item) => ({ value: this.string(item, label), node: item }));
    return out.every((s) => s.value !== undefined) ? (out as { value: string; node: YNode }[]) : undefined;
  }

  keysOf(node: YNode): { name: string; key: YNode }[] {
    node = this.resolve(node);
    if (!isMap(node)) return [];
    return node.items.flatMap((pair) => (isScalar(pair.key) ? [{ name: String(pair.key.value), key: pair.key as Node }] : []));
  }

  /** Plain JS value of a node, for rules whose shape is checked elsewhere. */
  scalarText(node: YNode): string {
    node = this.resolve(node);
    return isScalar(node) ? String(node.value) : '';
  }
}

export interface Field<N = YNode, K = Node> {
  readonly key: K;
  readonly value: N;
}

function hint(name: string, allowed: readonly string[]): string {
  const close = closest(name, allowed);
  return close ? ` (did you mean "${close}"?)` : ` (allowed: ${allowed.join(', ')})`;
}
