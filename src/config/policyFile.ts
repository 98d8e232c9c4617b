import { RuleMatcher } from '../policy/matcher.js';
import type { UserPolicy } from '../policy/model.js';
import type { RateLimit } from '../policy/rateLimits.js';
import type { CompiledRule } from '../policy/rules.js';
import { didYouMean } from '../policy/suggest.js';
import { readLimitNames, readRateLimits } from './rateLimitReader.js';
import { readRule, readRules, type RuleNames } from '../reader/ruleReader.js';
import { controlCharProblem, readTimestamp } from '../reader/values.js';
import type { YamlReader, YNode } from '../reader/yamlReader.js';

export interface PolicyFile {
  roles: Map<string, CompiledRule[]>;
  users: Map<string, UserPolicy>;
  guardrails: RuleMatcher;
  rateLimits: Map<string, RateLimit>;
}

/** Reads policy.yaml: roles (lists of rules), named rate limits, users (roles, rateLimit, disabled, expires), guardrails. */
export function readPolicyFile(r: YamlReader, names: RuleNames): PolicyFile | undefined {
  const f = r.map(r.root, 'policy file', ['roles', 'users', 'guardrails', 'rateLimits']);
  if (!f) return undefined;
  const rateLimits = readRateLimits(r, f.get('rateLimits')?.value, names.services);
  const roles = new Map<string, CompiledRule[]>();
  for (const { key, value } of r.entries(f.get('roles')?.value, 'roles')) {
    const name = r.scalarText(key);
    roles.set(name, readRules(r, value, `role ${name}`, names));
  }
  const users = new Map<string, UserPolicy>();
  for (const { key, value } of r.entries(f.get('users')?.value, 'users')) {
    const name = r.scalarText(key);
    const problem = controlCharProblem('user', name);
    if (problem) r.error(key, problem);
    const user = readUser(r, name, value, roles, rateLimits);
    if (user) users.set(user.name, user);
  }
  return { roles, users, guardrails: new RuleMatcher(readGuardrails(r, f.get('guardrails')?.value, names)), rateLimits };
}

function readUser(r: YamlReader, name: string, node: YNode, roles: ReadonlyMap<string, CompiledRule[]>, named: ReadonlyMap<string, RateLimit>): UserPolicy | undefined {
  const f = r.map(node, `user ${name}`, ['roles', 'disabled', 'expires', 'rateLimit']);
  if (!f) return undefined;
  const roleNodes = r.stringNodes(f.get('roles')?.value, `user ${name} roles`) ?? [];
  for (const role of roleNodes) {
    if (!roles.has(role.value)) r.error(role.node, `user ${name}: unknown role "${role.value}"${didYouMean(role.value, roles.keys())}`);
  }
  const roleNames = roleNodes.map((role) => role.value);
  const expires = f.has('expires') ? readTimestamp(r, f.get('expires')!.value, `user ${name} expires`) : undefined;
  const rules = roleNames.flatMap((role) => roles.get(role) ?? []);
  return Object.freeze({
    name,
    roles: Object.freeze(roleNames),
    rules: new RuleMatcher(rules),
    rateLimits: Object.freeze(readLimitNames(r, f.get('rateLimit')?.value, `user ${name}`, named)),
    disabled: f.has('disabled') ? r.boolean(f.get('disabled')!.value, `user ${name} disabled`) ?? false : false,
    ...(expires !== undefined ? { expires } : {}),
  });
}

function readGuardrails(r: YamlReader, node: YNode, names: RuleNames): CompiledRule[] {
  const out: CompiledRule[] = [];
  r.list(node, 'guardrails').forEach((item, i) => {
    const read = readRule(r, item, 'guardrail', i, names, ['except']);
    if (!read) return;
    const exceptNode = read.fields.get('except');
    const except = exceptNode === undefined ? [] : r.strings(exceptNode, 'except') ?? [];
    out.push(Object.freeze({ ...read.rule, except: new Set(except) }));
  });
  return out;
}
