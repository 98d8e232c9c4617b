import { isAbsolute, relative } from 'node:path';
import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import { effectivePermissions, effectiveText, overreachingAllowRules, withoutSubsumed } from '../policy/effective.js';
import { keyState } from '../policy/model.js';
import { ruleText } from '../policy/rules.js';
import type { CliIO } from './io.js';

/** The block a human sees once: the key, set apart so it is easy to copy, and why it must be copied now. */
export function showOnce(keyString: string, what = 'key'): string[] {
  return ['', `    ${keyString}`, '', `Copy the ${what} now: it will not be shown again (keygate stores only its hash).`];
}

/** What the key can do, one line per rule (user roles ∩ key scope), and what is taken away. */
export function permissionLines(snapshot: Snapshot, key: KeyRecord): string[] {
  const perms = effectivePermissions(snapshot, key);
  const allow = withoutSubsumed(perms.allow);
  const lines = [
    "It can (its user's roles ∩ its scope):",
    ...(allow.length ? allow.map((r) => `  + ${effectiveText(r)}`) : ['  (nothing)']),
  ];
  if (perms.deny.length) lines.push(...perms.deny.map((r) => `  - ${ruleText(r)}   (its deny rule)`));
  return lines;
}

/** A restricted key's allow rules that ask for more than its user can do, as warnings. */
export function scopeWarnings(snapshot: Snapshot, key: KeyRecord): string[] {
  return overreachingAllowRules(snapshot, key).map(({ rule, effective }) => {
    const got = effective.map(effectiveText);
    return `allow rule "${ruleText(rule)}" asks for more than user ${key.user} can do; effective: ${got.length ? got.join('; ') : 'nothing'}`;
  });
}

/** Why a key that was just written will not work (yet), when its user is the reason. */
export function stateWarnings(snapshot: Snapshot, key: KeyRecord, now: number): string[] {
  const state = keyState(snapshot, key, now);
  const user = snapshot.users.get(key.user);
  if (state === 'disabled' && !key.disabled) return [`user ${key.user} is disabled, so this key does not work until the user is enabled`];
  if (state === 'expired' && user?.expires !== undefined && user.expires <= now)
    return [`user ${key.user} has expired, so this key does not work`];
  if (state === 'expired') return ['the key is already expired'];
  if (key.disabled) return ['the key is disabled; it works only once it is enabled again (disabled: false)'];
  return [];
}

export function printWarnings(io: CliIO, warnings: readonly string[]): void {
  if (warnings.length) io.err(warnings.map((w) => `warning: ${w}`).join('\n'));
}

export const RELOAD_NOTE = 'A running proxy applies this at its next reload (it watches the keys file).';

/** Paths under the working directory read better relative (`config/keys.yaml`); JSON output keeps them absolute. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}
