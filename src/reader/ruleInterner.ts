import type { MethodSet } from '../policy/methods.js';
import type { PathPattern } from '../policy/pathPattern.js';
import type { CompiledRule } from '../policy/rules.js';

/**
 * One object for equal compiled values within a file: 100,000 keys usually repeat a
 * handful of patterns and method sets, and each copy would cost hundreds of bytes.
 * Patterns and method sets are never modified once compiled, so sharing is safe.
 */
export class RuleInterner {
  readonly #strings = new Map<string, string>();
  readonly #paths = new Map<string, PathPattern>();
  readonly #methods = new Map<string, MethodSet>();

  string(s: string): string {
    const known = this.#strings.get(s);
    if (known !== undefined) return known;
    this.#strings.set(s, s);
    return s;
  }

  rule(rule: CompiledRule): CompiledRule {
    const path = this.path(rule.path);
    const methods = this.methodSet(rule.methods);
    if (path === rule.path && methods === rule.methods) return rule;
    return Object.freeze({ ...rule, path, methods, service: this.string(rule.service) });
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
