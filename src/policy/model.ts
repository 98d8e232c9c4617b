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

export type KeyState = 'active' | 'disabled' | 'expired' | 'not_yet_valid' | 'orphaned';

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
