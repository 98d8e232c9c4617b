import type { DenyReason } from '../errors.js';
import { normalizeAddress } from './cidr.js';
import type { RuleMatcher, RuleQuery } from './matcher.js';
import { isExpired, rotationDueAt, userOf, type KeyPolicy, type Policy } from './model.js';
import { foldedSegments, type PathReadings } from './pathReadings.js';
import type { CompiledRule } from './rules.js';

/** The steps of SPEC §3, numbered as there. */
export const STEPS = {
  1: 'route',
  2: 'authenticate',
  3: 'key state',
  4: 'user state',
  5: 'user roles',
  6: 'key scope',
  7: 'guardrails',
  8: 'rate limits',
} as const;
export type StepNumber = keyof typeof STEPS;

export type Denial = {
  readonly allow: false;
  readonly reason: DenyReason;
  readonly step: StepNumber;
  readonly detail: string;
  readonly rule?: CompiledRule;
};
export type Grant = {
  readonly allow: true;
  readonly reason: 'allow';
  readonly step: 7;
  readonly userRule: CompiledRule;
  readonly keyRule?: CompiledRule;
};
export type Decision = Grant | Denial;

export interface AccessRequest extends RuleQuery {
  readonly clientIp: string;
  readonly now: number; // epoch ms, injected so expiry is checked per request and testable
  /** The other readings of the path: deny rules and guardrails match them all (readingsOf). */
  readonly readings: PathReadings;
}

export function deny(reason: DenyReason, step: StepNumber, detail: string, rule?: CompiledRule): Denial {
  return rule ? { allow: false, reason, step, detail, rule } : { allow: false, reason, step, detail };
}

/** Steps 3-7 for a key whose secret has already been verified (step 2). */
export function authorize(policy: Policy, key: KeyPolicy, req: AccessRequest): Decision {
  return checkKeyState(key, req) ?? checkKeyAge(policy, key, req.now) ?? checkUser(policy, key, req.now) ?? checkRules(policy, key, req);
}

/** policy `keys.enforce`: a key older than its maxAge (since creation or rotation) is refused as expired. */
function checkKeyAge(policy: Policy, key: KeyPolicy, now: number): Denial | undefined {
  if (policy.keyRotation?.enforce !== true) return undefined;
  const due = rotationDueAt(userOf(policy, key), key);
  if (!isExpired(due, now)) return undefined;
  return deny('key_expired', 3, `key ${key.id} is older than its maxAge (keys.maxAge in the policy) since ${iso(due)}; rotate it`);
}

function checkKeyState(key: KeyPolicy, req: AccessRequest): Denial | undefined {
  if (key.disabled) return deny('key_disabled', 3, `key ${key.id} is disabled`);
  if (isExpired(key.expires, req.now)) return deny('key_expired', 3, `key ${key.id} expired at ${iso(key.expires)}`);
  if (key.notBefore !== undefined && req.now < key.notBefore) {
    return deny('key_not_yet_valid', 3, `key ${key.id} is not valid before ${iso(key.notBefore)}`);
  }
  if (key.sourceIPs && !key.sourceIPs.contains(req.clientIp)) {
    return deny('source_ip_not_allowed', 3, `client ${normalizeAddress(req.clientIp)} is not in ${key.sourceIPs.text.join(', ')}`);
  }
  return undefined;
}

function checkUser(policy: Policy, key: KeyPolicy, now: number): Denial | undefined {
  const user = userOf(policy, key);
  if (!user) return deny('user_unknown', 4, `user ${key.user} of key ${key.id} is not in the policy`);
  if (user.disabled) return deny('user_disabled', 4, `user ${user.name} is disabled`);
  if (isExpired(user.expires, now)) return deny('user_expired', 4, `user ${user.name} expired at ${iso(user.expires)}`);
  return undefined;
}

function checkRules(policy: Policy, key: KeyPolicy, req: AccessRequest): Decision {
  const user = userOf(policy, key)!;
  const userRule = matchAllow(user.rules, req);
  if (!userRule) return deny('user_denied', 5, `no rule of user ${user.name}'s roles (${user.roles.join(', ') || 'none'}) matches`);
  const keyRule = key.scope === 'restricted' ? matchAllow(key.allow, req) : undefined;
  if (key.scope === 'restricted' && !keyRule) return deny('key_scope_denied', 6, `no allow rule of key ${key.id} matches`);
  const denyRule = key.deny.matchAnyReading(req, req.readings);
  if (denyRule) return deny('key_deny_rule', 6, `a deny rule of key ${key.id} matches${readingNote(key.deny, req, denyRule)}`, denyRule);
  // Made only when a guardrail excepts keys: a closure per decision is not free.
  const notExcepted = policy.guardrails.excepts ? (rule: CompiledRule): boolean => !rule.except?.has(key.id) : undefined;
  const guardrail = policy.guardrails.matchAnyReading(req, req.readings, notExcepted);
  if (guardrail) return deny('guardrail', 7, `a guardrail matches${readingNote(policy.guardrails, req, guardrail)}`, guardrail);
  return keyRule ? { allow: true, reason: 'allow', step: 7, userRule, keyRule } : { allow: true, reason: 'allow', step: 7, userRule };
}

/** Allow rules: byte for byte (fails closed), or lower-cased on a service that routes case-insensitively. */
function matchAllow(rules: RuleMatcher, req: AccessRequest): CompiledRule | undefined {
  return req.readings.caseInsensitive ? rules.matchFolded(req, foldedSegments(req.segments, req.readings)) : rules.match(req);
}

/** Says so when a rule denies only another reading of the request, so `explain` is not a riddle. */
function readingNote(rules: RuleMatcher, req: AccessRequest, rule: CompiledRule): string {
  if (rules.match(req, (r) => r === rule) !== undefined) return '';
  return ' as an upstream may read the request (case, trailing slash, "//", ";…", ".ext", HEAD as GET)';
}

function iso(ms: number | undefined): string {
  return ms === undefined ? '' : new Date(ms).toISOString();
}
