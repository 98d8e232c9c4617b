import { compileMethods } from '../policy/methods.js';
import { didYouMean } from '../policy/suggest.js';
import { compileRule, type CompiledRule, type RuleSpec } from '../policy/rules.js';
import type { Field, NodeReader } from './yamlReader.js';

const RULE_FIELDS = ['region', 'service', 'method', 'path'];
const RULE_REQUIRED = ['service', 'path'];

/** What a rule may name: the configured services, and methods beyond RFC 9110's (`extraMethods` of keygate.yaml). */
export interface RuleNames {
  readonly services: ReadonlySet<string>;
  readonly extraMethods: ReadonlySet<string>;
}

/** Reads one `{ region?, service, method?, path }` rule, checking the service exists. */
export function readRule<N>(
  r: NodeReader<N>,
  node: N,
  owner: string,
  index: number,
  names: RuleNames,
  extraFields: readonly string[] = [],
): { rule: CompiledRule; fields: Map<string, N> } | undefined {
  const f = r.map(node, `${owner} rule ${index + 1}`, extraFields.length ? [...RULE_FIELDS, ...extraFields] : RULE_FIELDS, RULE_REQUIRED);
  if (!f) return undefined;
  const service = r.string(f.get('service')?.value, 'service');
  const path = r.string(f.get('path')?.value, 'path');
  const methodNodes = r.stringNodes(f.get('method')?.value, 'method');
  const method = methodNodes?.map((m) => m.value);
  const region = f.has('region') ? r.strings(f.get('region')!.value, 'region') : undefined;
  if (service === undefined || path === undefined) return undefined;
  if (service !== '*' && !names.services.has(service))
    return r.error(f.get('service')!.value, `unknown service "${service}"${didYouMean(service, names.services)}`);
  const spec: RuleSpec = { service, path, ...(method ? { method } : {}), ...(region ? { region } : {}) };
  const pos = r.position(node);
  const origin = { owner, index, file: r.file, line: pos.line, col: pos.col };
  const fields = new Map<string, N>([...f].map(([k, v]) => [k, v.value]));
  // 100,000 keys usually repeat a handful of rules: compile each distinct one once per file.
  const seen = r.interner.compiled(spec);
  if (seen) return { rule: Object.freeze({ ...seen, origin }), fields };
  const compiled = compileRule(spec, origin, undefined, names.extraMethods);
  if ('error' in compiled) return r.error(errorNode(compiled.error, f, methodNodes, names) ?? node, compiled.error);
  return { rule: r.interner.rule(compiled, spec), fields };
}

export function readRules<N>(r: NodeReader<N>, node: N, owner: string, names: RuleNames): CompiledRule[] {
  const out: CompiledRule[] = [];
  r.list(node, `${owner} rules`).forEach((item, i) => {
    const read = readRule(r, item, owner, i, names);
    if (read) out.push(read.rule);
  });
  return out;
}

/** The node a compile error is about: the path, or the one bad entry of a method list. */
function errorNode<N>(
  error: string,
  f: Map<string, Field<N, N>>,
  methods: { value: string; node: N }[] | undefined,
  names: RuleNames,
): N | undefined {
  if (error.startsWith('path')) return f.get('path')?.value;
  const bad = methods?.find((m) => {
    const compiled = compileMethods(m.value, names.extraMethods);
    return compiled !== null && 'error' in compiled;
  });
  return bad?.node ?? f.get('method')?.value;
}
