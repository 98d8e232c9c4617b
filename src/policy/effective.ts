import { intersectMethods, methodsText, type MethodSet } from './methods.js';
import type { KeyPolicy, Policy } from './model.js';
import { covers, overlaps, overlapsSomeReading, type PathPattern } from './pathPattern.js';
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
  const allow =
    key.scope === 'inherit'
      ? userRules.map((r) => fromRule(r))
      : userRules.flatMap((u) => key.allow.rules.map((k) => intersectRules(u, k))).filter((r): r is EffectiveRule => r !== undefined);
  const merged = mergeSame(allow);
  const removesSomething = (rule: CompiledRule): boolean => merged.some((r) => canRemove(rule, r));
  return {
    allow: merged,
    deny: key.deny.rules.filter(removesSomething),
    guardrails: policy.guardrails.rules.filter((g) => !g.except?.has(key.id) && removesSomething(g)),
  };
}

/**
 * Whether a deny rule or guardrail can take anything away from an effective rule: it shares
 * a service, a region, a method (its `GET` covering `HEAD`) and a path in some reading. Errs
 * towards yes: a rule shown that never bites is noise, a rule hidden that does is a lie.
 */
function canRemove(rule: CompiledRule, allowed: EffectiveRule): boolean {
  if (rule.service !== '*' && allowed.service !== '*' && rule.service !== allowed.service) return false;
  if (rule.regions !== null && allowed.regions !== null && ![...rule.regions].some((r) => allowed.regions!.has(r))) return false;
  const methods = intersectMethods(withHeadForGet(rule.methods), allowed.methods);
  if (methods !== null && methods.size === 0) return false;
  return (
    overlapsSomeReading(rule.path, allowed.path) && (allowed.alsoPath === undefined || overlapsSomeReading(rule.path, allowed.alsoPath))
  );
}

function withHeadForGet(methods: MethodSet): MethodSet {
  return methods !== null && methods.has('GET') && !methods.has('HEAD') ? new Set([...methods, 'HEAD']) : methods;
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
  const regions =
    a.regions === null ? b.regions : b.regions === null ? a.regions : new Set([...a.regions].filter((x) => b.regions!.has(x)));
  if (regions !== null && regions.size === 0) return undefined;
  if (!overlaps(a.path, b.path)) return undefined;
  const base = { service, methods, regions, from: [[a, b]] };
  if (covers(a.path, b.path)) return { ...base, path: b.path };
  if (covers(b.path, a.path)) return { ...base, path: a.path };
  return { ...base, path: a.path, alsoPath: b.path };
}

/** An effective rule as one line, e.g. `compute GET,HEAD /v2/p1/servers [region eu-1]`; `A ∩ B` when both paths must match. */
export function effectiveText(r: EffectiveRule): string {
  const region = r.regions ? ` [region ${[...r.regions].join(',')}]` : '';
  const path = r.alsoPath ? `${r.path.text} ∩ ${r.alsoPath.text}` : r.path.text;
  return `${r.service} ${methodsText(r.methods)} ${path}${region}`;
}

/** Where an effective rule comes from, one entry per way it is reached: "role reader rule 1 ∩ key X allow rule 1". */
export function effectiveSources(r: EffectiveRule): string[] {
  return r.from.map((rules) => rules.map((f) => `${f.origin.owner} rule ${f.origin.index + 1}`).join(' ∩ '));
}

type RuleShape = Pick<CompiledRule, 'service' | 'methods' | 'regions' | 'path'> & { readonly alsoPath?: unknown };

/** Whether every request `inner` admits, `outer` admits too. */
export function ruleCovers(outer: RuleShape, inner: RuleShape): boolean {
  if (outer.alsoPath) return false;
  const service = outer.service === '*' || outer.service === inner.service;
  const methods = outer.methods === null || (inner.methods !== null && [...inner.methods].every((m) => outer.methods!.has(m)));
  const regions = outer.regions === null || (inner.regions !== null && [...inner.regions].every((r) => outer.regions!.has(r)));
  return service && methods && regions && covers(outer.path, inner.path);
}

/** `reader` and `compute-admin` often both grant the same GETs: each request shape once, by the widest rule. */
export function withoutSubsumed(rules: readonly EffectiveRule[]): EffectiveRule[] {
  const kept: EffectiveRule[] = [];
  for (const rule of rules) {
    if (kept.some((k) => ruleCovers(k, rule))) continue;
    kept.splice(0, kept.length, ...kept.filter((k) => !ruleCovers(rule, k)));
    kept.push(rule);
  }
  return kept;
}

/** A restricted key's allow rule that asks for more than its user can do, and what it actually gives. */
export interface Overreach {
  readonly rule: CompiledRule;
  readonly effective: readonly EffectiveRule[];
}

/**
 * A restricted key's allow rules that no single rule of its user covers. They are allowed
 * (the user may gain a role later), but an operator should see what is actually effective.
 */
export function overreachingAllowRules(policy: Policy, key: KeyPolicy): Overreach[] {
  if (key.scope !== 'restricted') return [];
  const userRules = policy.users.get(key.user)?.rules.rules ?? [];
  const effective = effectivePermissions(policy, key).allow;
  return key.allow.rules
    .filter((k) => !userRules.some((u) => ruleCovers(u, k)))
    .map((rule) => ({ rule, effective: effective.filter((e) => e.from.some((rules) => rules.includes(rule))) }));
}
