import type { CidrSet } from './cidr.js';
import type { RuleMatcher } from './matcher.js';
import type { RateLimit } from './rateLimits.js';

/** The parts of the compiled configuration that decisions read. Frozen once built. */
export interface UserPolicy {
  readonly name: string;
  readonly roles: readonly string[];
  readonly rules: RuleMatcher; // the union of its roles' rules
  /** The user's bucket(s), shared by all its keys; none = unlimited. */
  readonly rateLimits?: readonly RateLimit[];
  readonly disabled: boolean;
  readonly expires?: number; // epoch ms
}

export type KeyScope = 'restricted' | 'inherit';

export interface KeyPolicy {
  readonly id: string;
  readonly user: string;
  readonly name: string;
  readonly scope: KeyScope;
  readonly allow: RuleMatcher;
  readonly deny: RuleMatcher;
  readonly sourceIPs: CidrSet | null;
  readonly expires?: number; // epoch ms
  readonly notBefore?: number; // epoch ms
  readonly disabled: boolean;
  /** Names of the key's own limits as written; resolved and capped at load (Snapshot.rateLimits.byKey). */
  readonly rateLimit?: readonly string[];
}

export interface Policy {
  readonly region: string;
  readonly users: ReadonlyMap<string, UserPolicy>;
  readonly guardrails: RuleMatcher;
}

/** Every state a key can be in, in the order `key list` and `/metrics` show them. */
export const KEY_STATES = ['active', 'disabled', 'expired', 'not_yet_valid', 'orphaned'] as const;
export type KeyState = (typeof KEY_STATES)[number];

/** The state `key list` and the `keygate_keys` gauge report; the user's state caps the key's. */
export function keyState(policy: Pick<Policy, 'users'>, key: KeyPolicy, now: number): KeyState {
  const user = policy.users.get(key.user);
  if (!user) return 'orphaned';
  if (key.disabled || user.disabled) return 'disabled';
  if (isExpired(key.expires, now) || isExpired(user.expires, now)) return 'expired';
  if (key.notBefore !== undefined && now < key.notBefore) return 'not_yet_valid';
  return 'active';
}

/** `expires` is the first instant at which the thing no longer works. */
export function isExpired(expires: number | undefined, now: number): boolean {
  return expires !== undefined && now >= expires;
}

/** How many keys are in each state at `now` (epoch ms); every state is present, 0 when empty. */
export function countKeyStates(policy: Pick<Policy, 'users'>, keys: Iterable<KeyPolicy>, now: number): Record<KeyState, number> {
  const counts: Record<KeyState, number> = { active: 0, disabled: 0, expired: 0, not_yet_valid: 0, orphaned: 0 };
  for (const key of keys) counts[keyState(policy, key, now)] += 1;
  return counts;
}
