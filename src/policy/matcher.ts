import type { CompiledRule } from './rules.js';

/** What a rule is matched against: the request as the service sees it. */
export interface RuleQuery {
  readonly region: string;
  readonly service: string;
  readonly method: string;
  readonly segments: readonly string[];
}

interface TrieNode {
  literal: Map<string, TrieNode> | null;
  one: TrieNode | null;
  many: TrieNode | null;
  terminal: { rank: number; rule: CompiledRule }[];
  /** During match number `walk`, `many` has been entered at every segment index from `manyFrom` on. */
  walk: number;
  manyFrom: number;
}

const newNode = (): TrieNode => ({ literal: null, one: null, many: null, terminal: [], walk: 0, manyFrom: 0 });

let walks = 0;

/**
 * A list of rules compiled into one segment trie per service, so matching costs the
 * depth of the path, not the number of rules. When several rules match, the first one
 * listed wins, which keeps `explain` stable and unambiguous.
 *
 * The tries are built on the first match: a config of 100,000 keys holds 200,000
 * matchers, most of which never see a request, and a trie costs far more than its rules.
 */
export class RuleMatcher {
  readonly rules: readonly CompiledRule[];
  #byService: Map<string, TrieNode> | undefined;

  constructor(rules: readonly CompiledRule[]) {
    this.rules = Object.freeze([...rules]);
  }

  get size(): number {
    return this.rules.length;
  }

  /** The first listed rule that matches (and that `accept` admits, when given). */
  match(q: RuleQuery, accept?: (rule: CompiledRule) => boolean): CompiledRule | undefined {
    if (this.rules.length === 0) return undefined;
    const byService = (this.#byService ??= buildTries(this.rules));
    const best: Best = { rank: Infinity, rule: undefined, accept, walk: ++walks };
    const named = byService.get(q.service);
    if (named) walk(named, q, 0, best);
    const any = q.service === '*' ? undefined : byService.get('*');
    if (any) walk(any, q, 0, best);
    return best.rule;
  }
}

function buildTries(rules: readonly CompiledRule[]): Map<string, TrieNode> {
  const byService = new Map<string, TrieNode>();
  rules.forEach((rule, rank) => insert(byService, rule, rank));
  return byService;
}

function insert(byService: Map<string, TrieNode>, rule: CompiledRule, rank: number): void {
  let node = byService.get(rule.service);
  if (!node) byService.set(rule.service, (node = newNode()));
  for (const seg of rule.path.segments) {
    if (seg.kind === 'many') node = node.many ??= newNode();
    else if (seg.kind === 'one') node = node.one ??= newNode();
    else {
      node.literal ??= new Map();
      let next = node.literal.get(seg.value);
      if (!next) node.literal.set(seg.value, (next = newNode()));
      node = next;
    }
  }
  node.terminal.push({ rank, rule });
}

interface Best {
  rank: number;
  rule: CompiledRule | undefined;
  readonly accept: ((rule: CompiledRule) => boolean) | undefined;
  readonly walk: number;
}

function walk(node: TrieNode, q: RuleQuery, si: number, best: Best): void {
  const segs = q.segments;
  if (si === segs.length) {
    for (const t of node.terminal) {
      if (t.rank < best.rank && admits(t.rule, q) && (!best.accept || best.accept(t.rule))) {
        best.rank = t.rank;
        best.rule = t.rule;
      }
    }
  } else {
    const seg = segs[si];
    const lit = node.literal?.get(seg);
    if (lit) walk(lit, q, si + 1, best);
    if (node.one && seg !== '') walk(node.one, q, si + 1, best);
  }
  if (node.many) walkMany(node, node.many, q, si, best);
}

/**
 * `**` can end at any later segment. Each (node, segment index) is walked at most once per
 * match, so patterns with several `**` cost O(trie size × path length) instead of growing
 * exponentially with a path the client chooses.
 */
function walkMany(node: TrieNode, many: TrieNode, q: RuleQuery, si: number, best: Best): void {
  const done = node.walk === best.walk ? node.manyFrom : q.segments.length + 1;
  if (si >= done) return;
  node.walk = best.walk;
  node.manyFrom = si;
  for (let k = si; k < done; k++) walk(many, q, k, best);
}

function admits(rule: CompiledRule, q: RuleQuery): boolean {
  return (rule.methods === null || rule.methods.has(q.method)) && (rule.regions === null || rule.regions.has(q.region));
}
