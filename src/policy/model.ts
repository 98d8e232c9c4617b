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
  /** How old this user's keys may get before they are due for rotation (policy `keys`), ms; none = no limit. */
  readonly keyMaxAge?: number;
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
  /** When the key's current secret was made (its last rotation, else its creation), epoch ms; unknown when absent. */
  readonly issued?: number;
  readonly disabled: boolean;
  /** A candidate scope tried on live traffic beside the real one (`shadow: { allow, deny }`); never enforced. */
  readonly shadow?: KeyShadowScope;
  /** Names of the key's own limits as written; resolved and capped at load (Snapshot.rateLimits.byKey). */
  readonly rateLimit?: readonly string[];
  /** The key's user among `users` when the key can answer faster than a lookup by name (see userOf). */
  userIn?(users: ReadonlyMap<string, UserPolicy>): UserPolicy | undefined;
}

/**
 * The key's user in the policy. A key store's record answers from a table the store
 * resolves once per policy: looking a user up by name reads the user's name, the map's
 * entry and the policy's copy of the name, which at a million keys are three cache
 * misses on every decision.
 */
export function userOf(policy: Pick<Policy, 'users'>, key: Pick<KeyPolicy, 'user' | 'userIn'>): UserPolicy | undefined {
  return key.userIn !== undefined ? key.userIn(policy.users) : policy.users.get(key.user);
}

/** A key's `shadow:` entry: each list present replaces the key's own when the candidate decides. */
export interface KeyShadowScope {
  readonly allow?: RuleMatcher;
  readonly deny?: RuleMatcher;
}

export interface Policy {
  readonly region: string;
  readonly users: ReadonlyMap<string, UserPolicy>;
  readonly guardrails: RuleMatcher;
  /** policy.yaml `keys`; absent = no maxAge. */
  readonly keyRotation?: KeyRotation;
}

/** policy.yaml `keys`: how old a key may get (per user in UserPolicy.keyMaxAge) and whether that is enforced. */
export interface KeyRotation {
  /** The default maximum age, ms; per-user and per-role overrides are resolved into each user. */
  readonly maxAge?: number;
  /** true: an over-age key is refused (`key_expired`), not only reported as `rotation_due`. */
  readonly enforce: boolean;
}

/** Every state a key can be in, in the order `key list` and `/metrics` show them. */
export const KEY_STATES = ['active', 'rotation_due', 'disabled', 'expired', 'not_yet_valid', 'orphaned'] as const;
export type KeyState = (typeof KEY_STATES)[number];

/** What a key's state depends on (besides its user). */
export type KeyDates = Pick<KeyPolicy, 'user' | 'disabled' | 'expires' | 'notBefore' | 'issued'>;

/**
 * The state `key list` and the `keygate_keys` gauge report; the user's state caps the key's.
 * `rotation_due`: it works, but is older than its maxAge (with `enforce`, it is `expired`).
 */
export function keyState(policy: Pick<Policy, 'users' | 'keyRotation'>, key: KeyDates, now: number): KeyState {
  return keyStateWith(policy, key, now, policy.users.get(key.user));
}

/** keyState with the key's user already looked up (undefined: not in the policy). */
export function keyStateWith(
  policy: Pick<Policy, 'keyRotation'>,
  key: Omit<KeyDates, 'user'>,
  now: number,
  user: UserPolicy | undefined,
): KeyState {
  if (!user) return 'orphaned';
  if (key.disabled || user.disabled) return 'disabled';
  const overAge = isExpired(rotationDueAt(user, key), now);
  if (isExpired(key.expires, now) || isExpired(user.expires, now) || (overAge && policy.keyRotation?.enforce === true)) return 'expired';
  if (key.notBefore !== undefined && now < key.notBefore) return 'not_yet_valid';
  return overAge ? 'rotation_due' : 'active';
}

/** When the key's secret reaches its user's maxAge (epoch ms); undefined: no limit, or its age is unknown. */
export function rotationDueAt(user: Pick<UserPolicy, 'keyMaxAge'> | undefined, key: Pick<KeyPolicy, 'issued'>): number | undefined {
  const maxAge = user?.keyMaxAge;
  return maxAge === undefined || key.issued === undefined ? undefined : key.issued + maxAge;
}

/** `expires` is the first instant at which the thing no longer works. */
export function isExpired(expires: number | undefined, now: number): boolean {
  return expires !== undefined && now >= expires;
}

/** Every state at 0. */
export function noKeyStates(): Record<KeyState, number> {
  return { active: 0, rotation_due: 0, disabled: 0, expired: 0, not_yet_valid: 0, orphaned: 0 };
}
