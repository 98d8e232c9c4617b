import { isAbsolute, relative } from 'node:path';
import type { KeyRecord, Snapshot } from '../config/snapshot.js';
import { effectivePermissions, type EffectiveRule } from '../policy/effective.js';
import { methodsText } from '../policy/methods.js';
import { keyState } from '../policy/model.js';
import { covers } from '../policy/pathPattern.js';
import { ruleText, type CompiledRule } from '../policy/rules.js';
import type { CliIO } from './io.js';

/** The block a human sees once: the key, set apart so it is easy to copy, and why it must be copied now. */
export function showOnce(keyString: string, what = 'key'): string[] {
  return ['', `    ${keyString}`, '', `Copy the ${what} now: it will not be shown again (keygate stores only its hash).`];
}

export function effectiveText(r: EffectiveRule): string {
  const region = r.regions ? ` [region ${[...r.regions].join(',')}]` : '';
  const path = r.alsoPath ? `${r.path.text} ∩ ${r.alsoPath.text}` : r.path.text;
  return `${r.service} ${methodsText(r.methods)} ${path}${region}`;
}

/** What the key can do, one line per rule (user roles ∩ key scope), and what is taken away. */
export function permissionLines(snapshot: Snapshot, key: KeyRecord): string[] {
  const perms = effectivePermissions(snapshot, key);
  const allow = withoutSubsumed(perms.allow);
  const lines = ['It can (its user\'s roles ∩ its scope):', ...(allow.length ? allow.map((r) => `  + ${effectiveText(r)}`) : ['  (nothing)'])];
  if (perms.deny.length) lines.push(...perms.deny.map((r) => `  - ${ruleText(r)}   (its deny rule)`));
  return lines;
}

/**
 * A restricted key's allow rule that no single rule of its user covers asks for more
 * than the key can ever get. It is allowed (the user may gain a role later), but the
 * operator should see what will actually be effective.
 */
export function scopeWarnings(snapshot: Snapshot, key: KeyRecord): string[] {
  if (key.scope !== 'restricted') return [];
  const userRules = snapshot.users.get(key.user)?.rules.rules ?? [];
  const effective = effectivePermissions(snapshot, key).allow;
  return key.allow.rules
    .filter((k) => !userRules.some((u) => ruleCovers(u, k)))
    .map((k) => {
      const got = effective.filter((e) => e.from.some((rules) => rules.includes(k))).map(effectiveText);
      return `allow rule "${ruleText(k)}" asks for more than user ${key.user} can do; effective: ${got.length ? got.join('; ') : 'nothing'}`;
    });
}

type RuleShape = Pick<CompiledRule, 'service' | 'methods' | 'regions' | 'path'> & { alsoPath?: unknown };

/** Whether every request `inner` admits, `outer` admits too. */
function ruleCovers(outer: RuleShape, inner: RuleShape): boolean {
  if (outer.alsoPath) return false;
  const service = outer.service === '*' || outer.service === inner.service;
  const methods = outer.methods === null || (inner.methods !== null && [...inner.methods].every((m) => outer.methods!.has(m)));
  const regions = outer.regions === null || (inner.regions !== null && [...inner.regions].every((r) => outer.regions!.has(r)));
  return service && methods && regions && covers(outer.path, inner.path);
}

/** `reader` and `compute-admin` often both grant the same GETs; show each request shape once. */
function withoutSubsumed(rules: readonly EffectiveRule[]): EffectiveRule[] {
  const kept: EffectiveRule[] = [];
  for (const rule of rules) {
    if (kept.some((k) => ruleCovers(k, rule))) continue;
    kept.splice(0, kept.length, ...kept.filter((k) => !ruleCovers(rule, k)));
    kept.push(rule);
  }
  return kept;
}

/** Why a key that was just written will not work (yet), when its user is the reason. */
export function stateWarnings(snapshot: Snapshot, key: KeyRecord, now: number): string[] {
  const state = keyState(snapshot, key, now);
  const user = snapshot.users.get(key.user);
  if (state === 'disabled' && !key.disabled) return [`user ${key.user} is disabled, so this key does not work until the user is enabled`];
  if (state === 'expired' && user?.expires !== undefined && user.expires <= now) return [`user ${key.user} has expired, so this key does not work`];
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
