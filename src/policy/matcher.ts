import { LITERAL_READINGS, type PathReadings } from './pathReadings.js';
import type { MethodSet } from './methods.js';
import type { PathPattern } from './pathPattern.js';
import type { CompiledRule, RuleOrigin } from './rules.js';

/** What a rule is matched against: the request as the service sees it. */
export interface RuleQuery {
  readonly region: string;
  readonly service: string;
  readonly method: string;
  readonly segments: readonly string[];
}

interface TrieNode {
  readonly id: number;
  literal: Map<string, TrieNode> | null;
  one: TrieNode | null;
  many: TrieNode | null;
  terminal: { rank: number; rule: CompiledRule }[];
  /** During match number `walk`, `many` has been entered at every segment index from `manyFrom` on. */
  walk: number;
  manyFrom: number;
}

let nodes = 0;
const newNode = (): TrieNode => ({ id: ++nodes, literal: null, one: null, many: null, terminal: [], walk: 0, manyFrom: 0 });

let walks = 0;
/** Above any path's segment count (targets are at most 8 KiB), so node id × this + index is unique. */
const MAX_SEGMENTS = 1 << 14;

/**
 * Rules compiled into one segment trie per service, so matching costs the depth of the
 * path, not the number of rules. The tries are built on the first match: most of
 * 100,000 keys never see a request, and a trie costs far more than its rules. One set
 * serves every matcher over equal rules (the key store shares one between all keys
 * with the same scope).
 */
export class RuleSet {
  readonly rules: readonly CompiledRule[];
  #byService: Map<string, TrieNode> | undefined;
  /** The same tries with literals lower-cased; the exact tries when no literal has upper case. */
  #folded: Map<string, TrieNode> | undefined;

  /** Whether a rule lets some keys through (guardrails' `except`). */
  readonly excepts: boolean;

  constructor(rules: readonly CompiledRule[]) {
    this.rules = Object.freeze([...rules]);
    this.excepts = rules.some((rule) => rule.except !== undefined);
  }

  exact(): Map<string, TrieNode> {
    return (this.#byService ??= buildTries(this.rules, false));
  }

  folded(): Map<string, TrieNode> {
    return (this.#folded ??= this.rules.some(hasUpperCase) ? buildTries(this.rules, true) : this.exact());
  }
}

/** Rules a matcher names before its list of them grows (most keys have a few). */
const BUILT_SLOTS = 8;

/**
 * Names the rules of shared sets for one owner (a key): where rule `index` of its list
 * `list` was written. An object, not a closure, so a key store's record can name its own
 * rules without allocating a function per matcher.
 */
export interface RuleNamer {
  ruleOrigin(list: string, index: number): RuleOrigin;
}

/**
 * A list of rules and how to match a request against them. When several rules match,
 * the first one listed wins, which keeps `explain` stable and unambiguous. A matcher
 * made with a namer shares the rules and tries of its set and names its own origins:
 * only the rule that decided is rebuilt, and its origin is read only when asked for
 * (`rules` builds them all, for explain and permissions).
 */
export class RuleMatcher {
  readonly #set: RuleSet;
  readonly #namer: RuleNamer | undefined;
  readonly #list: string;
  #rules: readonly CompiledRule[] | undefined;
  /** Rules rebuilt with this matcher's origins, by rank, as they are asked for. */
  #built: (CompiledRule | undefined)[] | undefined;

  /** `list`: the name `namer` knows this matcher's rules by (e.g. "allow"). */
  constructor(rules: readonly CompiledRule[] | RuleSet, namer?: RuleNamer, list = '') {
    this.#set = rules instanceof RuleSet ? rules : new RuleSet(rules);
    this.#namer = namer;
    this.#list = list;
  }

  get rules(): readonly CompiledRule[] {
    return (this.#rules ??= this.#namer ? Object.freeze(this.#set.rules.map((_, i) => this.#ruleAt(i)!)) : this.#set.rules);
  }

  get size(): number {
    return this.#set.rules.length;
  }

  /** Whether a rule lets some keys through (guardrails' `except`). */
  get excepts(): boolean {
    return this.#set.excepts;
  }

  /** The first listed rule that matches the path byte for byte (and that `accept` admits, when given). */
  match(q: RuleQuery, accept?: (rule: CompiledRule) => boolean): CompiledRule | undefined {
    if (this.size === 0) return undefined;
    return this.#ruleAt(search(this.#set.exact(), q, q.segments, LITERAL_READINGS, false, this.#byRank(accept)));
  }

  /** As `match`, comparing literals lower-cased: `segments` must already be lower-cased. */
  matchFolded(q: RuleQuery, segments: readonly string[]): CompiledRule | undefined {
    if (this.size === 0) return undefined;
    return this.#ruleAt(search(this.#set.folded(), q, segments, LITERAL_READINGS, false, undefined));
  }

  /**
   * For deny rules and guardrails: the first listed rule that matches any reading of the
   * path (PathReadings), with `GET` covering `HEAD` (frameworks run the GET handler for HEAD).
   * Matching more readings can only find more rules, never fewer.
   */
  matchAnyReading(q: RuleQuery, readings: PathReadings, accept?: (rule: CompiledRule) => boolean): CompiledRule | undefined {
    if (this.size === 0) return undefined;
    return this.#ruleAt(search(this.#set.folded(), q, readings.folded ?? q.segments, readings, true, this.#byRank(accept)));
  }

  #byRank(accept: ((rule: CompiledRule) => boolean) | undefined): ((rank: number) => boolean) | undefined {
    return accept && ((rank) => accept(this.#ruleAt(rank)!));
  }

  /** Rule `rank` as this matcher names it (one object per rank, so callers may compare rules by identity); -1: none. */
  #ruleAt(rank: number): CompiledRule | undefined {
    if (rank === -1) return undefined;
    if (!this.#namer) return this.#set.rules[rank];
    // Sized at first use (at most BUILT_SLOTS, grown past that): storing into an empty array grows it, which costs more than the rule.
    const built = (this.#built ??= new Array<CompiledRule | undefined>(Math.min(this.size, BUILT_SLOTS)));
    return (built[rank] ??= new NamedRule(this.#set.rules[rank], this.#namer, this.#list, rank));
  }
}

/**
 * A shared rule under the name a matcher gives it: a class with the rule's fields copied
 * one by one, because spreading and freezing the rule on every allowed decision (a key
 * store builds a matcher for each key it looks up) cost more than the match. The origin
 * is made when first read: the request path never reads it (explain and replay do), and
 * making it read the rule's position from a million-key store's arrays on every decision.
 */
class NamedRule implements CompiledRule {
  readonly regions: ReadonlySet<string> | null;
  readonly service: string;
  readonly methods: MethodSet;
  readonly path: PathPattern;
  readonly except?: ReadonlySet<string>;
  readonly #namer: RuleNamer;
  readonly #list: string;
  readonly #index: number;
  #origin: RuleOrigin | undefined;

  constructor(rule: CompiledRule, namer: RuleNamer, list: string, index: number) {
    this.regions = rule.regions;
    this.service = rule.service;
    this.methods = rule.methods;
    this.path = rule.path;
    if (rule.except !== undefined) this.except = rule.except;
    this.#namer = namer;
    this.#list = list;
    this.#index = index;
  }

  get origin(): RuleOrigin {
    return (this.#origin ??= this.#namer.ruleOrigin(this.#list, this.#index));
  }
}

function hasUpperCase(rule: CompiledRule): boolean {
  return rule.path.segments.some((s) => s.kind === 'literal' && s.value !== s.value.toLowerCase());
}

function buildTries(rules: readonly CompiledRule[], fold: boolean): Map<string, TrieNode> {
  const byService = new Map<string, TrieNode>();
  rules.forEach((rule, rank) => insert(byService, rule, rank, fold));
  return byService;
}

function insert(byService: Map<string, TrieNode>, rule: CompiledRule, rank: number, fold: boolean): void {
  let node = byService.get(rule.service);
  if (!node) byService.set(rule.service, (node = newNode()));
  for (const seg of rule.path.segments) {
    if (seg.kind === 'many') node = node.many ??= newNode();
    else if (seg.kind === 'one') node = node.one ??= newNode();
    else {
      const value = fold ? seg.value.toLowerCase() : seg.value;
      node.literal ??= new Map();
      let next = node.literal.get(value);
      if (!next) node.literal.set(value, (next = newNode()));
      node = next;
    }
  }
  node.terminal.push({ rank, rule });
}

/** One match: what is matched, and the best rule found so far. */
interface Search {
  rank: number;
  rule: CompiledRule | undefined;
  /** Called with the rule's rank, so a matcher can hand `accept` its own copy of the rule. */
  readonly accept: ((rank: number) => boolean) | undefined;
  readonly walk: number;
  readonly segments: readonly string[];
  readonly alternates: readonly (readonly string[] | undefined)[] | undefined;
  /** A second end of the path: the index where its trailing slashes start (-1: none). */
  readonly trailingEnd: number;
  /** Empty segments (and `;…`-only ones) before the end may be skipped. */
  readonly dropsSegments: boolean;
  readonly method: string;
  readonly region: string;
  readonly headAsGet: boolean;
  /** (node, segment index) pairs already walked; only when there are several readings. */
  readonly visited: Set<number> | undefined;
}

function search(
  byService: Map<string, TrieNode>,
  q: RuleQuery,
  segments: readonly string[],
  readings: PathReadings,
  headAsGet: boolean,
  accept: Search['accept'],
): number {
  const { alternates, trailingEnd, dropsSegments } = readings;
  const s: Search = {
    rank: Infinity,
    rule: undefined,
    accept,
    walk: ++walks,
    segments,
    alternates,
    trailingEnd,
    dropsSegments,
    method: q.method,
    region: q.region,
    headAsGet,
    visited: dropsSegments ? new Set<number>() : undefined,
  };
  const named = byService.get(q.service);
  if (named) walk(named, s, 0);
  const any = q.service === '*' ? undefined : byService.get('*');
  if (any) walk(any, s, 0);
  return s.rule === undefined ? -1 : s.rank;
}

function walk(node: TrieNode, s: Search, si: number): void {
  if (s.visited !== undefined && !firstVisit(s.visited, node, si)) return;
  const segs = s.segments;
  if (si === segs.length || si === s.trailingEnd) {
    for (const t of node.terminal) {
      if (t.rank < s.rank && admits(t.rule, s) && (!s.accept || s.accept(t.rank))) {
        s.rank = t.rank;
        s.rule = t.rule;
      }
    }
  }
  if (si < segs.length) {
    const seg = segs[si];
    const others = s.alternates?.[si];
    if (others === undefined) consume(node, s, si, seg, seg !== '', seg === '' && s.dropsSegments);
    else consumeAny(node, s, si, seg, others);
  }
  if (node.many) walkMany(node, node.many, s, si);
}

/** Segment `si` read as `seg`: a literal or `*` consumes it; a droppable (empty) one may also be skipped. */
function consume(node: TrieNode, s: Search, si: number, seg: string, nonEmpty: boolean, droppable: boolean): void {
  const lit = node.literal?.get(seg);
  if (lit) walk(lit, s, si + 1);
  if (nonEmpty && node.one) walk(node.one, s, si + 1);
  if (droppable) walk(node, s, si + 1);
}

/**
 * Segment `si` with other spellings: each literal once, `*` and skipping at most once each.
 * A spelling that is empty (`;x` without its parameter) is dropped as `//` would be.
 */
function consumeAny(node: TrieNode, s: Search, si: number, seg: string, others: readonly string[]): void {
  let nonEmpty = seg !== '';
  let droppable = seg === '' && s.dropsSegments;
  for (const other of others) {
    const lit = node.literal?.get(other);
    if (lit) walk(lit, s, si + 1);
    if (other !== '') nonEmpty = true;
    else droppable = s.dropsSegments;
  }
  consume(node, s, si, seg, nonEmpty, droppable);
}

/**
 * Dropping segments lets one (node, segment index) be reached along many routes (a `;x`
 * segment is both a segment and droppable): each pair is walked once, or a crafted path
 * would cost exponentially many walks. Only searches that drop segments keep this set;
 * other readings lead each spelling to its own trie node.
 */
function firstVisit(visited: Set<number>, node: TrieNode, si: number): boolean {
  const key = node.id * MAX_SEGMENTS + si;
  if (visited.has(key)) return false;
  visited.add(key);
  return true;
}

/**
 * `**` can end at any later segment. Each (node, segment index) is walked at most once per
 * match, so patterns with several `**` cost O(trie size × path length) instead of growing
 * exponentially with a path the client chooses.
 */
function walkMany(node: TrieNode, many: TrieNode, s: Search, si: number): void {
  const done = node.walk === s.walk ? node.manyFrom : s.segments.length + 1;
  if (si >= done) return;
  node.walk = s.walk;
  node.manyFrom = si;
  for (let k = si; k < done; k++) walk(many, s, k);
}

function admits(rule: CompiledRule, s: Search): boolean {
  if (rule.regions !== null && !rule.regions.has(s.region)) return false;
  const m = rule.methods;
  return m === null || m.has(s.method) || (s.headAsGet && s.method === 'HEAD' && m.has('GET'));
}
