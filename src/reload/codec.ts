import { KeyStore } from '../keys/store.js';
import { transferables, type KeyStoreData } from '../keys/storeData.js';
import { compileCidrs } from '../policy/cidr.js';
import { RuleMatcher, RuleSet } from '../policy/matcher.js';
import type { UserPolicy } from '../policy/model.js';
import type { CompiledRule } from '../policy/rules.js';
import type { ServiceConfig, ShadowCandidate, Snapshot } from '../config/snapshot.js';

/*
 * A snapshot as plain data, so the load worker can hand it to the main thread: the
 * structured clone keeps Maps, Sets and plain objects, but not class instances
 * (RuleMatcher, KeyStore), closures (CidrSet) or URLs. Each such field is sent as the
 * data it was built from and rebuilt here; every other field passes through the
 * spreads untouched. The keys travel as the key store's typed arrays, transferred,
 * not copied: receiving 100,000 keys costs the main thread what receiving 10 does.
 */

type EncodedRule = CompiledRule;

interface EncodedUser extends Omit<UserPolicy, 'rules'> {
  readonly rules: readonly EncodedRule[];
}

interface EncodedService extends Omit<ServiceConfig, 'upstream'> {
  readonly upstream: string;
}

interface EncodedShadow {
  readonly files: readonly string[];
  readonly policy?: { readonly users: readonly EncodedUser[]; readonly guardrails: readonly EncodedRule[] };
  readonly keys?: KeyStoreData;
}

export interface EncodedSnapshot extends Omit<Snapshot, 'keys' | 'users' | 'guardrails' | 'services' | 'listen' | 'shadow'> {
  readonly listen: Omit<Snapshot['listen'], 'trustedProxies'> & { readonly trustedProxies: readonly string[] };
  readonly services: readonly EncodedService[];
  readonly users: readonly EncodedUser[];
  readonly guardrails: readonly EncodedRule[];
  readonly keys: KeyStoreData;
  readonly shadow?: EncodedShadow;
}

export function encodeSnapshot(s: Snapshot): EncodedSnapshot {
  const { shadow, ...rest } = s;
  return {
    ...rest,
    listen: { ...s.listen, trustedProxies: s.listen.trustedProxies.text },
    services: s.services.map((svc) => ({ ...svc, upstream: svc.upstream.href })),
    users: encodeUsers(s.users),
    guardrails: s.guardrails.rules,
    keys: s.keys.data,
    ...(shadow ? { shadow: encodeShadow(shadow) } : {}),
  };
}

function encodeUsers(users: Snapshot['users']): EncodedUser[] {
  return [...users.values()].map((u) => ({ ...u, rules: u.rules.rules }));
}

function encodeShadow(c: ShadowCandidate): EncodedShadow {
  return {
    files: c.files,
    ...(c.policy ? { policy: { users: encodeUsers(c.policy.users), guardrails: c.policy.guardrails.rules } } : {}),
    ...(c.keys ? { keys: c.keys.data } : {}),
  };
}

/** Every buffer a snapshot's key stores (the live one and a candidate's) can hand over without a copy. */
export function snapshotTransferables(e: EncodedSnapshot): ArrayBuffer[] {
  return [...new Set([...transferables(e.keys), ...(e.shadow?.keys ? transferables(e.shadow.keys) : [])])];
}

/** The worker's snapshot, rebuilt on the main thread: a few small objects and a key store over the received arrays. */
export function decodeSnapshot(e: EncodedSnapshot): Snapshot {
  const { shadow, ...rest } = e;
  deepFreeze({ ...rest, keys: undefined }); // the clone thawed what buildSnapshot froze (limits, reload, warnings…)
  return Object.freeze({
    ...rest,
    listen: Object.freeze({ ...e.listen, trustedProxies: compileCidrs(e.listen.trustedProxies) }),
    services: Object.freeze(e.services.map(decodeService)),
    users: decodeUsers(e.users),
    guardrails: new RuleMatcher(e.guardrails.map(freezeRule)),
    keys: new KeyStore(e.keys),
    ...(shadow ? { shadow: decodeShadow(shadow) } : {}),
  });
}

/**
 * Users with the same roles share one RuleSet in the worker (policyFile.ts), so their rules
 * arrive as one array (the clone keeps an object sent twice one object): one set again here.
 */
function decodeUsers(users: readonly EncodedUser[]): Map<string, UserPolicy> {
  const sets = new Map<readonly EncodedRule[], RuleSet>();
  const setOf = (rules: readonly EncodedRule[]): RuleSet => {
    let set = sets.get(rules);
    if (!set) sets.set(rules, (set = new RuleSet(rules.map(freezeRule))));
    return set;
  };
  return new Map(users.map((u) => [u.name, decodeUser(u, setOf(u.rules))]));
}

function decodeShadow(e: EncodedShadow): ShadowCandidate {
  return Object.freeze({
    files: Object.freeze([...e.files]),
    ...(e.policy
      ? { policy: Object.freeze({ users: decodeUsers(e.policy.users), guardrails: new RuleMatcher(e.policy.guardrails.map(freezeRule)) }) }
      : {}),
    ...(e.keys ? { keys: new KeyStore(e.keys) } : {}),
  });
}

function decodeService(s: EncodedService): ServiceConfig {
  return Object.freeze({ ...s, upstream: new URL(s.upstream), serviceToken: Object.freeze({ ...s.serviceToken }) });
}

function decodeUser(u: EncodedUser, rules: RuleSet): UserPolicy {
  return Object.freeze({ ...u, roles: Object.freeze([...u.roles]), rules: new RuleMatcher(rules) });
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value) || value instanceof Map || value instanceof Set) return;
  for (const v of Object.values(value)) deepFreeze(v);
  Object.freeze(value);
}

/** Rules shared by several users (one role) arrive as one object: freezing twice is harmless. */
function freezeRule(rule: EncodedRule): CompiledRule {
  Object.freeze(rule.path.segments);
  Object.freeze(rule.path);
  return Object.freeze(rule);
}
