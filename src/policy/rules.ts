import { compileMethods, methodsText, type ExtraMethods, type MethodSet } from './methods.js';
import { compilePattern, type PathPattern } from './pathPattern.js';

/** A rule as written in a file: `{ region?, service, method?, path }`. */
export interface RuleSpec {
  region?: string | readonly string[];
  service: string;
  method?: string | readonly string[];
  path: string;
}

/** Where a rule came from, so a decision can name it. */
export interface RuleOrigin {
  readonly owner: string; // e.g. 'role reader', 'key 7Hq2pXw9LmZ4 allow', 'guardrail'
  readonly index: number; // position in its list, from 0
  readonly file?: string;
  readonly line?: number;
  readonly col?: number;
}

export interface CompiledRule {
  readonly regions: ReadonlySet<string> | null; // null: any region
  readonly service: string; // a service name or '*'
  readonly methods: MethodSet;
  readonly path: PathPattern;
  readonly origin: RuleOrigin;
  readonly except?: ReadonlySet<string>; // guardrails only: key ids let through
}

export function compileRule(
  spec: RuleSpec,
  origin: RuleOrigin,
  except?: readonly string[],
  extraMethods?: ExtraMethods,
): CompiledRule | { error: string } {
  const methods = compileMethods(spec.method, extraMethods);
  if (methods !== null && 'error' in methods) return { error: methods.error };
  const path = compilePattern(spec.path);
  if ('error' in path) return { error: path.error };
  if (typeof spec.service !== 'string' || spec.service === '') return { error: 'service must be a name or "*"' };
  const regions = spec.region === undefined ? null : new Set(typeof spec.region === 'string' ? [spec.region] : spec.region);
  const rule: CompiledRule = { regions, service: spec.service, methods: methods as MethodSet, path, origin };
  return Object.freeze(except ? { ...rule, except: new Set(except) } : rule);
}

/** One line an operator can read: `compute GET,HEAD /v2/** [eu-west-1]`. */
export function ruleText(rule: Pick<CompiledRule, 'regions' | 'service' | 'methods' | 'path'>): string {
  const region = rule.regions ? ` [region ${[...rule.regions].join(',')}]` : '';
  return `${rule.service} ${methodsText(rule.methods)} ${rule.path.text}${region}`;
}

export function ruleLabel(rule: CompiledRule): string {
  const o = rule.origin;
  const at = o.file ? ` (${o.file}:${o.line}:${o.col})` : '';
  return `${ruleName(rule)}${at}`;
}

/** `key 7Hq2pXw9LmZ4 allow rule 2: compute GET,HEAD /v2/**`: which rule, without where it is written. */
export function ruleName(rule: CompiledRule): string {
  return `${rule.origin.owner} rule ${rule.origin.index + 1}: ${ruleText(rule)}`;
}
