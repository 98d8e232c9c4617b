import { intersectMethods, methodsText, type MethodSet } from './methods.js';
import type { KeyPolicy, Policy } from './model.js';
import { covers, overlaps, type PathPattern } from './pathPattern.js';
import type { CompiledRule } from './rules.js';

/** One rule of a key's effective access: user rule ∩ key rule, with where each came from. */
export interface EffectiveRule {
  readonly service: string;
  readonly methods: MethodSet;
  readonly regions: ReadonlySet<string> | null;
  readonly path: PathPattern;
  /** When neither path covers the other, both must match: shown as "A ∩ B". */
  readonly alsoPath?: PathPattern;
  /** The rules that give it: each entry is one user rule (∩ one key rule, for restricted keys). */
  readonly from: readonly (readonly CompiledRule[])[];
}

export interface EffectivePermissions {
  readonly allow: readonly EffectiveRule[];
  readonly deny: readonly CompiledRule[];
  readonly guardrails: readonly CompiledRule[];
}

/** What a key can do: its user's rules, narrowed by its allow rules when restricted; minus deny rules and guardrails. */
export function effectivePermissions(policy: Policy, key: KeyPolicy): EffectivePermissions {
  const user = policy.users.get(key.user);
  const userRules = user ? user.rules.rules : [];
  const allow = key.scope === 'inherit'
    ? userRules.map((r) => fromRule(r))
    : userRules.flatMap((u) => key.allow.rules.map((k) => intersectRules(u, k))).filter((r): r is EffectiveRule => r !== undefined);
  const merged = mergeSame(allow);
  return {
    allow: merged,
    deny: key.deny.rules,
    guardrails: policy.guardrails.rules.filter((g) => !g.except?.has(key.id)),
  };
}

/** The same effective rule reached through several user rules is shown once, naming every source. */
function mergeSame(rules: readonly EffectiveRule[]): EffectiveRule[] {
  const byText = new Map<string, EffectiveRule>();
  for (const r of rules) {
    const text = `${r.service} ${methodsText(r.methods)} ${r.path.text} ${r.alsoPath?.text ?? ''} ${r.regions ? [...r.regions].sort().join(',') : '*'}`;
    const seen = byText.get(text);
    byText.set(text, seen ? { ...seen, from: [...seen.from, ...r.from] } : r);
  }
  return [...byText.values()];
}


function fromRule(r: CompiledRule): EffectiveRule {
  return { service: r.service, methods: r.methods, regions: r.regions, path: r.path, from: [[r]] };
}

export function intersectRules(a: CompiledRule, b: CompiledRule): EffectiveRule | undefined {
  const service = a.service === '*' ? b.service : b.service === '*' || b.service === a.service ? a.service : undefined;
  if (service === undefined) return undefined;
  const methods = intersectMethods(a.methods, b.methods);
  if (methods !== null && methods.size === 0) return undefined;
  const regions = a.regions === null ? b.regions : b.regions === null ? a.regions : new Set([...a.regions].filter((x) => b.regions!.has(x)));
  if (regions !== null && regions.size === 0) return undefined;
  if (!overlaps(a.path, b.path)) return undefined;
  const base = { service, methods, regions, from: [[a, b]] };
  if (covers(a.path, b.path)) return { ...base, path: b.path };
  if (covers(b.path, a.path)) return { ...base, path: a.path };
  return { ...base, path: a.path, alsoPath: b.path };
}
