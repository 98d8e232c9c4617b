import { RuleMatcher, RuleSet } from '../policy/matcher.js';
import type { KeyRotation, UserPolicy } from '../policy/model.js';
import type { RateLimit } from '../policy/rateLimits.js';
import type { CompiledRule } from '../policy/rules.js';
import { didYouMean } from '../policy/suggest.js';
import { readLimitNames, readRateLimits } from './rateLimitReader.js';
import { readRule, readRules, type RuleNames } from '../reader/ruleReader.js';
import { controlCharProblem, parseDuration, readTimestamp } from '../reader/values.js';
import type { YamlReader, YNode } from '../reader/yamlReader.js';

export interface PolicyFile {
  roles: Map<string, CompiledRule[]>;
  users: Map<string, UserPolicy>;
  guardrails: RuleMatcher;
  rateLimits: Map<string, RateLimit>;
  keyRotation: KeyRotation;
}

/** policy.yaml `keys` as written: the default maxAge and the per-user and per-role ones. */
interface KeysSection {
  readonly rotation: KeyRotation;
  readonly users: ReadonlyMap<string, number>;
  readonly roles: ReadonlyMap<string, number>;
  /** Where each user override is written, for a warning about users the policy lacks. */
  readonly userNodes: ReadonlyMap<string, YNode>;
}

/** Reads policy.yaml: roles (lists of rules), named rate limits, users (roles, rateLimit, disabled, expires), guardrails. */
export function readPolicyFile(r: YamlReader, names: RuleNames): PolicyFile | undefined {
  const f = r.map(r.root, 'policy file', ['roles', 'users', 'guardrails', 'rateLimits', 'keys']);
  if (!f) return undefined;
  const rateLimits = readRateLimits(r, f.get('rateLimits')?.value, names.services);
  const roles = new Map<string, CompiledRule[]>();
  for (const { key, value } of r.entries(f.get('roles')?.value, 'roles')) {
    const name = r.scalarText(key);
    roles.set(name, readRules(r, value, `role ${name}`, names));
  }
  const keys = readKeysSection(r, f.get('keys')?.value, roles);
  const users = new Map<string, UserPolicy>();
  const ruleSets = new RoleRuleSets(roles);
  for (const { key, value } of r.entries(f.get('users')?.value, 'users')) {
    const name = r.scalarText(key);
    const problem = controlCharProblem('user', name);
    if (problem) r.error(key, problem);
    const user = readUser(r, name, value, ruleSets, rateLimits);
    if (user) users.set(user.name, withKeyMaxAge(user, keys));
  }
  for (const [name, node] of keys.userNodes) {
    if (!users.has(name)) r.warn(node, `keys.users: no user "${name}" in the policy; its maxAge applies to nobody`);
  }
  const guardrails = new RuleMatcher(readGuardrails(r, f.get('guardrails')?.value, names));
  return { roles, users, guardrails, rateLimits, keyRotation: keys.rotation };
}

const NO_KEYS_SECTION: KeysSection = { rotation: { enforce: false }, users: new Map(), roles: new Map(), userNodes: new Map() };

/**
 * `keys: { maxAge: 365d, enforce: false, users: { ci: 90d }, roles: { admin: 30d } }`: how
 * old a key may get (since its creation or last rotation) before it is `rotation_due`.
 */
function readKeysSection(r: YamlReader, node: YNode, roles: ReadonlyMap<string, CompiledRule[]>): KeysSection {
  if (node == null) return NO_KEYS_SECTION;
  const f = r.map(node, 'keys', ['maxAge', 'enforce', 'users', 'roles']);
  if (!f) return NO_KEYS_SECTION;
  const maxAge = f.has('maxAge') ? readAge(r, f.get('maxAge')!.value, 'keys.maxAge') : undefined;
  const enforce = f.has('enforce') ? (r.boolean(f.get('enforce')!.value, 'keys.enforce') ?? false) : false;
  const userNodes = new Map<string, YNode>();
  const ages = (what: 'users' | 'roles'): Map<string, number> => {
    const out = new Map<string, number>();
    for (const { key, value } of r.entries(f.get(what)?.value, `keys.${what}`)) {
      const name = r.scalarText(key);
      if (what === 'users') userNodes.set(name, key);
      if (what === 'roles' && !roles.has(name)) r.error(key, `keys.roles: unknown role "${name}"`);
      const age = readAge(r, value, `keys.${what}.${name}`);
      if (age !== undefined) out.set(name, age);
    }
    return out;
  };
  return { rotation: Object.freeze({ ...(maxAge !== undefined ? { maxAge } : {}), enforce }), users: ages('users'), roles: ages('roles'), userNodes };
}

function readAge(r: YamlReader, node: YNode, what: string): number | undefined {
  const age = parseDuration(r.scalarText(node));
  if (typeof age !== 'number') return r.error(node, `${what}: ${age.error}`);
  if (age <= 0) return r.error(node, `${what} must be longer than 0`);
  return age;
}

/** The user's own maxAge, else the shortest of its roles', else the default. */
function withKeyMaxAge(user: UserPolicy, keys: KeysSection): UserPolicy {
  const byRole = user.roles.flatMap((role) => keys.roles.get(role) ?? []);
  const keyMaxAge = keys.users.get(user.name) ?? (byRole.length ? Math.min(...byRole) : keys.rotation.maxAge);
  return keyMaxAge === undefined ? user : Object.freeze({ ...user, keyMaxAge });
}

/**
 * The rules of a list of roles, one RuleSet per distinct list: users with the same roles
 * share its tries, as keys with the same scope do. A trie is built on a user's first
 * decision and costs far more than its rules: 10,000 users of one six-rule role, each
 * with its own set, held 42 MiB of tries once each had made a request (docs/keys-at-scale.md).
 */
class RoleRuleSets {
  readonly #byRoles = new Map<string, RuleSet>();

  constructor(readonly roles: ReadonlyMap<string, CompiledRule[]>) {}

  /** The roles' rules in the order listed (the first rule that matches decides, so order is part of the list). */
  of(roleNames: readonly string[]): RuleSet {
    const key = JSON.stringify(roleNames);
    let set = this.#byRoles.get(key);
    if (!set) this.#byRoles.set(key, (set = new RuleSet(roleNames.flatMap((role) => this.roles.get(role) ?? []))));
    return set;
  }
}

function readUser(r: YamlReader, name: string, node: YNode, ruleSets: RoleRuleSets, named: ReadonlyMap<string, RateLimit>): UserPolicy | undefined {
  const roles = ruleSets.roles;
  const f = r.map(node, `user ${name}`, ['roles', 'disabled', 'expires', 'rateLimit']);
  if (!f) return undefined;
  const roleNodes = r.stringNodes(f.get('roles')?.value, `user ${name} roles`) ?? [];
  for (const role of roleNodes) {
    if (!roles.has(role.value)) r.error(role.node, `user ${name}: unknown role "${role.value}"${didYouMean(role.value, roles.keys())}`);
  }
  const roleNames = roleNodes.map((role) => role.value);
  const expires = f.has('expires') ? readTimestamp(r, f.get('expires')!.value, `user ${name} expires`) : undefined;
  return Object.freeze({
    name,
    roles: Object.freeze(roleNames),
    rules: new RuleMatcher(ruleSets.of(roleNames)),
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
