import type { MethodSet } from '../policy/methods.js';
import type { PathPattern } from '../policy/pathPattern.js';
import type { CompiledRule, RuleSpec } from '../policy/rules.js';

/**
 * One object for equal compiled values within a file: 100,000 keys usually repeat a
 * handful of patterns and method sets, and each copy would cost hundreds of bytes.
 * Patterns and method sets are never modified once compiled, so sharing is safe.
 */
export class RuleInterner {
  readonly #strings = new Map<string, string>();
  readonly #paths = new Map<string, PathPattern>();
  readonly #methods = new Map<string, MethodSet>();
  /** Rules compiled from each spec (the rule of the first key that wrote it; each later key takes it with its own origin). */
  readonly #bySpec = new Map<string, CompiledRule>();

  string(s: string): string {
    const known = this.#strings.get(s);
    if (known !== undefined) return known;
    this.#strings.set(s, s);
    return s;
  }

  /** `spec`: what the rule was compiled from, so `compiled(spec)` finds it again. */
  rule(rule: CompiledRule, spec?: RuleSpec): CompiledRule {
    const path = this.path(rule.path);
    const methods = this.methodSet(rule.methods);
    const out =
      path === rule.path && methods === rule.methods ? rule : Object.freeze({ ...rule, path, methods, service: this.string(rule.service) });
    if (spec) this.#bySpec.set(specKey(spec), out);
    return out;
  }

  /** The rule compiled earlier from an equal spec (its origin is that rule's own). */
  compiled(spec: RuleSpec): CompiledRule | undefined {
    return this.#bySpec.size === 0 ? undefined : this.#bySpec.get(specKey(spec));
  }

  /** Patterns decoded from a worker arrive unfrozen: the first copy is frozen and kept. */
  path(p: PathPattern): PathPattern {
    const known = this.#paths.get(p.text);
    if (known) return known;
    Object.freeze(p.segments);
    this.#paths.set(p.text, Object.freeze(p));
    return p;
  }

  methodSet(m: MethodSet): MethodSet {
    if (m === null) return null;
    const key = [...m].join(',');
    const known = this.#methods.get(key);
    if (known !== undefined) return known;
    this.#methods.set(key, m);
    return m;
  }
}

/** Length-prefixed parts: unambiguous whatever the text holds, and cheaper than JSON.stringify. */
function specKey(spec: RuleSpec): string {
  return `${part(spec.service)}${part(spec.path)}${listKey(spec.method)}${listKey(spec.region)}`;
}

function part(s: string): string {
  return `${s.length}:${s}`;
}

function listKey(v: string | readonly string[] | undefined): string {
  return v === undefined ? '-' : typeof v === 'string' ? `s${part(v)}` : `a${v.length}${v.map(part).join('')}`;
}
