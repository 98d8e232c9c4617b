import { parseHash } from '../auth/hashFormat.js';
import { conflictText, KeyIndexBuilder } from '../keys/keyIndex.js';
import { compileCidrs } from '../policy/cidr.js';
import { RuleMatcher } from '../policy/matcher.js';
import type { UserPolicy } from '../policy/model.js';
import type { CompiledRule, RuleOrigin } from '../policy/rules.js';
import { RuleInterner } from '../reader/ruleInterner.js';
import type { KeyRecord, ServiceConfig, Snapshot } from '../config/snapshot.js';

/*
 * A snapshot as plain data, so the load worker can hand it to the main thread: the
 * structured clone keeps Maps, Sets and plain objects, but not class instances
 * (RuleMatcher), closures (CidrSet) or URLs. Each such field is sent as the data it was
 * built from and rebuilt here; every other field passes through the spreads untouched.
 * Rebuilding is cheap (no YAML, no validation): the worker already did both.
 */

type EncodedRule = CompiledRule;

export interface EncodedKey extends Omit<KeyRecord, 'hash' | 'allow' | 'deny' | 'sourceIPs'> {
  readonly hash: string;
  readonly allow: readonly EncodedRule[];
  readonly deny: readonly EncodedRule[];
  readonly sourceIPs: readonly string[] | null;
}

interface EncodedUser extends Omit<UserPolicy, 'rules'> {
  readonly rules: readonly EncodedRule[];
}

interface EncodedService extends Omit<ServiceConfig, 'upstream'> {
  readonly upstream: string;
}

/** Everything but the keys, which travel in batches (`encodeKey`). */
export interface EncodedHead extends Omit<Snapshot, 'keys' | 'keyList' | 'users' | 'guardrails' | 'services' | 'listen'> {
  readonly listen: Omit<Snapshot['listen'], 'trustedProxies'> & { readonly trustedProxies: readonly string[] };
  readonly services: readonly EncodedService[];
  readonly users: readonly EncodedUser[];
  readonly guardrails: readonly EncodedRule[];
}

export function encodeHead(s: Snapshot): EncodedHead {
  const { keys: _keys, keyList: _keyList, ...rest } = s;
  return {
    ...rest,
    listen: { ...s.listen, trustedProxies: s.listen.trustedProxies.text },
    services: s.services.map((svc) => ({ ...svc, upstream: svc.upstream.href })),
    users: [...s.users.values()].map((u) => ({ ...u, rules: u.rules.rules })),
    guardrails: s.guardrails.rules,
  };
}

export function encodeKey(k: KeyRecord): EncodedKey {
  return { ...k, hash: k.hash.text, allow: k.allow.rules, deny: k.deny.rules, sourceIPs: k.sourceIPs?.text ?? null };
}

/**
 * Rebuilds the worker's snapshot on the main thread: keys batch by batch (decoded,
 * indexed as they come, so no step at the end touches all 100,000), then the rest.
 * Identical path patterns, method sets and strings are shared between keys: the clone
 * gives every key its own copies, and fewer objects mean shorter GC pauses.
 */
export class SnapshotAssembler {
  readonly keys: KeyRecord[] = [];
  readonly #indexBuilder = new KeyIndexBuilder<KeyRecord>();
  readonly #shared = new Shared();

  addKeys(batch: readonly EncodedKey[]): void {
    for (const k of batch) this.#index(this.#decodeKey(k));
  }

  /** The snapshot, from the head and every key added, in file order. */
  finish(head: EncodedHead): Snapshot {
    deepFreeze(head); // the clone thawed what buildSnapshot froze (limits, reload, warnings…)
    return Object.freeze({
      ...head,
      listen: Object.freeze({ ...head.listen, trustedProxies: compileCidrs(head.listen.trustedProxies) }),
      services: Object.freeze(head.services.map(decodeService)),
      users: new Map(head.users.map((u) => [u.name, decodeUser(u)])),
      guardrails: new RuleMatcher(head.guardrails.map(freezeRule)),
      keys: this.#indexBuilder.build(),
      keyList: Object.freeze(this.keys),
    });
  }

  #decodeKey(k: EncodedKey): KeyRecord {
    const hash = parseHash(k.hash);
    if ('error' in hash) throw new Error(`key ${k.id}: the worker sent a hash that does not parse: ${hash.error}`);
    const shared = this.#shared;
    return Object.freeze({
      ...k,
      user: shared.string(k.user),
      file: shared.string(k.file),
      hash,
      allow: shared.matcher(k.allow),
      deny: shared.matcher(k.deny),
      sourceIPs: k.sourceIPs ? compileCidrs(k.sourceIPs) : null,
    });
  }

  /** Indexed as they come, so no step at the end touches every key; the worker already refused conflicts, so one here is a bug. */
  #index(key: KeyRecord): void {
    const conflict = this.#indexBuilder.add(key);
    if (conflict) throw new Error(conflictText(key, conflict));
    this.keys.push(key);
  }
}

type Mutable<T> = { -readonly [P in keyof T]: T[P] };

/** Equal immutable values, one object (see RuleInterner), for what the worker sends. */
class Shared extends RuleInterner {
  /** One matcher for every empty rule list (most keys have no deny rules): a RuleMatcher never changes. */
  readonly #empty = new RuleMatcher([]);

  matcher(rules: readonly EncodedRule[]): RuleMatcher {
    return rules.length === 0 ? this.#empty : new RuleMatcher(rules.map((r) => this.#rule(r)));
  }

  #rule(rule: EncodedRule): CompiledRule {
    const r = rule as Mutable<EncodedRule>;
    r.path = this.path(r.path);
    r.methods = this.methodSet(r.methods);
    r.service = this.string(r.service);
    if (r.origin.file !== undefined) (r.origin as Mutable<RuleOrigin>).file = this.string(r.origin.file);
    return Object.freeze(r);
  }
}

function decodeService(s: EncodedService): ServiceConfig {
  return Object.freeze({ ...s, upstream: new URL(s.upstream), serviceToken: Object.freeze({ ...s.serviceToken }) });
}

function decodeUser(u: EncodedUser): UserPolicy {
  return Object.freeze({ ...u, roles: Object.freeze([...u.roles]), rules: new RuleMatcher(u.rules.map(freezeRule)) });
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
