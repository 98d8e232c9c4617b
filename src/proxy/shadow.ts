import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import type { DenyReason, Reason } from '../errors.js';
import { authorize, type AccessRequest, type Decision, type Grant } from '../policy/decide.js';
import type { KeyPolicy, Policy } from '../policy/model.js';
import type { RuleMatcher } from '../policy/matcher.js';
import { ruleName, type CompiledRule } from '../policy/rules.js';

export type Verdict = 'allow' | 'deny';

/** What the shadow candidate would have answered, recorded only where it differs from the live answer. */
export interface ShadowVerdict {
  readonly live: Verdict;
  readonly decision: Verdict;
  /** `allow`, or the candidate's denial reason. */
  readonly reason: Reason;
  /** The rule that makes the difference, e.g. `key X allow rule 2: compute GET /v2/**`; undefined when no rule does (an expiry). */
  readonly rule: string | undefined;
}

/** The live answer of steps 3-7: its grant, or its first denial (the request's method or an overridden one). */
export type LiveAnswer = Grant | { readonly allow: false; readonly reason: DenyReason; readonly rule?: CompiledRule };

/** Whether a request of `key` has a candidate to be judged by: false costs the request path two property reads. */
export function hasShadow(snapshot: Snapshot, key: KeyRecord): boolean {
  return snapshot.shadow !== undefined || key.shadow !== undefined;
}

/**
 * Steps 3-7 again, with the candidate's policy and its copy of the key, for a request the
 * live config authenticated (secrets are verified by the live keys only). Undefined when
 * the candidate agrees, so agreeing requests leave no trace.
 */
export function judgeShadow(
  snapshot: Snapshot,
  key: KeyRecord,
  asked: AccessRequest,
  overrides: readonly string[],
  live: LiveAnswer,
): ShadowVerdict | undefined {
  const candidate = candidateKey(snapshot, key);
  const shadow: LiveAnswer | undefined =
    candidate === undefined ? { allow: false, reason: 'unknown_key' } : decideAll(candidatePolicy(snapshot), candidate, asked, overrides);
  if (shadow.allow === live.allow) return undefined;
  return {
    live: live.allow ? 'allow' : 'deny',
    decision: shadow.allow ? 'allow' : 'deny',
    reason: shadow.allow ? 'allow' : shadow.reason,
    rule: differenceRule(live, shadow),
  };
}

/**
 * The key as the candidate has it: the candidate keys file's entry when there is one
 * (undefined: the candidate has no such key), with its own `shadow:` scope in place of its scope.
 */
function candidateKey(snapshot: Snapshot, key: KeyRecord): KeyPolicy | undefined {
  const keys = snapshot.shadow?.keys;
  const base = keys === undefined ? key : keys.byId.get(key.id);
  const scope = base?.shadow;
  if (base === undefined || scope === undefined) return base;
  return withLists(base, scope.allow ?? base.allow, scope.deny ?? base.deny);
}

/**
 * The key with other allow and deny lists. Its fields are read by name, not spread: a key
 * store's record reads some of them (user, name, issued) through getters, which a spread drops.
 */
function withLists(key: KeyPolicy, allow: RuleMatcher, deny: RuleMatcher): KeyPolicy {
  const { id, user, name, scope, sourceIPs, expires, notBefore, issued, disabled, shadow, rateLimit } = key;
  return { id, user, name, scope, allow, deny, sourceIPs, expires, notBefore, issued, disabled, shadow, rateLimit };
}

function candidatePolicy(snapshot: Snapshot): Policy {
  const policy = snapshot.shadow?.policy;
  return policy === undefined ? snapshot : { region: snapshot.region, users: policy.users, guardrails: policy.guardrails };
}

/** The request's own method, then each method an override names: the first denial, else the grant. */
function decideAll(policy: Policy, key: KeyPolicy, asked: AccessRequest, overrides: readonly string[]): Decision {
  const decision = authorize(policy, key, asked);
  if (!decision.allow) return decision;
  for (const method of overrides) {
    const also = authorize(policy, key, { ...asked, method });
    if (!also.allow) return also;
  }
  return decision;
}

/**
 * The rule an operator should look at: the rule that denies (a deny rule or guardrail),
 * else the rule that allows on one side only (the scope rule or role rule the other side lacks).
 */
function differenceRule(live: LiveAnswer, shadow: LiveAnswer): string | undefined {
  const denial = live.allow ? shadow : live;
  const grant = live.allow ? live : shadow;
  if (denial.allow || !grant.allow) return undefined;
  if (denial.rule) return ruleName(denial.rule);
  if (denial.reason === 'key_scope_denied') return grant.keyRule ? ruleName(grant.keyRule) : undefined;
  if (denial.reason === 'user_denied') return ruleName(grant.userRule);
  return undefined;
}
